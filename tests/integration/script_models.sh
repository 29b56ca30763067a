#!/usr/bin/env bash
# Models written in PyTorch (model.name=torchscript), end to end with the example modules that
# examples/models/*.py write with Debian's python3-torch:
#   1. the cnn twin and the BatchNorm + Dropout net train (threaded, buffers=average); every
#      models/*.pt loads back into the Python class with strict=True
#   2. FedBN (buffers=local) on rotated MNIST runs and reports personalized accuracy; killed
#      (SIGKILL) in an initial round and in a cluster round, threaded and on two nodes, it resumes
#      to the uninterrupted run's model and personalized accuracy (the clients' layer histories on
#      their machines); a missing or damaged layer file is exit 3; every strategy and clustering
#      method runs the BatchNorm net under FedBN
#   3. two nodes with their own copies of bn_cnn (Dropout) give the threaded run's model, with 1
#      or 2 trainers; a node with model.file serves a built-in model's run too; a node without it
#      (exit 4) or whose file differs (exit 4, naming both SHA-256s) refuses a TorchScript run
#   4. a finished run resumes to the same model; a resume with another module file is refused
#   5. hostile model files: exit 4 with a clear message and no run directory (a state_dict, a
#      truncated archive, /dev/zero, a directory, a module with the wrong number of classes);
#      model.file without model.name=torchscript: exit 2
# Usage: script_models.sh path/to/flotilla (from the source dir). Exit 77 without python3-torch.
set -euo pipefail
bin=$(realpath "$1")
source "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
[ -x "$py" ] || { echo "SKIP: $py is missing (apt-get install -y python3)"; exit 77; }
if ! why=$("$py" -c 'import torch' 2>&1); then
  echo "SKIP: $py cannot import torch (apt-get install -y python3-torch): ${why##*$'\n'}"
  exit 77
fi
section() { echo "== $* (${SECONDS} s into the script)"; }
small=(data.train_limit=2000 clients=4 rounds.initial=2 rounds.cluster=1 train.epochs=1 output.progress=off)

run_ok() {
  local name=$1 status=0
  shift
  "$bin" run "${small[@]}" "$@" output.run_dir="$work/$name" > "$work/$name.log" 2>&1 || status=$?
  [ "$status" -eq 0 ] || { tail -n 20 "$work/$name.log" >&2; fail "$name: exit $status, not 0 (flotilla run $*)"; }
  pass "$name: exit 0, $(grep -o 'global (test set) *[0-9.]*%' "$work/$name.log" | tr -s ' ')"
}
# load_back RUN MODULE CLASS: every models/*.pt of RUN loads into examples/models/MODULE.CLASS.
load_back() {
  "$py" - "$1" "$2" "$3" <<'PY' || fail "$1: models/*.pt do not load back with strict=True"
import glob, sys
import torch
sys.path.insert(0, "examples/models")
run, module, cls = sys.argv[1:]
net = getattr(__import__(module), cls)()
files = sorted(glob.glob(run + "/models/*.pt"))
assert files, "no models/*.pt in " + run
for f in files:
    net.load_state_dict(torch.load(f), strict=True)
print("ok:   %d models of %s load into %s(strict=True)" % (len(files), run.rsplit("/", 1)[-1], cls))
PY
}

section "1. the example modules train"
"$py" examples/models/cnn.py "$work/cnn.pt"
"$py" examples/models/cnn.py "$work/cnn_other.pt" --seed 1
"$py" examples/models/cnn.py "$work/cnn7.pt" --classes 7
"$py" examples/models/bn_cnn.py "$work/bn_cnn.pt"
ts=(model.name=torchscript)
run_ok cnn "${ts[@]}" model.file="$work/cnn.pt" output.save_models=true
load_back "$work/cnn" cnn CNN
run_ok bn "${ts[@]}" model.file="$work/bn_cnn.pt" model.buffers=average output.save_models=true
load_back "$work/bn" bn_cnn BNCNN

section "2. FedBN"
"$bin" run --config config/rotated_mnist.json data.train_limit=4000 rounds.initial=1 rounds.cluster=1 \
  output.progress=off "${ts[@]}" model.file="$work/bn_cnn.pt" model.buffers=local output.run_dir="$work/fedbn" \
  > "$work/fedbn.log" 2>&1 || { tail -n 20 "$work/fedbn.log" >&2; fail "fedbn: the run failed"; }
grep -q '"personalized_accuracy"' "$work/fedbn/summary.json" || fail "fedbn: no personalized accuracy"
pass "fedbn: $(grep -o 'personalized (local, mean) *[0-9.]*%' "$work/fedbn.log" | tr -s ' ')"

# FedBN's layers never leave the clients' machines; a resume finds each client's history there.
# 4 cluster rounds: the clusters run free, so a kill in the cluster phase finds members that
# trained a round their cluster's checkpoint does not hold yet.
fedbn=(--config config/rotated_mnist.json data.train_limit=8000 rounds.initial=2 rounds.cluster=4 output.progress=off
       "${ts[@]}" model.file="$work/bn_cnn.pt" model.buffers=local)
# The mean personalized accuracy, then every client's (each on its own layers).
personalized() {
  "$py" -c 'import json, sys
s = json.load(open(sys.argv[1] + "/summary.json"))
print("personalized %.4f" % s["final"]["personalized_accuracy"], sorted((int(k), c["personalized_accuracy"]) for k, c in s["clients"].items()))' "$1"
}
"$bin" run "${fedbn[@]}" output.run_dir="$work/fedbn_ref" > "$work/fedbn_ref.log" 2>&1 \
  || { tail -n 20 "$work/fedbn_ref.log" >&2; fail "fedbn_ref: the run failed"; }
# fedbn_killed NAME POINT [args...]: SIGKILLed once its checkpoint reaches POINT, then resumed.
fedbn_killed() {
  local name=$1 point=$2
  shift 2
  "$bin" run "${fedbn[@]}" "$@" output.run_dir="$work/$name" > "$work/$name.log" 2>&1 &
  kill_at_checkpoint "$work/$name" "$point" $!
}
fedbn_resumed() {
  local name=$1
  "$bin" resume "$work/$name" > "$work/$name.resume.log" 2>&1 || { tail -n 20 "$work/$name.resume.log" >&2; fail "$name: resume failed"; }
  [ "$(sha "$work/$name")" = "$(sha "$work/fedbn_ref")" ] || fail "$name: the resumed FedBN run has another model"
  [ "$(personalized "$work/$name")" = "$(personalized "$work/fedbn_ref")" ] || fail "$name: another personalized accuracy"
  pass "$name: killed, resumed: the same model and $(personalized "$work/$name" | cut -d' ' -f1-2)"
}
fedbn_killed fedbn_initial '"phase":"initial","round":1'
fedbn_resumed fedbn_initial
fedbn_killed fedbn_cluster '"phase":"cluster","round":1'
cp -r "$work/fedbn_cluster" "$work/fedbn_broken"
fedbn_resumed fedbn_cluster
# Its layer files are the clients' own state: gone or damaged, the resume says so (exit 3).
layers=$(ls "$work"/fedbn_broken/client_state/*/client-3.layers)
mv "$layers" "$work/client-3.layers"
status=0
"$bin" resume "$work/fedbn_broken" > /dev/null 2> "$work/fedbn_broken.err" || status=$?
[ "$status" -eq 3 ] && grep -qF "client-3.layers, which is missing" "$work/fedbn_broken.err" \
  || { cat "$work/fedbn_broken.err" >&2; fail "fedbn_broken: a missing layer file gave exit $status, not 3 naming it"; }
pass "a missing layer file: exit 3: $(grep -o 'client 3 kept.*' "$work/fedbn_broken.err" | head -n 1)"
"$py" -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[-40] ^= 1; open(sys.argv[2], "wb").write(b)' \
  "$work/client-3.layers" "$layers"
status=0
"$bin" resume "$work/fedbn_broken" > /dev/null 2> "$work/fedbn_broken.err" || status=$?
[ "$status" -eq 3 ] && grep -qF "checksum does not match" "$work/fedbn_broken.err" \
  || { cat "$work/fedbn_broken.err" >&2; fail "fedbn_broken: a damaged layer file gave exit $status, not 3"; }
pass "a damaged layer file: exit 3: $(grep -o "client 3's layer file.*" "$work/fedbn_broken.err" | head -n 1)"
# On two nodes: each keeps its clients' histories in its own runtime.client_state.
mkdir -p "$work/bn_a" "$work/bn_b"
cp "$work/bn_cnn.pt" "$work/bn_a/net.pt"
cp "$work/bn_cnn.pt" "$work/bn_b/net.pt"
start_node bn_a model.file="$work/bn_a/net.pt" runtime.client_state="$work/bn_a/state"; pa=$port
start_node bn_b model.file="$work/bn_b/net.pt" runtime.client_state="$work/bn_b/state"; pb=$port
fedbn_killed fedbn_nodes '"phase":"cluster","round":1' runtime.nodes=127.0.0.1:$pa,127.0.0.1:$pb
ls "$work"/bn_a/state/*/client-*.layers > /dev/null && ls "$work"/bn_b/state/*/client-*.layers > /dev/null \
  || fail "fedbn_nodes: the nodes kept no layer files in their runtime.client_state"
[ ! -e "$work/fedbn_nodes/client_state" ] || fail "fedbn_nodes: layers were kept at the coordinator"
fedbn_resumed fedbn_nodes

# Every strategy, and every clustering method, on the BatchNorm net with FedBN (the client-side
# overlay meets every aggregation path, IFCA's losses and CFL's splits included): one round each.
tiny=(data.train_limit=1600 clients=8 rounds.initial=1 rounds.cluster=1 "${ts[@]}" model.file="$work/bn_cnn.pt"
      model.buffers=local output.progress=off)
for strategy in fedavg fedavgm fedprox fedadagrad fedadam fedyogi median trimmed_mean krum; do
  "$bin" run "${tiny[@]}" strategy.name=$strategy output.run_dir="$work/s-$strategy" > "$work/s-$strategy.log" 2>&1 \
    || { tail -n 20 "$work/s-$strategy.log" >&2; fail "strategy $strategy with a TorchScript module failed"; }
done
for method in kmeans agglomerative cfl ifca; do
  "$bin" run "${tiny[@]}" clustering.method=$method output.run_dir="$work/m-$method" > "$work/m-$method.log" 2>&1 \
    || { tail -n 20 "$work/m-$method.log" >&2; fail "clustering.method=$method with a TorchScript module failed"; }
done
pass "every strategy and clustering method trains the BatchNorm net under FedBN"

section "3. nodes"
# bn_cnn has Dropout: its draws are seeded per batch, so nodes and threads give one model.
mkdir -p "$work/node_a" "$work/node_b"
cp "$work/bn_cnn.pt" "$work/node_a/net.pt"
cp "$work/bn_cnn.pt" "$work/node_b/net.pt"
start_node a model.file="$work/node_a/net.pt"; pa=$port
start_node b model.file="$work/node_b/net.pt"; pb=$port
run_ok nodes "${ts[@]}" model.file="$work/bn_cnn.pt" runtime.nodes=127.0.0.1:$pa,127.0.0.1:$pb
run_ok threaded "${ts[@]}" model.file="$work/bn_cnn.pt" runtime.trainers=1
[ "$(sha "$work/nodes")" = "$(sha "$work/threaded")" ] || fail "nodes: another model than threaded"
[ "$(sha "$work/bn")" = "$(sha "$work/threaded")" ] || fail "bn: 2 trainers gave another model than 1 trainer"
pass "two nodes with their own copies of the file, 1 and 2 trainers: one model ($(sha "$work/nodes" | head -c 16))"
run_ok builtin_on_nodes runtime.nodes=127.0.0.1:$pa,127.0.0.1:$pb
start_node bare; pbare=$port
status=0
"$bin" run "${small[@]}" "${ts[@]}" model.file="$work/cnn.pt" runtime.nodes=127.0.0.1:$pbare \
  output.run_dir="$work/bare" > "$work/bare.log" 2>&1 || status=$?
[ "$status" -eq 4 ] && grep -qF "this node has no copy of it" "$work/bare.log" \
  || { tail -n 20 "$work/bare.log" >&2; fail "bare: exit $status (not 4) or no clear message"; }
pass "a node without model.file: exit 4: $(grep -o 'the run trains.*' "$work/bare.log" | head -c 200)"
start_node other model.file="$work/cnn_other.pt"; po=$port
status=0
"$bin" run "${small[@]}" "${ts[@]}" model.file="$work/cnn.pt" runtime.nodes=127.0.0.1:$po \
  output.run_dir="$work/differs" > "$work/differs.log" 2>&1 || status=$?
[ "$status" -eq 4 ] && grep -qF "differs from the coordinator's" "$work/differs.log" \
  || { tail -n 20 "$work/differs.log" >&2; fail "differs: exit $status (not 4) or without naming the file"; }
pass "a node with another module file: exit $status: $(grep -o 'model.file on this node.*' "$work/differs.log" | head -c 300)"

section "4. resume"
before=$(sha "$work/bn")
"$bin" resume "$work/bn" > "$work/bn.resume.log" 2>&1 || { tail -n 20 "$work/bn.resume.log" >&2; fail "bn: resume failed"; }
[ "$(sha "$work/bn")" = "$before" ] || fail "bn: resumed to another model"
pass "a finished torchscript run (BatchNorm, Dropout) resumes to the same model ($(sha "$work/bn" | head -c 16))"
status=0
"$bin" resume "$work/threaded" model.file="$work/cnn_other.pt" > /dev/null 2> "$work/other.resume.err" || status=$?
[ "$status" -eq 3 ] || { cat "$work/other.resume.err" >&2; fail "resume with another module: exit $status, not 3"; }
pass "resume with another module file: exit 3: $(head -c 200 "$work/other.resume.err")"

section "5. hostile model files"
head -c 100000 "$work/cnn.pt" > "$work/truncated.pt"
run_refused state_dict 4 "not a TorchScript module" "${ts[@]}" model.file="$work/cnn/models/global.pt"
run_refused truncated 4 "model.file" "${ts[@]}" model.file="$work/truncated.pt"
run_refused zero 4 "not a regular file" "${ts[@]}" model.file=/dev/zero
run_refused directory 4 "is a directory" "${ts[@]}" model.file="$work"
run_refused classes 4 "Flotilla needs [2, 10]" "${ts[@]}" model.file="$work/cnn7.pt"
run_refused builtin 2 "model.name=torchscript" model.file="$work/cnn.pt"
echo "all script-model checks passed (${SECONDS} s)"
