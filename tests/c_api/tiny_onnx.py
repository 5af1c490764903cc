#!/usr/bin/env python3
"""Writes the ONNX model tests/c_api/c_api_test.c imports through the C API:
    y = Relu(x @ W + b),  x: batch x 4 (f32, batch symbolic), W: 4 x 3, b: 3
with W[i][j] = 0.5 * (i + 1) - j and b[j] = 0.25 * j - 0.5, the formulas the
C test recomputes the output from (a result known by construction).
    tiny_onnx.py OUT.onnx
Exits 77 (skipped) where Debian's python3-onnx is missing."""
import os
import sys

# No stale model stands in for one this run could not make.
if len(sys.argv) == 2 and os.path.exists(sys.argv[1]):
    os.remove(sys.argv[1])
try:
    import onnx
    from onnx import TensorProto, helper
except ImportError:
    print("SKIP: Debian's python3-onnx is not installed")
    sys.exit(77)

ROWS, COLS = 4, 3


def main(out):
    w = [0.5 * (i + 1) - j for i in range(ROWS) for j in range(COLS)]
    b = [0.25 * j - 0.5 for j in range(COLS)]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"], name="matmul"),
         helper.make_node("Add", ["xw", "b"], ["z"], name="add"),
         helper.make_node("Relu", ["z"], ["y"], name="relu")],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", ROWS])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", COLS])],
        [helper.make_tensor("W", TensorProto.FLOAT, [ROWS, COLS], w),
         helper.make_tensor("b", TensorProto.FLOAT, [COLS], b)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
