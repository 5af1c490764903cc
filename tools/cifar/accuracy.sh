#!/usr/bin/env bash
# The int8 accuracy proof on real data (README "Accuracy"): the pretrained
# CIFAR-10 ResNet-20 and ResNet-56 from ../shared, calibrated with every
# method on the first 100 images of each class of ../shared/data/cifar10/test-a,
# evaluated on the other 400 of each class, fp32 vs int8. Prints a Markdown table.
#
#   tools/cifar/accuracy.sh [BUILD_DIR (default: build)] [WORK_DIR (default: build/cifar)]
set -euo pipefail
# shellcheck source=tools/cifar/common.sh
source "$(dirname "$0")/common.sh"
cifar_setup accuracy.sh "${1:-}" "${2:-}"

methods="max entropy percentile=99.9 percentile=99.99 percentile=99.999 percentile=99.9999 mse"
field() {  # field FILE KEY... : a number from eval's JSON
  "$py" -c 'import json,sys; d=json.load(open(sys.argv[1]))
for k in sys.argv[2:]: d=d[k]
print(f"{100*d:.2f}")' "$@"
}

rows=""
for model in resnet20 resnet56; do
  checkpoint=$(ls "$shared"/models/cifar10-resnet/"$model"-*.th)
  "$py" tools/cifar/export.py --model "$model" --checkpoint "$checkpoint" -o "$work/$model.onnx" \
    --check-batch 0 >&2
  "$octet" convert "$work/$model.onnx" -o "$work/$model" >&2
  "$octet" calibrate "$work/$model" --data "$data" --per-class-samples 100 --method all \
    --quiet -o "$work/$model.table.json" >&2
  "$octet" eval "$work/$model" --data "$data" --per-class-skip 100 --per-class-samples 400 \
    --fp32-only --json > "$work/$model.fp32.json"
  fp32=$(field "$work/$model.fp32.json" fp32 top1)
  row="| $model | $fp32 |"
  for m in $methods; do
    "$octet" quantize "$work/$model" --table "$work/$model.table.json" --method "$m" \
      -o "$work/$model-int8" >&2
    "$octet" eval "$work/$model-int8" --data "$data" --per-class-skip 100 \
      --per-class-samples 400 --json > "$work/$model.$m.json"
    row="$row $(field "$work/$model.$m.json" int8 top1) ($(field "$work/$model.$m.json" agreement_top1)) |"
  done
  rows="$rows$row"$'\n'
done

header="| model | fp32 |"
rule="|---|---|"
for m in $methods; do
  header="$header $m |"
  rule="$rule---|"
done
echo "top-1 % on 4,000 CIFAR-10 test images (400 per class; in parentheses: % of images with the same top-1 as fp32)"
echo "$header"
echo "$rule"
printf '%s' "$rows"
