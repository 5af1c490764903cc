#!/usr/bin/env bash
# Builds octet and runs every test: the Release build's full CTest suite, then
# the C++ suite again under AddressSanitizer + UndefinedBehaviorSanitizer, a
# leak check, the concurrency tests under ThreadSanitizer, then the libFuzzer
# targets (clang-14, tests/fuzz) for 60 s each.
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
tools/setup.sh test
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
stage_start=$(date +%s)
cmake --build build -j"$jobs"
echo "tools/test.sh: Release build took $(($(date +%s) - stage_start)) s"
ctest --test-dir build --output-on-failure -j"$jobs"

if [ "$sanitizers" = 1 ]; then
  # -O1 -g1 without NDEBUG: line numbers in every report, and asserts on,
  # which this build is for too.
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DOCTET_SANITIZE=address,undefined
  stage_start=$(date +%s)
  cmake --build build-asan -j"$jobs"
  echo "tools/test.sh: sanitizer build took $(($(date +%s) - stage_start)) s"
  # The torch-parity tests and the "(large)" cases exercise the same code on
  # huge models, and atomic_write_kill kills processes on purpose; under the
  # sanitizers they would dominate the run without covering anything new.
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -LE 'large|install' \
    -E '\(large\)|atomic_write_kill'
  # ResNet-50 and BERT-base once each, fp32 and int8 (ranges calibrated on the
  # fly), under LeakSanitizer (on with ASan): a leak fails the run.
  stage_start=$(date +%s)
  mkdir -p build-asan/leak-check
  for model in resnet50 bert-base; do
    build-asan/apps/octet zoo "$model" -o "build-asan/leak-check/$model" >/dev/null
    ASAN_OPTIONS=detect_leaks=1 build-asan/apps/octet bench "build-asan/leak-check/$model" \
      --compare --iterations 1 --warmup 0 --seq 32 >/dev/null
  done
  echo "tools/test.sh: leak check of resnet50 and bert-base took $(($(date +%s) - stage_start)) s"
  # ThreadSanitizer on the concurrency tests (8 threads sharing one Model,
  # concurrent prepares), built alone: the library and that one test file.
  stage_start=$(date +%s)
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DOCTET_SANITIZE=thread
  cmake --build build-tsan -j"$jobs" --target octet_concurrency_tests
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" build-tsan/tests/octet_concurrency_tests
  echo "tools/test.sh: ThreadSanitizer stage took $(($(date +%s) - stage_start)) s"
fi

if [ "$fuzz" = 1 ]; then
  # The whole library with clang-14, ASan, UBSan and coverage instrumentation;
  # each target runs 60 s, two at a time. A crash, leak, hang (> 1 s for one
  # input) or out-of-memory (> 2 GiB) fails, printing the input's path.
  fuzz_start=$(date +%s)
  cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
    -DOCTET_FUZZ=ON -DOCTET_BUILD_TESTS=OFF -DOCTET_BUILD_APPS=OFF
  cmake --build build-fuzz -j"$jobs" --target fuzz_model_format fuzz_onnx_import fuzz_npy fuzz_image \
    fuzz_calibration_table fuzz_tokenizer fuzz_idx fuzz_seeds
  fuzz_status=0
  tests/fuzz/run.sh build-fuzz --time 60 --jobs 2 || fuzz_status=$?
  echo "tools/test.sh: fuzz stage took $(($(date +%s) - fuzz_start)) s"
  [ "$fuzz_status" -eq 0 ] || exit "$fuzz_status"
fi
echo "tools/test.sh: all tests passed"
