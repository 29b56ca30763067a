#!/usr/bin/env bash
# A run resumes on a machine whose data lives elsewhere (issue 15, key classes): killed after its
# first initial round, resumed with data.root pointing at a copy of the same files, it ends with
# the uninterrupted run's model; over different files the checkpoint is refused (exit 3).
# Usage: resume_elsewhere.sh path/to/flotilla   (run from the source dir; needs data/mnist)
set -euo pipefail
bin=$(realpath "$1")
source "$(dirname "$0")/lib.sh"

common=(data.train_limit=1500 clients=4 rounds.initial=2 rounds.cluster=1 clustering.k=2 output.progress=off
        output.save_models=false)
"$bin" run "${common[@]}" output.run_dir="$work/reference" > "$work/reference.log" 2>&1 \
  || { cat "$work/reference.log"; die "the reference run failed"; }
reference=$(sha "$work/reference")

# kill_after_first_round NAME: a run SIGKILLed once its checkpoint holds initial round 1.
kill_after_first_round() {
  "$bin" run "${common[@]}" output.run_dir="$work/$1" > "$work/$1.log" 2>&1 &
  local run=$!
  for _ in $(seq 1200); do
    grep -q '"phase":"initial","round":1' "$work/$1/checkpoint/progress.json" 2>/dev/null && break
    sleep 0.05
  done
  kill -9 "$run"; wait "$run" 2>/dev/null || true
  [ ! -e "$work/$1/summary.json" ] || die "$1: the run finished before it was killed"
}

cp -r data/mnist "$work/copy"
kill_after_first_round moved
"$bin" resume "$work/moved" data.root="$work/copy" > "$work/moved.resume.log" 2>&1 \
  || { cat "$work/moved.resume.log"; die "resume with the data at another path failed"; }
[ "$(sha "$work/moved")" = "$reference" ] || die "resumed over the copied data, the model differs"
pass "resumed with data.root at a copy of the data: the uninterrupted run's model"

# Other files (one label changed) are other data: the checkpoint is refused, exit 3.
cp -r data/mnist "$work/other"
python3 - "$work/other/train-labels-idx1-ubyte" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[8] = (b[8] + 1) % 10
open(p, "wb").write(b)
PY
kill_after_first_round other-data
set +e
"$bin" resume "$work/other-data" data.root="$work/other" > "$work/other.log" 2>&1
rc=$?
set -e
[ "$rc" = 3 ] || { cat "$work/other.log"; die "resume over other data: exit $rc, expected 3"; }
grep -q "the data differs" "$work/other.log" || die "resume over other data does not say why: $(cat "$work/other.log")"
pass "resume over other data refused (exit 3)"
