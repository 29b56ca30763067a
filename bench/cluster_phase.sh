#!/usr/bin/env bash
# The cluster phase before and after clusters ran free: wall time of the cluster phase
# (summary.json timing.cluster_rounds_s) and the sum over clusters of the time spent ready but
# waiting for other clusters, on make run's setting (config/default.json) and on rotated MNIST
# (config/rotated_mnist.json), in one run of this script on one machine.
#   before:   a binary built before the change (every cluster round waited for all clusters); its
#             waiting is derived from metrics.jsonl: in each round, the slowest cluster's seconds
#             minus each cluster's own (they all started together)
#   lockstep: this binary with rounds.cluster_sync=lockstep (the old schedule), waiting measured
#   free:     this binary's default, waiting measured by fl::cluster_phase (timing.cluster_wait_s)
# The three must give the same global model (SHA-256): the schedule changes nothing in the result.
# Writes bench/results/<date>-<host>-cluster-phase.json and prints a markdown table.
# Usage: bench/cluster_phase.sh path/to/flotilla [path/to/flotilla-before] [repeats]
set -euo pipefail
bin=$(realpath "$1")
before=${2:+$(realpath "$2")}
repeats=${3:-1}
out=bench/results/$(date +%F)-$(hostname)-cluster-phase.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rows=()
for setting in default rotated_mnist; do
  for variant in ${before:+before} lockstep free; do
    for rep in $(seq "$repeats"); do
      case $variant in
        before) exe=$before args=() ;;
        lockstep) exe=$bin args=(rounds.cluster_sync=lockstep) ;;
        free) exe=$bin args=() ;;
      esac
      dir="$work/$setting-$variant-$rep"
      config=config/$setting.json
      if [ "$variant" = before ]; then # it predates rounds.cluster_sync: the same file without it
        config=$work/$setting-before.json
        python3 -c 'import json, sys
c = json.load(open(sys.argv[1])); c.get("rounds", {}).pop("cluster_sync", None)
json.dump(c, open(sys.argv[2], "w"))' "config/$setting.json" "$config"
      fi
      "$exe" run --config "$config" "${args[@]}" output.progress=off output.save_models=false \
        output.run_dir="$dir" > "$dir.log" 2>&1 || { cat "$dir.log"; exit 1; }
      rows+=("$(python3 - "$dir" "$setting" "$variant" <<'PY'
import json, sys
from collections import defaultdict
d, setting, variant = sys.argv[1:]
s = json.load(open(d + "/summary.json"))
t = s["timing"]
per_round = defaultdict(list)
for line in open(d + "/metrics.jsonl"):
    r = json.loads(line)
    if r["phase"] == "cluster":
        per_round[r["round"]].append(r["seconds"])
derived = sum(max(v) - x for v in per_round.values() for x in v)
measured = t.get("cluster_wait_s")
print(json.dumps({"setting": setting, "variant": variant, "cluster_rounds_s": t["cluster_rounds_s"],
                  "wait_s": measured if measured is not None else derived,
                  "wait_from": "measured" if measured is not None else "derived from metrics.jsonl",
                  "wait_derived_s": derived, "total_s": t["total_s"],
                  "sha256": s["final"]["global_model_sha256"]}))
PY
)")
      echo "${rows[-1]}"
    done
  done
done
printf '%s\n' "${rows[@]}" | python3 -c "
import json, sys
rows = [json.loads(l) for l in sys.stdin]
for setting in {r['setting'] for r in rows}:
    shas = {r['sha256'] for r in rows if r['setting'] == setting}
    if len(shas) != 1:
        sys.exit('%s: the variants gave different models: %s' % (setting, shas))
json.dump({'rows': rows}, open('$out', 'w'), indent=2)
print('| setting | schedule | cluster phase wall | clusters waiting for others (sum) | run total |')
print('|---|---|---|---|---|')
for r in rows:
    print('| %s | %s | %.1f s | %.1f s (%s) | %.1f s |' % (r['setting'], r['variant'], r['cluster_rounds_s'],
          r['wait_s'], r['wait_from'], r['total_s']))
"
echo "written: $out"
