#!/usr/bin/env bash
# The whole model zoo (tools/export/zoo_list.py), every model at opsets 17 and
# 13, through CTest's `zoo` label: export from torch (seeded weights, into
# BUILD_DIR/zoo-ref), fp32 parity with torch, int8 on real CIFAR-10 images
# from ../shared; then the table of what each gave
# (tests/python/zoo_check.py summary). tools/test.sh runs only CI's share,
# label zoo-ci.
# Usage: tools/zoo.sh [BUILD_DIR] [ctest options, e.g. -R efficientnet]
#   (default build-zoo; takes hours on 2 cores and ~10 GB of exports)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-zoo}
shift || true
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DOCTET_ZOO_ALL=ON
cmake --build "$build" -j"$(nproc)" --target octet_cli
status=0
# One test at a time: the exports hold a lock anyway, and two int8 runs of
# large models at once would only compete for the same cores.
ctest --test-dir "$build" -L zoo --output-on-failure "$@" || status=$?
/usr/bin/python3 tests/python/zoo_check.py summary --ref "$build/zoo-ref"
exit "$status"
