"""ONNX export of a prepared, calibrated (and fine-tuned) model with
QuantizeLinear/DequantizeLinear pairs, in the form octet's importer folds
(loaders/onnx/pass_fold_qdq.cpp) and tools/export/qdq.py writes:

* activations: ``x -> QuantizeLinear(s, zp 0) -> DequantizeLinear -> readers``
  wherever the torch model fake-quantizes, per tensor, ``s = amax / 127``
  (zero point int8 0) or ``amax / 255`` (uint8 0), emitted by torch's exporter
  from ``torch.fake_quantize_per_tensor_affine``; the importer recovers amax
  exactly (amax is snapped for that, qat_quant.snap_amax);
* weights: ``W -> QuantizeLinear(s_c, axis) -> DequantizeLinear`` on every
  Conv / Gemm / MatMul weight initializer, added after export with
  onnx.helper (torch's constant folding transposes Linear weights for
  MatMul), ``s_c = amax_c / 127`` per output channel. W is the fake-quantized
  weight: on the 127 grid, or the 63 grid for layers octet runs with 7-bit
  weights (octet gets those integers back exactly: its scale there is
  ``amax_c / 63``, and ``round(round(q * 127 / 63) * 63 / 127) == q``).
"""

import hashlib
import os
import sys
import warnings

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "export"))
import qdq as export_qdq_tools  # noqa: E402  (fold_qparam_casts: tools/export's conventions)

import octet_qat  # noqa: E402


def _key(array):
    a = np.ascontiguousarray(array, dtype=np.float32)
    return a.shape, hashlib.sha1(a.tobytes()).hexdigest()


def export_qdq(model, example_inputs, path, input_names=None, output_names=None,
               dynamic_axes=None, opset=13, metadata=None):
    """Writes `path`; returns what it quantized:
    {"activations": {onnx value: {"amax", "dtype", "scale", "quantizer"}},
     "weights": {initializer: {"amax": [...], "axis", "layer"}}}.
    `metadata`: key -> JSON-serializable value, added to metadata_props as JSON
    (octet keeps octet.preprocess, octet.labels ... as model metadata)."""
    import json
    args = octet_qat._as_args(example_inputs)
    layers = octet_qat.quant_layers(model)
    known = {}
    for name, m in layers:
        w = m.wq.export_weight(m.weight)
        # A parameter, so that the exporter writes an initializer (a buffer
        # that is not saved would become a Constant node).
        m.export_weight = torch.nn.Parameter(w, requires_grad=False)
        amax = m.wq.amax(m.weight).numpy().astype(np.float32)
        known[_key(w.numpy())] = (name, amax)
        if w.dim() == 2:
            known[_key(w.numpy().T)] = (name, amax)
    was_training = model.training
    model.eval()
    octet_qat.set_mode(model, "export")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, args, path, input_names=input_names,
                              output_names=output_names, dynamic_axes=dynamic_axes,
                              opset_version=opset, do_constant_folding=True,
                              training=torch.onnx.TrainingMode.EVAL)
    finally:
        octet_qat.set_mode(model, "quant")
        for _, m in layers:
            del m.export_weight
        model.train(was_training)

    m = onnx.load(path)
    export_qdq_tools.fold_qparam_casts(m)
    weights = _insert_weight_qdq(m, known, {n for n, _ in layers})
    activations = _activation_pairs(m, dict(octet_qat.quantizers(model)), model)
    for key, value in (metadata or {}).items():
        entry = m.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return {"activations": activations, "weights": weights}


def export_fp32(model, example_inputs, path, input_names=None, output_names=None,
                dynamic_axes=None, opset=13, metadata=None):
    """The model without fake quantization as plain ONNX (e.g. to evaluate a
    float fine-tuning run with octet, or to calibrate it with octet)."""
    import json
    was_training = model.training
    model.eval()
    octet_qat.set_mode(model, "fp32")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, octet_qat._as_args(example_inputs), path,
                              input_names=input_names, output_names=output_names,
                              dynamic_axes=dynamic_axes, opset_version=opset,
                              do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL)
    finally:
        octet_qat.set_mode(model, "quant")
        model.train(was_training)
    m = onnx.load(path)
    for key, value in (metadata or {}).items():
        entry = m.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def _insert_weight_qdq(m, known, layer_names):
    """QDQ pairs on the initializers Conv / Gemm / MatMul read as weights."""
    graph = m.graph
    inits = {t.name: t for t in graph.initializer}
    done, new_nodes, report = {}, [], {}
    for node in graph.node:
        if node.op_type not in ("Conv", "Gemm", "MatMul") or len(node.input) < 2:
            continue
        wname = node.input[1]
        if wname not in inits:
            continue
        w = numpy_helper.to_array(inits[wname])
        if _key(w) not in known:
            continue  # not a quantized layer's weight (e.g. a layer left in fp32)
        layer, amax = known[_key(w)]
        if node.op_type == "Conv":
            axis = 0
        elif node.op_type == "Gemm":
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            axis = 0 if trans_b else 1
        else:
            axis = 1
        if w.shape[axis] != amax.shape[0]:
            raise RuntimeError(f"{node.name}: weight {wname} {w.shape} does not have the "
                               f"{amax.shape[0]} output channels of {layer} along axis {axis}")
        if (wname, axis) not in done:
            scale = (amax / np.float32(127)).astype(np.float32)
            base = wname.replace("::", "_").replace("/", "_")
            s_t = numpy_helper.from_array(scale, base + "_scale")
            z_t = numpy_helper.from_array(np.zeros(scale.shape, np.int8), base + "_zero_point")
            graph.initializer.extend([s_t, z_t])
            deq = base + "_dequantized"
            new_nodes.append(helper.make_node("QuantizeLinear", [wname, s_t.name, z_t.name],
                                              [base + "_quantized"], name=base + "_QuantizeLinear",
                                              axis=axis))
            new_nodes.append(helper.make_node("DequantizeLinear",
                                              [base + "_quantized", s_t.name, z_t.name], [deq],
                                              name=base + "_DequantizeLinear", axis=axis))
            done[(wname, axis)] = deq
            report[wname] = {"amax": [float(a) for a in amax], "axis": axis, "layer": layer,
                             "dequantized": deq}
        node.input[1] = done[(wname, axis)]
    missing = layer_names - {r["layer"] for r in report.values()}
    if missing:
        raise RuntimeError(f"no weight initializer found for {sorted(missing)}")
    nodes = new_nodes + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    return report


def _activation_pairs(m, quantizers, model):
    """onnx value -> its QuantizeLinear's range, checked against the module."""
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    uses = {n: mod for n, mod in model.named_modules()
            if isinstance(mod, octet_qat.ActQuantUse)}
    out = {}
    for node in m.graph.node:
        if node.op_type != "QuantizeLinear" or node.input[0] in inits:
            continue
        # torch names the node after the module that emitted it: /<name>/QuantizeLinear.
        scope = node.name.strip("/").split("/")[-2] if "/" in node.name.strip("/") else ""
        q = quantizers.get("octet_q." + scope)
        home = q is not None
        if q is None and "octet_q." + scope in uses:
            q = uses["octet_q." + scope].home
        scale = inits[node.input[1]]
        zp = inits[node.input[2]] if len(node.input) > 2 else np.zeros((), np.uint8)
        dtype = "u8" if zp.dtype == np.uint8 else "s8"
        if q is None:
            raise RuntimeError(f"QuantizeLinear '{node.name}' belongs to no quantizer")
        if float(scale) != float(q.scale()) or (dtype == "u8") != q.unsigned:
            raise RuntimeError(f"QuantizeLinear '{node.name}': scale {float(scale)!r} {dtype}, "
                               f"but its quantizer has {float(q.scale())!r}")
        prev = out.get(node.input[0])
        if prev:
            if prev["scale"] != float(scale):
                raise RuntimeError(f"value '{node.input[0]}' is quantized with two scales")
            prev["home"] = prev["home"] or home
            continue
        # home: the value the quantizer observes (else a pooled or reshaped view of it)
        out[node.input[0]] = {"amax": float(q.snapped_amax()), "dtype": dtype,
                              "scale": float(scale), "quantizer": q.value,
                              "module": "octet_q." + scope, "home": home}
    return out
