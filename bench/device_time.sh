#!/usr/bin/env bash
# Device time (issue 18), on rotated MNIST (config/rotated_mnist.json: 4 rotation groups, k=4)
# with 64 clients (16 a cluster; half of them asked each round) and heterogeneous devices under
# clock=virtual (compute speed lognormal sigma 1, bandwidth lognormal sigma 1): the simulated
# time of the cluster phase (the run's end less the last initial round's; and the mean over
# clusters of when each finished its rounds) for
#   A. each selection.policy: resources (the seed's lowest CPU + memory), fastest (the device
#      with the quickest link and aggregation), random; with links of 20 Mbit/s (median) and of
#      1 Mbit/s (a mobile uplink: a server's link then carries 16 transfers of the cnn's 320 KB
#      a round, 2.6 s each at the median);
#   B. clusters running independently (rounds.cluster_sync=free) against lock step (every
#      cluster waits for the slowest after each round), with the seed's policy, 1 Mbit/s.
# Seeds 1..SEEDS; the server choice changes no model (the same SHA-256 per seed), only time.
# Writes bench/results/<date>-<host>-device-time.json and prints markdown tables.
# Usage: bench/device_time.sh path/to/flotilla [SEEDS]   (about 4 min with SEEDS=3 on 2 cores)
set -euo pipefail
bin=$(realpath "$1")
seeds=${2:-3}
out=bench/results/$(date +%F)-$(hostname)-device-time.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rows=$work/rows.jsonl
: > "$rows"
common=(--config config/rotated_mnist.json clients=64 data.train_limit=12000 rounds.cluster=10 rounds.fraction_fit=0.5 clock=virtual
        devices.speed_sigma=1 devices.bandwidth_sigma=1 output.progress=off output.save_models=false)
one() {
  local part=$1 label=$2 seed=$3
  shift 3
  rm -rf "$work/run"
  "$bin" run "${common[@]}" seed=$seed "$@" output.run_dir="$work/run" > "$work/log" 2>&1 || { tail -20 "$work/log"; exit 1; }
  python3 - "$work/run" "$part" "$label" "$seed" >> "$rows" <<'PY'
import json, sys
d, part, label, seed = sys.argv[1:]
s = json.load(open(d + "/summary.json"))
rows = [json.loads(l) for l in open(d + "/metrics.jsonl")]
initial_end = max(r["sim_time_s"] for r in rows if r["phase"] == "initial")
clusters = {}
for r in rows:
    if r["phase"] == "cluster":
        clusters[r["cluster"]] = max(clusters.get(r["cluster"], 0), r["sim_time_s"])
c = json.load(open(d + "/clusters.json"))
print(json.dumps({"part": part, "label": label, "seed": int(seed),
                  "cluster_phase_sim_s": s["final"]["sim_time_s"] - initial_end,
                  "cluster_ends_sim_s": [clusters[k] - initial_end for k in sorted(clusters)],
                  "servers": [x["server"] for x in c["clusters"]],
                  "personalized_accuracy": s["final"]["personalized_accuracy"],
                  "wall_s": s["timing"]["total_s"],
                  "global_model_sha256": s["final"]["global_model_sha256"]}))
PY
}
for seed in $(seq "$seeds"); do
  for kbps in 20000 1000; do
    for policy in resources fastest random; do
      one policy-$kbps "$policy" "$seed" selection.policy=$policy devices.kbps=$kbps
    done
  done
  one sync lockstep "$seed" rounds.cluster_sync=lockstep devices.kbps=1000
done
python3 - "$rows" "$out" "$seeds" <<'PY'
import json, statistics, sys, platform, os
rows = [json.loads(l) for l in open(sys.argv[1])]
out, seeds = sys.argv[2], int(sys.argv[3])
def stats(xs):
    return {"mean": statistics.mean(xs), "min": min(xs), "max": max(xs)}
# The server choice and the links change only time: one model per seed.
for seed in range(1, seeds + 1):
    shas = {r["global_model_sha256"] for r in rows if r["seed"] == seed}
    assert len(shas) == 1, ("the policies gave different models", seed, shas)
table, mean_end = {}, {}
for kbps in ["20000", "1000"]:
    for label in ["resources", "fastest", "random"]:
        sel = [r for r in rows if r["part"] == "policy-" + kbps and r["label"] == label]
        table[kbps + "/" + label] = stats([r["cluster_phase_sim_s"] for r in sel])
        mean_end[kbps + "/" + label] = stats([statistics.mean(r["cluster_ends_sim_s"]) for r in sel])
free_rows = [r for r in rows if r["part"] == "policy-1000" and r["label"] == "resources"]
lock_rows = [r for r in rows if r["part"] == "sync"]
free = [r["cluster_phase_sim_s"] for r in free_rows]
lock = [r["cluster_phase_sim_s"] for r in lock_rows]
free_mean = [statistics.mean(r["cluster_ends_sim_s"]) for r in free_rows]
lock_mean = [statistics.mean(r["cluster_ends_sim_s"]) for r in lock_rows]
doc = {"bench": "device_time", "host": platform.node(), "cpus": os.cpu_count(), "seeds": seeds,
       "setting": "config/rotated_mnist.json clients=64 data.train_limit=12000 rounds.cluster=10 "
                  "rounds.fraction_fit=0.5 clock=virtual devices.speed_sigma=1 devices.bandwidth_sigma=1 "
                  "devices.kbps=20000|1000 (keys of the tables: kbps/policy)",
       "policy_cluster_phase_sim_s": table,
       "policy_mean_cluster_end_sim_s": mean_end,
       "free_vs_lockstep_cluster_phase_sim_s": {"free": stats(free), "lockstep": stats(lock)},
       "free_vs_lockstep_mean_cluster_end_sim_s": {"free": stats(free_mean), "lockstep": stats(lock_mean)},
       "runs": rows}
json.dump(doc, open(out, "w"), indent=1)
print("| median link | selection.policy | cluster phase, simulated s (mean of %d seeds; min-max) | a cluster's rounds done after (mean) |" % seeds)
print("|---|---|---|---|")
for k, v in table.items():
    kbps, policy = k.split("/")
    print("| %g Mbit/s | %s | %.1f (%.1f-%.1f) | %.1f s |" % (int(kbps) / 1000, policy, v["mean"], v["min"], v["max"],
                                                           mean_end[k]["mean"]))
print()
print("| clusters | cluster phase, simulated s (mean; min-max) | a cluster's rounds done after (mean) |")
print("|---|---|---|")
for k, xs, ms in [("independent (free)", free, free_mean), ("lock step", lock, lock_mean)]:
    v = stats(xs)
    print("| %s | %.1f (%.1f-%.1f) | %.1f s |" % (k, v["mean"], v["min"], v["max"], statistics.mean(ms)))
print("\nwrote", out)
PY
