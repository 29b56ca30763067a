"""Checks flotilla's model files against Debian's python3-torch (see pytorch_interop.sh).

  check RUN_DIR MNIST_DIR          every models/*.pt loads strictly into flotilla_models.build;
                                   global.pt's test accuracy, computed here, matches summary.json
  make-init NAME SEED PATH [PROTO] saves a fresh model's state_dict, as a user would
  compare RUN_DIR INIT same|different
                                   global.pt equals INIT (to float noise) or clearly does not
"""
import gzip
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import flotilla_models  # noqa: E402


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(directory, name):
    for candidate in (name, name + ".gz"):
        if os.path.exists(os.path.join(directory, candidate)):
            return os.path.join(directory, candidate)
    fail(f"{name} not found in {directory}")


def mnist_test(directory):
    images = read_idx(find(directory, "t10k-images-idx3-ubyte"))
    labels = read_idx(find(directory, "t10k-labels-idx1-ubyte"))
    # As src/data/dataset.cpp normalizes: (p / 255 - mean) / std in float32.
    x = (images.astype(np.float32) / np.float32(255) - np.float32(0.1307)) / np.float32(0.3081)
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def load(name, path):
    model = flotilla_models.build(name)
    model.load_state_dict(torch.load(path), strict=True)  # raises on a missing, extra or misshaped key
    return model.eval()


def accuracy(model, x, y):
    correct = 0
    with torch.no_grad():
        for begin in range(0, len(y), 500):
            logits = model(x[begin:begin + 500])
            correct += int((logits.argmax(1) == y[begin:begin + 500]).sum())
    return correct / len(y)


def run_model(run_dir):
    with open(os.path.join(run_dir, "config.json")) as f:
        return json.load(f)["model"]["name"]


def check(run_dir, mnist_dir):
    name = run_model(run_dir)
    models = sorted(os.listdir(os.path.join(run_dir, "models")))
    if "global.pt" not in models or not any(m.startswith("cluster_") for m in models):
        fail(f"{run_dir}/models holds {models}; expected global.pt, initial_global.pt, cluster_*.pt")
    for m in models:
        load(name, os.path.join(run_dir, "models", m))
    with open(os.path.join(run_dir, "summary.json")) as f:
        expected = json.load(f)["final"]["global_accuracy"]
    x, y = mnist_test(mnist_dir)
    got = accuracy(load(name, os.path.join(run_dir, "models", "global.pt")), x, y)
    print(f"{name}: {len(models)} model files load strictly; global.pt test accuracy "
          f"{got:.6f} here, {expected:.6f} in summary.json")
    if abs(got - expected) > 1e-4:
        fail(f"python accuracy {got} differs from summary.json's {expected} by more than 1e-4")


def make_init(name, seed, path, protocol=2):
    torch.manual_seed(int(seed))
    torch.save(flotilla_models.build(name).state_dict(), path, pickle_protocol=int(protocol))
    print(f"saved a fresh {name} (torch seed {seed}, pickle protocol {protocol}) to {path}")


def compare(run_dir, init, expect):
    start = torch.load(init)
    final = torch.load(os.path.join(run_dir, "models", "global.pt"))
    if list(start) != list(final):
        fail(f"keys differ: {list(start)} vs {list(final)}")
    diff = max(float((start[k] - final[k]).abs().max()) for k in start)
    print(f"max |global.pt - {os.path.basename(init)}| = {diff:.3g} (expected {expect})")
    # lr = 1e-9 moves weights by ~1e-9; two independent initializations differ by ~0.1.
    if expect == "same" and diff > 1e-5:
        fail("the run did not start from model.init")
    if expect == "different" and diff < 1e-2:
        fail("the run without model.init ended at the file's weights: the comparison cannot fail")


if __name__ == "__main__":
    torch.set_num_threads(1)
    command, args = sys.argv[1], sys.argv[2:]
    {"check": check, "make-init": make_init, "compare": compare}[command](*args)
