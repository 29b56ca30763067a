#!/usr/bin/env bash
# Secure aggregation's cost (issue 19): bytes per member per round against a plain update, and
# wall time against the same run in the clear, with the model's SHA-256 both ways.
#   A. make run's setting (config/default.json: MNIST, 10 clients, kmeans k=2, 3 + 3 rounds,
#      FedAvg weighted by samples). Its clusters are 7 and 3 clients: the small one has 2 members
#      besides its server, so this row runs privacy.min_cluster=2 (with the default 3 that
#      cluster is merged into the other at clustering, and the model differs from the clear run's).
#   B. DP-FedAvg's setting (privacy.dp=central: clipped updates, uniform weights): MNIST, 1,000
#      clients, 100 a round, plain FL, 5 rounds, at the coordinator.
#   C. FedBuff (strategy.mode=buffered) at the coordinator: MNIST (12,000 training samples), 100
#      clients, 20 in flight, a step every 10 updates (weights: samples x staleness weight, in
#      1/1024 samples), simulated device times; 10 steps, then the round that asks everyone (in
#      the clear under secure aggregation: it feeds clustering).
# Per secure round: bytes up = secure_bytes_up / secure_members (advertised keys, sealed shares,
# the masked input, the unmasking answer), against 4 bytes a weight, a float32 update; the ring
# bits are the round's secure_bits. Wall time (each run twice, alternated, means): the whole run's
# total_s, and the secure rounds' seconds against the same rounds in the clear. Writes bench/results/<date>-<host>-secagg.json
# and prints markdown tables.
# Usage: bench/secagg.sh path/to/flotilla   (about 15 min on 2 cores)
set -euo pipefail
bin=$(realpath "$1")
out=bench/results/$(date +%F)-$(hostname)-secagg.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
run() { # name args...
  local name=$1
  shift
  "$bin" run "$@" output.progress=off output.run_dir="$work/$name" > "$work/$name.log" 2>&1 ||
    { tail -20 "$work/$name.log"; exit 1; }
}
a=(privacy.min_cluster=2)
b=(clients=1000 clustering.method=none rounds.cluster=0 rounds.initial=5 rounds.fraction_fit=0.1
   privacy.dp=central privacy.clip=1 privacy.noise_multiplier=1 privacy.delta=1e-5)
c=(clients=100 data.train_limit=12000 clustering.method=none rounds.cluster=0 rounds.initial=11
   strategy.mode=buffered strategy.concurrency=20 strategy.buffer=10 clock=virtual devices.speed_sigma=1)
# Alternated, twice each: wall time on 2 shared cores drifts by several percent between runs.
for rep in 1 2; do
  run a-clear$rep "${a[@]}" privacy.secure_aggregation=false
  run a-secure$rep "${a[@]}" privacy.secure_aggregation=true
  run b-clear$rep "${b[@]}" privacy.secure_aggregation=false
  run b-secure$rep "${b[@]}" privacy.secure_aggregation=true
  run c-clear$rep "${c[@]}" privacy.secure_aggregation=false
  run c-secure$rep "${c[@]}" privacy.secure_aggregation=true
done
python3 - "$work" "$out" "${a[*]}" "${b[*]}" "${c[*]}" <<'PY'
import json, statistics, sys, zipfile
work, out, a_args, b_args, c_args = sys.argv[1:]
def weights(run):  # the model's values: a torch state dict's tensors are its data/ entries
    with zipfile.ZipFile(run + "/models/global.pt") as z:
        return sum(i.file_size for i in z.infolist() if "/data/" in i.filename) // 4
def setting(name, args):
    clear, secure = work + "/" + name + "-clear1", work + "/" + name + "-secure1"
    L = weights(secure)
    sc = [json.loads(l) for l in open(secure + "/metrics.jsonl") if l.strip()]
    cc = [json.loads(l) for l in open(clear + "/metrics.jsonl") if l.strip()]
    rows = []
    for s, c in zip(sc, cc):
        if s["secure_members"] == 0:
            continue
        up = s["secure_bytes_up"] / s["secure_members"]
        rows.append({"phase": s["phase"], "round": s["round"], "cluster": s["cluster"], "members": s["secure_members"],
                     "bits": s["secure_bits"], "bytes_up_per_member": round(up),
                     "bytes_down_per_member": round(s["secure_bytes_down"] / s["secure_members"]),
                     "ratio_up": round(up / (4 * L), 4), "seconds": round(s["seconds"], 3),
                     "seconds_clear": round(c["seconds"], 3)})
    ss, cs = json.load(open(secure + "/summary.json")), json.load(open(clear + "/summary.json"))
    def total(kind):  # the two repetitions' mean
        return statistics.mean(json.load(open("%s/%s-%s%d/summary.json" % (work, name, kind, i)))["timing"]["total_s"]
                               for i in (1, 2))
    def rounds_s(kind):  # the secure rounds' seconds (their clear twins in the clear runs), mean of two
        out = []
        for i in (1, 2):
            sec = [json.loads(l) for l in open("%s/%s-secure%d/metrics.jsonl" % (work, name, i)) if l.strip()]
            oth = [json.loads(l) for l in open("%s/%s-%s%d/metrics.jsonl" % (work, name, kind, i)) if l.strip()]
            out.append(sum(o["seconds"] for s_, o in zip(sec, oth) if s_["secure_members"] > 0))
        return statistics.mean(out)
    t_s, t_c = total("secure"), total("clear")
    secure_s, clear_s = rounds_s("secure"), rounds_s("clear")
    same = all(json.load(open("%s/%s-%s%d/summary.json" % (work, name, k, i)))["final"]["global_model_sha256"] ==
               ss["final"]["global_model_sha256"] for k in ("clear", "secure") for i in (1, 2))
    return {"setting": name, "args": args, "weights": L, "plain_update_bytes": 4 * L,
            "sha_secure": ss["final"]["global_model_sha256"], "sha_clear": cs["final"]["global_model_sha256"],
            "same_sha": same,
            "total_s_secure": round(t_s, 2), "total_s_clear": round(t_c, 2),
            "wall_overhead": round(t_s / t_c - 1, 4),
            "secure_rounds_s": round(secure_s, 2), "same_rounds_clear_s": round(clear_s, 2),
            "rounds_overhead": round(secure_s / clear_s - 1, 4),
            "ratio_up_median": statistics.median(r["ratio_up"] for r in rows),
            "ratio_up_max": max(r["ratio_up"] for r in rows), "rounds": rows}
res = [setting("a", a_args), setting("b", b_args), setting("c", c_args)]
json.dump({"bench": "secagg", "settings": res}, open(out, "w"), indent=1)
print("| setting | weights | secure rounds | ring bits | bytes up a member / plain update (median, max) | SHA-256 same | wall: run, secure rounds |")
print("|---|---|---|---|---|---|---|")
for s in res:
    bits = sorted({r["bits"] for r in s["rounds"]})
    print("| %s | %d | %d | %d-%d | %.3fx, %.3fx | %s | %+.1f%%, %+.1f%% |" % (
        s["setting"], s["weights"], len(s["rounds"]), bits[0], bits[-1], s["ratio_up_median"], s["ratio_up_max"],
        "yes" if s["same_sha"] else "NO", 100 * s["wall_overhead"], 100 * s["rounds_overhead"]))
print("written:", out)
PY
