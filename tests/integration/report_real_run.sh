#!/usr/bin/env bash
# The report of a real small run (not a fixture): every value the run wrote to metrics.jsonl,
# summary.json's final results and each cluster's members, server and accuracy are in the
# report's data, and metrics.csv has a row per round with the writer's columns.
# Usage: report_real_run.sh path/to/flotilla   (run from the source dir; needs data/mnist and python3)
set -euo pipefail
bin=$(realpath "$1")
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)

"$bin" run data.train_limit=1200 clients=4 rounds.initial=1 rounds.cluster=2 clustering.k=2 output.progress=off \
  output.run_dir="$work/run" > "$work/run.log" 2>&1 || { cat "$work/run.log"; die "the run failed"; }
"$bin" report "$work/run" --out "$work/report.html" > /dev/null
python3 "$here/report_check.py" values "$work/run" "$work/report.html"
rows=$(($(wc -l < "$work/run/metrics.csv") - 1))
[ "$rows" -eq "$(wc -l < "$work/run/metrics.jsonl")" ] || die "metrics.csv has $rows rows for $(wc -l < "$work/run/metrics.jsonl") rounds"
pass "the report of a real run holds every value the run wrote"
