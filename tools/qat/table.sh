#!/usr/bin/env bash
# The paper's table on octet's real models (tools/qat/README.md): fp32; PTQ
# with every calibrator; partial quantization (octet sensitivity
# --target-drop 0.2, ranges of the worst calibrator); QAT
# (tools/qat/recipe.py) from the best and from the worst calibrator, and from
# the worst with learned ranges (--learn-ranges); and, as a control, the
# float model fine-tuned the same way without fake quantization. Every
# step's command is printed as it runs (and kept in WORK/MODEL/commands.txt);
# a step whose output exists is not run again. Ends with the Markdown table.
#
#   tools/qat/table.sh [BUILD_DIR (build)] [WORK_DIR (BUILD_DIR/qat-table)] [MODEL...]
#   MODEL: fashion-resnet20 sst2-bert cifar-resnet20 cifar-resnet56 (default: all four)
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${1:-build}"
work="${2:-$build/qat-table}"
shift $(($# > 2 ? 2 : $#))
models="${*:-fashion-resnet20 sst2-bert cifar-resnet20 cifar-resnet56}"
octet="$build/apps/octet"
py=/usr/bin/python3
shared="${OCTET_SHARED:-}"
for s in ../shared ../../shared; do [ -z "$shared" ] && [ -d "$s" ] && shared="$s"; done
fm=/usr/share/datasets/fashion-mnist
methods="max entropy percentile=99.9 percentile=99.99 percentile=99.999 percentile=99.9999 mse"
[ -x "$octet" ] || { echo "table.sh: $octet is missing: build octet first" >&2; exit 2; }
[ -d "$shared" ] || { echo "table.sh: ../shared is missing (set OCTET_SHARED)" >&2; exit 2; }

# run OUT CMD...: CMD with stdout to OUT, unless OUT exists; the command is printed and logged.
run() {
  local out="$1"
  shift
  echo "\$ $* > $out" | tee -a "$dir/commands.txt" >&2
  [ -s "$out" ] && { echo "  (done before)" >&2; return; }
  nice "$@" > "$out.tmp" && mv "$out.tmp" "$out"
}
# metric FILE: top-1 or accuracy in %, of int8 (or fp32 with --fp32) in an eval JSON.
metric() {
  "$py" -c 'import json, sys
r = json.load(open(sys.argv[1]))[sys.argv[2]]
print("%.2f" % (100 * r.get("top1", r.get("accuracy"))))' "$1" "${2:-int8}"
}

rows=""
for model in $models; do
  dir="$work/$model"
  mkdir -p "$dir"
  : > "$dir/commands.txt"
  case "$model" in
    fashion-resnet20)
      base=apps/models/fashion-resnet20
      calib=(--data "$fm/train-images-idx3-ubyte.gz" --samples 2000)
      eval=(--data "$fm/t10k-images-idx3-ubyte.gz")
      ;;
    sst2-bert)
      base=apps/models/sst2-bert
      vocab="$shared/data/bert-vocab/vocab.txt"
      calib=(--data "$shared/data/sst2/train.tsv" --vocab "$vocab" --samples 1000)
      eval=(--data "$shared/data/sst2/dev.tsv" --vocab "$vocab")
      ;;
    cifar-resnet20 | cifar-resnet56)
      depth="${model#cifar-}"
      base="$dir/$depth"
      run "$dir/export.log" "$py" tools/cifar/export.py --model "$depth" --check-batch 0 \
        --checkpoint "$(ls "$shared"/models/cifar10-resnet/"$depth"-*.th)" -o "$dir/$depth.onnx"
      run "$dir/convert.log" "$octet" convert "$dir/$depth.onnx" -o "$base"
      calib=(--data "$shared/data/cifar10/test-a" --per-class-samples 100)
      eval=(--data "$shared/data/cifar10/test-a" --per-class-skip 300 --per-class-samples 200)
      ;;
    *) echo "table.sh: unknown model $model" >&2; exit 2 ;;
  esac

  run "$dir/fp32.json" "$octet" eval "$base" "${eval[@]}" --fp32-only --json
  run "$dir/calibrate.log" "$octet" calibrate "$base" "${calib[@]}" --method all --quiet \
    -o "$dir/table.json"
  row="| $model | $(metric "$dir/fp32.json" fp32) |"
  best="" worst="" best_v=-1 worst_v=101
  for m in $methods; do
    run "$dir/quantize-$m.log" "$octet" quantize "$base" --table "$dir/table.json" --method "$m" \
      -o "$dir/int8-$m"
    run "$dir/ptq-$m.json" "$octet" eval "$dir/int8-$m" "${eval[@]}" --json
    v=$(metric "$dir/ptq-$m.json")
    row="$row $v |"
    if "$py" -c "import sys; sys.exit(not float(sys.argv[1]) > float(sys.argv[2]))" "$v" "$best_v"; then
      best="$m" best_v="$v"
    fi
    if "$py" -c "import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))" "$v" "$worst_v"; then
      worst="$m" worst_v="$v"
    fi
  done

  # Partial quantization from the worst calibrator's ranges.
  run "$dir/sensitivity.log" "$octet" sensitivity "$base" --table "$dir/table.json" \
    --method "$worst" "${eval[@]}" --target-drop 0.2 -o "$dir/sensitivity.json" \
    --save-model "$dir/partial"
  run "$dir/partial.json" "$octet" eval "$dir/partial" "${eval[@]}" --json
  n_fp32=$("$py" -c 'import json, sys; f = json.load(open(sys.argv[1]))["fallback"]
print("%d of %d" % (len(f["fp32_layers"]), f["layers"]))' "$dir/sensitivity.json")
  row="$row $(metric "$dir/partial.json") ($worst, $n_fp32 fp32) |"

  # QAT from the best and the worst calibrator, then the worst with learned ranges (LSQ).
  for start in "$best" "$worst" "$worst learned"; do
    m="${start% learned}"
    name="qat-$m" flags=()
    [ "$start" != "$m" ] && name="qat-$m-learned" flags=(--learn-ranges)
    run "$dir/$name.log" "$py" tools/qat/recipe.py --model "$model" --method "$m" \
      "${flags[@]}" -o "$dir/$name.onnx"
    run "$dir/$name.convert.log" "$octet" convert "$dir/$name.onnx" -o "$dir/$name"
    run "$dir/$name.json" "$octet" eval "$dir/$name" "${eval[@]}" --json
    row="$row $(metric "$dir/$name.json") ($m) |"
  done
  # Control: the float model fine-tuned the same way, no fake quantization.
  run "$dir/finetuned-fp32.log" "$py" tools/qat/recipe.py --model "$model" --method max --fp32 \
    -o "$dir/finetuned-fp32.onnx"
  run "$dir/finetuned-fp32.convert.log" "$octet" convert "$dir/finetuned-fp32.onnx" \
    -o "$dir/finetuned-fp32"
  run "$dir/finetuned-fp32.json" "$octet" eval "$dir/finetuned-fp32" "${eval[@]}" --fp32-only \
    --json
  row="$row $(metric "$dir/finetuned-fp32.json" fp32) |"
  rows="$rows$row"$'\n'
done

cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
isa=$(grep -qw avx512_vnni /proc/cpuinfo && echo "AVX512-VNNI" || (grep -qw avx_vnni /proc/cpuinfo && echo "AVX-VNNI" || echo "AVX2, no VNNI"))
echo
echo "int8 top-1 (accuracy for SST-2) in %, octet on $cpu ($isa); held-out data as in tools/qat/README.md"
echo
echo "| model | fp32 | max | entropy | 99.9% | 99.99% | 99.999% | 99.9999% | mse | partial (ranges, fp32 layers) | QAT from best | QAT from worst | QAT from worst, learned ranges | fp32 fine-tuned alike |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s' "$rows"
echo
echo "Commands: $work/<model>/commands.txt"
