#!/usr/bin/env bash
# A million registered clients (issue 18, required result 5). synthetic_fedprox with
# data.users=1,000,000 natural clients made on demand (partition.scheme=natural clients=0), mclr,
# plain FedAvg (clustering.method=none) sampling 1,000 clients a round (rounds.fraction_fit=0.001).
# Registered clients are descriptors (a row range, a device, an availability: functions of the id);
# a client has an actor only while it is sampled. Measured, per run:
#   peak RSS        the process's high-water mark (summary.json timing.peak_rss_bytes, VmHWM);
#   s per round     wall time between two rounds' ends (metrics.jsonl sim_time_s under clock=wall),
#                   so the metrics line, the checkpoint and the next round's sampling count too;
#   overhead share  1 - fit_seconds / (trainers x s per round): the share of the trainers' time in
#                   a round that was not a client training (sampling a million ids, spawning and
#                   letting go of 1,000 actors, dispatch, aggregation, the metrics line, the
#                   checkpoint, and trainers idle at the round's tail).
# Rounds that evaluate the global model (rounds.eval_every; data.test_limit rows) are shown apart:
# evaluation is not part of the overhead the issue names. Writes
# bench/results/<date>-<host>-million.json and prints a markdown table.
# Usage: bench/million.sh path/to/flotilla [ROUNDS [USERS]]   (about 2 min on 2 cores)
set -euo pipefail
bin=$(realpath "$1")
rounds=${2:-20}
users=${3:-1000000}
per_round=1000
trainers=2
out=bench/results/$(date +%F)-$(hostname)-million.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fraction=$(python3 -c "print($per_round / $users)")
args=(data.dataset=synthetic_fedprox data.users=$users partition.scheme=natural clients=0 model.name=mclr
      clustering.method=none rounds.cluster=0 rounds.initial=$rounds rounds.fraction_fit=$fraction
      rounds.eval_every=10 data.test_limit=100000 runtime.trainers=$trainers
      output.progress=off output.save_models=false)
start=$(date +%s.%N)
"$bin" run "${args[@]}" output.run_dir="$work/run" > "$work/run.log" 2>&1 || { tail -20 "$work/run.log"; exit 1; }
end=$(date +%s.%N)
python3 - "$work/run" "$start" "$end" "$trainers" "$users" "$per_round" "$out" "${args[*]}" <<'PY'
import json, statistics, sys
d, start, end, trainers, users, per_round, out, args = sys.argv[1:]
trainers, users, per_round = int(trainers), int(users), int(per_round)
rows = [json.loads(l) for l in open(d + "/metrics.jsonl") if l.strip()]
s = json.load(open(d + "/summary.json"))
rounds = []
previous = 0.0
for r in rows:
    wall = r["sim_time_s"] - previous  # clock=wall: seconds since the run began, at the round's end
    previous = r["sim_time_s"]
    rounds.append({"round": r["round"], "clients": r["clients"], "wall_s": wall, "in_round_s": r["seconds"],
                   "fit_seconds": r["fit_seconds"], "evaluated": r["test_accuracy"] is not None,
                   "overhead_share": 1 - r["fit_seconds"] / (trainers * wall)})
# The first round also pays for the trainers' first steps; it is shown but not in the medians.
steady = [r for r in rounds[1:] if not r["evaluated"]]
evaluated = [r for r in rounds if r["evaluated"]]
med = lambda xs: statistics.median(xs) if xs else None
result = {
    "setting": f"synthetic_fedprox, data.users={users} natural clients made on demand, mclr, clustering.method=none, "
               f"{per_round} sampled per round, {trainers} trainers, 2 cores",
    "args": args,
    "registered_clients": users,
    "rounds": len(rounds),
    "process_wall_s": round(float(end) - float(start), 2),
    "peak_rss_mib": round(s["timing"]["peak_rss_bytes"] / 2**20),
    "s_per_round_median": round(med([r["wall_s"] for r in steady]), 3),
    "fit_seconds_per_round_median": round(med([r["fit_seconds"] for r in steady]), 3),
    "overhead_share_median": round(med([r["overhead_share"] for r in steady]), 4),
    "overhead_share_max": round(max(r["overhead_share"] for r in steady), 4),
    # Over all the steady rounds at once: their trainers' time that was not training.
    "overhead_share_total": round(1 - sum(r["fit_seconds"] for r in steady) /
                                  (trainers * sum(r["wall_s"] for r in steady)), 4),
    "evaluated_round_s_median": round(med([r["wall_s"] for r in evaluated]), 3) if evaluated else None,
    "global_accuracy": s["final"]["global_accuracy"],
    "per_round": rounds,
}
json.dump(result, open(out, "w"), indent=2)
print(f"| registered clients | sampled per round | peak RSS | s per round (median) | overhead share: all rounds, median, max | evaluated round |")
print(f"|---|---|---|---|---|---|")
print(f"| {users:,} | {per_round:,} | {result['peak_rss_mib']} MiB | {result['s_per_round_median']} s | "
      f"{100 * result['overhead_share_total']:.1f}%, {100 * result['overhead_share_median']:.1f}%, "
      f"{100 * result['overhead_share_max']:.1f}% | {result['evaluated_round_s_median']} s |")
PY
echo "written: $out"
