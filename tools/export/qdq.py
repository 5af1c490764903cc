#!/usr/bin/python3
"""Export seeded QAT-style ONNX models with QuantizeLinear/DequantizeLinear pairs.

Writes, for each model NAME (``convnet-qdq``, ``bert-tiny-qdq``):

- ``DIR/NAME.onnx``: the fp32 model with a QDQ pair on every Conv/MatMul/Gemm
  input activation (per tensor, zero point int8 0, or uint8 0 with
  ``--unsigned``) and on every Conv/MatMul/Gemm weight (per output channel,
  zero point 0);
- ``DIR/NAME.input.<input>.npy``: the seeded sample input(s);
- ``DIR/NAME.expected_fakequant.logits.npy``: torch's output with the same
  fake quantization, computed with ONNX's QuantizeLinear/DequantizeLinear
  arithmetic (float32 ``x / s``, round half to even, saturate, ``q * s``), so
  it is what an exact runtime of the .onnx file gives;
- ``DIR/NAME.expected.logits.npy``: torch's fp32 output, for comparison.

Scales come from a max pass: activation amax = max|x| over a few seeded random
calibration batches (not the sample input), weight amax = max|w| per output
channel; scale = amax / 127 (or / 255) in float32.

How the pairs get there: the torch model runs with hooks at every Conv2d /
Linear input and at both operands of ``torch.matmul`` (BERT attention). While
exporting, a hook calls ``torch.fake_quantize_per_tensor_affine``, which torch
exports as QuantizeLinear + DequantizeLinear; for the reference it computes the
ONNX arithmetic itself (torch's fake quant multiplies by 1/s instead of
dividing, which rarely lands one step away). Weight pairs are inserted
afterwards with ``onnx.helper`` on the initializers that Conv (axis 0), Gemm
(axis 0 with transB=1) and MatMul (B ``[K, N]``, axis 1) read, so that torch's
constant folding (Linear weights are transposed for MatMul) never sees them;
the torch reference uses the fake-quantized weights ``q * s``. BatchNorm is
folded in torch before export, as QAT tools do, so the weights that get scales
are the folded ones.

Example::

    /usr/bin/python3 tools/export/qdq.py --out /tmp/octet-qdq
"""

import argparse
import hashlib
import os
import sys
import warnings

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export  # noqa: E402  (needs the path tweak above)
import models  # noqa: E402

MODELS = ("convnet", "bert-tiny")
LEVELS = {"s8": (np.float32(127), -128, 127), "u8": (np.float32(255), 0, 255)}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="output directory (created)")
    p.add_argument("--model", choices=MODELS + ("all",), default="all")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--opset", type=int, default=13, choices=range(13, 18), metavar="{13..17}")
    p.add_argument("--calib-batches", type=int, default=4,
                   help="seeded random batches of the max pass")
    p.add_argument("--batch", type=int, default=2, help="sample batch size")
    p.add_argument("--seq", type=int, default=64, help="bert sample sequence length")
    p.add_argument("--init-std", type=float, default=0.1,
                   help="bert init std (0.1 makes attention matter, see README)")
    p.add_argument("--weights", choices=("qdq", "int8"), default="qdq",
                   help="qdq: f32 W -> QuantizeLinear -> DequantizeLinear (pytorch-"
                        "quantization's form); int8: int8 initializer -> DequantizeLinear")
    p.add_argument("--unsigned", action="store_true",
                   help="uint8 (zero point uint8 0, amax/255) for activations that are "
                        ">= 0 in every calibration batch; default int8 everywhere")
    p.add_argument("--check", action="store_true",
                   help="also run the .onnx with tests/python/onnx_numpy_ref.py and require "
                        "it to match the fake-quant reference")
    p.add_argument("--threads", type=int, default=2)
    return p.parse_args(argv)


# ---------------------------------------------------------------- quantization arithmetic

def scale_of(amax, dtype):
    """float32 scale = amax / 127 (or 255); a zero range gets a tiny positive scale."""
    amax = np.maximum(np.asarray(amax, dtype=np.float32), np.float32(1e-8))
    return (amax / LEVELS[dtype][0]).astype(np.float32)


def fake_quant_np(x, scale, dtype, axis=None):
    """ONNX QuantizeLinear then DequantizeLinear, in float32 (scale per axis if given)."""
    _, lo, hi = LEVELS[dtype]
    s = np.asarray(scale, dtype=np.float32)
    if axis is not None:
        shape = [1] * x.ndim
        shape[axis] = -1
        s = s.reshape(shape)
    q = np.clip(np.rint(x.astype(np.float32) / s), lo, hi)
    return (q.astype(np.float32) * s).astype(np.float32), q


def channel_amax(w, axis):
    """max|w| over every axis but `axis`."""
    other = tuple(d for d in range(w.ndim) if d != axis)
    return np.abs(w).max(axis=other).astype(np.float32)


# ---------------------------------------------------------------- activation sites

class Sites:
    """Quantization points: Conv2d/Linear inputs and torch.matmul operands.

    mode "fp32": identity; "calibrate": records max|x| (and min) per site;
    "export": torch.fake_quantize_per_tensor_affine (exported as Q/DQ);
    "reference": the ONNX arithmetic in float32.
    Sites are keyed by module name, and by call order for torch.matmul.
    """

    def __init__(self, model, unsigned):
        self.mode = "fp32"
        self.unsigned = unsigned
        self.amax, self.amin, self.scale, self.dtype = {}, {}, {}, {}
        self.matmul_calls = 0
        self._orig_matmul = torch.matmul
        self._handles = []
        for name, m in model.named_modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                self._handles.append(m.register_forward_pre_hook(self._pre_hook(name)))

    def _pre_hook(self, name):
        def hook(_module, inputs):
            return (self.apply(name, inputs[0]),) + tuple(inputs[1:])
        return hook

    def _matmul(self, a, b, *args, **kwargs):
        k = self.matmul_calls
        self.matmul_calls += 1
        a = self.apply(f"matmul{k}.a", a)
        b = self.apply(f"matmul{k}.b", b)
        return self._orig_matmul(a, b, *args, **kwargs)

    def __enter__(self):
        torch.matmul = self._matmul
        return self

    def __exit__(self, *exc):
        torch.matmul = self._orig_matmul

    def run(self, mode, fn):
        self.mode = mode
        self.matmul_calls = 0
        with self:
            return fn()

    def finalize(self):
        for key, amax in self.amax.items():
            dtype = "u8" if self.unsigned and self.amin[key] >= 0 else "s8"
            self.dtype[key] = dtype
            self.scale[key] = float(scale_of(amax, dtype))

    def apply(self, key, x):
        if self.mode == "fp32":
            return x
        if self.mode == "calibrate":
            self.amax[key] = max(self.amax.get(key, 0.0), float(x.detach().abs().max()))
            self.amin[key] = min(self.amin.get(key, 0.0), float(x.detach().min()))
            return x
        s = self.scale[key]
        _, lo, hi = LEVELS[self.dtype[key]]
        if self.mode == "export":
            return torch.fake_quantize_per_tensor_affine(x, s, 0, lo, hi)
        st = torch.tensor(s, dtype=torch.float32)
        return torch.clamp(torch.round(x / st), lo, hi) * st


# ---------------------------------------------------------------- models

class ConvNet(nn.Module):
    """conv-bn-relu x3 with a residual, global average pool, fc; 16-32 channels."""

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16)
        self.conv2, self.bn2 = nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False), \
            nn.BatchNorm2d(32)
        self.conv3, self.bn3 = nn.Conv2d(32, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(x)))
        z = torch.relu(self.bn3(self.conv3(y)) + y)
        return self.fc(torch.flatten(self.pool(z), 1))


def build_convnet(seed):
    """Seeded ConvNet with random BN statistics, BN folded into the convs (eval)."""
    torch.manual_seed(seed)
    model = ConvNet().eval()
    generator = torch.Generator().manual_seed(seed + 17)
    models.randomize_batchnorm(model, generator)
    models.calibrate_conv_scales(model, torch.randn((4, 3, 32, 32), generator=generator))
    for i in (1, 2, 3):
        conv, bn = getattr(model, f"conv{i}"), getattr(model, f"bn{i}")
        setattr(model, f"conv{i}", fuse_conv_bn_eval(conv, bn))
        setattr(model, f"bn{i}", nn.Identity())
    return model


def convnet_inputs(batch, generator):
    return {"input": torch.randn((batch, 3, 32, 32), generator=generator)}


def build(name, args):
    """(model, sample inputs, calibration input list, dynamic axes)."""
    sample_gen = torch.Generator().manual_seed(args.seed + 1_000_003)
    calib_gen = torch.Generator().manual_seed(args.seed + 2_000_003)
    if name == "convnet":
        model = build_convnet(args.seed)
        inputs = convnet_inputs(args.batch, sample_gen)
        calib = [convnet_inputs(4, calib_gen) for _ in range(args.calib_batches)]
        axes = {"input": {0: "batch"}, "logits": {0: "batch"}}
        return model, inputs, calib, axes
    model = models.build_model(name, args.seed, args.init_std).eval()
    vocab = models.BERT_CONFIGS[name].vocab_size
    inputs = export.bert_inputs(args.batch, args.seq, vocab, sample_gen)
    calib = [export.bert_inputs(4, args.seq, vocab, calib_gen) for _ in range(args.calib_batches)]
    return model, inputs, calib, export.dynamic_axes(name, list(inputs))


# ---------------------------------------------------------------- weights

def weight_modules(model):
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def fake_quantize_weights(model):
    """Replaces every Conv2d/Linear weight by q * s (per output channel, axis 0)."""
    with torch.no_grad():
        for _, m in weight_modules(model):
            w = m.weight.detach().numpy()
            s = scale_of(channel_amax(w, 0), "s8")
            m.weight.copy_(torch.from_numpy(fake_quant_np(w, s, "s8", axis=0)[0]))


def weight_key(array):
    return (array.shape, hashlib.sha1(np.ascontiguousarray(array).tobytes()).hexdigest())


def insert_weight_qdq(onnx_model, torch_model, form):
    """QDQ on every initializer that a Conv/Gemm/MatMul reads as its weight.

    Each must be a torch Conv2d/Linear weight (as is, or transposed for
    MatMul); returns the number of weights quantized.
    """
    graph = onnx_model.graph
    inits = {t.name: t for t in graph.initializer}
    known = {}
    for name, m in weight_modules(torch_model):
        w = m.weight.detach().numpy()
        known[weight_key(w)] = name
        if w.ndim == 2:
            known[weight_key(w.T)] = name
    done, new_nodes, used = {}, [], set()
    for node in graph.node:
        if node.op_type not in ("Conv", "Gemm", "MatMul") or len(node.input) < 2:
            continue
        wname = node.input[1]
        if wname not in inits:
            continue
        w = numpy_helper.to_array(inits[wname])
        if node.op_type == "Conv":
            axis = 0
        elif node.op_type == "Gemm":
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            axis = 0 if trans_b else 1
        else:
            if w.ndim != 2:
                raise SystemExit(f"MatMul {node.name}: weight {wname} is not 2-D")
            axis = 1
        if weight_key(w) not in known:
            raise SystemExit(f"{node.op_type} {node.name}: weight {wname} is no torch weight")
        used.add(known[weight_key(w)])
        if (wname, axis) not in done:
            s = scale_of(channel_amax(w, axis), "s8")
            base = wname.replace("::", "_")
            scale_t = numpy_helper.from_array(s, base + "_scale")
            zp_t = numpy_helper.from_array(np.zeros(s.shape, np.int8), base + "_zero_point")
            graph.initializer.extend([scale_t, zp_t])
            deq = base + "_dequantized"
            if form == "int8":
                q = fake_quant_np(w, s, "s8", axis)[1].astype(np.int8)
                graph.initializer.append(numpy_helper.from_array(q, base + "_int8"))
                new_nodes.append(helper.make_node(
                    "DequantizeLinear", [base + "_int8", scale_t.name, zp_t.name], [deq],
                    name=base + "_DequantizeLinear", axis=axis))
            else:
                new_nodes.append(helper.make_node(
                    "QuantizeLinear", [wname, scale_t.name, zp_t.name], [base + "_quantized"],
                    name=base + "_QuantizeLinear", axis=axis))
                new_nodes.append(helper.make_node(
                    "DequantizeLinear", [base + "_quantized", scale_t.name, zp_t.name], [deq],
                    name=base + "_DequantizeLinear", axis=axis))
            done[(wname, axis)] = deq
        node.input[1] = done[(wname, axis)]
    missing = {n for n, _ in weight_modules(torch_model)} - used
    if missing:
        raise SystemExit(f"weights without QDQ: {sorted(missing)}")
    # Weight nodes first: they depend on initializers only.
    nodes = new_nodes + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    if form == "int8":  # the f32 originals are no longer read
        read = {i for n in graph.node for i in n.input}
        keep = [t for t in graph.initializer if t.name in read]
        del graph.initializer[:]
        graph.initializer.extend(keep)
    return len(done)


def fold_qparam_casts(onnx_model):
    """torch writes zero points as Cast(Constant); make them initializers.

    Folds Constant nodes and Casts of constants that feed Q/DQ scale or zero
    point inputs (a scale of a Cast is folded the same way).
    """
    graph = onnx_model.graph
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for n in graph.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    qparams = {i for n in graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")
               for i in n.input[1:]}
    np_types = {onnx.TensorProto.INT8: np.int8, onnx.TensorProto.UINT8: np.uint8,
                onnx.TensorProto.FLOAT: np.float32}
    folded, keep = {}, []
    for n in graph.node:
        if n.op_type == "Cast" and n.output[0] in qparams and n.input[0] in consts:
            to = next(a.i for a in n.attribute if a.name == "to")
            folded[n.output[0]] = consts[n.input[0]].astype(np_types[to])
        elif n.op_type == "Constant" and n.output[0] in qparams:
            folded[n.output[0]] = consts[n.output[0]]
        else:
            keep.append(n)
    for name, value in folded.items():
        graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
    del graph.node[:]
    graph.node.extend(keep)
    # Constants that only fed the folded Casts.
    read = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    keep = [n for n in graph.node if n.op_type != "Constant" or n.output[0] in read]
    del graph.node[:]
    graph.node.extend(keep)
    return len(folded)


# ---------------------------------------------------------------- check

def numpy_reference(onnx_model, feeds):
    """The logits of the .onnx file by the repository's numpy ONNX interpreter.

    Its op table gets QuantizeLinear / DequantizeLinear as ONNX defines them
    (scalar or per-axis scale, zero point default uint8 0).
    """
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, os.path.join(root, "tests", "python"))
    import onnx_numpy_ref  # noqa: E402

    def per_axis(x, v, axis):
        v = np.asarray(v)
        if v.size == 1:
            return v.reshape(())
        shape = [1] * x.ndim
        shape[axis] = -1
        return v.reshape(shape)

    def quantize(x, s, zp=None, axis=1):
        zp = np.zeros((), np.uint8) if zp is None else zp
        info = np.iinfo(zp.dtype)
        y = np.rint(x.astype(np.float32) / per_axis(x, s, axis).astype(np.float32))
        y = y + per_axis(x, zp, axis).astype(np.float32)
        return np.clip(y, info.min, info.max).astype(zp.dtype)

    def dequantize(x, s, zp=None, axis=1):
        zp = np.zeros((), x.dtype) if zp is None else zp
        y = x.astype(np.float32) - per_axis(x, zp, axis).astype(np.float32)
        return (y * per_axis(x, s, axis).astype(np.float32)).astype(np.float32)

    onnx_numpy_ref.OPS.setdefault("QuantizeLinear", quantize)
    onnx_numpy_ref.OPS.setdefault("DequantizeLinear", dequantize)
    return onnx_numpy_ref.run_model(onnx_model, feeds)["logits"].astype(np.float32)


# ---------------------------------------------------------------- main

def cosine(a, b):
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def export_one(name, args):
    out_name = f"{name}-qdq"
    model, inputs, calib, axes = build(name, args)
    names = list(inputs)
    args_of = lambda d: tuple(d[n] for n in names)  # noqa: E731
    sites = Sites(model, args.unsigned)
    with torch.no_grad():
        fp32 = sites.run("fp32", lambda: model(*args_of(inputs))).float()
        for batch in calib:
            sites.run("calibrate", lambda: model(*args_of(batch)))
        sites.finalize()
        # Export with the original weights (their QDQ pairs are added below).
        path = os.path.join(args.out, out_name + ".onnx")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sites.run("export", lambda: torch.onnx.export(
                model, args_of(inputs), path, input_names=names, output_names=["logits"],
                dynamic_axes=axes, opset_version=args.opset, do_constant_folding=True))
        onnx_model = onnx.load(path)
        n_casts = fold_qparam_casts(onnx_model)
        n_weights = insert_weight_qdq(onnx_model, model, args.weights)
        onnx.checker.check_model(onnx_model)
        onnx.save(onnx_model, path)
        # The reference: fake-quantized weights and activations, ONNX arithmetic.
        fake_quantize_weights(model)
        ref = sites.run("reference", lambda: model(*args_of(inputs))).float()
    for n in names:
        np.save(os.path.join(args.out, f"{out_name}.input.{n}.npy"), inputs[n].numpy())
    np.save(os.path.join(args.out, f"{out_name}.expected_fakequant.logits.npy"),
            ref.numpy().astype(np.float32))
    np.save(os.path.join(args.out, f"{out_name}.expected.logits.npy"),
            fp32.numpy().astype(np.float32))
    ops = {}
    for n in onnx_model.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    n_u8 = sum(1 for d in sites.dtype.values() if d == "u8")
    print(f"{out_name}: {path}")
    print(f"  {len(sites.scale)} activation pairs ({n_u8} uint8), {n_weights} weights "
          f"({args.weights}), {n_casts} zero-point/scale casts folded; "
          f"QuantizeLinear {ops.get('QuantizeLinear', 0)}, "
          f"DequantizeLinear {ops.get('DequantizeLinear', 0)}, {len(onnx_model.graph.node)} nodes")
    print(f"  logits {tuple(ref.shape)}: fake-quant vs fp32 cosine "
          f"{cosine(ref.numpy(), fp32.numpy()):.6f}, max|diff| "
          f"{float((ref - fp32).abs().max()):.4g} (max|fp32| {float(fp32.abs().max()):.4g})")
    if args.check:
        got = numpy_reference(onnx_model, {n: inputs[n].numpy() for n in names})
        diff = float(np.abs(got - ref.numpy()).max())
        print(f"  check: tests/python/onnx_numpy_ref.py (+ QuantizeLinear/DequantizeLinear) on "
              f"the .onnx vs the fake-quant reference: cosine {cosine(got, ref.numpy()):.9f}, "
              f"max|diff| {diff:.3g}")
        if not cosine(got, ref.numpy()) > 0.99999:
            raise SystemExit(f"{out_name}: the .onnx file and the torch reference disagree")


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    for name in (MODELS if args.model == "all" else (args.model,)):
        export_one(name, args)


if __name__ == "__main__":
    main()
