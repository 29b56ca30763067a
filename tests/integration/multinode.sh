#!/usr/bin/env bash
# Multi-node integration test: real `flotilla node` processes on ephemeral loopback ports.
#   1. equivalence: threaded, 2-node and 3-node runs give the same model, clusters, accuracies
#   2. TLS: accepted with the deployment's CA, refused with another CA and in plain TCP
#   3. a node killed mid-run, and one that hangs: the run completes and records the failures
#   4. Ctrl-C on the coordinator: the node drops the run's clients and serves the next run
# Usage: multinode.sh path/to/flotilla   (run from the source dir; needs data/mnist)
set -euo pipefail
bin=$(realpath "$1")
source "$(dirname "$0")/lib.sh"

# wait_for_round DIR: until the run writing DIR has finished its first round.
wait_for_round() {
  for _ in $(seq 600); do
    [ -s "$1/metrics.jsonl" ] && return 0
    sleep 0.1
  done
  fail "the run in $1 wrote no round"
}

# The parts of a run that must not depend on where clients ran.
outcome() {
  grep -E '"(global_model_sha256|global_accuracy|personalized_accuracy|initial_global_accuracy)"' "$1/summary.json"
  tr -d ' \n' < "$1/summary.json" | grep -o '"assignment":\[[^]]*\]'
}

# Small settings: the checks compare runs (threaded, on nodes, over TLS) and need no accuracy. Two
# cluster rounds, so the cluster servers on the nodes aggregate more than once.
common=(data.train_limit=3000 clients=6 rounds.initial=1 rounds.cluster=2 clustering.k=2 output.progress=off
        output.save_models=false)

echo "== equivalence: threaded, 2 nodes, 3 nodes"
start_node a; pa=$port
start_node b; pb=$port
start_node c; pc=$port
"$bin" run "${common[@]}" output.run_dir="$work/threaded" > "$work/threaded.log"
"$bin" run "${common[@]}" runtime.nodes=127.0.0.1:$pa,127.0.0.1:$pb output.run_dir="$work/two" > "$work/two.log"
"$bin" run "${common[@]}" runtime.nodes="[\"127.0.0.1:$pa\",\"127.0.0.1:$pb\",\"127.0.0.1:$pc\"]" \
  output.run_dir="$work/three" > "$work/three.log"
outcome "$work/threaded" > "$work/threaded.out"
outcome "$work/two" > "$work/two.out"
outcome "$work/three" > "$work/three.out"
[ -s "$work/threaded.out" ] || fail "no outcome read from the threaded run"
cat "$work/threaded.out"
diff "$work/threaded.out" "$work/two.out" || fail "2-node run differs from the threaded run"
diff "$work/threaded.out" "$work/three.out" || fail "3-node run differs from the threaded run"
grep -q "hosting 2 clients \[0,3\]" "$work/a.log" || fail "node a did not host clients 0 and 3 (round robin)"
grep -q "ready for the next run" "$work/a.log" || fail "node a did not drop the run's clients"
echo "same model, clusters and accuracies threaded, on 2 and on 3 nodes"

echo "== a node whose dataset differs is refused"
mkdir -p "$work/other"
cp data/mnist/* "$work/other/"
printf '\x07' | dd of="$work/other/t10k-labels-idx1-ubyte" bs=1 seek=100 conv=notrunc 2>/dev/null
start_node other data.root="$work/other"; po=$port
if "$bin" run "${common[@]}" runtime.nodes=127.0.0.1:$po output.run_dir="$work/differs" \
   2> "$work/differs.err" > /dev/null; then
  fail "a run against a node with other data succeeded"
fi
grep -q "differs from the coordinator's" "$work/differs.err" || { cat "$work/differs.err"; fail "no clear dataset error"; }
cat "$work/differs.err"

echo "== TLS"
certs=$work/certs
bash scripts/make-certs.sh "$certs" coordinator node > /dev/null
bash scripts/make-certs.sh "$work/rogue" coordinator > /dev/null
start_node tls --tls-cert "$certs/node.pem" --tls-key "$certs/node.key" --tls-ca "$certs/ca.pem"; pt=$port
grep -q "mutual TLS" "$work/tls.log" || fail "TLS node does not say it uses TLS"
# The coordinator runs from its own folder with paths relative to it, as on another machine:
# its TLS files and its data.root do not exist where the node runs, and the node must not care
# (it uses its own --tls-* files and its own data location).
ln -s "$PWD/data" "$work/coordinator-data"
(cd "$work" && "$bin" run "${common[@]}" runtime.nodes=127.0.0.1:$pt data.root=coordinator-data/mnist \
  runtime.tls.cert=certs/coordinator.pem runtime.tls.key=certs/coordinator.key runtime.tls.ca=certs/ca.pem \
  output.run_dir="$work/tls" > "$work/tls-run.log" 2>&1) || { cat "$work/tls-run.log"; fail "TLS run with the deployment's CA failed"; }
diff <(outcome "$work/tls") "$work/threaded.out" || fail "TLS run differs from the threaded run"
if "$bin" run "${common[@]}" runtime.nodes=127.0.0.1:$pt runtime.connect_attempts=2 \
   runtime.tls.cert="$work/rogue/coordinator.pem" runtime.tls.key="$work/rogue/coordinator.key" \
   runtime.tls.ca="$work/rogue/ca.pem" output.run_dir="$work/rogue-run" > /dev/null 2> "$work/rogue.err"; then
  fail "a coordinator with another CA's certificate was accepted"
fi
grep -q "cannot reach node" "$work/rogue.err" || fail "no clear error for the rogue certificate"
if "$bin" run "${common[@]}" runtime.nodes=127.0.0.1:$pt runtime.connect_attempts=2 output.run_dir="$work/plain" \
   > /dev/null 2> "$work/plain.err"; then
  fail "a plain-TCP coordinator was accepted by a TLS node"
fi
echo "TLS accepted with the right CA; refused: $(head -c 120 "$work/rogue.err")"

echo "== a node killed mid-run"
start_node d; pd=$port
start_node e; pe=$port
"$bin" run data.train_limit=3000 clients=6 rounds.initial=3 rounds.cluster=2 clustering.k=2 output.progress=off \
  output.save_models=false rounds.timeout_s=60.0 runtime.nodes=127.0.0.1:$pd,127.0.0.1:$pe \
  output.run_dir="$work/killed" > "$work/killed.log" 2>&1 &
run=$!
wait_for_round "$work/killed"
kill -9 "${pids[-1]}"   # node e, hosting clients 1, 3, 5
wait "$run" || { cat "$work/killed.log"; fail "the run did not complete after a node died"; }
grep -q '"failures":[1-9]' "$work/killed/metrics.jsonl" || fail "the lost clients are not recorded as failures"
grep -q '"global_model_sha256"' "$work/killed/summary.json" || fail "no summary after the node died"
grep -q '"gone: ' "$work/killed/metrics.jsonl" || fail "the dead node's clients are not recorded as gone"
grep '"failures":[1-9]' "$work/killed/metrics.jsonl" | head -2
echo "run completed without the dead node; failures recorded"
echo "== a node that hangs mid-run (SIGSTOP): heartbeats find it"
start_node g; pg=$port
start_node h; ph=$port; hung=${pids[-1]}
"$bin" run data.train_limit=3000 clients=6 rounds.initial=3 rounds.cluster=2 clustering.k=2 output.progress=off \
  output.save_models=false runtime.connection_timeout_s=3.0 runtime.nodes=127.0.0.1:$pg,127.0.0.1:$ph \
  output.run_dir="$work/hung" > "$work/hung.log" 2>&1 &
run=$!
wait_for_round "$work/hung"
kill -STOP "$hung"
wait "$run" || { cat "$work/hung.log"; fail "the run did not complete after a node hung"; }
kill -9 "$hung"
grep -q '"failures":3' "$work/hung/metrics.jsonl" || fail "the hung node's clients are not recorded as failures"
echo "run completed without the hung node; its clients recorded as failures"

echo "== the node hosting a cluster server is killed (SIGKILL) in cluster round 2: a member elsewhere takes over"
start_node s1; ps1=${pids[-1]}; p1=$port
start_node s2; ps2=${pids[-1]}; p2=$port
# 4 epochs of 400 images a client: cluster 0's last three rounds outlast the 0.1 s poll and the kill.
"$bin" run data.train_limit=4000 clients=8 rounds.initial=1 rounds.cluster=4 clustering.k=2 train.epochs=4 output.progress=off \
  output.save_models=false rounds.timeout_s=60.0 runtime.nodes=127.0.0.1:$p1,127.0.0.1:$p2 \
  output.run_dir="$work/server-killed" > "$work/server-killed.log" 2>&1 &
run=$!
# The server of cluster 0 as its first cluster round names it.
server_of_cluster0() {
  python3 -c "
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r['phase'] == 'cluster' and r['cluster'] == 0:
        print(r['server']); break" "$work/server-killed/metrics.jsonl" 2>/dev/null || true
}
server=""
for _ in $(seq 1200); do
  server=$(server_of_cluster0)
  [ -n "$server" ] && break
  sleep 0.1
done
[ -n "$server" ] || fail "no server recorded for cluster 0"
# Round robin over two nodes: even ids on s1, odd ids on s2.
if [ $((server % 2)) -eq 0 ]; then kill -9 "$ps1"; else kill -9 "$ps2"; fi
wait "$run" || { cat "$work/server-killed.log"; fail "the run did not complete after its cluster server's node died"; }
python3 - "$work/server-killed" "$server" <<'PY' || fail "no election recorded for cluster 0"
import json, sys
c = json.load(open(sys.argv[1] + "/clusters.json"))["clusters"][0]
s = json.load(open(sys.argv[1] + "/summary.json"))
lost = int(sys.argv[2])
assert c["elections"] and c["elections"][0]["from"] == lost, c["elections"]
assert c["server"] != lost and c["rounds_done"] == 4 and c.get("failure") is None and not c["failed"], c
assert s["elections"] >= 1
print("cluster 0: server", lost, "lost with its node; elections:", c["elections"])
PY

echo "== a node joins a running coordinator (flotilla node --join) and hosts its late clients"
jport=$((20000 + $$ % 20000))
"$bin" run data.train_limit=3000 clients=6 late_clients=2 late_join_round=1 rounds.initial=2 rounds.cluster=2 \
  clustering.k=2 runtime.listen=$jport output.progress=lines output.save_models=false \
  output.run_dir="$work/joined" > "$work/joined.log" 2>&1 &
run=$!
for _ in $(seq 100); do grep -q "listening for joining nodes" "$work/joined.log" && break; sleep 0.1; done
"$bin" node --join 127.0.0.1:$jport > "$work/joiner.log" 2>&1 || { cat "$work/joiner.log"; fail "the joining node failed"; }
wait "$run" || { cat "$work/joined.log"; fail "the run with a joining node failed"; }
grep -q "hosting 2 late clients" "$work/joiner.log" || fail "the joining node did not host the late clients"
grep -q "the joined run is over" "$work/joiner.log" || fail "the joining node did not end with its run"
python3 -c "
import json,sys
late = json.load(open('$work/joined/clusters.json'))['late_clients']
assert sorted(l['client'] for l in late) == [6, 7], late
print('late clients placed:', [(l['client'], l['cluster']) for l in late])" || fail "the late clients did not join clusters"

echo "== Ctrl-C on the coordinator leaves the node ready"
start_node f; pf=$port
"$bin" run data.train_limit=3000 clients=4 output.progress=off output.save_models=false \
  runtime.nodes=127.0.0.1:$pf output.run_dir="$work/interrupted" > /dev/null 2>&1 &
run=$!
wait_for_round "$work/interrupted"
kill -INT "$run"
wait "$run" && fail "the interrupted run exited 0" || true
for _ in $(seq 100); do
  grep -q "coordinator lost" "$work/f.log" && break
  sleep 0.1
done
grep -q "coordinator lost" "$work/f.log" || { cat "$work/f.log"; fail "the node did not notice its coordinator was gone"; }
"$bin" run "${common[@]}" runtime.nodes=127.0.0.1:$pf output.run_dir="$work/after" > /dev/null \
  || fail "the node did not take the next run"
diff <(outcome "$work/after") "$work/threaded.out" || fail "the run after an interrupted one differs"
echo "node dropped the interrupted run's clients and served the next run"
echo "multinode: all checks passed"
