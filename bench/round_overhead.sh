#!/usr/bin/env bash
# Per-round overhead: many short rounds of a trivial model (mclr on 60 features, one local epoch
# over ~100 samples per client) so the round's fixed costs (sampling, fit messages, aggregation,
# evaluation on the test set, a metrics line, a checkpoint) dominate. Prints rounds per second of
# the initial phase's wall time (summary.json timing.initial_s), split into the time inside the
# rounds (their own `seconds` in metrics.jsonl: training included) and between them (metrics
# line, checkpoint, next round's set-up), and writes bench/results/<date>-<host>-round-overhead.json.
# Usage: bench/round_overhead.sh path/to/flotilla [ROUNDS [CLIENTS]]
set -euo pipefail
bin=$(realpath "$1")
rounds=${2:-200}
clients=${3:-10}
out=bench/results/$(date +%F)-$(hostname)-round-overhead.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
args=(data.dataset=synthetic_fedprox data.users=$clients partition.scheme=natural clients=0 model.name=mclr
      rounds.initial=$rounds rounds.cluster=0 clustering.k=1 train.epochs=1 train.batch_size=32
      output.progress=off output.save_models=false)
rows=()
for repeat in 1 2 3; do
  dir="$work/run$repeat"
  start=$(date +%s.%N)
  "$bin" run "${args[@]}" output.run_dir="$dir" > "$dir.log" 2>&1 || { cat "$dir.log"; exit 1; }
  end=$(date +%s.%N)
  rows+=("$(python3 - "$dir" "$start" "$end" "$rounds" <<'PY'
import json, sys
d, start, end, rounds = sys.argv[1:]
lines = [json.loads(l) for l in open(d + "/metrics.jsonl") if l.strip()]
initial = [l for l in lines if l.get("phase") == "initial"]
s = json.load(open(d + "/summary.json"))
phase = sum(l["seconds"] for l in initial)
samples = sum(l["samples"] for l in initial)
wall = s["timing"]["initial_s"]
print(json.dumps({"rounds": len(initial), "process_wall_s": round(float(end) - float(start), 2),
                  "initial_phase_wall_s": round(wall, 3), "rounds_per_s": round(len(initial) / wall, 1),
                  "ms_per_round": round(1000 * wall / len(initial), 2),
                  "ms_in_rounds": round(1000 * phase / len(initial), 2),
                  "ms_between_rounds": round(1000 * (wall - phase) / len(initial), 2),
                  "training_samples_per_round": samples / len(initial),
                  "peak_rss_mib": round(s["timing"]["peak_rss_bytes"] / 2**20)}))
PY
)")
  echo "${rows[-1]}"
done
printf '%s\n' "${rows[@]}" | python3 -c "
import json, sys
rows = [json.loads(l) for l in sys.stdin]
json.dump({'setting': 'synthetic_fedprox, $clients users = clients, mclr, 1 epoch, batch 32, $rounds initial rounds, '
                      'clustering.k=1 rounds.cluster=0; rounds_per_s over the initial phase wall time',
           'runs': rows}, open('$out', 'w'), indent=2)
print('rounds/s: ' + ', '.join('%.1f' % r['rounds_per_s'] for r in rows) +
      '; ms per round: ' + ', '.join('%.2f (%.2f in, %.2f between)' % (r['ms_per_round'], r['ms_in_rounds'],
                                     r['ms_between_rounds']) for r in rows))
"
echo "written: $out"
