#!/usr/bin/env bash
# McMahan et al. 2017, Table 2 (CNN, IID, C=0.1, E=5, B=10: 99% test accuracy in 20 rounds),
# re-measured: config/mcmahan_iid.json (100 clients x 600 MNIST images, 594 of them for training, mcmahan_cnn) stops at the
# first round whose global test accuracy reaches 99%. One run per strategy; rounds to 99%, the
# accuracy reached and the wall time go to bench/results/<date>-<host>-mcmahan.json and a
# markdown table. Usage: bench/mcmahan.sh path/to/flotilla ["label|key=value ..." ...]
set -euo pipefail
bin=$(realpath "$1"); shift
runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=("fedavg|strategy.name=fedavg"
                               "fedavgm (server_lr 1, momentum 0.5)|strategy.name=fedavgm strategy.server_lr=1 strategy.server_momentum=0.5")
out=bench/results/$(date +%F)-$(hostname)-mcmahan.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rows=()
for spec in "${runs[@]}"; do
  label=${spec%%|*}; read -r -a args <<< "${spec#*|}"
  dir="$work/run-${#rows[@]}"
  start=$(date +%s.%N)
  "$bin" run --config config/mcmahan_iid.json output.progress=off output.save_models=false \
    "${args[@]}" output.run_dir="$dir" > "$dir.log" 2>&1 || { cat "$dir.log"; exit 1; }
  end=$(date +%s.%N)
  rows+=("$(python3 - "$dir" "$label" "${args[*]}" "$start" "$end" <<'PY'
import json, sys
d, label, args, start, end = sys.argv[1:]
s = json.load(open(d + "/summary.json"))
f = s["final"]
records = [json.loads(l) for l in open(d + "/metrics.jsonl")]
initial = [r for r in records if r.get("phase") == "initial" and "round" in r]
print(json.dumps({"strategy": label, "args": args, "rounds_to_target": f.get("rounds_to_target"),
                  "global_accuracy": f["global_accuracy"], "rounds_run": len(initial),
                  "accuracy_by_round": [r.get("test_accuracy") for r in initial],
                  "wall_s": round(float(end) - float(start), 1)}))
PY
)")
  echo "${rows[-1]}"
done
printf '%s\n' "${rows[@]}" | python3 -c "
import json, sys
rows = [json.loads(l) for l in sys.stdin]
json.dump({'setting': 'config/mcmahan_iid.json: mcmahan_cnn, 100 clients x 600 iid MNIST (594 train), C=0.1, E=5, B=10, lr 0.1, target 99%',
           'paper_rounds': 20, 'rows': rows}, open('$out', 'w'), indent=2)
print('| setting | strategy | rounds to 99% | paper | accuracy at stop | wall |')
print('|---|---|---|---|---|---|')
for r in rows:
    n = r['rounds_to_target']
    print('| CNN, IID, C=0.1, E=5, B=10 | %s | %s | 20 | %.2f%% | %.0f s |' % (r['strategy'],
          'not reached' if n is None or n < 0 else n, 100 * r['global_accuracy'], r['wall_s']))
"
echo "written: $out"
