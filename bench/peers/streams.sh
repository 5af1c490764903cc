#!/usr/bin/env bash
# Throughput mode, octet against ONNX Runtime, int8, on compare.sh's models
# and inputs (run compare.sh first with the same BUILD_DIR: it makes them).
#   octet: `octet bench --int8 --streams N` (N sessions of one model, the
#          THREADS split between them) at batch 1, and one stream at batch 32;
#   ORT:   N processes of ort_bench.js at once, THREADS / N threads each (ORT
#          has no streams of its own; separate processes are the most it gets
#          from N concurrent requests), and one process at batch 32.
# Throughput = N x batch / per-request median latency, summed over the
# processes for ORT. ROUNDS rounds, octet and ORT taking turns; the table
# gives the median over the rounds.
#
# Usage: bench/peers/streams.sh [BUILD_DIR]
# Environment: THREADS (2), ROUNDS (3), MODELS ("resnet50 bert-base"), ITERATIONS (30)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
octet=$build/apps/octet
work=$build/peers
peers=$repo/bench/peers
threads=${THREADS:-2}
rounds=${ROUNDS:-3}
models=${MODELS:-"resnet50 bert-base"}
iterations=${ITERATIONS:-30}
export NODE_PATH=$work/node/node_modules
for m in $models; do
  for b in 1 32; do
    [ -f "$work/octet/$m.octet.json" ] && [ -f "$work/onnx/$m.int8.onnx" ] &&
      [ -d "$work/in/$m-b$b" ] || {
      echo "streams.sh: run CONFIGS=\"$m:1 $m:32\" bench/peers/compare.sh $build first" >&2
      exit 1
    }
  done
done
loads() { (cd "$1" && for f in *.npy; do printf '%s:%s,' "${f%.npy}" "$PWD/$f"; done) | sed 's/,$//'; }
out=$work/streams.txt
: >"$out"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq "$rounds"); do
  for m in $models; do
    for s in 1 2; do
      echo "round $r: $m: octet streams $s" >&2
      "$octet" bench "$work/octet/$m" --int8 --streams "$s" --threads "$threads" \
        --iterations "$iterations" --warmup 2 --loadInputs="$(loads "$work/in/$m-b1")" --json |
        python3 -c "import json,sys; d=json.load(sys.stdin); print('$r $m octet streams=$s', d['throughput_per_s'])" >>"$out"
      echo "round $r: $m: onnxruntime $s processes" >&2
      per=$((threads / s))
      pids=()
      for p in $(seq "$s"); do
        node "$peers/ort_bench.js" "$work/onnx/$m.int8.onnx" "$work/in/$m-b1" "$per" "$iterations" 2 \
          >"$work/streams-ort-$p.json" &
        pids+=($!)
      done
      wait "${pids[@]}"
      python3 -c "
import json
t = sum(1000.0 / json.load(open('$work/streams-ort-%d.json' % p))['median_ms'] for p in range(1, $s + 1))
print('$r $m onnxruntime streams=$s', t)" >>"$out"
    done
    echo "round $r: $m: batch 32" >&2
    "$octet" bench "$work/octet/$m" --int8 --threads "$threads" --iterations 3 --warmup 1 \
      --loadInputs="$(loads "$work/in/$m-b32")" --json |
      python3 -c "import json,sys; d=json.load(sys.stdin); print('$r $m octet batch=32', 32000.0 / d['latency_ms']['median'])" >>"$out"
    node "$peers/ort_bench.js" "$work/onnx/$m.int8.onnx" "$work/in/$m-b32" "$threads" 3 1 |
      python3 -c "import json,sys; d=json.load(sys.stdin); print('$r $m onnxruntime batch=32', 32000.0 / d['median_ms'])" >>"$out"
  done
done
python3 - "$out" <<'EOF'
import statistics, sys
from collections import defaultdict
v = defaultdict(list)
for line in open(sys.argv[1]):
    _, model, runtime, mode, x = line.split()
    v[model, mode, runtime].append(float(x))
print("| model | mode | octet int8 (/s) | ORT int8 (/s) | octet / ORT |")
print("|---|---|---|---|---|")
for model, mode in sorted({(k[0], k[1]) for k in v}):
    o = statistics.median(v[model, mode, "octet"])
    t = statistics.median(v[model, mode, "onnxruntime"])
    print(f"| {model} | {mode.replace('=', ' ')} | {o:.1f} | {t:.1f} | {o / t:.2f}x |")
EOF
echo
echo "$(date -u '+%F %H:%M') UTC, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "$(nproc) hardware threads; load average at start $load_start, at end $(cut -d' ' -f1-3 /proc/loadavg)"
