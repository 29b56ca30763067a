#!/usr/bin/env bash
# Plain federated learning and registered clients as descriptors (issue 18, a million clients):
#   1. clustering.method=none: every round samples rounds.fraction_fit (the last one too), no
#      clustering, selection or cluster phase; the same twice; each round's fit_seconds is there
#   2. threaded (clients are descriptors, an actor only while sampled) = two loopback nodes
#      (every client an actor there): the same model
#   3. SIGKILLed after a round's checkpoint and resumed: the same model; killed after the last
#      round's checkpoint, the resume only evaluates
#   4. a fault's target keeps its actor: a crash injected into a sampled client fails it in the
#      rounds that follow, as in a clustered run
#   5. a fleet beyond 10,000 clients is not listed client by client, and says so
#   6. clustering.method=none with cluster rounds is exit 2, saying what to change
#   7. privacy.dp=central (DP-FedAvg): the same model twice, epsilon on every round and growing,
#      privacy.epsilon_budget ends the rounds before the one that would pass it, killed and resumed
#      bit for bit with the same epsilons; what it does not cover yet is exit 2
# Usage: plain_fl.sh path/to/flotilla (from the source dir; needs python3).
set -euo pipefail
bin=$(realpath "$1")
source "$(dirname "$0")/lib.sh"
section() { echo "== $* (${SECONDS} s into the script)"; }
small=(data.dataset=synthetic_fedprox data.users=3000 partition.scheme=natural clients=0 model.name=mclr
       clustering.method=none rounds.cluster=0 rounds.initial=5 rounds.fraction_fit=0.05 output.progress=off
       output.save_models=false)

section "1. plain FL, twice"
run_ok a
run_ok b
[ "$(sha "$work/a")" = "$(sha "$work/b")" ] || fail "twice: two models"
python3 -c 'import json, sys
d = sys.argv[1]
rows = [json.loads(l) for l in open(d + "/metrics.jsonl")]
assert [r["round"] for r in rows] == [1, 2, 3, 4, 5], "rounds %s" % [r["round"] for r in rows]
assert all(r["phase"] == "initial" and r["asked"] == 150 for r in rows), "a round did not ask 5%% of 3000"
assert all(r["fit_seconds"] > 0 for r in rows), "a round without fit_seconds"
s = json.load(open(d + "/summary.json"))
assert s["clustering"]["method"] == "none" and s["clustering"]["clusters_at_end"] == 0, s["clustering"]
assert len(s["clients"]) == 3000, "3000 clients are listed"
assert s["final"]["global_accuracy"] > 0' "$work/a" || fail "a: not plain FL"
pass "twice: one model ($(sha "$work/a" | head -c 16)), 5 rounds of 150 clients, no clusters"

section "2. descriptors (threaded) = actors (nodes)"
start_node n1; p1=$port
start_node n2; p2=$port
run_ok nodes runtime.nodes=127.0.0.1:$p1,127.0.0.1:$p2
[ "$(sha "$work/nodes")" = "$(sha "$work/a")" ] || fail "nodes: another model than threaded"
pass "two nodes, every client an actor: the model of clients made actors only while sampled"

section "3. killed and resumed"
"$bin" run "${small[@]}" rounds.initial=8 output.run_dir="$work/ref8" > "$work/ref8.log" 2>&1 || fail "ref8 failed"
"$bin" run "${small[@]}" rounds.initial=8 output.run_dir="$work/killed" > "$work/killed.log" 2>&1 &
kill_at_checkpoint "$work/killed" '"round":3' $!
"$bin" resume "$work/killed" > "$work/killed.resume.log" 2>&1 || { tail "$work/killed.resume.log" >&2; fail "resume failed"; }
[ "$(sha "$work/killed")" = "$(sha "$work/ref8")" ] || fail "killed after round 3: another model when resumed"
# After the last round's checkpoint only the evaluation is left: a resume must not train again.
cp -r "$work/ref8" "$work/last"
rm "$work/last/summary.json"
lines=$(wc -l < "$work/last/metrics.jsonl")
"$bin" resume "$work/last" > "$work/last.log" 2>&1 || { tail "$work/last.log" >&2; fail "resume after the last round failed"; }
[ "$(sha "$work/last")" = "$(sha "$work/ref8")" ] || fail "resumed after the last round: another model"
[ "$(wc -l < "$work/last/metrics.jsonl")" -eq "$lines" ] || fail "resumed after the last round: it trained again"
pass "SIGKILLed after round 3 and resumed: the same model; resumed after the last round: evaluation only"

section "4. a fault's target keeps its actor"
target=7
run_ok crash data.users=300 rounds.fraction_fit=1.0 rounds.initial=3 \
  "faults=[{\"target\":$target,\"kind\":\"crash\",\"phase\":\"initial\",\"round\":2}]"
python3 -c 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
t = int(sys.argv[2])
assert t not in rows[0]["failed"], "failed before its crash"
assert all(t in r["failed"] for r in rows[1:]), "the crashed client answered again: %s" % [r["failed"] for r in rows]' \
  "$work/crash" "$target" || fail "crash: the crashed client did not stay down"
pass "a crashed client (the fault's target) stays down in the rounds after its crash"

section "5. a fleet beyond 10,000 clients"
run_ok large data.users=20000 rounds.initial=2 rounds.fraction_fit=0.01 data.test_limit=5000
python3 -c 'import json, sys
s = json.load(open(sys.argv[1] + "/summary.json"))
assert s["clients"] == {} and s["clustering"]["assignment"] == [], "clients listed"
assert any("list no client one by one" in w for w in s["warnings"]), s["warnings"]
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
assert all(r["asked"] == 200 for r in rows)
assert rows[-1]["evaluated"] == 5000, "data.test_limit: %d test rows evaluated" % rows[-1]["evaluated"]' "$work/large" \
  || fail "large: listed or not limited"
pass "20,000 registered clients: no per-client listing (a warning says so), 5000 test rows evaluated"

section "6. refused"
run_refused cluster_rounds 2 "clustering.method=none is plain federated learning" rounds.cluster=3

section "7. client-level differential privacy (privacy.dp=central)"
dp=(privacy.dp=central privacy.clip=0.5 privacy.noise_multiplier=1.0 privacy.delta=1e-5)
run_ok dp1 "${dp[@]}"
run_ok dp2 "${dp[@]}"
[ "$(sha "$work/dp1")" = "$(sha "$work/dp2")" ] || fail "dp: two models from one seed"
[ "$(sha "$work/dp1")" != "$(sha "$work/a")" ] || fail "dp: the model of the run without noise"
budget=$(python3 -c 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
eps = [r["epsilon"] for r in rows]
assert all(e is not None and e > 0 for e in eps), "a round without epsilon: %s" % eps
assert all(b > a for a, b in zip(eps, eps[1:])), "epsilon does not grow: %s" % eps
s = json.load(open(sys.argv[1] + "/summary.json"))
assert s["final"]["epsilon"] == eps[-1], "final.epsilon %s, last round %s" % (s["final"]["epsilon"], eps[-1])
print((eps[1] + eps[2]) / 2)' "$work/dp1") || fail "dp: epsilon per round"
run_ok budget "${dp[@]}" privacy.epsilon_budget="$budget"
python3 -c 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
s = json.load(open(sys.argv[1] + "/summary.json"))
assert len(rows) == 2, "%d rounds under the budget, not 2" % len(rows)
assert s["final"]["epsilon"] <= float(sys.argv[2]), "epsilon %s past the budget" % s["final"]["epsilon"]
assert any("privacy.epsilon_budget" in w for w in s["warnings"]), s["warnings"]' "$work/budget" "$budget" \
  || fail "dp: the budget did not stop the rounds before it"
"$bin" run "${small[@]}" "${dp[@]}" rounds.initial=8 output.run_dir="$work/dpref" > "$work/dpref.log" 2>&1 || fail "dpref failed"
"$bin" run "${small[@]}" "${dp[@]}" rounds.initial=8 output.run_dir="$work/dpkilled" > "$work/dpkilled.log" 2>&1 &
kill_at_checkpoint "$work/dpkilled" '"round":3' $!
"$bin" resume "$work/dpkilled" > "$work/dpkilled.resume.log" 2>&1 || fail "dp: resume failed"
[ "$(sha "$work/dpkilled")" = "$(sha "$work/dpref")" ] || fail "dp: resumed, another model"
eps() { python3 -c 'import json, sys; print([json.loads(l)["epsilon"] for l in open(sys.argv[1] + "/metrics.jsonl")])' "$1"; }
[ "$(eps "$work/dpkilled")" = "$(eps "$work/dpref")" ] || fail "dp: resumed, other epsilons"
run_refused distributed 2 "privacy.dp=distributed shares the noise" privacy.dp=distributed
run_refused dp_cfl 2 "splits clusters on their members' individual updates" privacy.dp=central \
  clustering.method=cfl rounds.cluster=2
pass "DP-FedAvg: one model twice, epsilon grows each round, the budget stops before it, resumed bit for bit"
echo "plain FL: all passed (${SECONDS} s)"
