#!/usr/bin/env bash
# Checkpoint and resume: the coordinator is killed (SIGKILL) during an initial round, just
# after clustering and selection, and during a cluster round; `flotilla resume` finishes each
# run, and its final global model equals the uninterrupted run's bit for bit. Threaded, and on
# two loopback nodes that stay up (they drop the run when its coordinator dies and serve the
# resumed one). With injected faults (threaded: a client crashed in initial round 1, the server
# of cluster 0 crashed in cluster round 1, so an election), killed in the initial phase and after
# the election: the resume applies the faults again and keeps the clients lost before clustering,
# so it too equals the uninterrupted run with the same faults, and clusters.json names this
# process's server actors. With IFCA and with late joiners (where clusters, which otherwise run
# free, meet), killed in the cluster phase: the same model. Also: a damaged checkpoint and
# experiment-changing overrides are refused.
# Usage: resume.sh path/to/flotilla   (run from the source dir; needs data/mnist and python3)
set -euo pipefail
bin=$(realpath "$1")
source "$(dirname "$0")/lib.sh"

# Small settings (accuracy is not the point, bit-identity is): 2 initial rounds, so a kill after
# initial round 1 lands in the initial phase; 2 cluster rounds, so a kill after cluster round 1
# lands in a cluster round (cluster round 0 is the checkpoint written after selection).
initial=2 cluster=2 k=2
common=(data.train_limit=3000 clients=8 rounds.initial=$initial rounds.cluster=$cluster train.epochs=1 clustering.k=$k
        output.progress=off output.save_models=false)

# killed_then_resumed NAME CHECKPOINT [run args...]: starts a run, SIGKILLs it as soon as its
# checkpoint reaches CHECKPOINT (a phase/round pair), resumes it, and compares with $reference.
killed_then_resumed() {
  local name=$1 point=$2
  shift 2
  "$bin" run "${common[@]}" "$@" output.run_dir="$work/$name" > "$work/$name.log" 2>&1 &
  local run=$!
  for _ in $(seq 1200); do
    grep -q "$point" "$work/$name/checkpoint/progress.json" 2>/dev/null && break
    sleep 0.05
  done
  grep -q "$point" "$work/$name/checkpoint/progress.json" || { cat "$work/$name.log"; fail "$name: never reached $point"; }
  kill -9 "$run"
  wait "$run" 2>/dev/null || true
  [ ! -e "$work/$name/summary.json" ] || fail "$name: the run finished before it was killed"
  "$bin" resume "$work/$name" > "$work/$name.resume.log" 2>&1 || { cat "$work/$name.resume.log"; fail "$name: resume failed"; }
  [ "$(sha "$work/$name")" = "$reference" ] || fail "$name: the resumed run differs from the uninterrupted one"
  # Every round once in metrics.jsonl: the initial rounds, then the cluster rounds of each cluster
  # (as many lines as the uninterrupted run's; in the order they finished, which may differ).
  [ "$(wc -l < "$work/$name/metrics.jsonl")" -eq "$(wc -l < "$reference_dir/metrics.jsonl")" ] \
    || fail "$name: metrics.jsonl has duplicated or missing rounds"
  echo "$name: killed at $point, resumed: same global model (${SECONDS} s into the script)"
}

echo "== threaded"
"$bin" run "${common[@]}" output.run_dir="$work/uninterrupted" > /dev/null
reference=$(sha "$work/uninterrupted")
reference_dir=$work/uninterrupted
[ -n "$reference" ] || fail "no reference"
[ "$(wc -l < "$reference_dir/metrics.jsonl")" -eq $((initial + k * cluster)) ] || fail "the uninterrupted run lacks rounds"
echo "uninterrupted: $reference"
killed_then_resumed t-initial '"phase":"initial","round":1'
killed_then_resumed t-selected '"phase":"cluster","round":0'
killed_then_resumed t-cluster '"phase":"cluster","round":1'
# Under the wall clock the resumed run's clock goes on from the latest time it recorded: each
# cluster's rounds keep their order in sim_time_s across the kill.
python3 -c 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
for c in {r["cluster"] for r in rows if r["phase"] == "cluster"}:
    t = [r["sim_time_s"] for r in rows if r["phase"] == "cluster" and r["cluster"] == c]
    assert t == sorted(t), ("cluster %s: the clock went back after the resume" % c, t)' "$work/t-cluster" \
  || fail "t-cluster: sim_time_s went back across the resume"

echo "== threaded, with injected faults"
# Client 3 crashes before initial round 1 (lost before clustering, so unclustered); client 0, the
# least loaded by its profile and so the server of its cluster 0, crashes before cluster round 1:
# cluster 0 elects the next least loaded member and re-runs the round. The profiles (client i at
# 10*i % CPU and memory) make the servers the same clients in every run (measured load would not).
profiles=$(for i in $(seq 0 7); do printf '{"clients":[%d],"cpu":%d,"mem":%d}\n' $i $((10 * i)) $((10 * i)); done | paste -sd,)
faulty=("selection.profiles=[$profiles]"
        'faults=[{"target":3,"kind":"crash","phase":"initial","round":1},{"target":"server:0","kind":"crash","phase":"cluster","round":1}]')
"$bin" run "${common[@]}" "${faulty[@]}" output.run_dir="$work/f-uninterrupted" > "$work/f-uninterrupted.log" 2>&1 \
  || { cat "$work/f-uninterrupted.log"; fail "the run with faults failed"; }
plain=$reference
reference=$(sha "$work/f-uninterrupted")
reference_dir=$work/f-uninterrupted
[ -n "$reference" ] || fail "no reference with faults"
[ "$reference" != "$plain" ] || fail "the faults did not change the run"
# elections DIR: cluster:from->to of every election in clusters.json
elections() {
  python3 -c 'import json,sys
c = json.load(open(sys.argv[1] + "/clusters.json"))
print(" ".join("%d:%d->%d@%d" % (x["id"], e["from"], e["to"], e["round"]) for x in c["clusters"] for e in x["elections"]))' "$1"
}
elected=$(elections "$work/f-uninterrupted")
[[ "$elected" == "0:0->"*"@1" ]] || fail "the faults gave no election of cluster 0 in round 1 (elections: '$elected')"
killed_then_resumed f-initial '"phase":"initial","round":1' "${faulty[@]}"
killed_then_resumed f-cluster '"phase":"cluster","round":1' "${faulty[@]}"
# failed DIR: per round in metrics.jsonl, who was asked to train, who failed and how many were
# aggregated (sorted: the clusters of a round finish in any order)
failed() {
  python3 -c 'import json,sys
for line in open(sys.argv[1] + "/metrics.jsonl"):
    r = json.loads(line)
    print(r["phase"], r["round"], r.get("cluster"), r["asked"], r["failed"], r["clients"])' "$1" | sort
}
failed "$work/f-uninterrupted" | grep -q "^initial $initial .* \[3\] " \
  || fail "client 3 did not fail in initial round $initial: $(failed "$work/f-uninterrupted")"
for name in f-initial f-cluster; do
  # The crashed clients fail in the resumed rounds as in the uninterrupted run's.
  [ "$(failed "$work/$name")" = "$(failed "$work/f-uninterrupted")" ] \
    || fail "$name: rounds differ from the uninterrupted run's: $(diff <(failed "$work/$name") <(failed "$work/f-uninterrupted"))"
  [ "$(elections "$work/$name")" = "$elected" ] || fail "$name: elections $(elections "$work/$name"), not $elected"
  # Every cluster's server is an actor of the resumed process, the one that aggregated its rounds.
  python3 -c 'import json,sys
c = json.load(open(sys.argv[1] + "/clusters.json"))
for x in c["clusters"]:
    assert x["server_actor"] != 0, "cluster %d: server_actor 0" % x["id"]
    assert x["server_actor"] == x["aggregator_actor"], "cluster %d: server_actor %d, aggregator_actor %d" % (
        x["id"], x["server_actor"], x["aggregator_actor"])
s = json.load(open(sys.argv[1] + "/summary.json"))
assert len(s["faults"]) == 2, "faults recorded: %s" % s["faults"]' "$work/$name" || fail "$name: clusters.json or summary.json is wrong after the resume"
done
echo "with faults: resumed runs equal the uninterrupted one ($reference), elections $elected"

echo "== threaded, where clusters meet: IFCA's reassignment, late joiners"
# Clusters run free except at these common points; a checkpoint never holds a common point's
# pending step, so a kill around one resumes to the same model.
for variant in ifca late; do
  case $variant in
    ifca) extra=(clustering.method=ifca) ;;
    late) extra=(late_clients=2 late_join_round=2) ;;
  esac
  "$bin" run "${common[@]}" "${extra[@]}" output.run_dir="$work/$variant-uninterrupted" > "$work/$variant.log" 2>&1 \
    || { cat "$work/$variant.log"; fail "the $variant run failed"; }
  reference=$(sha "$work/$variant-uninterrupted")
  reference_dir=$work/$variant-uninterrupted
  killed_then_resumed "$variant-cluster" '"phase":"cluster","round":1' "${extra[@]}"
done
reference=$plain
reference_dir=$work/uninterrupted

echo "== two loopback nodes"
start_node a; pa=$port
start_node b; pb=$port
nodes="runtime.nodes=127.0.0.1:$pa,127.0.0.1:$pb"
killed_then_resumed n-initial '"phase":"initial","round":1' "$nodes"
killed_then_resumed n-selected '"phase":"cluster","round":0' "$nodes"
killed_then_resumed n-cluster '"phase":"cluster","round":1' "$nodes"
grep -q "coordinator lost" "$work/a.log" || fail "node a did not notice its coordinator die"

echo "== what a resume refuses"
if "$bin" resume "$work/t-cluster" rounds.cluster=5 > /dev/null 2> "$work/refused.err"; then fail "an experiment-changing override was accepted"; fi
grep -q "would change the experiment" "$work/refused.err" || fail "no clear error for an experiment-changing override"
printf '\x00' | dd of="$work/t-cluster/checkpoint/checkpoint.bin" bs=1 seek=200 conv=notrunc 2>/dev/null
set +e
"$bin" resume "$work/t-cluster" > /dev/null 2> "$work/damaged.err"
rc=$?
set -e
[ $rc -eq 3 ] || fail "a damaged checkpoint gave exit $rc, not 3"
grep -q "checksum mismatch" "$work/damaged.err" || fail "no clear error for a damaged checkpoint"
cat "$work/damaged.err"
echo "resume: all checks passed"
