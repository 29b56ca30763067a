#!/usr/bin/env bash
# Two nodes on their own network hosts (network namespaces on a private bridge made here, torn
# down after):
#   1. plain TCP (--insecure): a cluster server and its members on different hosts talk over a
#      direct node-to-node link, and the result equals the threaded run;
#   2. mutual TLS: the coordinator's host carries O(clusters x model) bytes per cluster round with
#      direct links, against O(members x model) when node-to-node traffic is relayed through it
#      (runtime.link_nodes=false). Bytes are the bridge's counters on the coordinator's side,
#      per cluster round from runs of 2 and 4 cluster rounds.
# Needs root and iproute2; exits 77 (ctest: skipped) when network namespaces are unavailable.
# Usage: netns.sh path/to/flotilla   (run from the source dir; needs data/mnist)
set -euo pipefail
bin=$(realpath "$1")
tag=fl$$
net=10.$((($$ % 200) + 20)).$((($$ / 200) % 250)).
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for n in a b; do ip netns del "$tag-$n" 2>/dev/null || true; done
  ip link del "${tag}br" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || ! ip netns add "$tag-a" 2>/dev/null; then
  echo "netns: needs root and iproute2 (ip netns); skipped"
  exit 77
fi
ip netns add "$tag-b"
ip link add "${tag}br" type bridge
ip addr add "${net}1/24" dev "${tag}br"
ip link set "${tag}br" up
i=2
for n in a b; do
  ip link add "$tag-$n-h" type veth peer name "$tag-$n-ns"
  ip link set "$tag-$n-ns" netns "$tag-$n"
  ip link set "$tag-$n-h" master "${tag}br"
  ip link set "$tag-$n-h" up
  ip netns exec "$tag-$n" ip addr add "${net}$i/24" dev "$tag-$n-ns"
  ip netns exec "$tag-$n" ip link set "$tag-$n-ns" up
  ip netns exec "$tag-$n" ip link set lo up
  i=$((i + 1))
done

# start_nodes [flags...]: (re)starts a node on each host, port 4242.
start_nodes() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
  local i=2
  for n in a b; do
    local extra=()
    [ "$1" = tls ] && extra=(--tls-cert "$work/certs/$n.pem" --tls-key "$work/certs/$n.key" --tls-ca "$work/certs/ca.pem")
    [ "$1" = plain ] && extra=(--insecure)
    ip netns exec "$tag-$n" "$bin" node --port 4242 --bind "${net}$i" "${extra[@]}" > "$work/$n.log" 2>&1 &
    pids+=($!)
    i=$((i + 1))
  done
  for _ in $(seq 100); do
    grep -q listening "$work/a.log" && grep -q listening "$work/b.log" && return 0
    sleep 0.1
  done
  cat "$work/a.log" "$work/b.log" >&2
  fail "nodes did not start"
}

# 3,000 images: the checks are a model's hash and bytes per cluster round (a function of the model's
# size, not of the data).
common=(data.train_limit=3000 clients=6 rounds.initial=1 clustering.k=2 output.progress=off output.save_models=false)
nodes="runtime.nodes=${net}2:4242,${net}3:4242"

echo "== plain TCP (--insecure): direct link between the hosts, same model as threaded"
start_nodes plain
"$bin" run "${common[@]}" rounds.cluster=3 output.run_dir="$work/threaded" > /dev/null
"$bin" run "${common[@]}" rounds.cluster=3 "$nodes" output.run_dir="$work/hosts" > "$work/hosts.log" 2>&1 &
run=$!
# While it runs: a connection between the two hosts that is not the coordinator's.
peer_b="${net//./\\.}3]?:"
direct=""
while kill -0 "$run" 2>/dev/null; do
  direct=$(ip netns exec "$tag-a" ss -tnH 2>/dev/null | awk '{print $4, $5}' | grep -E "$peer_b" || true)
  [ -n "$direct" ] && break
  sleep 0.2
done
wait "$run" || { cat "$work/hosts.log"; fail "the run across two hosts failed"; }
[ -n "$direct" ] || fail "no direct link between the two node hosts: node-to-node traffic went through the coordinator"
grep -q "linked directly to 1 of 1 peer nodes" "$work/a.log" || fail "node a did not report its direct link"
echo "direct node-to-node link: $direct"
sha() { grep '"global_model_sha256"' "$1/summary.json"; }
[ "$(sha "$work/threaded")" = "$(sha "$work/hosts")" ] || fail "the two-host run differs from the threaded run"

echo "== mutual TLS: bytes at the coordinator's host per cluster round, relayed vs direct"
bash scripts/make-certs.sh "$work/certs" coordinator a b > /dev/null
start_nodes tls
tls=(runtime.tls.cert="$work/certs/coordinator.pem" runtime.tls.key="$work/certs/coordinator.key"
     runtime.tls.ca="$work/certs/ca.pem")
counter() { echo $(( $(cat /sys/class/net/${tag}br/statistics/rx_bytes) + $(cat /sys/class/net/${tag}br/statistics/tx_bytes) )); }
# bytes LINK ROUNDS: coordinator-side bytes of one TLS run
bytes() {
  local before after
  before=$(counter)
  "$bin" run "${common[@]}" "${tls[@]}" "$nodes" runtime.link_nodes="$1" rounds.cluster="$2" \
    output.run_dir="$work/tls-$1-$2" > "$work/tls-$1-$2.log" 2>&1 || { cat "$work/tls-$1-$2.log"; fail "TLS run failed"; }
  after=$(counter)
  echo $((after - before))
}
relayed2=$(bytes false 2); relayed4=$(bytes false 4)
direct2=$(bytes true 2); direct4=$(bytes true 4)
[ "$(sha "$work/tls-true-4")" = "$(sha "$work/tls-false-4")" ] || fail "relayed and direct TLS runs differ"
relayed=$(( (relayed4 - relayed2) / 2 ))
direct=$(( (direct4 - direct2) / 2 ))
model=$((80202 * 4))
clusters=2
echo "per cluster round at the coordinator's host (TLS, 6 clients, 2 clusters, model ${model} B):"
echo "  relayed (runtime.link_nodes=false): ${relayed} B = $(awk "BEGIN{printf \"%.1f\", $relayed / $model}") models"
echo "  direct  (runtime.link_nodes=true):  ${direct} B = $(awk "BEGIN{printf \"%.1f\", $direct / $model}") models"
# Direct: each server's round result (its cluster's model) and little else.
[ "$direct" -lt $((clusters * model * 3 / 2 + 200000)) ] || fail "direct links still carry more than O(clusters x model) per round"
[ "$relayed" -gt $((direct * 2)) ] || fail "relaying was expected to cost the coordinator's host at least twice the direct bytes"
echo "netns: same model on threads, relayed and direct; the coordinator's host carries O(clusters x model) per round"
