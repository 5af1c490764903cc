"""Writes a tiny PyTorch export as an ONNX seed for fuzz_onnx_import: a
2-layer convnet with 8 channels, as torch.onnx.export lays it out (Constant
nodes, BatchNorm, Flatten, Gemm, opset 13). Usage: python3 torch_seed.py OUT_DIR
(exit 77 without torch)."""
import os
import sys

try:
    import torch
except ImportError:
    sys.exit(77)

torch.manual_seed(0)
net = torch.nn.Sequential(
    torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
    torch.nn.Conv2d(8, 8, 3, stride=2), torch.nn.ReLU(),
    torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 4)).eval()
path = os.path.join(sys.argv[1], "torch_convnet.onnx")
os.makedirs(sys.argv[1], exist_ok=True)
torch.onnx.export(net, torch.zeros(1, 3, 8, 8), path, opset_version=13,
                  input_names=["x"], output_names=["y"],
                  dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
print("torch_seed.py: wrote", path, os.path.getsize(path), "bytes")
