#!/usr/bin/env bash
# Builds octet and runs every test: the Release build's full CTest suite (with
# tools/check_deps.py: tools/setup.sh installs all that the build and the tests
# use), then the C++ suite again under AddressSanitizer + UndefinedBehaviorSanitizer,
# a leak check, the concurrency tests under ThreadSanitizer, then the libFuzzer
# targets (clang-14, tests/fuzz) for 30 s each.
# Ends with one line "N passed, N failed, N skipped" over all of them (CTest
# tests, leak-checked models, the TSan binary, fuzz targets), then the skipped
# tests with their reasons, then each stage's time. A failed test does not stop
# the later stages; a failed build does. With CI=true (.ci/run), where ../shared,
# torch, npm and chromium are all present, a skipped test fails the run.
# Usage: tools/test.sh [--no-sanitizers] [--no-fuzz]
set -euo pipefail
cd "$(dirname "$0")/.."
sanitizers=1
fuzz=1
for arg in "$@"; do
  case "$arg" in
    --no-sanitizers) sanitizers=0 ;;
    --no-fuzz) fuzz=0 ;;
    *) echo "usage: tools/test.sh [--no-sanitizers] [--no-fuzz]" >&2; exit 2 ;;
  esac
done

passed=0 failed=0 skipped=0
failures=() skips=() times=()
stage="set-up"
record() {  # stage status name [reason]
  case "$2" in
    passed) passed=$((passed + 1)) ;;
    failed) failed=$((failed + 1)); failures+=("$1: $3${4:+: $4}") ;;
    skipped) skipped=$((skipped + 1)); skips+=("$1: $3: ${4:-no reason given}") ;;
  esac
}
timed() {  # label command...: runs it, notes its time; its exit status is returned
  local start=$SECONDS status=0
  "${@:2}" || status=$?
  times+=("$(printf '%-22s %5d s' "$1" $((SECONDS - start)))")
  return "$status"
}
# CTest's results, one per test, from its JUnit file (tools/ctest_results.py).
ctest_stage() {  # stage build-dir ctest-args...
  local junit="$PWD/$2/Testing/results.xml" status tname reason
  stage=$1
  rm -f "$junit"
  timed "$1" ctest --test-dir "$2" --output-on-failure -j"$jobs" --output-junit "$junit" "${@:3}" ||
    true
  if [ ! -f "$junit" ]; then
    record "$1" failed ctest "it wrote no results"
    return
  fi
  local results
  if ! results=$(/usr/bin/python3 tools/ctest_results.py "$junit"); then
    record "$1" failed ctest "tools/ctest_results.py could not read $junit"
    return
  fi
  while IFS=$'\t' read -r status tname reason; do
    [ -z "$status" ] || record "$1" "$status" "$tname" "$reason"
  done <<<"$results"
}
summary() {
  local status=$1
  trap - EXIT
  if [ "$stage" != end ]; then
    record "$stage" failed "stopped the run" "exit $status"
  fi
  echo
  echo "== tools/test.sh: summary"
  [ ${#failures[@]} -eq 0 ] || printf '  failed: %s\n' "${failures[@]}"
  local verdict=0
  if [ "$failed" -gt 0 ]; then
    verdict=1
  elif [ "$skipped" -gt 0 ] && [ "${CI:-}" = true ]; then
    echo "tools/test.sh: CI=true: every test must run here, and $skipped did not"
    verdict=1
  fi
  echo "$passed passed, $failed failed, $skipped skipped"
  [ ${#skips[@]} -eq 0 ] || printf '  skipped: %s\n' "${skips[@]}"
  [ ${#times[@]} -eq 0 ] || printf '  %s\n' "${times[@]}"
  exit "$verdict"
}
trap 'summary $?' EXIT

tools/setup.sh test
jobs=$(nproc)

stage="Release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
timed "Release build" cmake --build build -j"$jobs"
# The model zoo's tests labelled zoo take tens of minutes (torch exports of
# torchvision nets): CI runs only its share, labelled zoo-ci
# (tests/python/zoo_check.py); tools/zoo.sh runs them all.
ctest_stage "Release ctest" build -LE '^zoo$'

if [ "$sanitizers" = 1 ]; then
  # -O1 -g1 without NDEBUG: line numbers in every report, and asserts on,
  # which this build is for too.
  stage="sanitizer build"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DOCTET_SANITIZE=address,undefined
  timed "sanitizer build" cmake --build build-asan -j"$jobs"
  # The torch-parity tests and the "(large)" cases exercise the same code on
  # huge models, and atomic_write_kill kills processes on purpose; under the
  # sanitizers they would dominate the run without covering anything new
  # (nor does the package check, which looks at what the build used). The
  # sanitized build makes no Python module (OCTET_PYTHON is off there: python3
  # would need the sanitizer runtime preloaded), so label python is left out.
  ctest_stage "sanitizer ctest" build-asan -LE 'large|install|deps|python' -E '\(large\)|atomic_write_kill'
  # ResNet-50 and BERT-base once each, fp32 and int8 (ranges calibrated on the
  # fly), under LeakSanitizer (on with ASan): a leak fails the run.
  leak_check() {
    mkdir -p build-asan/leak-check
    for model in resnet50 bert-base; do
      if build-asan/apps/octet zoo "$model" -o "build-asan/leak-check/$model" >/dev/null &&
        ASAN_OPTIONS=detect_leaks=1 build-asan/apps/octet bench "build-asan/leak-check/$model" \
          --compare --iterations 1 --warmup 0 --seq 32 >/dev/null; then
        record "leak check" passed "$model"
      else
        record "leak check" failed "$model" "octet zoo/bench under LeakSanitizer failed"
      fi
    done
  }
  stage="leak check"
  timed "leak check" leak_check
  # ThreadSanitizer on the concurrency tests (8 threads sharing one Model,
  # concurrent prepares), built alone: the library and that one test file.
  stage="TSan build"
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DOCTET_SANITIZE=thread
  timed "TSan build" cmake --build build-tsan -j"$jobs" --target octet_concurrency_tests
  tsan_run() {
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" build-tsan/tests/octet_concurrency_tests 2>&1 |
      tee build-tsan/tsan.log
    return "${PIPESTATUS[0]}"
  }
  stage="TSan run"
  tsan_status=0
  timed "TSan run" tsan_run || tsan_status=$?
  case "$tsan_status" in
    0) record "TSan" passed octet_concurrency_tests ;;
    77) record "TSan" skipped octet_concurrency_tests "$(grep -m1 '^skipped:' build-tsan/tsan.log)" ;;
    *) record "TSan" failed octet_concurrency_tests "exit $tsan_status" ;;
  esac
fi

if [ "$fuzz" = 1 ]; then
  # The whole library with clang-14, ASan, UBSan and coverage instrumentation
  # (-O1 like the sanitizer build: CI's 45 minutes); each target runs 30 s,
  # two at a time. A crash, leak, hang (> 1 s for one
  # input), out-of-memory (> 2 GiB) or a run of no input fails, printing why.
  stage="fuzz build"
  cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DCMAKE_CXX_COMPILER=clang++-14 -DOCTET_FUZZ=ON -DOCTET_BUILD_TESTS=OFF -DOCTET_BUILD_APPS=OFF
  timed "fuzz build" cmake --build build-fuzz -j"$jobs" --target fuzz_model_format fuzz_onnx_import \
    fuzz_npy fuzz_image fuzz_calibration_table fuzz_tokenizer fuzz_idx fuzz_seeds
  fuzz_run() { tests/fuzz/run.sh build-fuzz --time 30 --jobs 2 2>&1 | tee build-fuzz/fuzz-run.log; }
  stage="fuzz run"
  timed "fuzz run" fuzz_run || true
  # run.sh ends with one verdict line per target: "fuzz_TARGET: ok, ..." or "fuzz_TARGET: FAILED: ...".
  verdicts=$(grep -E '^fuzz_[a-z_]+: (ok|FAILED)' build-fuzz/fuzz-run.log || true)
  if [ -z "$verdicts" ]; then
    record "fuzz" failed "tests/fuzz/run.sh" "no verdict (build-fuzz/fuzz-run.log)"
  fi
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    case "$line" in
      *": ok"*) record "fuzz" passed "${line%%:*}" ;;
      *) record "fuzz" failed "${line%%:*}" "${line#*FAILED: }" ;;
    esac
  done <<<"$verdicts"
fi
stage="end"
