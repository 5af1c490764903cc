#!/usr/bin/env bash
# octet, ONNX Runtime and PyTorch on the same ONNX models and the same input
# files, fp32 and int8, the same thread count, taking turns, then one table
# (bench/README.md shows the latest).
#
# Usage: bench/peers/compare.sh [BUILD_DIR]    (default: build; octet must be built there)
# Environment: THREADS (2), ROUNDS (2), CONFIGS ("resnet50:1 resnet50:32 bert-base:1 bert-base:8";
#              MODEL:BATCH for bert-base or any model of tools/export/zoo_list.py, e.g.
#              "mobilenet_v2:1 efficientnet_b0:1 inception_v3:1 convnext_tiny:1 vit_b_16:1
#              deeplabv3_resnet50:1"; PyTorch is timed for resnet50 and bert-base only;
#              bert-base@64:1 runs BERT at sequence length 64 instead of 128, ORT and
#              octet only),
#              ITER_SMALL (10, batch 1), ITER_LARGE (3, larger batches), TORCH_ENGINE (onednn:
#              Debian's torch has no fbgemm/x86 engine, and qnnpack is ~7x slower; bench/README.md),
#              SKIP ("": time everything; e.g. "pytorch:int8:resnet50:32" leaves that out),
#              TORCH_WAIT_POLICY (PASSIVE: PyTorch's OpenMP threads sleep while OpenBLAS's
#              own threads run its fp32 matmuls; bench/README.md), OMP_WAIT_POLICY (unset:
#              octet's OpenMP and ORT's pool spin, their best on a quiet machine; PASSIVE
#              makes all three sleep, for a busy machine).
# Everything it makes (ONNX exports, int8 ONNX models, inputs, node_modules,
# results.jsonl) goes to BUILD_DIR/peers and is reused by the next run.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
octet=$build/apps/octet
work=$build/peers
threads=${THREADS:-2}
rounds=${ROUNDS:-2}
configs=${CONFIGS:-"resnet50:1 resnet50:32 bert-base:1 bert-base:8"}
iter_small=${ITER_SMALL:-10}
iter_large=${ITER_LARGE:-3}
engine=${TORCH_ENGINE:-onednn}
torch_wait=${OMP_WAIT_POLICY:-${TORCH_WAIT_POLICY:-PASSIVE}}
skip=${SKIP:-}
py=/usr/bin/python3  # Debian's, with torch and onnx
peers=$repo/bench/peers
[ -x "$octet" ] || { echo "compare.sh: no $octet; build octet first" >&2; exit 1; }
mkdir -p "$work/onnx" "$work/in" "$work/node"

# --- set-up, once per build folder
if [ ! -d "$work/node/node_modules/onnxruntime-node" ]; then
  # The install script would otherwise try to download GPU binaries.
  (cd "$work/node" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund \
    onnxruntime-node >/dev/null)
fi
export NODE_PATH=$work/node/node_modules
labels=$(for c in $configs; do echo "${c%%:*}"; done | sort -u)  # bert-base@64: another length
models=$(for l in $labels; do echo "${l%%@*}"; done | sort -u)
torch_models="resnet50 bert-base"  # what torch_bench.py rebuilds; the others skip PyTorch
for c in $configs; do
  case " $torch_models " in *" ${c%%:*} "*) ;; *) skip="$skip pytorch:fp32:${c%%:*}:${c##*:} pytorch:int8:${c%%:*}:${c##*:}" ;; esac
done
for m in $models; do
  onnx=$work/onnx/$m.onnx
  [ -f "$onnx" ] || $py "$repo/tools/export/export.py" --model "$m" --out "$work/onnx" >/dev/null
  for s in 1 2; do  # calibration data: two more seeded batches of one
    [ -d "$work/in/$m-calib$s" ] ||
      $py "$peers/make_inputs.py" --model "$m" --batch 1 --seed $((100 + s)) --out "$work/in/$m-calib$s"
  done
  # Made again when the scripts that make it changed (an older build folder).
  if [ ! -f "$work/onnx/$m.int8.onnx" ] || [ "$peers/quantize_onnx.py" -nt "$work/onnx/$m.int8.onnx" ] ||
    [ "$peers/ort_ranges.js" -nt "$work/onnx/$m.int8.onnx" ]; then
    case $m in
      bert*) $py "$peers/quantize_onnx.py" dynamic "$onnx" "$work/onnx/$m.int8.onnx" ;;
      *)  # static QDQ from ranges measured on the calibration inputs
        $py "$peers/quantize_onnx.py" expose "$onnx" "$work/onnx/$m.exposed.onnx"
        node "$peers/ort_ranges.js" "$work/onnx/$m.exposed.onnx" "$work/onnx/$m.ranges.json" \
          "$work/in/$m-calib1" "$work/in/$m-calib2"
        $py "$peers/quantize_onnx.py" static "$onnx" "$work/onnx/$m.ranges.json" "$work/onnx/$m.int8.onnx" ;;
    esac
    rm -f "$work/onnx/$m.int8.check.txt"
  fi
  # What ORT makes of the int8 model (its int8 kernels, no fp32 Conv left?) and
  # how close it stays to fp32 on the batch-1 input (not a calibration one).
  [ -d "$work/in/$m-b1" ] || $py "$peers/make_inputs.py" --model "$m" --batch 1 --out "$work/in/$m-b1"
  if [ ! -f "$work/onnx/$m.int8.check.txt" ]; then
    { node "$peers/ort_check.js" "$onnx" "$work/onnx/$m.int8.onnx" "$work/onnx/$m.int8.ort.onnx" \
        "$work/in/$m-b1" 2>/dev/null &&
        $py "$peers/quantize_onnx.py" ops "$work/onnx/$m.int8.ort.onnx"; } >"$work/onnx/$m.int8.check.tmp"
    mv "$work/onnx/$m.int8.check.tmp" "$work/onnx/$m.int8.check.txt"
    rm -f "$work/onnx/$m.int8.ort.onnx"
  fi
  echo "compare.sh: ORT int8 $m: $(tr '\n' ' ' <"$work/onnx/$m.int8.check.txt")" >&2
  # octet's own model file, so that load time is not import time.
  [ -f "$work/octet/$m.octet.json" ] || "$octet" convert "$onnx" -o "$work/octet/$m" >/dev/null
  # Same seed, same weights as the ONNX file: checked once.
  case " $torch_models " in *" $m "*) ;; *) continue ;; esac
  [ -f "$work/onnx/$m.torch-checked" ] ||
    { $py "$peers/torch_bench.py" --model "$m" --precision fp32 --inputs "$work/in/$m-calib1" \
        --threads "$threads" --iterations 1 --warmup 0 --check "$work/onnx" >/dev/null &&
      touch "$work/onnx/$m.torch-checked"; }
done
for c in $configs; do
  m=${c%%:*} b=${c##*:}
  seq=()
  [ "$m" = "${m%%@*}" ] || seq=(--seq "${m#*@}")
  [ -d "$work/in/$m-b$b" ] ||
    $py "$peers/make_inputs.py" --model "${m%%@*}" --batch "$b" "${seq[@]}" --out "$work/in/$m-b$b"
done

# --- the timed runs: per round and model, every runtime in turn
results=$work/results.jsonl
: >"$results"
record() {  # round config-json < one JSON line per result
  while read -r line; do echo "{\"round\": $1, $2, \"result\": $line}" >>"$results"; done
}
iterations() { [ "$1" = 1 ] && echo "$iter_small" || echo "$iter_large"; }
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date +%s)
echo "compare.sh: $rounds rounds, $threads threads, configs: $configs;" \
  "OMP_WAIT_POLICY ${OMP_WAIT_POLICY:-unset}, PyTorch's $torch_wait" >&2
for r in $(seq "$rounds"); do
  for m in $labels; do
    base=${m%%@*}
    dirs=()
    for c in $configs; do
      [ "${c%%:*}" = "$m" ] || continue
      b=${c##*:} n=$(iterations "${c##*:}")
      dirs+=("$work/in/$m-b$b")
      loads=$(cd "$work/in/$m-b$b" && for f in *.npy; do printf '%s:%s,' "${f%.npy}" "$PWD/$f"; done)
      tag="\"model\": \"$m\", \"batch\": $b"
      echo "round $r: $m batch $b: octet" >&2
      { "$octet" bench "$work/octet/$base" --compare --threads "$threads" --iterations "$n" \
          --warmup 1 --loadInputs="${loads%,}" --json | tr -d '\n'; echo; } |
        record "$r" "$tag, \"runtime\": \"octet\""
      for p in fp32 int8; do
        onnx=$work/onnx/$base.onnx
        [ $p = int8 ] && onnx=$work/onnx/$base.int8.onnx
        echo "round $r: $m batch $b: onnxruntime $p" >&2
        node "$peers/ort_bench.js" "$onnx" "$work/in/$m-b$b" "$threads" "$n" 1 |
          record "$r" "$tag, \"runtime\": \"onnxruntime\", \"precision\": \"$p\""
      done
    done
    for p in fp32 int8; do
      echo "round $r: $m: pytorch $p" >&2
      todo=() counts=()
      for d in "${dirs[@]}"; do
        case " $skip " in *" pytorch:$p:$m:${d##*-b} "*) continue ;; esac
        todo+=("$d") counts+=("$(iterations "${d##*-b}")")
      done
      [ ${#todo[@]} -gt 0 ] || continue
      OMP_WAIT_POLICY=$torch_wait OPENBLAS_NUM_THREADS=$threads \
        $py "$peers/torch_bench.py" --model "$base" --precision "$p" --engine "$engine" \
          --inputs "${todo[@]}" --iterations "${counts[@]}" --threads "$threads" --warmup 1 \
          --calib "$work/in/$base-calib1" "$work/in/$base-calib2" |
        while read -r line; do
          b=$(echo "$line" | sed -n 's/.*"batch": \([0-9]*\).*/\1/p')
          echo "$line" | record "$r" "\"model\": \"$m\", \"batch\": $b, \"runtime\": \"pytorch\", \"precision\": \"$p\""
        done
    done
  done
done
$py "$peers/compare_table.py" "$results" --threads "$threads" --skipped "$skip"
echo
echo "$(date -u '+%F %H:%M') UTC, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "$(nproc) hardware threads; timed part $(($(date +%s) - start)) s; load average" \
  "(1, 5, 15 min) at start $load_start, at end $(cut -d' ' -f1-3 /proc/loadavg)"
