#!/usr/bin/env bash
# The report in a real browser (headless Debian Chromium): it renders without a single console
# message (no script error, no refused fetch), every chart id is drawn in the DOM after the
# scripts ran, and a screenshot is not blank. First it proves that these checks catch a broken
# page: an uncaught error, a chart whose drawer throws, and a reference to another file.
#
# usage: report_browser.sh [--run-dir DIR] [--screenshot FILE] [--window WxH] REPORT_COMMAND...
#   REPORT_COMMAND  what runs `flotilla report`: "build/flotilla report", or build/tests/report_tool
#   --run-dir DIR   report on this run directory (default: a synthetic run with every field)
#   --screenshot F  keep the screenshot as F (docs/report.png); --window WxH sets its size, and
#                   --window full the whole page at 1280 pixels wide
# Exits 77 (ctest: skipped) when /usr/bin/chromium (or $CHROMIUM) is missing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
check="python3 $here/report_check.py"
chromium=${CHROMIUM:-/usr/bin/chromium}
run_dir="" screenshot="" window="1280,1600"
while [[ $# -gt 0 ]]; do
  case $1 in
    --run-dir) run_dir=$2; shift 2 ;;
    --screenshot) screenshot=$2; shift 2 ;;
    --window) window=${2/x/,}; shift 2 ;;
    *) break ;;
  esac
done
if [[ $# -eq 0 ]]; then
  echo "usage: $0 [--run-dir DIR] [--screenshot FILE] [--window WxH] REPORT_COMMAND..." >&2
  exit 2
fi
if [[ ! -x $chromium ]]; then
  echo "SKIP: $chromium not found; install it (apt-get install -y chromium) or set CHROMIUM=/path/to/chromium"
  exit 77
fi
command -v python3 > /dev/null || { echo "FAIL: python3 is needed for the checks" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ids=(chart-accuracy chart-simtime chart-devices chart-staleness chart-loss chart-clients table-contingency chart-pca table-selection chart-timeline
     table-run table-config)

# One headless page load with a fresh profile; stderr carries the page's console messages.
browse() {
  local profile
  profile=$(mktemp -d "$work/profile.XXXXXX")
  timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$profile" \
    --enable-logging=stderr --v=0 --virtual-time-budget=5000 --hide-scrollbars "$@"
}

# render PAGE NAME: the DOM after the scripts ran in NAME.dom, the log in NAME.log.
render() {
  browse --window-size=1280,1600 --dump-dom "file://$1" > "$work/$2.dom" 2> "$work/$2.log"
}

# must_fail WHAT COMMAND...: a check that has to reject a page we broke on purpose.
must_fail() {
  local what=$1
  shift
  if "$@" 2> /dev/null; then
    echo "FAIL: the checks missed $what" >&2
    exit 1
  fi
  echo "ok: caught $what"
}

if [[ -z $run_dir ]]; then
  run_dir=$work/run
  $check sample "$run_dir"
fi
"$@" "$run_dir" --out "$work/report.html" > /dev/null

# --- The checks catch broken pages ---------------------------------------------------------
cat > "$work/uncaught.html" << 'EOF'
<!DOCTYPE html><html data-report-status="ok"><body><div id="x" data-rendered="yes"><p>x</p></div>
<script>setTimeout(function () { undefinedFunction(); }, 100);</script></body></html>
EOF
render "$work/uncaught.html" uncaught
must_fail "an uncaught error thrown after load" $check console "$work/uncaught.log"

sed 's/function drawPca(el, run) {/function drawPca(el, run) { null.deliberate;/' "$work/report.html" \
  > "$work/throwing.html"
grep -q 'null.deliberate' "$work/throwing.html" || { echo "FAIL: could not break drawPca" >&2; exit 1; }
render "$work/throwing.html" throwing
must_fail "a chart whose drawer throws (console)" $check console "$work/throwing.log"
must_fail "a chart whose drawer throws (DOM)" $check dom "$work/throwing.dom" "${ids[@]}"

sed 's|<main>|<main><img alt="" src="elsewhere.png">|' "$work/report.html" > "$work/fetching.html"
render "$work/fetching.html" fetching
must_fail "a reference to another file" $check console "$work/fetching.log"

# --- The report itself ---------------------------------------------------------------------
start=$(date +%s.%N)
render "$work/report.html" report
end=$(date +%s.%N)
$check console "$work/report.log"
$check dom "$work/report.dom" "${ids[@]}"
size=$(stat -c %s "$work/report.html")
render_ms=$(grep -o 'data-render-ms="[0-9.]*"' "$work/report.dom" | head -1 | grep -o '[0-9.]*' || true)
printf 'ok: report.html (%s KiB) rendered in %.1f s by headless Chromium (scripts: %s ms), every chart drawn\n' \
  "$((size / 1024))" "$(awk "BEGIN { print $end - $start }")" "${render_ms:-?}"

if [[ $window == full ]]; then
  height=$(grep -o 'data-page-height="[0-9]*"' "$work/report.dom" | head -1 | grep -o '[0-9]*')
  window="1280,${height:-1600}"
fi
browse --window-size="$window" --screenshot="$work/report.png" "file://$work/report.html" 2> "$work/shot.log"
$check png "$work/report.png"
if [[ -n $screenshot ]]; then
  cp "$work/report.png" "$screenshot"
  echo "ok: screenshot kept as $screenshot"
fi

# --- Several runs side by side -------------------------------------------------------------
cp -r "$run_dir" "$work/second"
"$@" "$run_dir" "$work/second" --out "$work/compare.html" > /dev/null
render "$work/compare.html" compare
$check console "$work/compare.log"
compare_ids=(table-comparison chart-comparison)
for id in "${ids[@]}"; do compare_ids+=("$id-0" "$id-1"); done
$check dom "$work/compare.dom" "${compare_ids[@]}"
echo "ok: a comparison of two runs renders, every chart drawn"
