#!/usr/bin/env bash
# Models written in PyTorch against the built-in ones (issue 17), on this machine:
#   A. make run's setting (config/default.json): the built-in cnn and its TorchScript twin
#      (examples/models/cnn.py), alternated REPS times in the same run of this script: global
#      test accuracy, training samples/s (summary.json timing.samples_per_s; the ratio is the
#      median over back-to-back pairs, as this VM drifts), wall time; and the
#      BatchNorm + Dropout net (examples/models/bn_cnn.py) with model.buffers=average.
#   B. rotated MNIST (config/rotated_mnist.json) with bn_cnn: model.buffers=average against
#      local (FedBN), with its 4 clusters and with one (clustering.k=1: no personalization but
#      FedBN's): global accuracy (test set, the global model) and personalized accuracy (each
#      client's cluster model with, under FedBN, its own BatchNorm layers, on its local split).
# Writes bench/results/<date>-<host>-script-models.json and prints markdown tables.
# Needs /usr/bin/python3 with torch (python3-torch) to write the modules.
# Usage: bench/script_models.sh path/to/flotilla [REPS]   (about 7 min with REPS=4 on 2 cores)
set -euo pipefail
bin=$(realpath "$1")
reps=${2:-4}
py=/usr/bin/python3
out=bench/results/$(date +%F)-$(hostname)-script-models.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$py" examples/models/cnn.py "$work/cnn.pt"
"$py" examples/models/bn_cnn.py "$work/bn_cnn.pt"
rows=$work/rows.jsonl
: > "$rows"
# one PART LABEL [key=value ...]: a run, its figures appended to $rows.
one() {
  local part=$1 label=$2
  shift 2
  rm -rf "$work/run"
  "$bin" run output.progress=off "$@" output.run_dir="$work/run" > "$work/log" 2>&1 || { tail -20 "$work/log"; exit 1; }
  "$py" - "$work/run" "$part" "$label" "$*" >> "$rows" <<'PY'
import json, sys
d, part, label, args = sys.argv[1:]
s = json.load(open(d + "/summary.json"))
f, t = s["final"], s["timing"]
print(json.dumps({"part": part, "model": label, "args": args, "global_accuracy": f["global_accuracy"],
                  "personalized_accuracy": f["personalized_accuracy"], "samples_per_s": t["samples_per_s"],
                  "total_s": t["total_s"], "peak_rss_bytes": t["peak_rss_bytes"],
                  "global_model_sha256": f["global_model_sha256"]}))
PY
  tail -1 "$rows"
}
# ABBA order: a machine that slows down under sustained load (this VM does) would otherwise
# always give the second run of a pair the slower half.
for r in $(seq "$reps"); do
  if [ $((r % 2)) -eq 1 ]; then
    one A "cnn (built in)"
    one A "cnn (TorchScript)" model.name=torchscript model.file="$work/cnn.pt"
  else
    one A "cnn (TorchScript)" model.name=torchscript model.file="$work/cnn.pt"
    one A "cnn (built in)"
  fi
done
one A "bn_cnn (TorchScript, buffers=average)" model.name=torchscript model.file="$work/bn_cnn.pt" model.buffers=average
for k in 4 1; do
  for b in average local; do
    one B "bn_cnn, k=$k, buffers=$b" --config config/rotated_mnist.json clustering.k=$k model.name=torchscript \
      model.file="$work/bn_cnn.pt" model.buffers=$b
  done
done
"$py" - "$rows" "$out" "$reps" <<'PY'
import json, statistics, sys
rows_file, out, reps = sys.argv[1:]
rows = [json.loads(l) for l in open(rows_file)]
def mean(label, key):
    xs = [r[key] for r in rows if r["model"] == label]
    return statistics.mean(xs), xs
table = []
for label in dict.fromkeys(r["model"] for r in rows):
    part = next(r["part"] for r in rows if r["model"] == label)
    acc, accs = mean(label, "global_accuracy")
    pers, _ = mean(label, "personalized_accuracy")
    sps, spss = mean(label, "samples_per_s")
    wall, _ = mean(label, "total_s")
    table.append({"part": part, "model": label, "runs": len(accs), "global_accuracy": acc,
                  "personalized_accuracy": pers, "samples_per_s": sps, "total_s": wall,
                  "global_accuracies": accs, "samples_per_s_each": spss})
by = {t["model"]: t for t in table}
# This VM's speed drifts by 10-15% between runs: each TorchScript run is compared with the
# built-in run beside it (pairs in ABBA order), and the median of those ratios is the figure.
pairs = [t / b for b, t in zip(by["cnn (built in)"]["samples_per_s_each"], by["cnn (TorchScript)"]["samples_per_s_each"])]
ratio = statistics.median(pairs)
gap = 100 * (by["cnn (TorchScript)"]["global_accuracy"] - by["cnn (built in)"]["global_accuracy"])
json.dump({"setting": "A: make run's setting (config/default.json); B: config/rotated_mnist.json; %s reps of "
                      "the cnn pair, alternated" % reps,
           "torchscript_over_builtin_samples_per_s": ratio, "pair_ratios": pairs, "torchscript_minus_builtin_accuracy_points": gap,
           "table": table, "runs": rows}, open(out, "w"), indent=2)
print("| setting | model | runs | global accuracy | personalized accuracy | training samples/s | wall s |")
print("|---|---|---|---|---|---|---|")
for t in table:
    print("| %s | %s | %d | %.2f%% | %.2f%% | %.0f | %.1f |" % (
        "make run" if t["part"] == "A" else "rotated MNIST", t["model"], t["runs"], 100 * t["global_accuracy"],
        100 * t["personalized_accuracy"], t["samples_per_s"], t["total_s"]))
print()
print("TorchScript cnn / built-in cnn: %.1f%% of the samples/s (median of %d back-to-back pairs, %.1f%% to %.1f%%), "
      "%+.2f accuracy points" % (100 * ratio, len(pairs), 100 * min(pairs), 100 * max(pairs), gap))
print("wrote " + out)
PY
