# Sourced by bench/dp_table.sh and bench/dp_adaptive.sh: one NAME args... runs "$bin" run with
# the caller's "${common[@]}" and args into $work/NAME, and records its wall seconds
# ($work/NAME.wall) and command line ($work/NAME.cmd); a failed run ends the bench.
one() {
  local name=$1
  shift
  local start end
  start=$(date +%s.%N)
  "$bin" run "${common[@]}" "$@" output.run_dir="$work/$name" > "$work/$name.log" 2>&1 \
    || { tail -20 "$work/$name.log" >&2; echo "FAIL: $name" >&2; exit 1; }
  end=$(date +%s.%N)
  python3 -c "print(round($end - $start, 1))" > "$work/$name.wall"
  echo "$bin run ${common[*]} $* output.run_dir=RUN_DIR" > "$work/$name.cmd"
  echo "$name: $(cat "$work/$name.wall") s wall" >&2
}
