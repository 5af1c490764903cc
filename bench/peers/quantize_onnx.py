#!/usr/bin/python3
"""int8 ONNX models for ONNX Runtime, in the forms ORT's own quantizer writes.

The onnxruntime Python package (and its quantization tool) is not a Debian
package, so this writes the same graphs with python3-onnx:

    expose  MODEL.onnx OUT.onnx           every float activation also a graph output
                                          (for ort_ranges.js to measure)
    static  MODEL.onnx RANGES.json OUT.onnx
        QDQ for CNNs, as quantize_static writes it: u8 asymmetric activations
        from RANGES.json (the graph input and every activation of the ops
        quantize_static quantizes), s8 symmetric per-channel Conv, Gemm and
        MatMul weights, int32 biases (see static() for the details).
    dynamic MODEL.onnx OUT.onnx
        Dynamic quantization for transformers: each MatMul by a constant
        becomes DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul, which
        ORT fuses into DynamicQuantizeMatMul; s8 per-tensor weights.
    ops MODEL.onnx                        node counts by op type (JSON)
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


# The ops onnxruntime.quantization.quantize_static quantizes by default (the
# union of its QLinearOpsRegistry and QDQRegistry, ORT 1.16): each float
# activation that such a node reads or writes gets a QuantizeLinear /
# DequantizeLinear pair. Ops outside it (Erf, Div, ReduceMean, HardSigmoid...)
# stay fp32 between the pairs of their neighbours, as in ORT's own output.
QUANTIZED_OPS = {
    "ArgMax", "AveragePool", "BatchNormalization", "Clip", "Concat", "Conv", "ConvTranspose",
    "Gather", "GatherElements", "Gemm", "GlobalAveragePool", "InstanceNormalization",
    "LayerNormalization", "LeakyRelu", "MatMul", "MaxPool", "Mul", "Add", "Pad", "Relu",
    "Reshape", "Resize", "Sigmoid", "Softmax", "Split", "Squeeze", "TopK", "Transpose",
    "Unsqueeze", "Where"}
# Outputs that keep their input's scale and zero point (ORT's
# quantize_output_same_as_input), so that ORT can drop their pairs.
SAME_AS_INPUT = {"Flatten", "MaxPool", "Reshape", "Resize", "Split", "Squeeze", "Transpose",
                 "Unsqueeze"}
# Activations that ORT's quantizer removes after a quantized node (its
# QDQRemovableActivation): the pair goes on the activation's output only, and
# ORT's ReluQuantFusion / ClipQuantFusion then drop the Relu or Clip, whose
# effect the u8 range already has.
REMOVABLE = {"Relu", "Clip"}


def static(src, ranges_path, dst):
    """The QDQ graph onnxruntime.quantization.quantize_static writes
    (QuantFormat.QDQ, per_channel=True, MinMax calibration, QUInt8
    activations, QInt8 weights; u8 is what ORT's x86 kernels take, and its
    QDQS8ToU8 pass turns s8 activations into u8 anyway): a pair on every float
    activation read or written by a node of QUANTIZED_OPS, the graph inputs
    and outputs included; constant weights of Conv, Gemm and MatMul s8
    symmetric per output channel, biases int32 on s_x * s_w. For
    torchvision's ResNet-50: 74 QuantizeLinear nodes."""
    model = onnx.load(src)
    g = model.graph
    ranges = json.load(open(ranges_path))
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    constants = set(inits) | {o for n in g.node if n.op_type == "Constant" for o in n.output}
    floats = set(ranges)
    consumers, producer = {}, {}
    for n in g.node:
        for x in n.input:
            consumers.setdefault(x, []).append(n)
        for o in n.output:
            producer[o] = n
    # A graph output's producer writes "<name>_f" and its DequantizeLinear
    # the output's own name.
    for out in g.output:
        p = producer.get(out.name)
        if p is None or p.op_type not in QUANTIZED_OPS or out.name not in floats:
            continue
        p.output[:] = [out.name + "_f" if o == out.name else o for o in p.output]
        producer[out.name + "_f"] = producer.pop(out.name)
        ranges[out.name + "_f"] = ranges[out.name]
        floats.add(out.name + "_f")
    renamed = {o.name + "_f": o.name for o in g.output if o.name + "_f" in producer}

    def removed_upstream(t):
        users = consumers.get(t, [])
        p = producer.get(t)
        return (len(users) == 1 and users[0].op_type in REMOVABLE and p is not None
                and p.op_type in QUANTIZED_OPS and t not in renamed.values())

    acts = []
    for i in g.input:
        if i.name not in constants and i.name in floats and any(
                u.op_type in QUANTIZED_OPS for u in consumers.get(i.name, [])):
            acts.append(i.name)
    for n in g.node:
        for o in n.output:
            if o not in floats or o in constants or o in acts or removed_upstream(o):
                continue
            if n.op_type in QUANTIZED_OPS or any(
                    u.op_type in QUANTIZED_OPS for u in consumers.get(o, [])):
                acts.append(o)
    params, pairs, extra = {}, {}, []
    for a in acts:
        p = producer.get(a)
        source = p.input[0][:-3] if p is not None and p.input[0].endswith("_dq") else None
        if p is not None and p.op_type in SAME_AS_INPUT and source in params:
            params[a] = params[source]  # its input's, whose readers now read "<input>_dq"
        else:
            params[a] = u8_params(*ranges[a])
        scale, zp = params[a]
        extra += [numpy_helper.from_array(np.array(scale), a + "_scale"),
                  numpy_helper.from_array(np.array(zp), a + "_zp")]
        out = renamed.get(a, a + "_dq")
        pairs[a] = [helper.make_node("QuantizeLinear", [a, a + "_scale", a + "_zp"], [a + "_q"]),
                    helper.make_node("DequantizeLinear", [a + "_q", a + "_scale", a + "_zp"],
                                     [out])]
        for u in consumers.get(a, []):
            u.input[:] = [out if x == a else x for x in u.input]
    weight_dq = []
    for n in g.node:
        if n.op_type not in ("Conv", "Gemm", "MatMul") or n.input[1] not in inits:
            continue
        source = n.input[0][:-3] if n.input[0].endswith("_dq") else None
        if source not in params:
            continue  # an fp32 source: ORT would keep this node in fp32 too
        w = inits[n.input[1]].astype(np.float32)
        if n.op_type == "Conv":
            axis = 0
        elif n.op_type == "Gemm":
            trans_b = next((a.i for a in n.attribute if a.name == "transB"), 0)
            axis = 0 if trans_b else 1
        else:
            if w.ndim != 2:
                continue
            axis = 1
        moved = np.moveaxis(w, axis, 0)
        w_scale = np.maximum(np.abs(moved).reshape(moved.shape[0], -1).max(axis=1), 1e-8) / 127.0
        shape = [1] * w.ndim
        shape[axis] = -1
        w_q = np.clip(np.round(w / w_scale.reshape(shape)), -127, 127).astype(np.int8)
        name = n.input[1]
        extra += [numpy_helper.from_array(w_q, name + "_q"),
                  numpy_helper.from_array(w_scale.astype(np.float32), name + "_scale"),
                  numpy_helper.from_array(np.zeros(w.shape[axis], np.int8), name + "_zp")]
        weight_dq.append(helper.make_node("DequantizeLinear",
                                          [name + "_q", name + "_scale", name + "_zp"],
                                          [name + "_dq"], axis=axis))
        n.input[1] = name + "_dq"
        if n.op_type != "MatMul" and len(n.input) > 2 and n.input[2] in inits:
            bname = n.input[2]
            x_scale = float(params[source][0])
            b_scale = (x_scale * w_scale.astype(np.float64)).astype(np.float32)
            b_q = np.round(inits[bname].astype(np.float64) / b_scale).astype(np.int32)
            extra += [numpy_helper.from_array(b_q, bname + "_q"),
                      numpy_helper.from_array(b_scale, bname + "_scale"),
                      numpy_helper.from_array(np.zeros_like(b_q), bname + "_zp")]
            weight_dq.append(helper.make_node("DequantizeLinear",
                                              [bname + "_q", bname + "_scale", bname + "_zp"],
                                              [bname + "_dq"], axis=0))
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


def ops(src):
    """Node counts by op type, as JSON: for the graph ORT saved after its
    optimizations (ort_check.js), whether the QDQ pairs became int8 kernels."""
    model = onnx.load(src, load_external_data=False)
    counts = {}
    for n in model.graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    print(json.dumps(dict(sorted(counts.items()))))


if __name__ == "__main__":
    commands = {"expose": expose, "static": static, "dynamic": dynamic, "ops": ops}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])
