#!/usr/bin/env bash
# Builds octet and runs every test: the Release build's full CTest suite, then
# the C++ suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
# Usage: tools/test.sh [--no-sanitizers]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh test
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

if [ "${1:-}" != "--no-sanitizers" ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOCTET_SANITIZE=address,undefined
  cmake --build build-asan -j"$jobs"
  # The torch-parity tests exercise the same code on huge models; under the
  # sanitizers they would dominate the run without covering anything new.
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -LE 'large|install'
fi
echo "tools/test.sh: all tests passed"
