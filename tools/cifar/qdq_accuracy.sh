#!/usr/bin/env bash
# The QDQ export in ONNX Runtime (README "The QDQ export in ONNX Runtime"):
# the CIFAR-10 ResNet-20 and ResNet-56 calibrated as tools/cifar/accuracy.sh
# does (100 images a class of ../shared/data/cifar10/test-a, method mse),
# exported by `octet export`, run by onnxruntime-node on the other 400 images
# of each class; octet int8 runs the same tensors. Prints a Markdown table of
# top-1 and agreement; exits 1 if a row marked "checked" misses
# agreement >= MIN_AGREEMENT % (98) or |top-1 difference| <= MAX_DIFF (0.3).
# Writes into WORK_DIR/qdq; makes (or reuses) WORK_DIR/MODEL.octet.* and .table.json.
#
#   tools/cifar/qdq_accuracy.sh [BUILD_DIR (default: build)] [WORK_DIR (default: BUILD_DIR/cifar)]
# Environment: SAMPLES (400 a class), CALIB_SAMPLES (100 a class; a table already in
#              WORK_DIR is reused), MODELS ("resnet20 resnet56"), METHOD (mse),
#              MIN_AGREEMENT, MAX_DIFF. Needs ../shared, torch, node and npm
#              (onnxruntime-node is installed into BUILD_DIR/peers/node once).
set -euo pipefail
# shellcheck source=tools/cifar/common.sh
source "$(dirname "$0")/common.sh"
cifar_setup qdq_accuracy.sh "${1:-}" "${2:-}"
samples="${SAMPLES:-400}"
method="${METHOD:-mse}"
min_agreement="${MIN_AGREEMENT:-98}"
max_diff="${MAX_DIFF:-0.3}"
mkdir -p "$work/qdq" "$build/peers/node"
if [ ! -d "$build/peers/node/node_modules/onnxruntime-node" ]; then
  # The install script would otherwise try to download GPU binaries.
  (cd "$build/peers/node" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund \
    onnxruntime-node >/dev/null)
fi
export NODE_PATH=$build/peers/node/node_modules

split="$work/qdq/split-$samples"
[ -f "$split/images.npy" ] ||
  "$py" tools/cifar/qdq_compare.py images --data "$data" --per-class-skip 100 \
    --per-class-samples "$samples" --out "$split"

status=0
echo "| model | weights | ONNX Runtime graph optimization | octet int8 top-1 | ORT top-1 on the export | difference | agreement |"
echo "|---|---|---|---|---|---|---|"
for model in ${MODELS:-resnet20 resnet56}; do
  cifar_model "$model"
  "$octet" quantize "$work/$model" --table "$work/$model.table.json" --method "$method" \
    -o "$work/qdq/$model-int8" >&2
  "$octet" run "$work/qdq/$model-int8" -i input="$split/images.npy" -o "$work/qdq/$model-octet" \
    >/dev/null 2>&1
  "$octet" export "$work/qdq/$model-int8" -o "$work/qdq/$model.qdq.onnx" >&2
  "$octet" export "$work/qdq/$model-int8" -o "$work/qdq/$model.qdq7.onnx" --weights-7bit >&2
  # Checked: the 7-bit export in ORT's fused int8 kernels (graph optimization
  # all). Shown: the 8-bit export there (AVX2 saturation, docs/qdq-export.md)
  # and run as QuantizeLinear / DequantizeLinear ops (basic: no fusion), which
  # on a CPU without VNNI compares 8-bit weights with octet's 7-bit ones.
  for row in "qdq 8-bit all no" "qdq 8-bit basic no" "qdq7 7-bit all yes"; do
    set -- $row
    ORT_OPT_LEVEL=$3 node bench/peers/ort_top1.js "$work/qdq/$model.$1.onnx" "$split/images.npy" \
      200 2 > "$work/qdq/$model.$1.$3.json"
    limits=()
    [ "$4" = yes ] && limits=(--min-agreement "$min_agreement" --max-diff "$max_diff")
    checked=""
    [ "$4" = yes ] && checked=" (checked)"
    "$py" tools/cifar/qdq_compare.py compare --labels "$split/labels.npy" \
      --octet-logits "$work/qdq/$model-octet/logits.npy" --ort-top1 "$work/qdq/$model.$1.$3.json" \
      "${limits[@]}" --markdown "$model" "$2" "$3$checked" || status=1
  done
done
echo
echo "top-1 % on $((10 * samples)) CIFAR-10 test images ($samples per class), method $method; $(node -p "'onnxruntime-node ' + require('onnxruntime-node/package.json').version"), 2 threads"
exit $status
