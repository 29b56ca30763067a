#!/usr/bin/env bash
# Soak: many small runs in a row against the same nodes. Every run must complete within its
# own deadline (a hang is reported with the stage it hung in and every thread's stack, from
# gdb when it is installed), give the same model, and the nodes' memory and descriptors must
# not grow (run 5 against the last, small noise allowed). Prints a table.
# Usage: soak.sh path/to/flotilla [RUNS] [NODES]   (defaults 20 and 2; run from the source dir)
set -uo pipefail
bin=$(realpath "$1")
runs=${2:-20}
nnodes=${3:-2}
deadline=${SOAK_RUN_TIMEOUT:-120}
source "$(dirname "$0")/lib.sh"
fail() { echo "FAIL: $*"; failures+=("$*"); }
threads() { ls "/proc/$1/task" 2>/dev/null | wc -l; }

# stacks PID LABEL: every thread's stack, into the report.
stacks() {
  if command -v gdb > /dev/null; then
    echo "---- $2 (pid $1): thread apply all bt ----"
    timeout 60 gdb -p "$1" -batch -ex "thread apply all bt" 2>/dev/null | grep -E '^(Thread|#)' | cut -c1-220
  else
    echo "---- $2 (pid $1): gdb not installed; /proc/$1/task/*/wchan ----"
    for t in /proc/"$1"/task/*; do echo "$(basename "$t") $(cat "$t/comm") $(cat "$t/wchan")"; done
  fi
}

nodes=()
node_pids=()
for k in $(seq "$nnodes"); do
  start_node "n$k"
  nodes+=("127.0.0.1:$port")
  node_pids+=("$pid")
done
list=$(IFS=,; echo "${nodes[*]}")
cfg=(data.train_limit=2000 clients=4 rounds.initial=1 rounds.cluster=1 clustering.k=2 output.progress=lines
     output.save_models=false runtime.nodes="$list")

printf '%4s %6s %8s  %s\n' run exit seconds "$(for k in $(seq "$nnodes"); do printf 'n%s:rss_MiB/fds/thr  ' "$k"; done)"
declare -A rss_at fd_at
first_sha=""
for r in $(seq "$runs"); do
  dir=$work/run-$r
  start=$(date +%s.%N)
  "$bin" run "${cfg[@]}" output.run_dir="$dir" > "$work/run-$r.out" 2>&1 &
  run=$!
  timeout "$deadline" tail --pid="$run" -f /dev/null
  if kill -0 "$run" 2>/dev/null; then
    stage=$(grep -E '^ *[0-9.]+s  ' "$work/run-$r.out" | tail -1 | sed 's/^ *//')
    fail "run $r hangs after ${deadline}s; its last line: '$stage'"
    {
      stacks "$run" "coordinator"
      for k in $(seq "$nnodes"); do stacks "${node_pids[$((k - 1))]}" "node n$k"; done
      echo "---- node logs ----"
      for k in $(seq "$nnodes"); do tail -5 "$work/n$k.log"; done
    } > "$work/hang-$r.txt" 2>&1
    cat "$work/hang-$r.txt"
    kill -9 "$run"
    wait "$run" 2>/dev/null
    rc=hang
  else
    wait "$run"; rc=$?
    [ "$rc" = 0 ] || fail "run $r exited $rc: $(tail -c 300 "$work/run-$r.out")"
    # The shutdown watchdog (runtime/local_run.cpp) would hide a hang behind exit 0 15 s late.
    grep -q "did not shut down" "$work/run-$r.out" && fail "run $r needed the shutdown watchdog: the actor system hung"
  fi
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
  s=$(sha "$dir")
  [ -z "$first_sha" ] && first_sha=$s
  [ "$rc" = 0 ] && [ "$s" != "$first_sha" ] && fail "run $r: model $s differs from run 1's $first_sha"
  line=""
  for k in $(seq "$nnodes"); do
    p=${node_pids[$((k - 1))]}
    kill -0 "$p" 2>/dev/null || fail "node n$k died during run $r: $(tail -c 300 "$work/n$k.log")"
    rss_at[$k,$r]=$(kib "$p" VmRSS)
    fd_at[$k,$r]=$(fds "$p")
    line+=$(printf '%6d/%3d/%3d        ' $(( ${rss_at[$k,$r]} / 1024 )) "${fd_at[$k,$r]}" "$(threads "$p")")
  done
  printf '%4d %6s %8.1f  %s\n' "$r" "$rc" "$secs" "$line"
done

base=$(( runs >= 10 ? 5 : 1 ))
for k in $(seq "$nnodes"); do
  growth=$(( (${rss_at[$k,$runs]} - ${rss_at[$k,$base]}) / 1024 ))
  dfd=$(( ${fd_at[$k,$runs]} - ${fd_at[$k,$base]} ))
  echo "node n$k: RSS run $base -> $runs: ${growth} MiB; fds ${fd_at[$k,$base]} -> ${fd_at[$k,$runs]}"
  [ "$growth" -le 24 ] || fail "node n$k RSS grew ${growth} MiB between run $base and run $runs"
  [ "$dfd" -le 2 ] || fail "node n$k holds $dfd more descriptors after run $runs than after run $base"
done

echo
if [ ${#failures[@]} -gt 0 ]; then
  echo "soak: ${#failures[@]} check(s) failed:"
  for f in "${failures[@]}"; do echo "  - $f"; done
  exit 1
fi
echo "soak: $runs runs on $nnodes nodes, all completed, same model, nodes stable"
