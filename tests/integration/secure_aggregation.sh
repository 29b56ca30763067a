#!/usr/bin/env bash
# Secure aggregation (privacy.secure_aggregation, issue 19): the members' updates are summed under
# SecAgg+ masks at the coordinator's rounds and at every promoted cluster server's, and the
# exact fixed-point sum makes the result bit-identical to the same run in the clear:
#   1. kmeans clusters: secure and in the clear give the same global and cluster models; each
#      secure round records its members, ring bits and protocol bytes; the round that feeds
#      clustering runs in the clear (it needs every client's weights) and says so (0 members)
#   2. IFCA on rotated MNIST: the same models secure and in the clear
#   3. two loopback nodes: the same model as threaded (the protocol's messages cross sockets)
#   4. a third of a round's members crash right after sending their masked input: the round
#      still aggregates every masked input (the crashed members' masks are rebuilt from shares),
#      so its model is the fault-free run's
#   5. a cluster server crashes after the masked inputs are in, before unmasking: it is
#      re-elected and the round runs again (a new session) under the new server
#   6. what cannot be summed under masks is exit 2, naming why
#   7. privacy.dp=central at the promoted cluster servers: each cluster is an aggregation point
#      with its own accountant (continuing the initial phase's), epsilon on every line and growing,
#      final.epsilon the largest; with secure aggregation the same models; a budget ends each
#      cluster before the round that would pass it; SIGKILLed mid-phase and resumed bit for bit
#   8. privacy.dp=distributed: the members add noise shares before masking; the same model twice,
#      the configured sigma on every secure line, the central run's epsilons, another model
#   9. privacy.adaptive_clip: every aggregation point moves its clip by Andrew et al.'s rule from
#      its noised count (each cluster from the coordinator's last); secure = clear bit for bit
#      (the count is summed under the masks too); SIGKILLed mid-phase and resumed to the same
#      model and clips; under distributed noise too; without DP it is exit 2
#  10. a cluster with fewer than privacy.min_cluster members besides its server joins its nearest
#  11. the model-inconsistency attack (fault inconsistent_model): a cluster server sends one member
#      a model other than the one the coordinator signed; that member refuses to train on it, the
#      round sums the others
#  12. FedBuff (strategy.mode=buffered): members hold their updates; a full buffer with at least
#      privacy.min_cluster distinct members is committed with its staleness weights and summed
#      under masks, at the coordinator and at the promoted servers: the same steps and model as in
#      the clear; two loopback nodes = threaded; SIGKILLed mid cluster phase and resumed (the fits in
#      flight sent again under the coordinator's registrations) bit for bit; a server crash
#      mid-protocol: re-elected, its fits in flight taken over, every step still summed securely;
#      inconsistent_model: the member sent another model under a version's registration refuses;
#      a small cluster's buffer waits for min_cluster distinct members, and with members lost below
#      it the steps do not aggregate instead of hanging
# Usage: secure_aggregation.sh path/to/flotilla (from the source dir; needs python3).
set -euo pipefail
bin=$(realpath "$1")
source "$(dirname "$0")/lib.sh"
section() { echo "== $* (${SECONDS} s into the script)"; }
small=(data.train_limit=3000 clients=12 rounds.initial=3 rounds.cluster=3 train.epochs=1 output.progress=off
       selection.policy=random)

models() { (cd "$1/models" && sha256sum ./*.pt | sort -k2); }
rows() { # phase round cluster secure_members clients failures aggregated, one line a round
  python3 -c 'import json, sys
for l in open(sys.argv[1] + "/metrics.jsonl"):
    r = json.loads(l)
    if "phase" in r:
        print(r["phase"], r["round"], r["cluster"], r["secure_members"], r["clients"], r["failures"], r["aggregated"])' "$1"
}

section "1. kmeans: secure = clear"
run_ok clear privacy.secure_aggregation=false
run_ok secure privacy.secure_aggregation=true
[ "$(sha "$work/secure")" = "$(sha "$work/clear")" ] || fail "secure: another global model than in the clear"
[ "$(models "$work/secure")" = "$(models "$work/clear")" ] || fail "secure: other cluster models than in the clear"
python3 -c 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
init = [r for r in rows if r["phase"] == "initial"]
assert all(r["secure_members"] == 12 for r in init[:-1]), "initial rounds not secure: %s" % [r["secure_members"] for r in init]
assert init[-1]["secure_members"] == 0, "the round feeding clustering must run in the clear"
cl = [r for r in rows if r["phase"] == "cluster"]
# every member but the server is in the secure sum; the server adds its own update in the clear
assert all(r["secure_members"] == r["clients"] - 1 for r in cl), [(r["clients"], r["secure_members"]) for r in cl]
for r in init[:-1] + cl:
    assert 30 <= r["secure_bits"] <= 62 and r["secure_bytes_up"] > 0 and r["secure_bytes_down"] > 0, r
plain = [json.loads(l) for l in open(sys.argv[2] + "/metrics.jsonl")]
assert all(r["secure_members"] == 0 and r["secure_bytes_up"] == 0 for r in plain), "a clear run with secure rounds"' \
  "$work/secure" "$work/clear" || fail "secure: the records"
pass "kmeans: the same global and cluster models ($(sha "$work/secure" | head -c 16)); secure rounds recorded"

section "2. IFCA on rotated MNIST: secure = clear"
run_ok ifca-clear --config config/rotated_mnist.json clustering.method=ifca clustering.k=2 partition.groups=2 \
  privacy.secure_aggregation=false
run_ok ifca-secure --config config/rotated_mnist.json clustering.method=ifca clustering.k=2 partition.groups=2 \
  privacy.secure_aggregation=true
[ "$(sha "$work/ifca-secure")" = "$(sha "$work/ifca-clear")" ] || fail "ifca: another global model than in the clear"
[ "$(models "$work/ifca-secure")" = "$(models "$work/ifca-clear")" ] || fail "ifca: other cluster models"
rows "$work/ifca-secure" | awk '$1 == "cluster" && $4 == 0 { bad = 1 } END { exit bad }' ||
  fail "ifca: a cluster round ran in the clear: $(rows "$work/ifca-secure")"
pass "IFCA, rotated MNIST: the same models secure and in the clear ($(sha "$work/ifca-secure" | head -c 16))"

section "3. two loopback nodes = threaded"
start_node n1; p1=$port
start_node n2; p2=$port
run_ok nodes privacy.secure_aggregation=true runtime.nodes=127.0.0.1:$p1,127.0.0.1:$p2
[ "$(sha "$work/nodes")" = "$(sha "$work/secure")" ] || fail "nodes: another model than threaded"
[ "$(models "$work/nodes")" = "$(models "$work/secure")" ] || fail "nodes: other cluster models than threaded"
pass "two nodes: the protocol's messages cross sockets, the same models as threaded"

section "4. a third of the members crash after sending their masked input"
faults='[{"target":1,"kind":"crash_in_secagg","phase":"initial","round":2},{"target":5,"kind":"crash_in_secagg","phase":"initial","round":2},{"target":9,"kind":"crash_in_secagg","phase":"initial","round":2},{"target":10,"kind":"crash_in_secagg","phase":"initial","round":2}]'
run_ok dropouts privacy.secure_aggregation=true "faults=$faults"
python3 -c 'import json, sys
a = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
b = [json.loads(l) for l in open(sys.argv[2] + "/metrics.jsonl")]
r2, ref = a[1], b[1]
assert r2["round"] == 2 and r2["aggregated"] and r2["secure_members"] == 12, r2
# the same sum, so the same model and the same evaluation as without the crashes
assert (r2["test_accuracy"], r2["test_loss"]) == (ref["test_accuracy"], ref["test_loss"]), (r2, ref)
r3 = a[2]
assert sorted(r3["failed"]) == [1, 5, 9, 10], "the crashed members answered again: %s" % r3["failed"]
assert all("crashed after sending its masked input" in why for why in r3["failure_reasons"]), r3["failure_reasons"]' \
  "$work/dropouts" "$work/secure" || fail "dropouts: $(rows "$work/dropouts")"
pass "4 of 12 members crashed after masking: round 2 still summed all 12 inputs, the fault-free model"

section "5. a cluster server crashes in the middle of the protocol"
run_ok server-crash privacy.secure_aggregation=true clustering.k=1 \
  'faults=[{"target":"server:0","kind":"crash_in_secagg","phase":"cluster","round":2}]'
grep -q "crashed before unmasking its round's sum (injected)" "$work/server-crash.log" ||
  fail "server-crash: the server did not crash mid-protocol: $(tail -n 20 "$work/server-crash.log")"
python3 -c 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
cl = [r for r in rows if r["phase"] == "cluster"]
assert [r["round"] for r in cl] == [1, 2, 3], "cluster rounds %s" % [r["round"] for r in cl]
assert cl[1]["term"] == 2 and cl[1]["server"] != cl[0]["server"], "round 2 was not re-run under a new server"
assert all(r["aggregated"] and r["secure_members"] == r["clients"] - 1 for r in cl), cl
s = json.load(open(sys.argv[1] + "/summary.json"))
assert s["elections"] == 1, s["elections"]' "$work/server-crash" || fail "server-crash: $(rows "$work/server-crash")"
pass "the server crashed before unmasking: re-elected, round 2 re-run securely under the new server"

section "6. refusals"
run_refused median 2 "needs every update one by one" privacy.secure_aggregation=true strategy.name=median
run_refused fedasync 2 "use strategy.mode=buffered" privacy.secure_aggregation=true strategy.mode=async \
  clustering.method=none rounds.cluster=0
run_refused smallbuffer 2 "strategy.buffer = 2 updates a server step, below privacy.min_cluster" \
  privacy.secure_aggregation=true strategy.mode=buffered strategy.buffer=2 clustering.method=none rounds.cluster=0
run_refused cfl 2 "splits a cluster on its members' individual updates" privacy.secure_aggregation=true \
  clustering.method=cfl
run_refused tiny 2 "below privacy.min_cluster" privacy.secure_aggregation=true clustering.method=none \
  rounds.cluster=0 rounds.fraction_fit=0.1
run_refused fault-clear 2 "runs in the clear" privacy.secure_aggregation=true \
  'faults=[{"target":1,"kind":"crash_in_secagg","phase":"initial","round":3}]'
run_refused fault 2 "set privacy.secure_aggregation=true" \
  'faults=[{"target":1,"kind":"crash_in_secagg","phase":"initial","round":2}]'
section "7. DP at the cluster servers"
dp=(privacy.dp=central privacy.clip=1 privacy.noise_multiplier=0.3 rounds.cluster=4)
run_ok dp "${dp[@]}"
# privacy.min_cluster=2: the 3-client cluster (2 members besides its server) is summed securely too
run_ok dp-secure "${dp[@]}" privacy.secure_aggregation=true privacy.min_cluster=2
[ "$(sha "$work/dp-secure")" = "$(sha "$work/dp")" ] || fail "dp: secure aggregation changed the DP run's model"
[ "$(models "$work/dp-secure")" = "$(models "$work/dp")" ] || fail "dp: secure aggregation changed a cluster model"
budget=$(python3 -c 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
assert all(r["epsilon"] is not None and r["epsilon"] > 0 for r in rows), "a line without epsilon"
init = [r["epsilon"] for r in rows if r["phase"] == "initial"]
assert init == sorted(init) and len(set(init)) == len(init), init
for c in (0, 1):
    eps = [r["epsilon"] for r in rows if r["phase"] == "cluster" and r["cluster"] == c]
    assert len(eps) == 4 and eps[0] > init[-1] and eps == sorted(eps) and len(set(eps)) == 4, (c, eps, init)
s = json.load(open(sys.argv[1] + "/summary.json"))
assert s["final"]["epsilon"] == max(r["epsilon"] for r in rows), s["final"]
# a budget between the clusters second and third rounds (both clusters ask all their members)
eps = [r["epsilon"] for r in rows if r["phase"] == "cluster" and r["cluster"] == 0]
print((eps[1] + eps[2]) / 2)' "$work/dp")
run_ok dp-budget "${dp[@]}" privacy.epsilon_budget="$budget"
grep -q "privacy.epsilon_budget: round 3 would raise its epsilon" "$work/dp-budget.log" ||
  fail "dp-budget: no warning: $(tail -n 20 "$work/dp-budget.log")"
python3 -c 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
cl = [r for r in rows if r["phase"] == "cluster"]
assert sorted((r["cluster"], r["round"]) for r in cl) == [(0, 1), (0, 2), (1, 1), (1, 2)], [(r["cluster"], r["round"]) for r in cl]
assert all(r["epsilon"] <= float(sys.argv[2]) for r in rows)' "$work/dp-budget" "$budget" ||
  fail "dp-budget: $(rows "$work/dp-budget")"
"$bin" run "${small[@]}" "${dp[@]}" output.run_dir="$work/dp-killed" > "$work/dp-killed.log" 2>&1 &
kill_at_checkpoint "$work/dp-killed" '"phase":"cluster","round":2' $!
"$bin" resume "$work/dp-killed" > "$work/dp-killed.resume.log" 2>&1 ||
  { tail "$work/dp-killed.resume.log" >&2; fail "dp: resume failed"; }
[ "$(sha "$work/dp-killed")" = "$(sha "$work/dp")" ] || fail "dp: killed and resumed, another model"
eps() { python3 -c 'import json, sys; print([json.loads(l)["epsilon"] for l in open(sys.argv[1] + "/metrics.jsonl")])' "$1"; }
[ "$(eps "$work/dp-killed")" = "$(eps "$work/dp")" ] || fail "dp: killed and resumed, other epsilons"
# A finished run whose clusters the budget ended early resumes to its evaluation.
cp -r "$work/dp-budget" "$work/dp-budget-again"
rm "$work/dp-budget-again/summary.json"
"$bin" resume "$work/dp-budget-again" > "$work/dp-budget-again.log" 2>&1 ||
  { tail "$work/dp-budget-again.log" >&2; fail "dp-budget: resume of the finished run failed"; }
[ "$(sha "$work/dp-budget-again")" = "$(sha "$work/dp-budget")" ] || fail "dp-budget: resumed, another model"
pass "DP at the cluster servers: epsilon per cluster, the same models with secure aggregation, the budget ends clusters, resumed bit for bit"
section "8. distributed noise"
run_ok dist "${dp[@]}" privacy.dp=distributed privacy.secure_aggregation=true privacy.min_cluster=2
run_ok dist2 "${dp[@]}" privacy.dp=distributed privacy.secure_aggregation=true privacy.min_cluster=2
[ "$(sha "$work/dist")" = "$(sha "$work/dist2")" ] || fail "distributed: two models from one seed"
[ "$(sha "$work/dist")" != "$(sha "$work/dp")" ] || fail "distributed: the central run's model (the noise is drawn per member)"
python3 -c 'import json, sys
a = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
b = [json.loads(l) for l in open(sys.argv[2] + "/metrics.jsonl")]
key = lambda r: (r["phase"], r["cluster"] or -1, r["round"])
a.sort(key=key); b.sort(key=key)
for r in a:  # every member survived: the shares add up to sigma; a round in the clear is noised centrally (0)
    assert r["noise_multiplier"] == (0.3 if r["secure_members"] > 0 else 0), r
# The initial rounds ask the same clients: the same epsilons. The clusters may differ (the noise
# differs, so may the clustering, and a cluster too small to hide its members is merged).
init = lambda rows: [r["epsilon"] for r in rows if r["phase"] == "initial"]
assert init(a) == init(b), "distributed and central epsilons differ"
for c in set(r["cluster"] for r in a if r["phase"] == "cluster"):
    eps = [r["epsilon"] for r in a if r["phase"] == "cluster" and r["cluster"] == c]
    assert eps == sorted(eps) and eps[0] > init(a)[-1], (c, eps)' \
  "$work/dist" "$work/dp" || fail "distributed: $(rows "$work/dist")"
pass "distributed noise: one model twice, sigma on every secure round, the central run's epsilons in the initial rounds"
section "9. adaptive clipping"
ac=("${dp[@]}" privacy.adaptive_clip=true privacy.clip=0.05)
run_ok ac "${ac[@]}"
run_ok ac-secure "${ac[@]}" privacy.secure_aggregation=true privacy.min_cluster=2
[ "$(sha "$work/ac-secure")" = "$(sha "$work/ac")" ] || fail "adaptive: secure aggregation changed the model"
[ "$(models "$work/ac-secure")" = "$(models "$work/ac")" ] || fail "adaptive: secure aggregation changed a cluster model"
clips() { python3 -c 'import json, sys
rows = sorted((json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")), key=lambda r: (r["phase"], r["cluster"] or -1, r["round"]))
print([(r["clip"], r["clip_fraction"]) for r in rows])' "$1"; }
[ "$(clips "$work/ac-secure")" = "$(clips "$work/ac")" ] || fail "adaptive: secure aggregation changed the clips or counts"
# The rule, checked independently: C' = C exp(-0.2 (fraction - 0.5)) after a round that counted.
check_rule='import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
def follow(seq, start):
    clip = start
    for r in seq:
        assert math.isclose(r["clip"], clip, rel_tol=1e-12), (r["phase"], r["cluster"], r["round"], r["clip"], clip)
        f = r["clip_fraction"]
        assert (f == -1) == (not r["aggregated"]) and (f == -1 or 0 <= f <= 1), r
        if f >= 0:
            clip = clip * math.exp(-0.2 * (f - 0.5))
    return clip
after = follow(sorted((r for r in rows if r["phase"] == "initial"), key=lambda r: r["round"]), 0.05)
for c in (0, 1):
    ends = follow(sorted((r for r in rows if r["phase"] == "cluster" and r["cluster"] == c), key=lambda r: r["round"]), after)
    assert ends > 0.05, "updates far beyond a clip of 0.05: the clip should have grown"
print(after)'
python3 -c "$check_rule" "$work/ac" > /dev/null || fail "adaptive: the clips do not follow the rule: $(clips "$work/ac")"
"$bin" run "${small[@]}" "${ac[@]}" output.run_dir="$work/ac-killed" > "$work/ac-killed.log" 2>&1 &
kill_at_checkpoint "$work/ac-killed" '"phase":"cluster","round":2' $!
"$bin" resume "$work/ac-killed" > "$work/ac-killed.resume.log" 2>&1 ||
  { tail "$work/ac-killed.resume.log" >&2; fail "adaptive: resume failed"; }
[ "$(sha "$work/ac-killed")" = "$(sha "$work/ac")" ] || fail "adaptive: killed and resumed, another model"
[ "$(clips "$work/ac-killed")" = "$(clips "$work/ac")" ] || fail "adaptive: killed and resumed, other clips"
run_ok ac-dist "${ac[@]}" privacy.dp=distributed privacy.secure_aggregation=true privacy.min_cluster=2
python3 -c "$check_rule" "$work/ac-dist" > /dev/null || fail "adaptive, distributed: $(clips "$work/ac-dist")"
# The members' noised count is decoded, not lost: some rounds count a fraction strictly inside (0, 1).
python3 -c 'import json, sys
f = [json.loads(l)["clip_fraction"] for l in open(sys.argv[1] + "/metrics.jsonl")]
assert any(0 < x < 1 for x in f), f' "$work/ac-dist" || fail "adaptive, distributed: no count inside (0, 1): $(clips "$work/ac-dist")"
run_refused ac-off 2 "privacy.adaptive_clip moves the clip norm of DP-FedAvg" privacy.adaptive_clip=true
pass "adaptive clipping: every point follows the rule from its noised count, secure = clear, resumed bit for bit, distributed"
section "10. clusters too small to hide a member are merged"
run_ok merged privacy.secure_aggregation=true privacy.min_cluster=7 rounds.cluster=1
grep -q "were merged into their nearest; k = 1" "$work/merged.log" || fail "merged: no warning: $(tail -n 5 "$work/merged.log")"
python3 -c 'import json, sys
s = json.load(open(sys.argv[1] + "/summary.json"))
assert s["clustering"]["k"] == 1 and s["clustering"]["k_requested"] == 2, s["clustering"]
cl = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
cl = [r for r in cl if r["phase"] == "cluster"]
assert len(cl) == 1 and cl[0]["aggregated"] and cl[0]["secure_members"] == 11, cl' "$work/merged" ||
  fail "merged: $(rows "$work/merged")"
pass "a cluster below privacy.min_cluster joins its nearest: one cluster of 12, its round summed securely"
section "11. a server sends one member another model than the registered one"
run_ok attack privacy.secure_aggregation=true privacy.min_cluster=2 rounds.cluster=2 \
  'faults=[{"target":"server:0","kind":"inconsistent_model","phase":"cluster","round":2}]'
python3 -c 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
hit = [r for r in rows if r["phase"] == "cluster" and r["cluster"] == 0 and r["round"] == 2][0]
assert hit["failures"] == 1 and "not the one the coordinator registered" in hit["failure_reasons"][0], hit
assert hit["aggregated"] and hit["secure_members"] == hit["clients"] - 1, hit  # the others were summed
others = [r for r in rows if r["phase"] == "cluster" and r is not hit]
assert all(r["failures"] == 0 for r in others), others' "$work/attack" || fail "attack: $(rows "$work/attack")"
run_refused attack-clear 2 "inconsistent_model makes a cluster server send one member another model" \
  'faults=[{"target":"server:0","kind":"inconsistent_model","phase":"cluster","round":2}]'
pass "inconsistent_model: the member sent another model refused it, the round summed the others"
section "12. FedBuff: each full buffer summed under masks"
fb=(clock=virtual devices.speed_sigma=1 strategy.mode=buffered strategy.concurrency=6 strategy.buffer=4
    rounds.initial=6 runtime.async_checkpoint_s=0 clustering.k=1)
run_ok fb-clear "${fb[@]}"
run_ok fb-secure "${fb[@]}" privacy.secure_aggregation=true
steps='import json, sys
def rows(d):
    return [json.loads(l) for l in open(d + "/metrics.jsonl")]
a, b = rows(sys.argv[1]), rows(sys.argv[2])
key = lambda r: (r["phase"], r["cluster"], r["round"], r["clients"], r["staleness"], r["sim_time_s"], r["test_accuracy"])
assert [key(r) for r in a] == [key(r) for r in b], "secure and clear steps differ"
secure = [r for r in a if r["phase"] == "cluster" or r["round"] < 6]
assert len(secure) == 5 + 3 and all(r["aggregated"] and r["secure_members"] >= 3 and r["secure_bytes_up"] > 0
                                    for r in secure), [(r["phase"], r["round"], r["secure_members"]) for r in secure]
assert max(r["staleness_max"] for r in secure) >= 1, "no stale update: the weights say nothing"
last = [r for r in a if r["phase"] == "initial" and r["round"] == 6][0]
assert last["secure_members"] == 0, "the round that feeds clustering runs in the clear"
print("ok:   %d FedBuff steps summed under masks (%d to %d members, staleness up to %d), the clear run'"'"'s steps"
      % (len(secure), min(r["secure_members"] for r in secure), max(r["secure_members"] for r in secure),
         max(r["staleness_max"] for r in secure)))'
python3 -c "$steps" "$work/fb-secure" "$work/fb-clear" || fail "FedBuff: secure differs from clear: $(rows "$work/fb-secure")"
[ "$(sha "$work/fb-secure")" = "$(sha "$work/fb-clear")" ] || fail "FedBuff: secure aggregation changed the model"
[ "$(models "$work/fb-secure")" = "$(models "$work/fb-clear")" ] || fail "FedBuff: secure aggregation changed a cluster model"
run_ok fb-nodes "${fb[@]}" privacy.secure_aggregation=true runtime.nodes=127.0.0.1:$p1,127.0.0.1:$p2
[ "$(sha "$work/fb-nodes")" = "$(sha "$work/fb-secure")" ] || fail "FedBuff: nodes give another model than threads"
"$bin" run "${small[@]}" "${fb[@]}" privacy.secure_aggregation=true output.run_dir="$work/fb-killed" \
  > "$work/fb-killed.log" 2>&1 &
kill_at_checkpoint "$work/fb-killed" '"phase":"cluster","round":2' $!
"$bin" resume "$work/fb-killed" > "$work/fb-killed.resume.log" 2>&1 ||
  { tail "$work/fb-killed.resume.log" >&2; fail "FedBuff: resume failed"; }
[ "$(sha "$work/fb-killed")" = "$(sha "$work/fb-secure")" ] || fail "FedBuff: killed and resumed, another model"
run_ok fb-crash "${fb[@]}" privacy.secure_aggregation=true \
  'faults=[{"target":"server:0","kind":"crash_in_secagg","phase":"cluster","round":2}]'
grep -q "crashed before unmasking its round's sum (injected)" "$work/fb-crash.log" ||
  fail "FedBuff: the server did not crash mid-protocol: $(tail -n 20 "$work/fb-crash.log")"
python3 -c 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
cl = [r for r in rows if r["phase"] == "cluster" and r["cluster"] == 0]
assert [r["round"] for r in cl] == [1, 2, 3] and cl[1]["term"] == 2, [(r["round"], r["term"]) for r in cl]
assert all(r["aggregated"] and r["secure_members"] >= 3 for r in cl), cl
assert json.load(open(sys.argv[1] + "/summary.json"))["elections"] == 1' "$work/fb-crash" ||
  fail "FedBuff server crash: $(rows "$work/fb-crash")"
# The attack under FedBuff: the server's next held fit goes out with another model under its
# version's registration; that member refuses (its failure is taken in simulated-time order).
run_ok fb-attack "${fb[@]}" privacy.secure_aggregation=true rounds.cluster=5 \
  'faults=[{"target":"server:0","kind":"inconsistent_model","phase":"cluster","round":2}]'
python3 -c 'import json, sys
cl = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
cl = [r for r in cl if r["phase"] == "cluster"]
why = [w for r in cl for w in r["failure_reasons"]]
assert len(why) == 1 and "not the one the coordinator registered" in why[0], why
assert all(r["aggregated"] and r["secure_members"] >= 3 for r in cl), cl' "$work/fb-attack" ||
  fail "FedBuff attack: $(rows "$work/fb-attack")"
pass "FedBuff under secure aggregation: = clear, nodes = threads, resumed bit for bit, a server crash mid-protocol survived, the model-inconsistency attack refused"
# A cluster of 6 (its server and 5 members) with a buffer of 3: a step waits until 3 distinct
# members besides the server are in, never asks a member twice at one version, and when members
# crash until fewer than 3 can train the steps do not aggregate (the model stays) instead of hanging.
tiny=(clients=6 rounds.initial=4 rounds.cluster=4 strategy.concurrency=5 strategy.buffer=3)
run_ok fb-wait "${fb[@]}" "${tiny[@]}" privacy.secure_aggregation=true
python3 -c 'import json, sys
cl = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
cl = [r for r in cl if r["phase"] == "cluster"]
assert len(cl) == 4 and all(r["aggregated"] and r["secure_members"] >= 3 and r["failures"] == 0 for r in cl), cl
assert any(r["clients"] > 3 for r in cl), "no step waited for a third member: the test says nothing"' "$work/fb-wait" ||
  fail "FedBuff wait: $(rows "$work/fb-wait")"
server=$(python3 -c 'import json, sys
print([json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl") if json.loads(l)["phase"] == "cluster"][0]["server"])' \
  "$work/fb-wait")
crash=$(python3 -c 'import json, sys
s = int(sys.argv[1])
print(json.dumps([{"target": c, "kind": "crash", "phase": "cluster", "round": 2} for c in [c for c in range(6) if c != s][:3]]))' "$server")
run_ok fb-lost "${fb[@]}" "${tiny[@]}" privacy.secure_aggregation=true "faults=$crash"
python3 -c 'import json, sys
cl = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
cl = [r for r in cl if r["phase"] == "cluster"]
assert len(cl) == 4 and cl[0]["aggregated"], cl
stalled = [r for r in cl if not r["aggregated"]]
why = ("below privacy.min_cluster", "needs at least 3 members besides the aggregator")
assert stalled and all(any(w in r["not_aggregated"] for w in why) for r in stalled), cl' "$work/fb-lost" ||
  fail "FedBuff with members lost: $(rows "$work/fb-lost")"
pass "FedBuff: a buffer waits for min_cluster distinct members; with too few left its steps do not aggregate"
echo "secure aggregation: all sections passed in ${SECONDS} s"
