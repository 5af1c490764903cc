# shellcheck shell=bash
# Sourced by tools/cifar/*.sh: their arguments, paths and checks, and the
# CIFAR-10 ResNets converted and calibrated as README's accuracy table does.
#   cifar_setup NAME BUILD_DIR WORK_DIR   sets build, work, octet, shared, data, py
#   cifar_model MODEL                     makes WORK/MODEL.octet.* (export, convert)
#                                         and WORK/MODEL.table.json (every method, the
#                                         first CALIB_SAMPLES (100) images of each
#                                         class) unless they exist
cifar_setup() {
  cd "$(dirname "${BASH_SOURCE[0]}")/../.."
  build=$(cd "${2:-build}" && pwd)
  work="${3:-$build/cifar}"
  octet="$build/apps/octet"
  shared="${OCTET_SHARED:-../shared}"
  data="$shared/data/cifar10/test-a"
  py=/usr/bin/python3  # Debian's, with torch
  [ -x "$octet" ] || { echo "$1: $octet is missing: build octet first" >&2; exit 2; }
  [ -d "$data" ] || { echo "$1: $data is missing" >&2; exit 2; }
  mkdir -p "$work"
}

cifar_model() {
  if [ ! -f "$work/$1.octet.json" ]; then
    local checkpoint
    checkpoint=$(ls "$shared"/models/cifar10-resnet/"$1"-*.th)
    "$py" tools/cifar/export.py --model "$1" --checkpoint "$checkpoint" -o "$work/$1.onnx" \
      --check-batch 0 >&2
    "$octet" convert "$work/$1.onnx" -o "$work/$1" >&2
  fi
  [ -f "$work/$1.table.json" ] ||
    "$octet" calibrate "$work/$1" --data "$data" --per-class-samples "${CALIB_SAMPLES:-100}" \
      --method all --quiet -o "$work/$1.table.json" >&2
}
