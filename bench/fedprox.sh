#!/usr/bin/env bash
# FedProx's straggler table (Li et al., MLSys 2020, Figure 1 / Table 2 settings): Synthetic(0,0),
# (0.5,0.5), (1,1) and IID x stragglers 0 / 50 / 90% x {fedavg (drop), fedprox mu=0 (keep),
# fedprox mu=1 (keep)}. mclr, 30 users, 10 per round, E=20, B=10, lr 0.01 (plain SGD), R rounds,
# each setting over SEEDS seeds: final global test accuracy and the participants' mean local
# training loss of round R (mean and spread over seeds).
#
# Each run goes one round beyond R: the last initial round asks every client (it feeds the
# clustering), so round R+1 is not a FedProx round and round R is read from metrics.jsonl.
# Writes bench/results/<date>-<host>-fedprox.json and prints a markdown table.
# Usage: bench/fedprox.sh path/to/flotilla [ROUNDS [SEEDS [SETTINGS [STRAGGLERS]]]]
#   e.g. bench/fedprox.sh build/flotilla 200 "1 2 3" "0,0 0.5,0.5 1,1 iid" "0 0.5 0.9"
set -euo pipefail
bin=$(realpath "$1")
rounds=${2:-200}
seeds=${3:-"1 2 3"}
settings=${4:-"0,0 0.5,0.5 1,1 iid"}
fractions=${5:-"0 0.5 0.9"}
out=bench/results/$(date +%F)-$(hostname)-fedprox.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(data.dataset=synthetic_fedprox data.users=30 partition.scheme=natural clients=30 model.name=mclr
        rounds.initial=$((rounds + 1)) rounds.cluster=0 clustering.k=1 rounds.fraction_fit=0.3333
        rounds.quorum=0 train.epochs=20 train.batch_size=10 train.lr=0.01 train.momentum=0
        output.progress=off output.save_models=false)
methods=("fedavg (drop)|strategy.name=fedavg strategy.stragglers=drop"
         "fedprox mu=0 (keep)|strategy.name=fedprox strategy.proximal_mu=0 strategy.stragglers=keep"
         "fedprox mu=1 (keep)|strategy.name=fedprox strategy.proximal_mu=1 strategy.stragglers=keep")
rows=$work/rows.jsonl
: > "$rows"
for setting in $settings; do
  if [ "$setting" = iid ]; then data=(data.iid=true); else data=(data.alpha=${setting%,*} data.beta=${setting#*,}); fi
  for p in $fractions; do
    for m in "${methods[@]}"; do
      label=${m%%|*}; read -r -a args <<< "${m#*|}"
      for seed in $seeds; do
        dir="$work/run"; rm -rf "$dir"
        start=$(date +%s.%N)
        "$bin" run "${common[@]}" "${data[@]}" rounds.stragglers="$p" "${args[@]}" seed="$seed" \
          output.run_dir="$dir" > "$work/log" 2>&1 || { cat "$work/log"; exit 1; }
        end=$(date +%s.%N)
        python3 - "$dir" "$setting" "$p" "$label" "$seed" "$rounds" "$start" "$end" >> "$rows" <<'PY'
import json, sys
d, setting, p, label, seed, rounds, start, end = sys.argv[1:]
line = [json.loads(l) for l in open(d + "/metrics.jsonl")
        if l.strip() and json.loads(l).get("phase") == "initial" and json.loads(l).get("round") == int(rounds)][-1]
print(json.dumps({"setting": setting, "stragglers": float(p), "method": label, "seed": int(seed),
                  "rounds": int(rounds), "test_accuracy": line["test_accuracy"], "train_loss": line["train_loss"],
                  "asked": line["asked"], "straggler_count": line["stragglers"], "aggregated": line["aggregated"],
                  "wall_s": round(float(end) - float(start), 1)}))
PY
        tail -1 "$rows"
      done
    done
  done
done
python3 - "$rows" "$out" "$rounds" "$seeds" <<'PY'
import json, statistics, sys
rows_file, out, rounds, seeds = sys.argv[1:]
rows = [json.loads(l) for l in open(rows_file)]
groups = {}
for r in rows:
    groups.setdefault((r["setting"], r["stragglers"], r["method"]), []).append(r)
table = []
for (setting, p, method), rs in groups.items():
    acc = [r["test_accuracy"] for r in rs]
    loss = [r["train_loss"] for r in rs]
    sd = lambda xs: statistics.stdev(xs) if len(xs) > 1 else 0.0
    table.append({"setting": setting, "stragglers": p, "method": method, "seeds": len(rs),
                  "accuracy_mean": statistics.mean(acc), "accuracy_sd": sd(acc),
                  "train_loss_mean": statistics.mean(loss), "train_loss_sd": sd(loss)})
json.dump({"setting": "synthetic_fedprox, 30 users, 10 per round, mclr, E=20, B=10, lr 0.01, momentum 0, "
                      "%s rounds, seeds %s; accuracy: global test set after round %s; train_loss: the "
                      "participants' mean local training loss in that round" % (rounds, seeds, rounds),
           "table": table, "runs": rows}, open(out, "w"), indent=2)
print("| data | stragglers | method | test accuracy (mean ± sd) | training loss (mean ± sd) |")
print("|---|---|---|---|---|")
for t in table:
    name = "Synthetic IID" if t["setting"] == "iid" else "Synthetic(%s)" % t["setting"]
    print("| %s | %d%% | %s | %.1f%% ± %.1f | %.3f ± %.3f |" % (name, round(100 * t["stragglers"]), t["method"],
          100 * t["accuracy_mean"], 100 * t["accuracy_sd"], t["train_loss_mean"], t["train_loss_sd"]))
print("written: " + out)
PY
