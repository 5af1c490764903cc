#!/usr/bin/env bash
# Runs the libFuzzer targets of a -DOCTET_FUZZ=ON build (docs/fuzzing.md).
#
#   tests/fuzz/run.sh BUILD_DIR [--time SECONDS] [--jobs N] [--skip-regressions] [TARGET...]
#
# TARGET: model_format, onnx_import, npy, image, calibration_table, tokenizer, idx
# (default: all), each for SECONDS (default 60), N at a time (default 2). Seeds are generated into
# BUILD_DIR/fuzz-seeds; what a run finds worth keeping goes to
# BUILD_DIR/fuzz-corpus/TARGET (kept between runs), crashes to
# BUILD_DIR/fuzz-artifacts/TARGET, logs to BUILD_DIR/fuzz-logs/TARGET.log.
# The starting corpus includes tests/fuzz/regressions/TARGET, so an unfixed
# regression fails at once; --skip-regressions leaves it out, to explore past
# a known bug. Exits 1 if any target reported a crash, leak, timeout (> 1 s
# for one input) or out-of-memory (> 2 GiB), printing the crashing input's
# path, or executed no input at all.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:?usage: tests/fuzz/run.sh BUILD_DIR [--time SECONDS] [--jobs N] [--skip-regressions] [TARGET...]}"
shift
build="$(cd "$build" && pwd)"
seconds=60
jobs=2
regressions=1
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --time) seconds="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --skip-regressions) regressions=0; shift ;;
    model_format|onnx_import|npy|image|calibration_table|tokenizer|idx) targets+=("$1"); shift ;;
    *) echo "tests/fuzz/run.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(model_format onnx_import npy image calibration_table tokenizer idx)

for t in "${targets[@]}"; do
  if [ ! -x "$build/tests/fuzz/fuzz_$t" ]; then
    echo "tests/fuzz/run.sh: $build/tests/fuzz/fuzz_$t is missing (configure with -DOCTET_FUZZ=ON and build it)" >&2
    exit 2
  fi
done

# Seeds: made fresh each run (small, a few seconds).
seeds="$build/fuzz-seeds"
rm -rf "$seeds"
"$build/tests/fuzz/fuzz_seeds" "$seeds"
py=/usr/bin/python3
if [ -x "$py" ]; then
  "$py" "$here/npy_seeds.py" "$seeds/npy" || [ $? -eq 77 ]
  "$py" "$here/torch_seed.py" "$seeds/onnx_import" || [ $? -eq 77 ]
fi

# ASan's and UBSan's reports are fatal and symbolized; leaks are reported at exit.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

run_target() {
  local t="$1"
  local corpus="$build/fuzz-corpus/$t" artifacts="$build/fuzz-artifacts/$t/"
  mkdir -p "$corpus" "$artifacts"
  local dirs=("$corpus" "$seeds/$t")
  [ -d "$here/seeds/$t" ] && dirs+=("$here/seeds/$t")
  [ "$regressions" = 1 ] && [ -d "$here/regressions/$t" ] && dirs+=("$here/regressions/$t")
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -malloc_limit_mb=2048 -timeout=1 -print_final_stats=1 -dict="$here/$t.dict" \
    -artifact_prefix="$artifacts" "${dirs[@]}" >"$build/fuzz-logs/$t.log" 2>&1 &&
    echo 0 >"$build/fuzz-logs/$t.status" || echo $? >"$build/fuzz-logs/$t.status"
}

rm -rf "$build/fuzz-artifacts" "$build/fuzz-logs"
mkdir -p "$build/fuzz-logs"
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  echo "fuzz_$t: ${seconds} s (log: $build/fuzz-logs/$t.log)"
  run_target "$t" &
  running=$((running + 1))
done
wait

# One verdict line per target: "fuzz_TARGET: ok: ..." or "fuzz_TARGET: FAILED: why"
# (tools/test.sh counts them). A target that executed no input fails too: it
# tested nothing.
failed=0
for t in "${targets[@]}"; do
  status=$(cat "$build/fuzz-logs/$t.status" 2>/dev/null || echo "no status")
  log="$build/fuzz-logs/$t.log"
  # (A target that failed on its starting corpus has none of these lines.)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1) || true
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1) || true
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1) || true
  stats="exit $status, ${execs:-?} inputs, ${speed:-?} execs/s, ${cov:-no coverage line}"
  crashes=$(find "$build/fuzz-artifacts/$t" -type f 2>/dev/null | sort)
  if [ "$status" != 0 ] || [ -n "$crashes" ]; then
    failed=1
    echo "fuzz_$t: FAILED: $stats; the end of its log:"
    grep -E '^(==[0-9]+== ?ERROR|SUMMARY|.*runtime error|.*deadly signal|.*Test unit written)' "$log" |
      head -20 | sed 's/^/  /' || true
    for c in $crashes; do
      echo "  crashing input: $c"
      echo "  reproduce: $build/tests/fuzz/fuzz_$t $c"
    done
  elif [ "${execs:-0}" -le 0 ]; then
    failed=1
    echo "fuzz_$t: FAILED: it executed no input ($stats; log: $log)"
  else
    echo "fuzz_$t: ok: $stats"
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "tests/fuzz/run.sh: a fuzz target failed (keep a crashing input in tests/fuzz/regressions/TARGET/: docs/fuzzing.md)"
  exit 1
fi
echo "tests/fuzz/run.sh: ${targets[*]}: no crash in ${seconds} s each"
