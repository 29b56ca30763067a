#!/usr/bin/env bash
# Checkpoint and resume: the coordinator is killed (SIGKILL) during an initial round, just
# after clustering and selection, and during a cluster round; `flotilla resume` finishes each
# run, and its final global model equals the uninterrupted run's bit for bit. Threaded, and on
# two loopback nodes that stay up (they drop the run when its coordinator dies and serve the
# resumed one). Also: a damaged checkpoint and experiment-changing overrides are refused.
# Usage: resume.sh path/to/flotilla   (run from the source dir; needs data/mnist)
set -euo pipefail
bin=$(realpath "$1")
source "$(dirname "$0")/lib.sh"

common=(data.train_limit=8000 clients=8 rounds.initial=3 rounds.cluster=3 train.epochs=2 clustering.k=2
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
  # Every round once in metrics.jsonl: 3 initial + 3 per cluster.
  [ "$(wc -l < "$work/$name/metrics.jsonl")" -eq 9 ] || fail "$name: metrics.jsonl has duplicated or missing rounds"
  echo "$name: killed at $point, resumed: same global model"
}

echo "== threaded"
"$bin" run "${common[@]}" output.run_dir="$work/uninterrupted" > /dev/null
reference=$(sha "$work/uninterrupted")
[ -n "$reference" ] || fail "no reference"
killed_then_resumed t-initial '"phase":"initial","round":1'
killed_then_resumed t-selected '"phase":"cluster","round":0'
killed_then_resumed t-cluster '"phase":"cluster","round":1'

echo "== two loopback nodes"
start_node a; pa=$port
start_node b; pb=$port
nodes="runtime.nodes=127.0.0.1:$pa,127.0.0.1:$pb"
killed_then_resumed n-initial '"phase":"initial","round":1' "$nodes"
killed_then_resumed n-selected '"phase":"cluster","round":0' "$nodes"
killed_then_resumed n-cluster '"phase":"cluster","round":2' "$nodes"
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
