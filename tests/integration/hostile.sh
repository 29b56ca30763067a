#!/usr/bin/env bash
# Hostile peers against a live `flotilla node` on 127.0.0.1 (tests/integration/hostile_peer.py
# speaks the BASP): oversized and out-of-order headers, garbage, an empty handshake,
# slowloris, 200 idle connections; then the node's memory and descriptors must be back where
# they were and it must still serve a run with the threaded run's model. After a valid
# handshake: length claims, a flood of empty strings, messages nested in messages (each on a
# node of its own: the node must survive them in bounded memory). TLS: plain, certificate-less
# and wrong-CA clients refused, idle TLS connections closed.
# Every check runs; the script lists the failures and exits 1 if there are any.
# Usage: hostile.sh path/to/flotilla   (run from the source dir; needs data/mnist, python3)
set -uo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
peer=(python3 "$here/hostile_peer.py")
source "$here/lib.sh"
fail() { echo "FAIL: $*"; failures+=("$*"); }
alive() { kill -0 "$1" 2>/dev/null; }
field() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("null" if v is None else v)' "$1" "$2"; }
# closed_within JSON SECONDS: the node closed the connection, within SECONDS
closed_within() {
  local t
  t=$(field "$1" closed_after_s)
  [ "$t" != null ] && awk -v t="$t" -v s="$2" 'BEGIN {exit !(t <= s)}'
}

echo "== a plain node: frames before any handshake"
start_node main; node=$pid; nport=$port
sleep 1
rss0=$(kib "$node" VmRSS); hwm0=$(kib "$node" VmHWM); fd0=$(fds "$node")
echo "node pid $node port $nport: VmRSS $rss0 kB, VmHWM $hwm0 kB, $fd0 fds"
# An authenticated peer that then says nothing: CAF's connection timeout (30 s) must end it.
"${peer[@]}" handshake-idle 127.0.0.1 "$nport" 45 > "$work/auth-idle.json" 2>&1 &
auth_idle=$!
for mode in huge-header direct-first garbage empty-handshake; do
  out=$("${peer[@]}" "$mode" 127.0.0.1 "$nport" 2>&1)
  if closed_within "$out" 1; then pass "$mode: closed at once ($out)"; else fail "$mode: not closed within 1 s: $out"; fi
done
out=$("${peer[@]}" slowloris 127.0.0.1 "$nport" 2>&1)
if closed_within "$out" 7; then pass "slowloris: closed by the handshake deadline ($out)"; else fail "slowloris: $out"; fi

echo "== 200 idle connections"
"${peer[@]}" idle 127.0.0.1 "$nport" 200 > "$work/idle.json" 2>&1 &
idle=$!
sleep 1.5
fd_busy=$(fds "$node")
wait "$idle"
out=$(cat "$work/idle.json")
if [ "$(field "$out" still_open_after_20s)" = 0 ] && awk -v t="$(field "$out" last_closed_s)" 'BEGIN {exit !(t <= 8)}'; then
  pass "200 idle connections all closed, the last after $(field "$out" last_closed_s) s (node fds while they were open: $fd_busy)"
else
  fail "idle connections: $out"
fi
sleep 1
rss1=$(kib "$node" VmRSS); hwm1=$(kib "$node" VmHWM); fd1=$(fds "$node")
echo "after the frames: VmRSS $rss1 kB (+$(( (rss1 - rss0) / 1024 )) MiB), VmHWM $hwm1 kB, $fd1 fds (auth-idle peer holds 1-2)"
[ $(( rss1 - rss0 )) -lt 65536 ] && pass "RSS grew by less than 64 MiB" || fail "RSS grew by $(( (rss1 - rss0) / 1024 )) MiB"
[ $(( hwm1 - hwm0 )) -lt 65536 ] && pass "peak RSS grew by less than 64 MiB" || fail "peak RSS grew by $(( (hwm1 - hwm0) / 1024 )) MiB"
[ "$fd1" -le $(( fd0 + 3 )) ] && pass "descriptors back to $fd1 (from $fd0)" || fail "descriptors: $fd0 before, $fd1 after"

echo "== the node still serves a run, with the threaded run's model"
run=(data.train_limit=3000 clients=4 rounds.initial=1 rounds.cluster=1 clustering.k=2 output.progress=off
     output.save_models=false)
"$bin" run "${run[@]}" output.run_dir="$work/threaded" > "$work/threaded.log" 2>&1 || fail "threaded run failed"
if timeout 180 "$bin" run "${run[@]}" runtime.nodes=127.0.0.1:$nport output.run_dir="$work/node-run" \
     > "$work/node-run.log" 2>&1; then
  [ -n "$(sha "$work/threaded")" ] && [ "$(sha "$work/threaded")" = "$(sha "$work/node-run")" ] \
    && pass "run on the node after the attacks: same global_model_sha256 $(sha "$work/node-run" | head -c 16)..." \
    || fail "the node's run differs: threaded $(sha "$work/threaded") vs node $(sha "$work/node-run")"
else
  fail "the run on the node failed after the attacks: $(tail -c 400 "$work/node-run.log")"
fi

echo "== after a valid handshake (each attack on a node of its own)"
# post_handshake NAME MODE ARG: starts a node, attacks it; reports peak RSS growth, survival
# and the size of its log.
post_handshake() {
  local name=$1 mode=$2 arg=$3 out h0 h1 logsize
  start_node "$name"
  sleep 0.5
  h0=$(kib "$pid" VmHWM)
  out=$("${peer[@]}" "$mode" 127.0.0.1 "$port" "$arg" 2>&1 | head -c 400)
  sleep 2
  h1=$(kib "$pid" VmHWM)
  logsize=$(stat -c %s "$work/$name.log")
  if ! alive "$pid"; then
    wait "$pid"; local status=$?
    fail "$mode $arg: the node died (exit status $status; 139 = SIGSEGV) [$out]"
    return
  fi
  [ $(( h1 - h0 )) -lt 65536 ] && pass "$mode $arg: peak RSS +$(( (h1 - h0) / 1024 )) MiB" \
    || fail "$mode $arg: peak RSS grew by $(( (h1 - h0) / 1024 )) MiB for one message [$out]"
  [ "$logsize" -lt 100000 ] && pass "$mode $arg: node log $logsize bytes" \
    || fail "$mode $arg: one message made the node write $logsize bytes of log (the whole message, printed)"
  kill "$pid" 2>/dev/null
}
post_handshake claim charbuf $((1 << 30))     # a std::vector<char> claiming 1 GiB, in a 40-byte message
post_handshake strings strvec $((1 << 22))    # 4 MiB of empty strings: 4M std::strings
post_handshake nested nested 200000           # 3 MB: a message nested 200,000 deep

wait "$auth_idle"
out=$(cat "$work/auth-idle.json")
if closed_within "$out" 40; then pass "an authenticated peer that stays silent is dropped ($out)"
else fail "an authenticated silent peer is still connected after 45 s: $out"; fi

echo "== TLS"
certs=$work/certs
bash scripts/make-certs.sh "$certs" coordinator node > /dev/null
bash scripts/make-certs.sh "$work/rogue" coordinator > /dev/null
start_node tls --tls-cert "$certs/node.pem" --tls-key "$certs/node.key" --tls-ca "$certs/ca.pem"; tnode=$pid; tport=$port
sleep 0.5
tfd0=$(fds "$tnode"); trss0=$(kib "$tnode" VmRSS)
out=$("${peer[@]}" handshake-idle 127.0.0.1 "$tport" 3 2>&1 | tail -1)
case "$out" in
  *published_actor*) fail "a plain BASP client got a server handshake from the TLS node: $out" ;;
  *) pass "plain client refused by the TLS node: $(echo "$out" | tail -c 120)" ;;
esac
out=$("${peer[@]}" tls-handshake 127.0.0.1 "$tport" --ca "$certs/ca.pem" 2>&1 | tail -1)
case "$out" in *'"basp": "ok"'*) fail "a client without a certificate got through: $out" ;;
  *) pass "client without a certificate refused: $out" ;; esac
out=$("${peer[@]}" tls-handshake 127.0.0.1 "$tport" --ca "$certs/ca.pem" --cert "$work/rogue/coordinator.pem" \
      --key "$work/rogue/coordinator.key" 2>&1 | tail -1)
case "$out" in *'"basp": "ok"'*) fail "a client with another CA's certificate got through: $out" ;;
  *) pass "client with another CA's certificate refused: $out" ;; esac
out=$("${peer[@]}" tls-handshake 127.0.0.1 "$tport" --ca "$certs/ca.pem" --cert "$certs/coordinator.pem" \
      --key "$certs/coordinator.key" 2>&1 | tail -1)
case "$out" in *'"basp": "ok"'*) pass "the deployment's client certificate is accepted: $out" ;;
  *) fail "a client with the deployment's certificate was refused: $out" ;; esac
out=$("${peer[@]}" tls-idle 127.0.0.1 "$tport" --ca "$certs/ca.pem" --cert "$certs/coordinator.pem" \
      --key "$certs/coordinator.key" 2>&1 | tail -1)
if closed_within "$out" 7; then pass "TLS done, then silence: closed by the handshake deadline ($out)"
else fail "an idle TLS connection stayed open: $out"; fi
out=$("${peer[@]}" idle 127.0.0.1 "$tport" 50 2>&1)
if [ "$(field "$out" still_open_after_20s)" = 0 ]; then pass "50 idle TCP connections to the TLS port closed ($out)"
else fail "idle TCP connections to the TLS port: $out"; fi
sleep 1
tfd1=$(fds "$tnode"); trss1=$(kib "$tnode" VmRSS)
[ "$tfd1" -le $(( tfd0 + 2 )) ] && pass "TLS node descriptors back to $tfd1 (from $tfd0)" || fail "TLS node fds $tfd0 -> $tfd1"
[ $(( trss1 - trss0 )) -lt 65536 ] && pass "TLS node RSS +$(( (trss1 - trss0) / 1024 )) MiB" \
  || fail "TLS node RSS grew by $(( (trss1 - trss0) / 1024 )) MiB"
alive "$tnode" || fail "the TLS node died"

echo
if [ ${#failures[@]} -gt 0 ]; then
  echo "hostile: ${#failures[@]} check(s) failed:"
  for f in "${failures[@]}"; do echo "  - $f"; done
  exit 1
fi
echo "hostile: all checks passed"
