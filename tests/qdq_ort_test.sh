#!/bin/sh
# CTest driver for the QDQ export in ONNX Runtime (tools/cifar/qdq_accuracy.sh)
# on a smaller sample: the CIFAR-10 ResNet-20 calibrated on 20 images a class,
# 1,000 other images (100 a class). Thresholds for 1,000 images: agreement
# >= 97.5% and top-1 within 0.5 points (the README's 4,000-image run holds
# 98% and 0.3). Exits 77 (skipped) with the reason when ../shared, torch,
# node or npm is missing, or npm cannot install onnxruntime-node into
# BUILD_DIR/peers/node (where bench/peers/compare.sh keeps it too).
#   qdq_ort_test.sh SOURCE_DIR BUILD_DIR
set -u
src=$1 build=$2
skip() { echo "SKIP: $*"; exit 77; }
[ -d "$src/../shared/data/cifar10/test-a" ] || skip "../shared/data/cifar10/test-a is missing"
ls "$src"/../shared/models/cifar10-resnet/resnet20-*.th >/dev/null 2>&1 ||
  skip "../shared/models/cifar10-resnet/resnet20-*.th is missing"
command -v node >/dev/null 2>&1 || skip "node is not installed"
if [ ! -d "$build/peers/node/node_modules/onnxruntime-node" ]; then
  command -v npm >/dev/null 2>&1 || skip "npm is not installed (needed for onnxruntime-node)"
  # As bench/peers/compare.sh does; the install script would fetch GPU binaries.
  mkdir -p "$build/peers/node"
  (cd "$build/peers/node" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund \
    onnxruntime-node >/dev/null) || skip "npm install onnxruntime-node failed (offline?)"
fi
/usr/bin/python3 -c "import torch, onnx, numpy, PIL" 2>/dev/null || skip "Debian's torch/onnx/numpy/PIL missing"
OCTET_SHARED="$src/../shared" MODELS=resnet20 SAMPLES=100 CALIB_SAMPLES=20 MIN_AGREEMENT=97.5 \
  MAX_DIFF=0.5 exec bash "$src/tools/cifar/qdq_accuracy.sh" "$build" "$build/qdq-ort-test"
