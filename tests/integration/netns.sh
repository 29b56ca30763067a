#!/usr/bin/env bash
# Two nodes on their own network hosts (network namespaces on a private bridge made here, torn
# down after): a cluster server and its members on different hosts talk over a direct
# node-to-node link, not through the coordinator, and the result equals the threaded run.
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
  ip netns exec "$tag-$n" "$bin" node --port 4242 --bind "${net}$i" > "$work/$n.log" 2>&1 &
  pids+=($!)
  i=$((i + 1))
done
for _ in $(seq 100); do
  grep -q listening "$work/a.log" && grep -q listening "$work/b.log" && break
  sleep 0.1
done

common=(data.train_limit=12000 clients=6 rounds.initial=1 rounds.cluster=3 clustering.k=2 output.progress=off
        output.save_models=false)
"$bin" run "${common[@]}" output.run_dir="$work/threaded" > /dev/null
"$bin" run "${common[@]}" runtime.nodes="${net}2:4242,${net}3:4242" output.run_dir="$work/hosts" \
  > "$work/hosts.log" 2>&1 &
run=$!
# While it runs: a connection between the two hosts that is not the coordinator's (an accepted
# one shows as an IPv4-mapped IPv6 address, [::ffff:a.b.c.d]:port).
peer_b="${net//./\\.}3]?:"
direct=""
while kill -0 "$run" 2>/dev/null; do
  direct=$(ip netns exec "$tag-a" ss -tnH 2>/dev/null | awk '{print $4, $5}' | grep -E "$peer_b" || true)
  [ -n "$direct" ] && break
  sleep 0.2
done
wait "$run" || { cat "$work/hosts.log"; fail "the run across two hosts failed"; }
[ -n "$direct" ] || direct=$(ip netns exec "$tag-a" ss -tnH 2>/dev/null | awk '{print $4, $5}' | grep -E "$peer_b" || true)
if [ -z "$direct" ]; then
  echo "connections on host a:"; ip netns exec "$tag-a" ss -tnaH
  echo "connections on host b:"; ip netns exec "$tag-b" ss -tnaH
  grep -E "cluster|round" "$work/hosts.log" | head; cat "$work/hosts/clusters.json" | tr -d ' \n' | grep -o '"members":\[[^]]*\],"server":[0-9]*'
fi
[ -n "$direct" ] || fail "no direct link between the two node hosts: node-to-node traffic went through the coordinator"
echo "direct node-to-node link: $direct"
sha() { grep '"global_model_sha256"' "$1/summary.json"; }
[ "$(sha "$work/threaded")" = "$(sha "$work/hosts")" ] || fail "the two-host run differs from the threaded run"
echo "netns: same model as the threaded run, members reached their server directly"
