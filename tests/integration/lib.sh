# Shared by the integration scripts (source it after setting `bin`): a work directory removed
# at exit with every node started here, and the helpers every script needs.
work=$(mktemp -d)
pids=()
failures=()
mnt=""
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$mnt" ]; then umount "$mnt" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
die() { echo "FAIL: $*" >&2; exit 1; }
fail() { die "$@"; }  # scripts that collect failures instead redefine it
pass() { echo "ok:   $*"; }

# start_node NAME [flags...]: a flotilla node on a free loopback port; sets $port and $pid.
start_node() {
  local name=$1; shift
  "$bin" node --port 0 "$@" > "$work/$name.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 150); do
    port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$work/$name.log" 2>/dev/null | cut -d: -f2 || true)
    [ -n "$port" ] && return 0
    sleep 0.1
  done
  head -c 2000 "$work/$name.log" >&2
  die "node $name did not start"
}

# kill_at_checkpoint RUN_DIR POINT PID: SIGKILLs the run PID as soon as RUN_DIR's checkpoint reaches
# POINT (a phase/round pair as checkpoint/progress.json writes it); fails when it never does or
# when the run finished first.
kill_at_checkpoint() {
  local dir=$1 point=$2 run=$3
  for _ in $(seq 3000); do
    grep -q "$point" "$dir/checkpoint/progress.json" 2>/dev/null && break
    sleep 0.02
  done
  if ! grep -q "$point" "$dir/checkpoint/progress.json" 2>/dev/null; then
    kill -9 "$run" 2>/dev/null || true
    fail "$(basename "$dir"): never reached $point"
  fi
  kill -9 "$run"
  wait "$run" 2>/dev/null || true
  [ ! -e "$dir/summary.json" ] || fail "$(basename "$dir"): the run finished before it was killed"
}

# The final global model's hash of a run directory.
sha() { grep -o '"global_model_sha256": *"[0-9a-f]*"' "$1/summary.json" 2>/dev/null | grep -o '[0-9a-f]\{64\}'; }
# A process's /proc/PID/status field in kB, and its open descriptors.
kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# run_ok NAME [key=value ...]: a run (with the calling script's $small options) into $work/NAME that
# must exit 0; its output is in $work/NAME.log.
run_ok() {
  local name=$1 status=0
  shift
  "$bin" run "${small[@]}" "$@" output.run_dir="$work/$name" > "$work/$name.log" 2>&1 || status=$?
  [ "$status" -eq 0 ] || { tail -n 20 "$work/$name.log" >&2; fail "$name: exit $status, not 0 (flotilla run $*)"; }
}

# run_refused NAME CODE TEXT [key=value ...]: a run (with the calling script's $small options) that
# must exit CODE with TEXT on stderr and leave no run directory behind.
run_refused() {
  local name=$1 code=$2 text=$3 status=0
  shift 3
  "$bin" run "${small[@]}" "$@" output.run_dir="$work/$name" > "$work/$name.out" 2> "$work/$name.err" || status=$?
  [ "$status" -eq "$code" ] || { cat "$work/$name.err" >&2; fail "$name: exit $status, not $code (flotilla run $*)"; }
  grep -qF -- "$text" "$work/$name.err" || { cat "$work/$name.err" >&2; fail "$name: stderr does not say '$text'"; }
  [ ! -e "$work/$name" ] || fail "$name: the refused run left its directory $work/$name"
  pass "$name: exit $code: $(head -c 400 "$work/$name.err")"
}
