"""PyTorch twins of flotilla's registered models (src/model/models.cpp).

Each model is an nn.Sequential with the same layers in the same order as its C++ twin, so
its state_dict keys ("0.weight", "0.bias", ...) and shapes are the ones flotilla writes to
runs/<run>/models/*.pt and reads from model.init:

    import torch, flotilla_models
    m = flotilla_models.build("cnn")
    m.load_state_dict(torch.load("runs/<run>/models/global.pt"), strict=True)

    torch.save(m.state_dict(), "start.pt")   # then: flotilla run model.init=start.pt

Inputs are normalized images, N x C x H x W (INPUT_SHAPES); outputs are 10 logits.
"""
from torch import nn


def cnn():
    """Two 5x5 conv layers, 80,202 parameters: seconds per MNIST round."""
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(32 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, 10))


def mcmahan_cnn():
    """McMahan et al. 2017's MNIST CNN, 1,663,370 parameters."""
    return nn.Sequential(
        nn.Conv2d(1, 32, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(64 * 7 * 7, 512), nn.ReLU(), nn.Linear(512, 10))


def cifar_cnn():
    """Three 3x3 conv blocks for 32x32 RGB, 188,810 parameters."""
    return nn.Sequential(
        nn.Conv2d(3, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(64 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, 10))


# Same names, same order as the table in src/model/models.cpp.
def wide_mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 100000), nn.ReLU(), nn.Linear(100000, 10))


MODELS = {"cnn": cnn, "mcmahan_cnn": mcmahan_cnn, "cifar_cnn": cifar_cnn, "wide_mlp": wide_mlp}

# (channels, height, width) each model takes.
INPUT_SHAPES = {"cnn": (1, 28, 28), "mcmahan_cnn": (1, 28, 28), "cifar_cnn": (3, 32, 32), "wide_mlp": (1, 28, 28)}


def names():
    """The registered model names."""
    return list(MODELS)


def build(name):
    """A fresh model by flotilla's name, with PyTorch's default initialization."""
    if name not in MODELS:
        raise ValueError(f"unknown model '{name}' (known: {', '.join(MODELS)})")
    return MODELS[name]()
