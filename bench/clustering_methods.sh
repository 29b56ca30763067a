#!/usr/bin/env bash
# The clustering-method table: method x partition -> adjusted Rand index against the true groups,
# mean personalized accuracy (each client's cluster model on its local split), the initial global
# model's accuracy on the same splits, the number of clusters found, and wall time. 16 clients in
# 4 groups, cnn, 2 initial + 6 cluster rounds. synthetic_leaf: LEAF's synthetic benchmark with 4
# task clusters, 100 users as natural clients, mclr, 5 local epochs of batch 10, 5 initial + 10
# cluster rounds. Writes bench/results/<date>-<host>-clustering.json and prints a markdown table.
# Usage: bench/clustering_methods.sh path/to/flotilla [PARTITION ...]
#   (rotated label_swap dirichlet synthetic_leaf by default)
set -euo pipefail
bin=$(realpath "$1"); shift
partitions=("$@")
[ ${#partitions[@]} -gt 0 ] || partitions=(rotated label_swap dirichlet synthetic_leaf)
out=bench/results/$(date +%F)-$(hostname)-clustering.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(clients=16 partition.groups=4 rounds.initial=2 rounds.cluster=6 output.progress=off output.save_models=false)
rows=()
leaf=(data.dataset=synthetic_leaf data.users=100 data.clusters=4 partition.scheme=natural clients=0 model.name=mclr
      rounds.initial=5 rounds.cluster=10 train.epochs=5 train.batch_size=10)
for partition in "${partitions[@]}"; do
  for method in kmeans agglomerative cfl ifca kmeans-auto; do
    if [ "$partition" = synthetic_leaf ]; then args=("${leaf[@]}"); else args=(partition.scheme=$partition); fi
    args+=(clustering.method=${method%-auto})
    if [ "$method" = kmeans-auto ]; then args+=(clustering.k=auto); elif [ "$method" != cfl ]; then args+=(clustering.k=4); fi
    dir="$work/$partition-$method"
    start=$(date +%s.%N)
    "$bin" run "${common[@]}" "${args[@]}" output.run_dir="$dir" > "$dir.log" 2>&1 || { cat "$dir.log"; exit 1; }
    end=$(date +%s.%N)
    rows+=("$(python3 - "$dir" "$partition" "$method" "$start" "$end" <<'PY'
import json, sys
d, partition, method, start, end = sys.argv[1:]
s = json.load(open(d + "/summary.json"))
c = s["clustering"]
print(json.dumps({"partition": partition, "method": method, "ari": c.get("adjusted_rand_index"),
                  "clusters": c["clusters_at_end"], "k": c["k"],
                  "personalized": s["final"]["personalized_accuracy"],
                  "initial_global": s["final"]["initial_global_personalized_accuracy"],
                  "global": s["final"]["global_accuracy"],
                  "wall_s": round(float(end) - float(start), 1)}))
PY
)")
    echo "${rows[-1]}"
  done
done
printf '%s\n' "${rows[@]}" | python3 -c "
import json, sys
rows = [json.loads(l) for l in sys.stdin]
json.dump({'setting': 'clients=16 partition.groups=4 rounds.initial=2 rounds.cluster=6 (cnn, fedavg); synthetic_leaf: '
                      'data.users=100 data.clusters=4 partition.scheme=natural clients=0 model.name=mclr '
                      'rounds.initial=5 rounds.cluster=10 train.epochs=5 train.batch_size=10', 'rows': rows},
          open('$out', 'w'), indent=2)
print('| partition | method | ARI | clusters | personalized | initial global (same splits) | global (test set) | wall |')
print('|---|---|---|---|---|---|---|---|')
for r in rows:
    ari = '-' if r['ari'] is None else '%.3f' % r['ari']
    print('| %s | %s | %s | %d | %.2f%% | %.2f%% | %.2f%% | %.0f s |' % (r['partition'], r['method'], ari, r['clusters'],
          100 * r['personalized'], 100 * r['initial_global'], 100 * r['global'], r['wall_s']))
"
echo "written: $out"
