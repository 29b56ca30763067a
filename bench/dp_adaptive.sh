#!/usr/bin/env bash
# Adaptive clipping (privacy.adaptive_clip, Andrew et al. NeurIPS 2021) against a fixed clip norm,
# at epsilon 8 in dp_table.sh's setting (MNIST, 1,000 clients, 100 a round, the cnn, DP-FedAvg with
# central noise, sigma 1.0, delta 1e-5, iid partition, the rounds until privacy.epsilon_budget=8).
# The question a user has: what if C is not tuned? Rows: the tuned fixed C (0.5, dp_table's), a
# fixed C ten times too small and ten times too large, and adaptive clipping started from each of
# those (target quantile 0.5, clip_lr 0.2: the paper's defaults). The adaptive rows spend the same
# epsilon (the clipped count's noise is taken out of sigma's budget, so the updates get more noise:
# update_noise_multiplier). Each row's last clip norm is reported.
# Writes bench/results/<date>-<host>-dp-adaptive.json and prints a markdown table.
# Usage: bench/dp_adaptive.sh path/to/flotilla   (from the source dir, with data/mnist; ~10 min on 2 cores)
set -euo pipefail
bin=$(realpath "$1")
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
out=bench/results/$(date +%F)-$(hostname)-dp-adaptive.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(data.dataset=mnist clients=1000 seed=42 model.name=cnn clustering.method=none rounds.cluster=0
        rounds.fraction_fit=0.1 rounds.eval_every=10 strategy.name=fedavg partition.scheme=iid
        train.epochs=1 train.batch_size=10 train.lr=0.05 train.momentum=0.5 train.weight_decay=0
        partition.local_test_fraction=0.2 privacy.delta=1e-5 privacy.dp=central privacy.noise_multiplier=1.0
        privacy.epsilon_budget=8 rounds.initial=400 output.progress=off output.save_models=false)
source "$(dirname "$0")/dp_run.sh"
rows="fixed-0.5 fixed-0.05 fixed-5 adaptive-0.05 adaptive-5"
for r in $rows; do
  kind=${r%-*} clip=${r#*-}
  one "$r" privacy.clip="$clip" privacy.adaptive_clip=$([ "$kind" = adaptive ] && echo true || echo false)
done
python3 - "$work" "$out" "$rows" <<'PY'
import json, os, platform, sys
work, out, names = sys.argv[1], sys.argv[2], sys.argv[3].split()
rows = []
for name in names:
    d = os.path.join(work, name)
    s = json.load(open(d + "/summary.json"))
    lines = [json.loads(l) for l in open(d + "/metrics.jsonl") if l.strip()]
    f = s["final"]
    assert f["epsilon"] is not None and f["epsilon"] <= 8, (name, f["epsilon"])
    kind, clip = name.split("-")
    rows.append({"clip": kind, "start_clip": float(clip), "last_clip": lines[-1]["clip"],
                 "last_fraction_within": lines[-1]["clip_fraction"], "rounds": len(lines), "epsilon": f["epsilon"],
                 "accuracy": f["global_accuracy"], "wall_s": float(open(d + ".wall").read()),
                 "global_model_sha256": f["global_model_sha256"], "command": open(d + ".cmd").read().strip()})
doc = {"bench": "dp-adaptive", "host": platform.node(), "cpus": os.cpu_count(),
       "setting": "dp_table.sh's epsilon 8 iid row (mnist, 1,000 clients, 100 a round, cnn, fedavg, sigma 1.0, "
                  "delta 1e-5, rounds until the budget), with the clip norm fixed or adaptive (target quantile 0.5, "
                  "clip_lr 0.2)", "rows": rows}
json.dump(doc, open(out, "w"), indent=1)
print("| clip | start C | last C | rounds | epsilon | test accuracy | wall s |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    print("| %s | %g | %.3g | %d | %.3f | %.2f%% | %.0f |" % (r["clip"], r["start_clip"], r["last_clip"], r["rounds"],
                                                          r["epsilon"], 100 * r["accuracy"], r["wall_s"]))
print("wrote", out)
PY
