#!/usr/bin/python3
"""bench/peers/quantize_onnx.py static writes the QDQ graph ORT's
quantize_static writes (issue 19 item 0): checked on a small graph with
each case by hand.

    Conv(input) -> Relu -> MaxPool -> Conv -> Clip(0, 6 from Constant nodes)
      -> Conv -> Add(residual: the MaxPool output) -> Erf -> GlobalAveragePool
      -> Flatten -> Gemm(transB) -> logits

Expected: a pair on the graph input (the first Conv is int8 too); none on
a Conv output read only by its Relu/Clip (ORT removes those), one on the
Relu/Clip output; MaxPool and Flatten keep their input's scale and zero point;
Erf (not an op quantize_static quantizes) runs in fp32 between the pairs of
its neighbours (its output has one because GlobalAveragePool reads it); the Constant inputs of Clip get none; Conv and Gemm weights
s8 per output channel (Gemm transB: axis 0), biases int32 on s_x * s_w;
the graph output keeps its name. Exits non-zero naming the first failure.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "bench", "peers", "quantize_onnx.py")


def build(path):
    rng = np.random.default_rng(0)
    w = lambda *s: numpy_helper.from_array(rng.standard_normal(s).astype(np.float32))
    inits = []
    for name, shape in [("w1", (4, 3, 3, 3)), ("b1", (4,)), ("w2", (4, 4, 1, 1)), ("b2", (4,)),
                        ("w3", (4, 4, 3, 3)), ("b3", (4,)), ("wg", (5, 4)), ("bg", (5,))]:
        t = w(*shape)
        t.name = name
        inits.append(t)
    n = helper.make_node
    nodes = [
        n("Conv", ["input", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        n("Relu", ["c1"], ["r1"]),
        n("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        n("Conv", ["p1", "w2", "b2"], ["c2"]),
        n("Constant", [], ["lo"], value=numpy_helper.from_array(np.array(0, np.float32))),
        n("Constant", [], ["hi"], value=numpy_helper.from_array(np.array(6, np.float32))),
        n("Clip", ["c2", "lo", "hi"], ["k2"]),
        n("Conv", ["k2", "w3", "b3"], ["c3"], pads=[1, 1, 1, 1]),
        n("Add", ["c3", "p1"], ["a3"]),
        n("Erf", ["a3"], ["e3"]),
        n("GlobalAveragePool", ["e3"], ["g"]),
        n("Flatten", ["g"], ["f"]),
        n("Gemm", ["f", "wg", "bg"], ["logits"], transB=1),
    ]
    graph = helper.make_graph(
        nodes, "peer_quantize_check",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 5])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, path)
    names = ["input", "c1", "r1", "p1", "c2", "k2", "c3", "a3", "e3", "g", "f", "logits"]
    # Distinct ranges, so that a shared scale is a choice, not a coincidence.
    return {t: [-1.0 - i, 2.0 + i] for i, t in enumerate(names)}


def main():
    failures = []

    def check(ok, what):
        if not ok:
            failures.append(what)

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "m.onnx"), os.path.join(tmp, "m.int8.onnx")
        ranges = build(src)
        with open(os.path.join(tmp, "ranges.json"), "w") as f:
            json.dump(ranges, f)
        subprocess.run([sys.executable, SCRIPT, "static", src, os.path.join(tmp, "ranges.json"),
                        dst], check=True)
        g = onnx.load(dst).graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    quantized = {n.input[0] for n in g.node if n.op_type == "QuantizeLinear"}
    producer = {o: n for n in g.node for o in n.output}
    want = {"input", "r1", "p1", "k2", "c3", "a3", "e3", "g", "f", "logits_f"}
    check(quantized == want, f"quantized tensors {sorted(quantized)}, want {sorted(want)}")
    check(g.output[0].name == "logits" and producer["logits"].op_type == "DequantizeLinear",
          "the graph output is not the last DequantizeLinear's")
    for a, b in [("p1", "r1"), ("f", "g")]:
        check(np.array_equal(inits[a + "_scale"], inits[b + "_scale"]) and
              np.array_equal(inits[a + "_zp"], inits[b + "_zp"]),
              f"{a} does not keep {b}'s scale and zero point")
    lo, hi = ranges["a3"]
    scale = (hi - lo) / 255.0
    check(abs(float(inits["a3_scale"]) - scale) < 1e-7 and int(inits["a3_zp"]) == round(-lo / scale),
          "a3's u8 scale or zero point is not (max - min) / 255, -min / scale")
    erf = next(n for n in g.node if n.op_type == "Erf")
    check(producer[erf.input[0]].op_type == "DequantizeLinear", "Erf does not read a DequantizeLinear")
    readers = [n for n in g.node if erf.output[0] in n.input]
    check([n.op_type for n in readers] == ["QuantizeLinear"], "Erf's output is not quantized alone")
    clip = next(n for n in g.node if n.op_type == "Clip")
    check(list(clip.input[1:]) == ["lo", "hi"], f"Clip's Constant inputs were rewritten: {clip.input}")
    for n in g.node:
        if n.op_type not in ("Conv", "Gemm"):
            continue
        for i in range(3):
            check(producer[n.input[i]].op_type == "DequantizeLinear",
                  f"{n.op_type} input {i} ({n.input[i]}) is not dequantized")
        wdq, bdq = producer[n.input[1]], producer[n.input[2]]
        axis = next((a.i for a in wdq.attribute if a.name == "axis"), 1)
        w_q, w_s = inits[wdq.input[0]], inits[wdq.input[1]]
        check(w_q.dtype == np.int8 and axis == 0 and w_s.shape == (w_q.shape[0],),
              f"{n.input[1]}: not s8 per output channel on axis 0")
        check(np.abs(w_q).max() == 127, f"{n.input[1]}: max calibration does not reach 127")
        x_scale = float(inits[n.input[0][:-3] + "_scale"])
        b_q, b_s = inits[bdq.input[0]], inits[bdq.input[1]]
        check(b_q.dtype == np.int32 and np.allclose(b_s, x_scale * w_s, rtol=1e-6),
              f"{n.input[2]}: not int32 on s_x * s_w")
    if failures:
        sys.exit("peer_quantize_check: " + "; ".join(failures))
    print(f"peer_quantize_check: {len(quantized)} QuantizeLinear nodes, as quantize_static writes")


if __name__ == "__main__":
    main()
