#!/usr/bin/env bash
# Device time (clock=virtual), end to end:
#   1. the same run twice, and threaded vs two loopback nodes: the same model and the same
#      simulated time on every metrics line; killed (SIGKILL) in a cluster round and resumed:
#      the same again
#   2. the run never sleeps: a `slow` fault of an hour is simulated (the round's deadline passes
#      in simulated time, the client's update is refused as late) and the run takes seconds
#   3. a device that cannot make the round's simulated deadline is not asked
#   4. devices from FedScale's device-capacity file (scripts/fedscale_devices.py); a bad
#      devices.file is exit 2 naming the entry
#   5. selection.policy=fastest serves each cluster from its fastest device; random and
#      resources run; fastest without clock=virtual is exit 2
#   6. availability: devices come and go, the same twice
#   7. FedBuff and FedAsync: the same twice and on nodes; SIGKILLed inside the asynchronous
#      steps (fits in flight) and resumed: the same model and simulated times; FedBuff under the
#      wall clock (arrival order) runs
#   8. FedBuff at the promoted cluster servers: the same twice and on nodes, SIGKILLed in the
#      cluster phase and resumed, a server crash with its fits in flight taken over by the next
# Usage: device_time.sh path/to/flotilla (from the source dir; needs data/mnist and python3).
set -euo pipefail
bin=$(realpath "$1")
source "$(dirname "$0")/lib.sh"
section() { echo "== $* (${SECONDS} s into the script)"; }
small=(data.train_limit=3000 clients=8 rounds.initial=2 rounds.cluster=3 train.epochs=1 output.progress=off
       output.save_models=false clock=virtual devices.speed_sigma=1 devices.bandwidth_sigma=0.5)

run_ok() {
  local name=$1 status=0
  shift
  "$bin" run "${small[@]}" "$@" output.run_dir="$work/$name" > "$work/$name.log" 2>&1 || status=$?
  [ "$status" -eq 0 ] || { tail -n 20 "$work/$name.log" >&2; fail "$name: exit $status, not 0 (flotilla run $*)"; }
}
# Every round's simulated end, keyed by phase, cluster and round (clusters finish in any order).
times() {
  python3 -c 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
for r in sorted(rows, key=lambda r: (r["phase"], -1 if r["cluster"] is None else r["cluster"], r["round"])):
    print(r["phase"], r["cluster"], r["round"], repr(r["sim_time_s"]))
s = json.load(open(sys.argv[1] + "/summary.json"))
print("final", repr(s["final"]["sim_time_s"]))' "$1"
}

# killed_resumed NAME PHASE ROUND REF [key=value ...]: a run SIGKILLed as its checkpoint reaches
# (PHASE, ROUND), which must hold fits in flight, then resumed: it must end with REF's model and
# simulated times.
killed_resumed() {
  local name=$1 phase=$2 round=$3 ref=$4 run progress at
  shift 4
  "$bin" run "${small[@]}" "$@" output.run_dir="$work/$name" > "$work/$name.log" 2>&1 &
  run=$!
  # Killed at the first checkpoint at or past (phase, round): a busy machine may miss one.
  for _ in $(seq 3000); do
    progress=$(cat "$work/$name/checkpoint/progress.json" 2>/dev/null || true)
    if [[ $progress == *'"phase":"cluster"'* && $phase == initial ]]; then break; fi
    if [[ $progress == *"\"phase\":\"$phase\""* ]]; then
      at=${progress#*\"round\":}
      at=${at%%,*}
      [ "$at" -ge "$round" ] && break
    fi
    sleep 0.02
  done
  kill -9 "$run" 2>/dev/null || true
  wait "$run" 2>/dev/null || true
  [ -n "$progress" ] || fail "$name: no checkpoint was written"
  [ ! -e "$work/$name/summary.json" ] || fail "$name: the run finished before it was killed"
  local point="$progress"
  grep -q '"flights":\[\[' "$work/$name/checkpoint/checkpoint.bin" \
    || fail "$name: the checkpoint holds no fit in flight: the resume test says nothing"
  "$bin" resume "$work/$name" > "$work/$name.resume.log" 2>&1 \
    || { tail "$work/$name.resume.log" >&2; fail "$name: resume failed"; }
  [ "$(sha "$work/$name")" = "$(sha "$work/$ref")" ] && [ "$(times "$work/$name")" = "$(times "$work/$ref")" ] \
    || fail "$name: resumed after $point, another model or other simulated times than $ref"
}

section "1. deterministic"
run_ok a
run_ok b
[ "$(sha "$work/a")" = "$(sha "$work/b")" ] || fail "twice: two models"
[ "$(times "$work/a")" = "$(times "$work/b")" ] || fail "twice: other simulated times"
python3 -c 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
assert all(r["sim_time_s"] > 0 for r in rows), "a round without simulated time"
assert all(r["seconds"] < r["sim_time_s"] for r in rows), "simulated time not above the wall time"' "$work/a" \
  || fail "a: simulated times missing"
pass "twice: one model ($(sha "$work/a" | head -c 16)), the same simulated times; $(times "$work/a" | tail -n 1)"
start_node n1; p1=$port
start_node n2; p2=$port
run_ok nodes runtime.nodes=127.0.0.1:$p1,127.0.0.1:$p2
[ "$(sha "$work/nodes")" = "$(sha "$work/a")" ] || fail "nodes: another model than threaded"
[ "$(times "$work/nodes")" = "$(times "$work/a")" ] || fail "nodes: other simulated times than threaded"
pass "two nodes: the threaded run's model and simulated times"
"$bin" run "${small[@]}" output.run_dir="$work/killed" > "$work/killed.log" 2>&1 &
kill_at_checkpoint "$work/killed" '"phase":"cluster","round":1' $!
"$bin" resume "$work/killed" > "$work/killed.resume.log" 2>&1 || { tail "$work/killed.resume.log" >&2; fail "killed: resume failed"; }
[ "$(sha "$work/killed")" = "$(sha "$work/a")" ] || fail "killed: the resumed run has another model"
[ "$(times "$work/killed")" = "$(times "$work/a")" ] || fail "killed: the resumed run has other simulated times"
pass "killed in cluster round 1 and resumed: the same model and simulated times"

section "2. a slow fault is simulated, not slept"
SECONDS_BEFORE=$SECONDS
run_ok slow rounds.timeout_s=600 'faults=[{"target":2,"kind":"slow","phase":"initial","round":1,"seconds":3600}]'
[ $((SECONDS - SECONDS_BEFORE)) -lt 300 ] || fail "slow: the run slept"
python3 -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
first = r[0]
assert 2 in first["failed"], first
reason = first["failure_reasons"][first["failed"].index(2)]
assert "after the round\x27s deadline" in reason and "clock=virtual" in reason, reason
assert abs(first["sim_time_s"] - 600) < 1e-6, first["sim_time_s"]  # the round waited until its deadline
print("ok:   slow: client 2 refused as late (%s); round 1 ended at its deadline, %.0f s" % (reason, first["sim_time_s"]))' \
  "$work/slow" || fail "slow: not refused as late in simulated time"

section "3. a device that cannot make the deadline is not asked"
run_ok deadline devices.speed_sigma=2 rounds.timeout_s=8 rounds.quorum=0.1
python3 -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
late = [x for row in r for x in row["failure_reasons"] if "not asked" in x]
assert late, "every device made the deadline: the test says nothing"
print("ok:   deadline: %d fits not asked, e.g. %s" % (len(late), late[0]))' "$work/deadline" || fail "deadline: nobody was left out"

section "4. devices from FedScale's file"
python3 - "$work/capacity.json" <<'PY'
import json, sys
# FedScale's layout: {client_id: {"computation": ms, "communication": kbps}}, ids from 1; each
# profile slower than the one before in compute and link alike.
json.dump({str(i + 1): {"computation": 2.0 + 3 * i, "communication": 9000.0 - 1000 * i} for i in range(5)},
          open(sys.argv[1], "w"))
PY
python3 scripts/fedscale_devices.py "$work/capacity.json" "$work/devices.json" --clients 8 > /dev/null
run_ok fedscale devices.file="$work/devices.json"
run_ok fedscale2 devices.file="$work/devices.json" devices.speed_sigma=0
[ "$(sha "$work/fedscale")" = "$(sha "$work/a")" ] || fail "fedscale: devices changed the model (they time it only)"
[ "$(times "$work/fedscale")" = "$(times "$work/fedscale2")" ] || fail "fedscale: the file's devices were not used"
[ "$(times "$work/fedscale")" != "$(times "$work/a")" ] || fail "fedscale: the same times as drawn devices"
pass "FedScale's capacities: the model unchanged, the simulated times the file's"
python3 -c 'import json; d = json.load(open("'"$work"'/devices.json")); d[5]["kbps"] = -3; json.dump(d, open("'"$work"'/bad.json", "w"))'
run_refused baddevices 2 'client 5: "kbps" is -3' devices.file="$work/bad.json"
# FedScale's behaviour trace: client i online on [0, 30) and [40, 100) of every 100 s, except
# trace 2 (clients 2 and 5: offline from 5 s to 95 s), merged in by the converter.
python3 - "$work/trace.json" <<'PY'
import json, sys
json.dump({str(i + 1): {"active": [0, 40] if i != 1 else [0, 95], "inactive": [30, 100] if i != 1 else [5, 100],
                        "finish_time": 100, "duration": 1} for i in range(3)}, open(sys.argv[1], "w"))
PY
python3 scripts/fedscale_devices.py "$work/capacity.json" "$work/traced.json" --clients 8 --trace "$work/trace.json" \
  > /dev/null
run_ok traced devices.file="$work/traced.json" rounds.quorum=0.1
run_ok traced2 devices.file="$work/traced.json" rounds.quorum=0.1
[ "$(sha "$work/traced")" = "$(sha "$work/traced2")" ] && [ "$(times "$work/traced")" = "$(times "$work/traced2")" ] \
  || fail "traced: two runs differ"
python3 - "$work/traced" "$work/fedscale" <<'PY' || fail "traced: the trace's offline clients were asked"
import json, sys
def asked(d):
    return {(r["phase"], r["cluster"], r["round"]): r["asked"] for r in map(json.loads, open(d + "/metrics.jsonl"))}
traced, plain = asked(sys.argv[1]), asked(sys.argv[2])
fewer = sorted(k for k in traced if k in plain and traced[k] < plain[k])
assert fewer, ("every round asked as many as without the trace: the test says nothing", traced, plain)
print("ok:   traced: the same twice; %d rounds asked fewer clients than without the trace (e.g. %s %s round %s)"
      % ((len(fewer),) + fewer[0]))
PY
# The devices file is part of the run: a resume with another one is refused (the run's own
# checkpoint, here that of the finished run "traced", is then of another run). With the same
# file the finished run resumes.
"$bin" resume "$work/traced2" > "$work/traced2.resume.log" 2>&1 \
  || { tail "$work/traced2.resume.log" >&2; fail "traced2: a resume with the same devices.file failed"; }
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); d[0]["kbps"] = 1; json.dump(d, open(sys.argv[1], "w"))' \
  "$work/traced.json"
status=0
"$bin" resume "$work/traced" > "$work/traced.resume.log" 2>&1 || status=$?
[ "$status" -eq 3 ] && grep -q "devices.file is another" "$work/traced.resume.log" \
  || { cat "$work/traced.resume.log" >&2; fail "traced: a resume with an edited devices.file was not refused (exit $status)"; }
pass "an edited devices.file: the resume is refused (exit 3)"

section "5. selection policies"
run_ok fastest selection.policy=fastest devices.file="$work/devices.json"
python3 - "$work/fastest" <<'PY' || fail "fastest: a cluster is not served by its fastest device"
import json, sys
c = json.load(open(sys.argv[1] + "/clusters.json"))
# Client i has FedScale profile i % 5, each slower than the one before in compute and link: the
# fastest member is the one with the lowest profile (ties: the lowest id).
for x in c["clusters"]:
    assert not x["elections"], x
    best = min(x["members"], key=lambda i: (i % 5, i))
    assert x["server"] == best, (x["id"], x["server"], best, x["members"])
print("ok:   fastest: every cluster is served by its fastest device")
PY
run_ok random selection.policy=random
run_ok resources selection.policy=resources
pass "random and resources select and run"
small=("${small[@]/clock=virtual/clock=wall}")
run_refused fastwall 2 "exist under clock=virtual only" selection.policy=fastest

section "6. devices come and go"
small=("${small[@]/clock=wall/clock=virtual}")
run_ok avail1 devices.online_s=40 devices.offline_s=20 rounds.quorum=0.1
run_ok avail2 devices.online_s=40 devices.offline_s=20 rounds.quorum=0.1
[ "$(sha "$work/avail1")" = "$(sha "$work/avail2")" ] && [ "$(times "$work/avail1")" = "$(times "$work/avail2")" ] \
  || fail "availability: two runs differ"
python3 -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
initial = [x for x in r if x["phase"] == "initial"]
offline = [x for row in r for x in row["failure_reasons"] if "goes offline" in x]
not_sampled = [x for x in initial[:-1] if x["asked"] < 8]
assert offline or not_sampled, "every device stayed online: the test says nothing"
print("ok:   availability: %d dropouts (e.g. %s), %d initial rounds sampled fewer than 8 online clients; the same twice"
      % (len(offline), offline[0] if offline else "-", len(not_sampled)))' "$work/avail1" || fail "availability: nothing came or went"
run_refused availhalf 2 "go together" devices.online_s=40

section "7. buffered and asynchronous aggregation"
fedbuff=(clients=24 rounds.initial=8 strategy.mode=buffered strategy.concurrency=8 strategy.buffer=4)
run_ok buf1 "${fedbuff[@]}"
run_ok buf2 "${fedbuff[@]}"
[ "$(sha "$work/buf1")" = "$(sha "$work/buf2")" ] && [ "$(times "$work/buf1")" = "$(times "$work/buf2")" ] \
  || fail "buffered: two runs differ"
run_ok bufnodes "${fedbuff[@]}" runtime.nodes=127.0.0.1:$p1,127.0.0.1:$p2
[ "$(sha "$work/bufnodes")" = "$(sha "$work/buf1")" ] && [ "$(times "$work/bufnodes")" = "$(times "$work/buf1")" ] \
  || fail "buffered: nodes differ from threads"
python3 -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl") if json.loads(l)["phase"] == "initial"]
steps = r[:-1]
assert len(steps) == 7 and all(x["clients"] == 4 for x in steps), [(x["round"], x["clients"]) for x in r]
assert max(x["staleness_max"] for x in steps) >= 1, "no update was stale: the test says nothing"
assert all(a["sim_time_s"] <= b["sim_time_s"] for a, b in zip(r, r[1:])), "time went backwards"
print("ok:   buffered (FedBuff): 7 steps of 4 updates (staleness up to %d), then a round asking all; the same twice "
      "and on nodes" % max(x["staleness_max"] for x in steps))' "$work/buf1" || fail "buffered: unexpected steps"
run_ok async1 clients=24 rounds.initial=8 strategy.mode=async strategy.concurrency=8
run_ok async2 clients=24 rounds.initial=8 strategy.mode=async strategy.concurrency=8
[ "$(sha "$work/async1")" = "$(sha "$work/async2")" ] || fail "async: two runs differ"
[ "$(times "$work/async1")" = "$(times "$work/async2")" ] || fail "async: two runs have other simulated times"
pass "async (FedAsync): the same twice"
# An evaluated step is a checkpoint holding the fits in flight (here every one: by default at most
# one per 30 wall seconds); a resume sends them again.
killed_resumed bufkilled initial 2 buf1 "${fedbuff[@]}" runtime.async_checkpoint_s=0
pass "buffered: killed after a step with fits in flight and resumed: the same model and simulated times"
killed_resumed asynckilled initial 2 async1 clients=24 rounds.initial=8 strategy.mode=async \
  strategy.concurrency=8 rounds.eval_every=2 runtime.async_checkpoint_s=0
python3 -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl") if json.loads(l)["phase"] == "initial"]
skipped = [x["round"] for x in r if x["test_accuracy"] is None]
assert skipped == [1, 3, 5], skipped' "$work/asynckilled" || fail "async: rounds.eval_every=2 evaluated other steps"
pass "async: killed after a step (rounds.eval_every=2: steps 1, 3, 5 not evaluated) and resumed: the same"
small=("${small[@]/clock=virtual/clock=wall}")
# Under the wall clock updates apply in the order they arrive: it runs, not deterministically.
run_ok bufwall "${fedbuff[@]}"
python3 -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl") if json.loads(l)["phase"] == "initial"]
assert len(r) == 8 and all(x["clients"] == 4 for x in r[:-1]), [(x["round"], x["clients"]) for x in r]
assert all(a["sim_time_s"] <= b["sim_time_s"] for a, b in zip(r, r[1:])), "wall time went backwards"' "$work/bufwall" \
  || fail "buffered under the wall clock: unexpected steps"
pass "buffered under the wall clock: 7 steps of 4 updates in arrival order, then the last round"
small=("${small[@]/clock=wall/clock=virtual}")

section "8. FedBuff at the promoted cluster servers"
# Every cluster round is a server step at the cluster's server; its fits in flight stay in flight
# into the next round, and travel with the cluster (checkpoint, election).
clbuf=(clients=24 rounds.initial=4 rounds.cluster=5 strategy.mode=buffered strategy.concurrency=6 strategy.buffer=3)
run_ok clbuf1 "${clbuf[@]}"
run_ok clbuf2 "${clbuf[@]}"
[ "$(sha "$work/clbuf1")" = "$(sha "$work/clbuf2")" ] && [ "$(times "$work/clbuf1")" = "$(times "$work/clbuf2")" ] \
  || fail "cluster FedBuff: two runs differ"
python3 -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl") if json.loads(l)["phase"] == "cluster"]
assert r and all(x["clients"] == 3 and len(x["staleness"]) == 3 for x in r), [(x["cluster"], x["round"], x["clients"]) for x in r]
assert max(x["staleness_max"] for x in r) >= 1, "no update was stale at a cluster server: the test says nothing"
for c in {x["cluster"] for x in r}:
    t = [x["sim_time_s"] for x in r if x["cluster"] == c]
    assert t == sorted(t), ("a cluster clock went backwards", c, t)
print("ok:   cluster FedBuff: %d server steps of 3 updates at the promoted servers (staleness up to %d); the same twice"
      % (len(r), max(x["staleness_max"] for x in r)))' "$work/clbuf1" || fail "cluster FedBuff: unexpected steps"
run_ok clbufnodes "${clbuf[@]}" runtime.nodes=127.0.0.1:$p1,127.0.0.1:$p2
[ "$(sha "$work/clbufnodes")" = "$(sha "$work/clbuf1")" ] && [ "$(times "$work/clbufnodes")" = "$(times "$work/clbuf1")" ] \
  || fail "cluster FedBuff: nodes differ from threads"
pass "cluster FedBuff on two nodes: the threaded run's model and simulated times"
killed_resumed clbufkilled cluster 1 clbuf1 "${clbuf[@]}"
pass "cluster FedBuff: killed after a cluster round (fits in flight at the servers) and resumed: the same"
crash='faults=[{"target":"server:0","kind":"crash","phase":"cluster","round":3}]'
run_ok clbufcrash "${clbuf[@]}" "$crash"
run_ok clbufcrash2 "${clbuf[@]}" "$crash"
[ "$(sha "$work/clbufcrash")" = "$(sha "$work/clbufcrash2")" ] || fail "cluster FedBuff with an election: two runs differ"
python3 -c 'import json, sys
c = json.load(open(sys.argv[1] + "/clusters.json"))["clusters"][0]
assert c["elections"] and c["rounds_done"] == 5, c
r = {x["round"]: x["sim_time_s"] for x in map(json.loads, open(sys.argv[1] + "/metrics.jsonl"))
     if x["phase"] == "cluster" and x["cluster"] == 0}
# The crash is noticed at the round deadline (rounds.timeout_s, 600 simulated seconds).
assert r[3] - r[2] >= 600, ("the election cost no simulated time", r)
print("ok:   cluster FedBuff: cluster 0 server crashed in round 3, elected again (round 3 ends %.1f s after round 2: "
      "the deadline and the model download); the new server took over its fits in flight; the same twice" % (r[3] - r[2]))' \
  "$work/clbufcrash" || fail "cluster FedBuff: cluster 0 did not elect a new server, finish its rounds and pay for it"
run_refused clbufcfl 2 "CFL splits on every member" strategy.mode=buffered clustering.method=cfl
echo "device_time: all passed (${SECONDS} s)"
