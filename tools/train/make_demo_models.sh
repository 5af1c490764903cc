#!/usr/bin/env bash
# Turns the recipes' ONNX exports into the demos' committed models:
# apps/models/fashion-resnet20.* and apps/models/sst2-bert.* (octet format,
# with int8 activation ranges) plus their calibration tables.
#
#   tools/train/make_demo_models.sh BUILD_DIR fashion FASHION.onnx
#   tools/train/make_demo_models.sh BUILD_DIR sst2 SST2.onnx VOCAB SST2_DIR
#
# Calibration uses training data only, every method at once; the method
# written into the model is the one with the best int8 top-1 (then the best
# agreement with fp32) on other training samples, which calibration did not
# see; never the test or dev set, which the README's numbers come from. The
# table is then written again with that method as its default (calibration is
# deterministic: the same ranges), so that `octet quantize --table` alone
# gives the committed model.
#   Fashion-MNIST: calibrate on train images [0, 2000), choose on [55000, 60000).
#   SST-2: calibrate on the first 1000 train sentences, choose on the last 2000.
set -euo pipefail
build=$1 which=$2
cd "$(dirname "$0")/../.."
octet=$(realpath "$build")/apps/octet
out=$PWD/apps/models
work=$(realpath "$build")/demo-models-work
mkdir -p "$out" "$work"
fmnist=/usr/share/datasets/fashion-mnist

# Evaluates each method's quantized model on the selection given; prints
# "method int8-top1 agreement-with-fp32" lines, best first.
rank_methods() {  # model table eval-args...
  local model=$1 table=$2
  shift 2
  local methods
  methods=$(python3 -c 'import json, sys; print(" ".join(json.load(open(sys.argv[1]))["methods"]))' "$table")
  for method in $methods; do
    $octet quantize "$model" --table "$table" --method "$method" -o "$work/candidate" >/dev/null
    # Image eval reports top1 and agreement_top1; text eval accuracy and agreement.
    $octet eval "$work/candidate" "$@" --json | python3 -c 'import json, sys
r = json.load(sys.stdin)
print(sys.argv[1], r["int8"].get("top1", r["int8"].get("accuracy")),
      r.get("agreement_top1", r.get("agreement")))' "$method"
  done | sort -k2,2gr -k3,3gr -k1,1
}

if [ "$which" = fashion ]; then
fashion_onnx=$3
echo "== fashion-resnet20"
$octet convert "$fashion_onnx" -o "$work/fashion-resnet20" >/dev/null
calibrate_fashion() {  # extra calibrate args...
  $octet calibrate "$work/fashion-resnet20" --data "$fmnist/train-images-idx3-ubyte.gz" --samples 2000 \
    --method all --quiet -o "$out/fashion-resnet20.table.json" "$@"
}
calibrate_fashion
rank_methods "$work/fashion-resnet20" "$out/fashion-resnet20.table.json" \
  --data "$fmnist/train-images-idx3-ubyte.gz" --skip 55000 --samples 5000 | tee "$work/fashion.ranking"
best=$(head -1 "$work/fashion.ranking" | cut -d' ' -f1)
calibrate_fashion --choose "$best"
$octet quantize "$work/fashion-resnet20" --table "$out/fashion-resnet20.table.json" -o "$out/fashion-resnet20"

fi

if [ "$which" = sst2 ]; then
sst2_onnx=$3 vocab=$4 sst2=$5
echo "== sst2-bert"
$octet convert "$sst2_onnx" -o "$work/sst2-bert" >/dev/null
# The first 1000 training sentences (after the header) as JSON strings, for octet tokenize.
sed -n '2,1001p' "$sst2/train.tsv" | cut -f1 |
  sed 's/\\/\\\\/g; s/"/\\"/g; s/.*/"&"/' >"$work/sst2-calib.jsonl"
$octet tokenize --vocab "$vocab" --jsonl "$work/sst2-calib.jsonl" --max-length 64 -o "$work/sst2-calib" >/dev/null
# From inside $work, so that the model's provenance names the data, not this machine's paths.
calibrate_sst2() {  # extra calibrate args...
  (cd "$work" && $octet calibrate sst2-bert --method all --quiet -o "$out/sst2-bert.table.json" \
    --data "input_ids=sst2-calib/input_ids.npy,attention_mask=sst2-calib/attention_mask.npy,token_type_ids=sst2-calib/token_type_ids.npy" \
    "$@")
}
calibrate_sst2
{ head -1 "$sst2/train.tsv"; tail -2000 "$sst2/train.tsv"; } >"$work/sst2-heldout.tsv"
rank_methods "$work/sst2-bert" "$out/sst2-bert.table.json" --data "$work/sst2-heldout.tsv" \
  --vocab "$vocab" | tee "$work/sst2.ranking"
best=$(head -1 "$work/sst2.ranking" | cut -d' ' -f1)
calibrate_sst2 --choose "$best"
$octet quantize "$work/sst2-bert" --table "$out/sst2-bert.table.json" -o "$out/sst2-bert"
fi
ls -l "$out"
