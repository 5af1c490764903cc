#!/usr/bin/env bash
# The main demo: builds octet, writes ResNet-50 and BERT-base (the `octet zoo`
# architectures, seeded random weights: nothing is downloaded) and benchmarks
# them, ending with a summary table.
# Usage: tools/demo.sh [--threads N]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2
[ "${1:-}" = "--threads" ] && threads="$2"
tools/setup.sh build

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
octet=build/apps/octet
models=build/demo-models
mkdir -p "$models"

echo
echo "== octet $($octet --version | head -1 | cut -d' ' -f2) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
[ -f "$models/resnet50.octet.json" ] || $octet zoo resnet50 -o "$models/resnet50"
[ -f "$models/bert-base.octet.json" ] || $octet zoo bert-base -o "$models/bert-base"

summary=()
bench() {  # label model extra-args...
  local label=$1 model=$2
  shift 2
  echo
  echo "== $label"
  $octet inspect "$models/$model" "$@" | tail -n 4
  local json
  json=$($octet bench "$models/$model" --threads "$threads" --iterations 20 --warmup 3 --json "$@")
  local median p99 tput
  median=$(echo "$json" | sed -n 's/.*"median": \([0-9.]*\).*/\1/p')
  p99=$(echo "$json" | sed -n 's/.*"p99": \([0-9.]*\).*/\1/p')
  tput=$(echo "$json" | sed -n 's/.*"throughput_per_s": \([0-9.]*\).*/\1/p')
  printf '   median %.2f ms, p99 %.2f ms, %.1f items/s\n' "$median" "$p99" "$tput"
  summary+=("$(printf '| %-34s | %10.2f | %10.2f | %9.1f |' "$label" "$median" "$p99" "$tput")")
}
bench "ResNet-50 fp32, batch 1" resnet50 --fp32 --batch 1
bench "BERT-base fp32, batch 1, seq 128" bert-base --fp32 --batch 1 --seq 128

echo
echo "== summary ($threads threads; medians of 20 runs; random weights, so the"
echo "   outputs mean nothing: this measures speed. Accuracy demos come with the"
echo "   trained models.)"
echo "| model                              | median ms  | p99 ms     | items/s   |"
echo "|------------------------------------|------------|------------|-----------|"
printf '%s\n' "${summary[@]}"
