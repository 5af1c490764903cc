#!/usr/bin/python3
"""int8 ONNX models for ONNX Runtime, in the forms ORT's own quantizer writes.

The onnxruntime Python package (and its quantization tool) is not a Debian
package, so this writes the same graphs with python3-onnx:

    expose  MODEL.onnx OUT.onnx           every float activation also a graph output
                                          (for ort_ranges.js to measure)
    static  MODEL.onnx RANGES.json OUT.onnx
        QDQ for CNNs: u8 asymmetric activations from RANGES.json, s8
        symmetric per-channel Conv weights, int32 bias. A tensor read only by
        Relu is not quantized (the Relu output is), so that ORT fuses
        DQ -> Conv -> Relu -> Q into one QLinearConv. Gemm stays fp32.
    dynamic MODEL.onnx OUT.onnx
        Dynamic quantization for transformers: each MatMul by a constant
        becomes DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul, which
        ORT fuses into DynamicQuantizeMatMul; s8 per-tensor weights.
"""
import json
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def float_activations(model):
    """Names of the float tensors that nodes produce, in graph order."""
    inferred = onnx.shape_inference.infer_shapes(model)
    floats = {v.name for v in list(inferred.graph.value_info) + list(inferred.graph.output)
              if v.type.tensor_type.elem_type == TensorProto.FLOAT}
    return [o for n in model.graph.node for o in n.output if o in floats]


def drop_unused_initializers(g):
    """The float weights that the quantized ones replace."""
    used = {x for n in g.node for x in n.input}
    keep = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)


def save_rewritten(model, nodes, initializers, dst):
    """Replaces the graph's nodes with ``nodes`` (in order), adds
    ``initializers``, drops the ones nothing reads any more, checks, saves."""
    g = model.graph
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend(initializers)
    drop_unused_initializers(g)
    onnx.checker.check_model(model)
    onnx.save(model, dst)


def expose(src, dst):
    model = onnx.load(src)
    have = {o.name for o in model.graph.output}
    for name in float_activations(model):
        if name not in have:
            model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    onnx.save(model, dst)


def u8_params(lo, hi):
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max((hi - lo) / 255.0, 1e-8)
    zero_point = int(np.clip(round(-lo / scale), 0, 255))
    return np.float32(scale), np.uint8(zero_point)


def static(src, ranges_path, dst):
    model = onnx.load(src)
    g = model.graph
    ranges = json.load(open(ranges_path))
    inits = {t.name: t for t in g.initializer}
    consumers = {}
    for n in g.node:
        for x in n.input:
            consumers.setdefault(x, []).append(n)
    outputs = {o.name for o in g.output}
    candidates = [i.name for i in g.input if i.name not in inits] + float_activations(model)
    quantized = {}  # tensor -> (scale, zero point)
    new_nodes = {}  # tensor -> Q/DQ nodes to insert after its producer
    extra = []
    for t in candidates:
        users = consumers.get(t, [])
        if t in outputs or not users or all(u.op_type == "Relu" for u in users) or t not in ranges:
            continue
        scale, zp = u8_params(*ranges[t])
        quantized[t] = (scale, zp)
        extra += [numpy_helper.from_array(np.array(scale), t + "_scale"),
                  numpy_helper.from_array(np.array(zp), t + "_zp")]
        new_nodes[t] = [
            helper.make_node("QuantizeLinear", [t, t + "_scale", t + "_zp"], [t + "_q"]),
            helper.make_node("DequantizeLinear", [t + "_q", t + "_scale", t + "_zp"], [t + "_dq"])]
        for u in users:
            u.input[:] = [t + "_dq" if x == t else x for x in u.input]
    for n in g.node:
        if n.op_type != "Conv" or n.input[0][:-3] not in quantized:
            continue
        w = numpy_helper.to_array(inits[n.input[1]]).astype(np.float32)
        w_scale = np.maximum(np.abs(w).reshape(w.shape[0], -1).max(axis=1), 1e-8) / 127.0
        w_q = np.clip(np.round(w / w_scale.reshape(-1, 1, 1, 1)), -127, 127).astype(np.int8)
        name = n.input[1]
        extra += [numpy_helper.from_array(w_q, name + "_q"),
                  numpy_helper.from_array(w_scale.astype(np.float32), name + "_scale"),
                  numpy_helper.from_array(np.zeros(w.shape[0], np.int8), name + "_zp")]
        dq = [helper.make_node("DequantizeLinear", [name + "_q", name + "_scale", name + "_zp"],
                               [name + "_dq"], axis=0)]
        n.input[1] = name + "_dq"
        if len(n.input) > 2:
            b = numpy_helper.to_array(inits[n.input[2]]).astype(np.float64)
            b_scale = quantized[n.input[0][:-3]][0] * w_scale
            bname = n.input[2]
            extra += [numpy_helper.from_array(np.round(b / b_scale).astype(np.int32), bname + "_q"),
                      numpy_helper.from_array(b_scale.astype(np.float32), bname + "_scale"),
                      numpy_helper.from_array(np.zeros(w.shape[0], np.int32), bname + "_zp")]
            dq.append(helper.make_node("DequantizeLinear",
                                       [bname + "_q", bname + "_scale", bname + "_zp"],
                                       [bname + "_dq"], axis=0))
            n.input[2] = bname + "_dq"
        new_nodes.setdefault("", []).extend(dq)
    ordered = list(new_nodes.get("", []))
    for i in g.input:
        ordered += new_nodes.get(i.name, [])
    for n in g.node:
        ordered.append(n)
        for o in n.output:
            ordered += new_nodes.get(o, [])
    save_rewritten(model, ordered, extra, dst)


def dynamic(src, dst):
    model = onnx.load(src)
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    ordered, extra = [], []
    for n in g.node:
        w_init = inits.get(n.input[1]) if n.op_type == "MatMul" else None
        if w_init is None or len(w_init.dims) != 2:
            ordered.append(n)
            continue
        w = numpy_helper.to_array(w_init).astype(np.float32)
        scale = np.float32(max(np.abs(w).max(), 1e-8) / 127.0)
        p = n.name or n.output[0]
        extra += [numpy_helper.from_array(np.clip(np.round(w / scale), -127, 127).astype(np.int8),
                                          p + "_w_q"),
                  numpy_helper.from_array(np.array(scale), p + "_w_scale"),
                  numpy_helper.from_array(np.array(0, np.int8), p + "_w_zp")]
        ordered += [
            helper.make_node("DynamicQuantizeLinear", [n.input[0]],
                             [p + "_a_q", p + "_a_scale", p + "_a_zp"]),
            helper.make_node("MatMulInteger", [p + "_a_q", p + "_w_q", p + "_a_zp", p + "_w_zp"],
                             [p + "_i32"]),
            helper.make_node("Cast", [p + "_i32"], [p + "_f32"], to=TensorProto.FLOAT),
            helper.make_node("Mul", [p + "_a_scale", p + "_w_scale"], [p + "_scale"]),
            helper.make_node("Mul", [p + "_f32", p + "_scale"], [n.output[0]])]
    save_rewritten(model, ordered, extra, dst)


if __name__ == "__main__":
    commands = {"expose": expose, "static": static, "dynamic": dynamic}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])
