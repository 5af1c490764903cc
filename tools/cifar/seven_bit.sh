#!/usr/bin/env bash
# What a CPU without VNNI costs in accuracy (issue 19 item 2, README "Accuracy";
# docs/quantization.md "CPUs without VNNI"). There oneDNN multiplies u8 by s8
# into a saturating s16, so 8-bit weights and full-range u8 activations cannot
# both stay. Two ways out, each measured here on the pretrained CIFAR-10
# ResNet-20 and ResNet-56 (calibrated as tools/cifar/accuracy.sh does, every
# method, evaluated on the other 400 images of each class):
#   octet's:  u8 activations (ReLU outputs, 255 levels) x 7-bit weights
#             round(q8 x 63/127), what octet runs on AVX2;
#   oneDNN's: s8 activations everywhere (127 levels) x 8-bit weights that
#             oneDNN's AVX2 convolution halves itself (its `scale_adjust`,
#             64 levels) and corrects for the s8 source's +128 shift.
# The AVX2 rows run with ONEDNN_MAX_CPU_ISA=AVX2, which computes the same
# integers as an AVX2-only CPU; the 8-bit rows need a VNNI CPU and are left out
# without one. The s8 tables are the calibration table with every tensor's
# dtype set to s8 (scale amax/127), an experiment, not a product setting.
#
#   tools/cifar/seven_bit.sh [BUILD_DIR (default: build)] [WORK_DIR (default: build/cifar)]
set -euo pipefail
# shellcheck source=tools/cifar/common.sh
source "$(dirname "$0")/common.sh"
cifar_setup seven_bit.sh "${1:-}" "${2:-}"
out="$work/seven-bit"
mkdir -p "$out"

methods="max entropy percentile=99.9 percentile=99.99 percentile=99.999 percentile=99.9999 mse"
vnni=0
"$octet" --version | grep -q '(VNNI)' && vnni=1
# variant: NAME TABLE_KIND ISA_CAP
variants="u8-w8:u8:native u8-w7:u8:AVX2 s8-w8:s8:native s8-w7:s8:AVX2"
top1() {  # top1 FILE: "top-1 (agreement)" from eval's JSON
  "$py" -c 'import json,sys; d=json.load(open(sys.argv[1]))
print("%.2f (%.2f)" % (100 * d["int8"]["top1"], 100 * d["agreement_top1"]))' "$1"
}

for model in resnet20 resnet56; do
  [ -n "${TABLE_ONLY:-}" ] && break
  cifar_model "$model"
  cp "$work/$model.table.json" "$out/$model.u8.table.json"
  "$py" -c 'import json,sys; t=json.load(open(sys.argv[1]))
for v in t["tensors"].values(): v["dtype"]="s8"; v["scale"]=v["amax"]/127
json.dump(t, open(sys.argv[2], "w"))' "$work/$model.table.json" "$out/$model.s8.table.json"
  for m in $methods; do
    for kind in u8 s8; do
      "$octet" quantize "$work/$model" --table "$out/$model.$kind.table.json" --method "$m" \
        -o "$out/$model-$kind-int8" >&2
      for v in $variants; do
        IFS=: read -r name table isa <<<"$v"
        [ "$table" = "$kind" ] || continue
        [ "$isa" = native ] && [ "$vnni" = 0 ] && continue
        cap=ALL
        [ "$isa" = AVX2 ] && cap=AVX2
        ONEDNN_MAX_CPU_ISA=$cap "$octet" eval "$out/$model-$kind-int8" --data "$data" --per-class-skip 100 \
          --per-class-samples 400 --json >"$out/$model.$name.$m.json"
      done
    done
  done
done

echo "top-1 % on 4,000 CIFAR-10 test images (in parentheses: % with fp32's top-1); $("$octet" --version | tail -1)"
header="| model | activations x weights | CPU path |"
rule="|---|---|---|"
for m in $methods; do
  header="$header $m |"
  rule="$rule---|"
done
echo "$header"
echo "$rule"
for model in resnet20 resnet56; do
  for v in $variants; do
    IFS=: read -r name table isa <<<"$v"
    [ "$isa" = native ] && [ "$vnni" = 0 ] && continue
    case $name in
      u8-w8) what="u8 x 8-bit" ;;
      u8-w7) what="u8 x 7-bit, octet's round(q8 x 63/127)" ;;
      s8-w8) what="s8 x 8-bit" ;;
      s8-w7) what="s8 x 8-bit halved by oneDNN (scale_adjust)" ;;
    esac
    row="| $model | $what | $([ "$isa" = native ] && echo VNNI || echo AVX2) |"
    for m in $methods; do row="$row $(top1 "$out/$model.$name.$m.json") |"; done
    echo "$row"
  done
done
