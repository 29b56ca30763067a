#!/usr/bin/env bash
# PyTorch interoperability with Debian's python3-torch:
#   1. a run's models/*.pt load strictly into scripts/flotilla_models.py's twins, and
#      global.pt evaluated in Python matches summary.json's final.global_accuracy (1e-4)
#   2. a state_dict saved by Python is the initial model of `flotilla run model.init=PATH`
#      (lr 1e-9 keeps the weights where they start; a run without model.init ends elsewhere)
#   3. a state_dict of another model is refused with the key and both shapes
# Usage: pytorch_interop.sh path/to/flotilla   (run from the source dir; needs data/mnist)
# Exit 77 (skipped) when /usr/bin/python3 cannot import torch and numpy.
set -euo pipefail
bin=$(realpath "$1")
here=$(dirname "$(realpath "$0")")
py=/usr/bin/python3
if ! why=$("$py" -c "import torch, numpy" 2>&1); then
  echo "SKIP: $py cannot import torch and numpy (apt-get install -y python3-torch): ${why##*$'\n'}"
  exit 77
fi
[ -f data/mnist/t10k-labels-idx1-ubyte ] || [ -f data/mnist/t10k-labels-idx1-ubyte.gz ] ||
  { echo "FAIL: data/mnist missing: run \`make data\`" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
interop() { "$py" "$here/pytorch_interop.py" "$@"; }

common=(data.train_limit=3000 clients=4 rounds.initial=1 rounds.cluster=1 clustering.k=2 output.progress=off)

echo "== 1. flotilla's models in PyTorch"
"$bin" run "${common[@]}" output.run_dir="$work/forward" > "$work/forward.log"
interop check "$work/forward" data/mnist

echo "== 2. a PyTorch state_dict as model.init"
interop make-init cnn 1234 "$work/init.pt"
still=(train.lr=1e-9 train.momentum=0)
"$bin" run "${common[@]}" "${still[@]}" model.init="$work/init.pt" output.run_dir="$work/reverse" > "$work/reverse.log"
interop compare "$work/reverse" "$work/init.pt" same
interop check "$work/reverse" data/mnist
"$bin" run "${common[@]}" "${still[@]}" output.run_dir="$work/control" > "$work/control.log"
interop compare "$work/control" "$work/init.pt" different

echo "== 3. a state_dict of another model is refused"
interop make-init cnn 5 "$work/cnn-p4.pt" 4
status=0
"$bin" run "${common[@]}" model.name=mcmahan_cnn model.init="$work/cnn-p4.pt" output.run_dir="$work/wrong" \
  > "$work/wrong.log" 2>&1 || status=$?
expected="'0.weight' has shape [16, 1, 5, 5] but model 'mcmahan_cnn' expects [32, 1, 5, 5]"
[ "$status" -ne 0 ] || fail "a cnn state_dict was accepted as mcmahan_cnn's initial model"
grep -qF "$expected" "$work/wrong.log" || { cat "$work/wrong.log" >&2; fail "the error does not say: $expected"; }
echo "refused (exit $status): $(grep -F "$expected" "$work/wrong.log")"
echo "PASS"
