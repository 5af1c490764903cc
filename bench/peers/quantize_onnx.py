#!/usr/bin/python3
"""int8 ONNX models for ONNX Runtime, in the forms ORT's own quantizer writes.

The onnxruntime Python package (and its quantization tool) is not a Debian
package, so this writes the same graphs with python3-onnx:

    expose  MODEL.onnx OUT.onnx           every float activation also a graph output
                                          (for ort_ranges.js to measure)
    static  MODEL.onnx RANGES.json OUT.onnx
        QDQ for CNNs, as quantize_static writes it: u8 asymmetric activations
        from RANGES.json (the graph input and every node output), s8
        symmetric per-channel Conv weights, s8 per-tensor Gemm weights,
        int32 biases (see static() for the details).
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
    """The QDQ graph onnxruntime.quantization.quantize_static writes for a CNN
    (QuantFormat.QDQ, per_channel=True, QUInt8 activations, QInt8 weights):
    a QuantizeLinear/DequantizeLinear pair on the graph input and on every
    node output (a Conv's or Add's output read only by a Relu gets it after
    the Relu instead, so that ORT fuses DQ -> Conv -> Relu -> Q into one
    QLinearConv); MaxPool and Flatten keep their input's scale and zero point,
    so that ORT can drop their pairs. Conv weights s8 symmetric per output
    channel, Gemm weights s8 symmetric per tensor, biases int32 on
    s_x * s_w. For torchvision's ResNet-50: 74 QuantizeLinear nodes."""
    model = onnx.load(src)
    g = model.graph
    ranges = json.load(open(ranges_path))
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    consumers, producer = {}, {}
    for n in g.node:
        for x in n.input:
            consumers.setdefault(x, []).append(n)
        for o in n.output:
            producer[o] = n
    # The graph output gets its pair too: its producer writes "<name>_f",
    # and the DequantizeLinear writes the output's own name.
    final = g.output[0].name
    producer[final].output[:] = [final + "_f" if o == final else o
                                 for o in producer[final].output]
    producer[final + "_f"] = producer.pop(final)
    ranges[final + "_f"] = ranges[final]
    acts = [i.name for i in g.input if i.name not in inits]
    for n in g.node:
        for o in n.output:
            users = consumers.get(o, [])
            if len(users) == 1 and users[0].op_type == "Relu":
                continue
            acts.append(o)
    params, pairs, extra = {}, {}, []
    for a in acts:
        p = producer.get(a)
        if p is not None and p.op_type in ("MaxPool", "Flatten"):
            params[a] = params[p.input[0][:-3]]  # its input's: "<input>_dq"
        else:
            params[a] = u8_params(*ranges[a])
        scale, zp = params[a]
        extra += [numpy_helper.from_array(np.array(scale), a + "_scale"),
                  numpy_helper.from_array(np.array(zp), a + "_zp")]
        out = final if a == final + "_f" else a + "_dq"
        pairs[a] = [helper.make_node("QuantizeLinear", [a, a + "_scale", a + "_zp"], [a + "_q"]),
                    helper.make_node("DequantizeLinear", [a + "_q", a + "_scale", a + "_zp"],
                                     [out])]
        for u in consumers.get(a, []):
            u.input[:] = [out if x == a else x for x in u.input]
    weight_dq = []
    for n in g.node:
        if n.op_type not in ("Conv", "Gemm"):
            continue
        x_scale = float(params[n.input[0][:-3]][0])
        w = inits[n.input[1]].astype(np.float32)
        per_channel = n.op_type == "Conv"
        if per_channel:
            w_scale = np.maximum(np.abs(w).reshape(w.shape[0], -1).max(axis=1), 1e-8) / 127.0
            w_q = np.round(w / w_scale.reshape(-1, *[1] * (w.ndim - 1)))
            w_zp = np.zeros(w.shape[0], np.int8)
        else:
            w_scale = np.float32(max(np.abs(w).max(), 1e-8) / 127.0)
            w_q = np.round(w / w_scale)
            w_zp = np.array(0, np.int8)
        name = n.input[1]
        axis = {"axis": 0} if per_channel else {}
        extra += [numpy_helper.from_array(np.clip(w_q, -127, 127).astype(np.int8), name + "_q"),
                  numpy_helper.from_array(np.asarray(w_scale, np.float32), name + "_scale"),
                  numpy_helper.from_array(w_zp, name + "_zp")]
        weight_dq.append(helper.make_node("DequantizeLinear",
                                          [name + "_q", name + "_scale", name + "_zp"],
                                          [name + "_dq"], **axis))
        n.input[1] = name + "_dq"
        if len(n.input) > 2 and n.input[2]:
            bname = n.input[2]
            b_scale = (x_scale * np.asarray(w_scale, np.float64)).astype(np.float32)
            b_q = np.round(inits[bname].astype(np.float64) / b_scale).astype(np.int32)
            extra += [numpy_helper.from_array(b_q, bname + "_q"),
                      numpy_helper.from_array(b_scale, bname + "_scale"),
                      numpy_helper.from_array(np.zeros_like(b_q) if per_channel
                                              else np.array(0, np.int32), bname + "_zp")]
            weight_dq.append(helper.make_node("DequantizeLinear",
                                              [bname + "_q", bname + "_scale", bname + "_zp"],
                                              [bname + "_dq"], **axis))
            n.input[2] = bname + "_dq"
    ordered = weight_dq
    for i in g.input:
        ordered += pairs.pop(i.name, [])
    for n in g.node:
        ordered.append(n)
        for o in n.output:
            ordered += pairs.pop(o, [])
    assert not pairs, sorted(pairs)
    save_rewritten(model, ordered, extra, dst)
    count = sum(n.op_type == "QuantizeLinear" for n in ordered)
    print(f"quantize_onnx.py static: {count} QuantizeLinear nodes", file=sys.stderr)


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
