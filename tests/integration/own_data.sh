#!/usr/bin/env bash
# Your own data (issue 17), end to end on small, few-second runs:
#   1. (torch) a tensors file of float features with 6 natural client ids (5, 17, 100, 3, 42, 8,
#      rows interleaved, each id its own row counts): partition.scheme=natural clients=0 makes one
#      client per id in numeric order (natural_ids, per-client sample counts), late_clients=2 the
#      last two of them late; clients=4 a seeded sample of 4 (ascending); clients=7 is refused
#      (exit 2) with both counts
#   2. (torch) a uint8 image file without client ids: cnn with partition.scheme=iid runs;
#      partition.scheme=natural is refused (exit 2) with clients=3 and clients=0: no client ids
#   3. (torch) hostile files, each refused with exit 3 and a message naming the key and index at
#      fault, and no run directory left: float labels, a label past "classes", NaN in x_train, a
#      negative client id, a test client without training rows, a model's state_dict, the legacy
#      format, a truncated file, /dev/zero, a directory, a missing file
#   4. a LEAF tree (json module; a split over two files): natural clients are the users in byte
#      order with their own sample counts; a ragged sample is refused (exit 3) with its index
#   5. synthetic_fedprox with rounds.stragglers=0.5: FedAvg drops the stragglers of every initial
#      round but the last (asked = sample - stragglers), FedProx (auto policy) keeps them; the
#      same config twice gives the same model, and one without stragglers another
#   6. synthetic_leaf (40 users, 4 task clusters): true_groups in clusters.json (40, 4 distinct,
#      the same as summary.json's clients' groups), summary.json's adjusted Rand index in [-1, 1]
#      and equal to the one computed here from the clustering's assignment
#   7. an image CNN on feature vectors: exit 2, "does not fit"
#   8. resume: a synthetic_fedprox natural run with stragglers, SIGKILLed after cluster round 1
#      (a slow client holds cluster round 2 for a second), resumes to the uninterrupted model; a
#      finished run resumes to the same model; a LEAF run whose files changed is refused (exit 3)
# Usage: own_data.sh path/to/flotilla   (run from the source dir; needs /usr/bin/python3; parts 1-3
# need its torch and are skipped, saying so, without it). Exit 77 when /usr/bin/python3 is missing.
# 35-55 s on 2 cores (32 flotilla processes of about a second each, most of it start-up).
set -euo pipefail
bin=$(realpath "$1")
source "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
[ -x "$py" ] || { echo "SKIP: $py is missing (apt-get install -y python3)"; exit 77; }
torch=yes
if ! why=$("$py" -c 'import torch' 2>&1); then
  torch=no
  echo "SKIP (parts 1-3): $py cannot import torch (apt-get install -y python3-torch): ${why##*$'\n'}"
fi

section() { echo "== $* (${SECONDS} s into the script)"; }
small=(rounds.initial=2 rounds.cluster=1 train.epochs=1 output.progress=off)

# run_ok NAME [key=value ...]: a run into $work/NAME that must exit 0.
run_ok() {
  local name=$1 status=0
  shift
  "$bin" run "${small[@]}" "$@" output.run_dir="$work/$name" > "$work/$name.log" 2>&1 || status=$?
  [ "$status" -eq 0 ] || { tail -n 20 "$work/$name.log" >&2; fail "$name: exit $status, not 0 (flotilla run $*)"; }
  pass "$name: exit 0"
}
# check NAME PYTHON [args...]: runs a Python check (sys.argv[1:] = args); it prints what it
# checked, or fails with an AssertionError saying why.
check() {
  local name=$1 code=$2 out
  shift 2
  out=$("$py" -c "import json, sys
def load(d, f): return json.load(open(d + '/' + f))
def metrics(d): return [json.loads(l) for l in open(d + '/metrics.jsonl')]
$code" "$@" 2>&1) || { echo "$out" >&2; fail "$name"; }
  pass "$name: $out"
}

if [ "$torch" = yes ]; then
  "$py" - "$work" <<'PY'
import os, sys, torch
w = sys.argv[1]
g = torch.Generator().manual_seed(17)

# 1. float features [N, 20], 3 classes, 6 natural ids, rows interleaved; id i has 20 + j training
# rows and 4 + j test rows (j its place in the list), so per-client counts tell the ids apart.
ids = [5, 17, 100, 3, 42, 8]
def owners(extra):
    c = torch.tensor([i for j, i in enumerate(ids) for _ in range(extra + j)])
    return c[torch.randperm(len(c), generator=g)]
ct, cs = owners(20), owners(4)
def features(n): return torch.randn(n, 20, generator=g)
def labels(n): return torch.randint(0, 3, (n,), generator=g)
def features_set():
    return {"x_train": features(len(ct)), "y_train": labels(len(ct)), "x_test": features(len(cs)),
            "y_test": labels(len(cs)), "client_train": ct.clone(), "client_test": cs.clone(), "classes": 3}
torch.save(features_set(), w + "/features.pt")

# 2. uint8 images [N, 1, 28, 28], 10 classes, no client ids.
torch.save({"x_train": torch.randint(0, 256, (240, 1, 28, 28), dtype=torch.uint8, generator=g),
            "y_train": torch.arange(240) % 10,
            "x_test": torch.randint(0, 256, (50, 1, 28, 28), dtype=torch.uint8, generator=g),
            "y_test": torch.arange(50) % 10}, w + "/images.pt")

# 3. hostile files, each one fault in an otherwise good file.
def bad(name, change):
    d = features_set(); change(d); torch.save(d, w + "/" + name + ".pt")
bad("float_labels", lambda d: d.__setitem__("y_train", d["y_train"].float()))
bad("label_past_classes", lambda d: d["y_test"].__setitem__(7, 3))
bad("nan", lambda d: d["x_train"].__setitem__((13, 4), float("nan")))
bad("negative_client", lambda d: d["client_train"].__setitem__(9, -2))
bad("test_client_unknown", lambda d: d["client_test"].__setitem__(3, 99))
torch.save(torch.nn.Linear(3, 2).state_dict(), w + "/state_dict.pt")
torch.save(features_set(), w + "/legacy.pt", _use_new_zipfile_serialization=False)
good = open(w + "/features.pt", "rb").read()
open(w + "/truncated.pt", "wb").write(good[: len(good) // 2])
os.mkdir(w + "/a_directory")
PY
  echo "(torch files written, ${SECONDS} s into the script)"

  section "1. a tensors file with natural client ids"
  tensors=(data.dataset=tensors partition.scheme=natural model.name=mclr)
  feats=("${tensors[@]}" data.file="$work/features.pt")
  # natural_of DIR EXPECTED: clusters.json's natural_ids are EXPECTED (comma-separated, client
  # 0 first) and each client has its id's sample counts (features.pt: 20 + j train, 4 + j test).
  natural_of() {
    check "$(basename "$1"): natural_ids" '
ids = [5, 17, 100, 3, 42, 8]
natural = load(sys.argv[1], "clusters.json")["natural_ids"]
want = sys.argv[2].split(",")
got = [natural.get(str(c)) for c in range(len(natural))]
assert got == want, "natural_ids %s, expected %s" % (natural, want)
clients = load(sys.argv[1], "summary.json")["clients"]
for c, nid in enumerate(want):
    j = ids.index(int(nid))
    counts = (clients[str(c)]["train_samples"], clients[str(c)]["test_samples"])
    assert counts == (20 + j, 4 + j), "client %d (natural id %s) has %s train/test samples, expected %s" % (
        c, nid, counts, (20 + j, 4 + j))
print("natural_ids %s, each client with its id'"'"'s train/test rows" % natural)' "$1" "$2"
  }
  run_ok natural-all "${feats[@]}" clients=0
  natural_of "$work/natural-all" 3,5,8,17,42,100
  run_ok natural-4 "${feats[@]}" clients=4
  check "natural-4: a sample of 4" '
natural = load(sys.argv[1], "clusters.json")["natural_ids"]
assert len(natural) == 4, "%d natural_ids, expected 4: %s" % (len(natural), natural)
got = [int(natural[str(c)]) for c in range(4)]
assert got == sorted(got) and set(got) <= {3, 5, 8, 17, 42, 100}, "natural_ids %s are not 4 of the ids ascending" % natural
print(",".join(map(str, got)))' "$work/natural-4"
  natural_of "$work/natural-4" "$("$py" -c 'import json,sys; n=json.load(open(sys.argv[1]))["natural_ids"]; print(",".join(n[str(c)] for c in range(len(n))))' "$work/natural-4/clusters.json")"
  # clients=0 with late clients: every id is a client, the last ones late.
  run_ok natural-late "${feats[@]}" clients=0 late_clients=2
  check "natural-late: 4 from the start, 2 late" '
c = load(sys.argv[1], "clusters.json")
late = sorted(x["client"] for x in c["late_clients"])
assert len(c["natural_ids"]) == 6 and late == [4, 5], "natural_ids %s, late clients %s: expected 6 ids, 4 and 5 late" % (
    c["natural_ids"], late)
print("natural_ids %s, late clients %s" % (c["natural_ids"], late))' "$work/natural-late"
  # More clients than the data has: a partition error, reported as a configuration error.
  run_refused natural-7 2 "clients = 7 but data.dataset=tensors has 6 natural clients" "${feats[@]}" clients=7

  section "2. uint8 images without client ids"
  run_ok images-iid data.dataset=tensors data.file="$work/images.pt" model.name=cnn partition.scheme=iid clients=3
  run_refused images-natural 2 "has no client ids" \
    data.dataset=tensors data.file="$work/images.pt" model.name=cnn partition.scheme=natural clients=3
  run_refused images-natural-all 2 "has no client ids" \
    data.dataset=tensors data.file="$work/images.pt" model.name=cnn partition.scheme=natural clients=0

  section "3. hostile files: exit 3, the key and index at fault"
  hostile() { run_refused "hostile-$1" 3 "$3" "${tensors[@]}" clients=0 data.file="$2"; }
  hostile float-labels "$work/float_labels.pt" "y_train is float32; class ids must be int64"
  hostile label-past-classes "$work/label_past_classes.pt" "y_test[7] is 3 but classes is 3"
  hostile nan "$work/nan.pt" "x_train sample 13 holds nan"
  hostile negative-client "$work/negative_client.pt" "client_train[9] is -2"
  hostile test-client-unknown "$work/test_client_unknown.pt" "client_test[3] is 99"
  hostile state-dict "$work/state_dict.pt" "a model's state_dict (keys 'weight', 'bias'), not a data set"
  hostile legacy "$work/legacy.pt" "legacy format"
  hostile truncated "$work/truncated.pt" "truncated"
  hostile dev-zero /dev/zero "not a regular file"
  hostile directory "$work/a_directory" "is a directory"
  hostile missing "$work/no_such_file.pt" "file not found"
else
  section "1-3. SKIPPED: tensors files need torch to write them"
fi

section "4. a LEAF tree"
# leaf_tree ROOT [ragged]: users f_0b, Zed and f_00a (byte order: Zed, f_00a, f_0b) with 10, 12 and
# 14 training and 3, 4 and 5 test samples of 20 features, 3 classes; train over two files.
leaf_tree() {
  "$py" - "$@" <<'PY'
import json, os, random, sys
root, ragged = sys.argv[1], len(sys.argv) > 2
r = random.Random(4)
counts = {"f_0b": (10, 3), "Zed": (12, 4), "f_00a": (14, 5)}
files = {"train": [["f_0b"], ["Zed", "f_00a"]], "test": [["f_00a", "f_0b", "Zed"]]}
for split, groups in files.items():
    os.makedirs(os.path.join(root, split))
    for f, users in enumerate(groups):
        n = [counts[u][split == "test"] for u in users]
        data = {u: {"x": [[round(r.gauss(0, 1), 4) for _ in range(20)] for _ in range(k)],
                    "y": [r.randrange(3) for _ in range(k)]} for u, k in zip(users, n)}
        if ragged and split == "train" and "Zed" in users:
            data["Zed"]["x"][5].pop()
        json.dump({"users": users, "num_samples": n, "user_data": data},
                  open(os.path.join(root, split, "part%d.json" % f), "w"))
PY
}
leaf_tree "$work/leaf-data"
leaf=(data.dataset=leaf data.root="$work/leaf-data" partition.scheme=natural model.name=mlp model.hidden=[16])
run_ok leaf "${leaf[@]}" clients=0
check "leaf: natural_ids" '
natural = load(sys.argv[1], "clusters.json")["natural_ids"]
want = {"0": "Zed", "1": "f_00a", "2": "f_0b"}
assert natural == want, "natural_ids %s, expected %s (byte order)" % (natural, want)
counts = {"f_0b": (10, 3), "Zed": (12, 4), "f_00a": (14, 5)}
clients = load(sys.argv[1], "summary.json")["clients"]
for c, user in want.items():
    got = (clients[c]["train_samples"], clients[c]["test_samples"])
    assert got == counts[user], "client %s (user %s) has %s train/test samples, expected %s" % (c, user, got, counts[user])
print("natural_ids %s, each client with its user'"'"'s samples" % natural)' "$work/leaf"
leaf_tree "$work/leaf-ragged-data" ragged
run_refused leaf-ragged 3 'part1.json: user_data["Zed"]["x"][5] has shape {19}, unlike the {20}' \
  data.dataset=leaf data.root="$work/leaf-ragged-data" partition.scheme=natural model.name=mlp model.hidden=[16] clients=0

section "5. synthetic_fedprox with stragglers"
fedprox=(data.dataset=synthetic_fedprox data.users=12 partition.scheme=natural clients=0 model.name=mclr
         rounds.initial=3 train.epochs=2)
run_ok stragglers-fedavg "${fedprox[@]}" rounds.stragglers=0.5 strategy.name=fedavg
check "stragglers-fedavg: dropped but in the last initial round" '
rounds = [r for r in metrics(sys.argv[1]) if r["phase"] == "initial"]
assert len(rounds) == 3, "%d initial rounds in metrics.jsonl, expected 3" % len(rounds)
for r in rounds[:-1]:
    assert r["stragglers"] > 0, "initial round %d: no stragglers: %s" % (r["round"], r)
    assert r["stragglers_kept"] is False, "initial round %d: stragglers kept under fedavg" % r["round"]
    assert r["asked"] == 12 - r["stragglers"] and r["asked"] < 12, \
        "initial round %d: asked %d with %d stragglers of 12" % (r["round"], r["asked"], r["stragglers"])
last = rounds[-1]
assert last["stragglers_kept"] is True and last["asked"] == 12, "the last initial round did not keep its stragglers: %s" % last
print("initial rounds asked/stragglers/kept: %s" % [(r["asked"], r["stragglers"], r["stragglers_kept"]) for r in rounds])' \
  "$work/stragglers-fedavg"
run_ok stragglers-fedprox "${fedprox[@]}" rounds.stragglers=0.5 strategy.name=fedprox
check "stragglers-fedprox: kept (auto policy)" '
rounds = metrics(sys.argv[1])
for r in rounds:
    if r["stragglers"] > 0:
        assert r["stragglers_kept"] is True, "%s round %d: stragglers not kept under fedprox: %s" % (r["phase"], r["round"], r)
initial = [r for r in rounds if r["phase"] == "initial"]
assert all(r["stragglers"] > 0 and r["asked"] == 12 for r in initial), "initial rounds: %s" % initial
print("initial rounds asked/stragglers/kept: %s" % [(r["asked"], r["stragglers"], r["stragglers_kept"]) for r in initial])' \
  "$work/stragglers-fedprox"
run_ok stragglers-fedavg-again "${fedprox[@]}" rounds.stragglers=0.5 strategy.name=fedavg
run_ok no-stragglers "${fedprox[@]}" strategy.name=fedavg
a=$(sha "$work/stragglers-fedavg"); b=$(sha "$work/stragglers-fedavg-again"); c=$(sha "$work/no-stragglers")
[ -n "$a" ] || fail "stragglers-fedavg: no global_model_sha256 in summary.json"
[ "$a" = "$b" ] || fail "the same config twice gave two models: $a, $b"
pass "determinism: the same config twice gives the same model ($a)"
[ "$a" != "$c" ] || fail "rounds.stragglers=0.5 gave the model of rounds.stragglers=0 ($c)"
pass "stragglers change the model (without: $c)"

section "6. synthetic_leaf: true groups and the adjusted Rand index"
run_ok synthetic-leaf data.dataset=synthetic_leaf data.users=40 data.clusters=4 partition.scheme=natural clients=0 \
  model.name=mclr clustering.k=4
check "synthetic-leaf: true_groups, adjusted Rand index" '
from collections import Counter
from math import comb
groups = load(sys.argv[1], "clusters.json")["true_groups"]
assert len(groups) == 40, "%d true_groups, expected 40" % len(groups)
assert len(set(groups.values())) == 4, "true_groups has groups %s, expected 4 distinct" % sorted(set(groups.values()))
s = load(sys.argv[1], "summary.json")
for c, g in groups.items():
    assert s["clients"][c]["group"] == g, "client %s: group %s in summary.json, %s in true_groups" % (c, s["clients"][c]["group"], g)
ari, assignment = s["clustering"]["adjusted_rand_index"], s["clustering"]["assignment"]
assert isinstance(ari, (int, float)) and -1 <= ari <= 1, "adjusted_rand_index %r is not in [-1, 1]" % ari
truth = [groups[str(c)] for c in range(40)]
assert len(assignment) == 40, "assignment of %d clients, expected 40" % len(assignment)
pairs = lambda counts: sum(comb(n, 2) for n in counts)
index = pairs(Counter(zip(assignment, truth)).values())
a, b, n = pairs(Counter(assignment).values()), pairs(Counter(truth).values()), comb(40, 2)
expected = a * b / n
mine = 1.0 if a + b == 2 * expected else (index - expected) / ((a + b) / 2 - expected)
assert abs(mine - ari) < 1e-9, "adjusted_rand_index %r, computed here %r" % (ari, mine)
print("40 clients in groups %s; adjusted Rand index %.4f (computed here: %.4f)" % (dict(Counter(truth)), ari, mine))' \
  "$work/synthetic-leaf"

section "7. image CNNs on feature vectors"
run_refused cnn-on-features 2 "model.name=cnn does not fit data.dataset=synthetic_fedprox" \
  model.name=cnn data.dataset=synthetic_fedprox data.users=12 partition.scheme=natural clients=0
run_refused mcmahan-on-features 2 "model.name=mcmahan_cnn does not fit data.dataset=synthetic_leaf" \
  model.name=mcmahan_cnn data.dataset=synthetic_leaf data.users=12 partition.scheme=natural clients=0

section "8. resume"
# Stragglers kept (FedProx), so every client trains every round; client 0 answers its cluster round
# 2 a second late, so a SIGKILL once the checkpoint holds cluster round 1 lands inside the run.
resumable=(data.dataset=synthetic_fedprox data.users=12 partition.scheme=natural clients=0 model.name=mclr
           rounds.stragglers=0.5 strategy.name=fedprox rounds.initial=2 rounds.cluster=3 train.epochs=2
           output.progress=off output.save_models=false
           'faults=[{"target":0,"kind":"slow","phase":"cluster","round":2,"seconds":1}]')
"$bin" run "${resumable[@]}" output.run_dir="$work/uninterrupted" > "$work/uninterrupted.log" 2>&1 \
  || { tail -n 20 "$work/uninterrupted.log" >&2; fail "the uninterrupted run failed"; }
reference=$(sha "$work/uninterrupted")
[ -n "$reference" ] || fail "the uninterrupted run has no global_model_sha256"
"$bin" run "${resumable[@]}" output.run_dir="$work/killed" > "$work/killed.log" 2>&1 &
run=$!
pids+=("$run")
for _ in $(seq 600); do
  grep -q '"phase":"cluster","round":1' "$work/killed/checkpoint/progress.json" 2>/dev/null && break
  sleep 0.05
done
grep -q '"phase":"cluster","round":1' "$work/killed/checkpoint/progress.json" \
  || { cat "$work/killed.log" >&2; fail "killed: the run never checkpointed cluster round 1"; }
kill -9 "$run"
wait "$run" 2>/dev/null || true
[ ! -e "$work/killed/summary.json" ] || fail "killed: the run finished before it was killed"
"$bin" resume "$work/killed" > "$work/killed.resume.log" 2>&1 \
  || { tail -n 20 "$work/killed.resume.log" >&2; fail "killed: resume failed"; }
[ "$(sha "$work/killed")" = "$reference" ] \
  || fail "killed: the resumed model $(sha "$work/killed") is not the uninterrupted one $reference"
[ "$(wc -l < "$work/killed/metrics.jsonl")" -eq "$(wc -l < "$work/uninterrupted/metrics.jsonl")" ] \
  || fail "killed: metrics.jsonl has $(wc -l < "$work/killed/metrics.jsonl") rounds, the uninterrupted run $(wc -l < "$work/uninterrupted/metrics.jsonl")"
pass "killed after cluster round 1 and resumed: the uninterrupted model ($reference)"
# A finished run resumes from its last checkpoint to the same model and the same rounds.
lines=$(wc -l < "$work/uninterrupted/metrics.jsonl")
"$bin" resume "$work/uninterrupted" > "$work/finished.resume.log" 2>&1 \
  || { tail -n 20 "$work/finished.resume.log" >&2; fail "resume of a finished run failed"; }
[ "$(sha "$work/uninterrupted")" = "$reference" ] || fail "a finished run, resumed, ends with another model"
[ "$(wc -l < "$work/uninterrupted/metrics.jsonl")" -eq "$lines" ] || fail "a finished run, resumed, changed metrics.jsonl's rounds"
pass "a finished run resumes to the same model and rounds"
# Over changed data (one feature of the LEAF tree) the checkpoint is refused.
"$py" - "$work/leaf-data/train/part0.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["user_data"]["f_0b"]["x"][0][0] += 0.5
json.dump(d, open(sys.argv[1], "w"))
PY
status=0
"$bin" resume "$work/leaf" > /dev/null 2> "$work/leaf.resume.err" || status=$?
[ "$status" -eq 3 ] || { cat "$work/leaf.resume.err" >&2; fail "resume over changed LEAF data: exit $status, not 3"; }
grep -qF "the data differs" "$work/leaf.resume.err" || { cat "$work/leaf.resume.err" >&2; fail "resume over changed data: no clear error"; }
pass "resume over changed LEAF data: exit 3: $(head -c 300 "$work/leaf.resume.err")"

echo "PASS (${SECONDS} s)"
