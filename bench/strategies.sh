#!/usr/bin/env bash
# The strategy tables. (1) Every strategy on `make run`'s setting with only strategy.name changed:
# global and personalized test accuracy, wall time. (2) Model poisoning on plain FL (10 clients,
# clustering.k=1 rounds.cluster=0): clients 0 and 1 send sign-flipped updates scaled by 10;
# fedavg against the robust rules. A run that ends with exit 4 (training diverged) counts as
# "diverged". Writes bench/results/<date>-<host>-strategies.json and prints markdown tables.
# Usage: bench/strategies.sh path/to/flotilla [strategy ...]
set -euo pipefail
bin=$(realpath "$1"); shift
strategies=("$@")
[ ${#strategies[@]} -gt 0 ] || strategies=(fedavg fedavgm fedprox fedadagrad fedadam fedyogi median trimmed_mean krum)
out=bench/results/$(date +%F)-$(hostname)-strategies.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
quiet=(output.progress=off output.save_models=false)
rows=()

# run TABLE LABEL key=value...: one run, one JSON row.
run() {
  local table=$1 label=$2; shift 2
  local dir="$work/$table-$label" rc=0
  local start; start=$(date +%s.%N)
  "$bin" run "${quiet[@]}" "$@" output.run_dir="$dir" > "$dir.log" 2>&1 || rc=$?
  local end; end=$(date +%s.%N)
  if [ $rc -ne 0 ] && [ $rc -ne 4 ]; then cat "$dir.log"; exit 1; fi
  rows+=("$(python3 - "$dir" "$table" "$label" "$rc" "$start" "$end" "$*" <<'PY'
import json, os, sys
d, table, label, rc, start, end, args = sys.argv[1:]
row = {"table": table, "strategy": label, "args": args, "exit": int(rc),
       "wall_s": round(float(end) - float(start), 1)}
if os.path.exists(d + "/summary.json"):
    s = json.load(open(d + "/summary.json"))
    row["global"] = s["final"]["global_accuracy"]
    row["personalized"] = s["final"].get("personalized_accuracy")
    row["sha256"] = s["final"].get("global_model_sha256")
print(json.dumps(row))
PY
)")
  echo "${rows[-1]}"
}

for s in "${strategies[@]}"; do run defaults "$s" strategy.name="$s"; done

attack=(clustering.k=1 rounds.cluster=0 "attack.clients=[0,1]" attack.kind=sign_flip attack.scale=10)
run attack fedavg "${attack[@]}" strategy.name=fedavg
run attack median "${attack[@]}" strategy.name=median
run attack "trimmed_mean (0.2)" "${attack[@]}" strategy.name=trimmed_mean strategy.trim_fraction=0.2
run attack "krum (f=2)" "${attack[@]}" strategy.name=krum strategy.byzantine=2

printf '%s\n' "${rows[@]}" | python3 -c "
import json, sys
rows = [json.loads(l) for l in sys.stdin]
json.dump({'defaults_setting': 'make run (config/default.json) with strategy.name=X',
           'attack_setting': 'clients=10 clustering.k=1 rounds.cluster=0 attack.clients=[0,1] attack.kind=sign_flip attack.scale=10',
           'rows': rows}, open('$out', 'w'), indent=2)
def acc(r, k):
    return 'diverged (exit 4)' if r['exit'] == 4 else '%.2f%%' % (100 * r[k])
print('| strategy | global accuracy | personalized | wall |')
print('|---|---|---|---|')
for r in rows:
    if r['table'] == 'defaults':
        print('| %s | %s | %s | %.0f s |' % (r['strategy'], acc(r, 'global'), acc(r, 'personalized'), r['wall_s']))
print()
print('| strategy under attack | global accuracy | wall |')
print('|---|---|---|')
for r in rows:
    if r['table'] == 'attack':
        print('| %s | %s | %.0f s |' % (r['strategy'], acc(r, 'global'), r['wall_s']))
"
echo "written: $out"
