"""Quantization-aware training (QAT) for octet, with Debian's PyTorch.

The paper's last step (Wu et al. 2020, section 5): when post-training
quantization and partial quantization leave accuracy short, fine-tune with
fake quantization in the forward pass and the straight-through estimator in
the backward pass, starting from the calibrated model. This module does it
the way octet's runtime quantizes, so that what is trained is what runs:

    import octet_qat
    qmodel = octet_qat.prepare(model, example_inputs)          # fake quant where octet quantizes
    octet_qat.calibrate(qmodel, batches, "entropy")            # octet calibrate's ranges
    octet_qat.finetune(qmodel, batches, loss_fn, epochs=1, lr=1e-3)
    octet_qat.export_qdq(qmodel, example_inputs, "model-qat.onnx")
    # octet convert model-qat.onnx -o model-qat   (every scale is taken as given)

``batches`` is any iterable of ``(inputs, labels)``, ``inputs`` a tensor or a
tuple of tensors (the model's positional arguments). Nothing here is specific
to one model: the model is traced with torch.fx (it must be traceable), and
qat_graph.py finds where octet quantizes. The rules (qat_quant.py, qat_graph.py,
tools/qat/README.md) come from octet's runtime: per-output-channel symmetric
weights (max), per-tensor symmetric activations (u8 where octet proves them
non-negative), round half to even, and the weight levels of the target CPU
(``target="avx2"``: 63 for most layers, see qat_quant.py; ``"vnni"``: 127).
"""

import copy
import itertools
import math
import os
import sys
import warnings

import numpy as np
import torch
import torch.fx
import torch.nn.functional as F
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
import calib_reference  # noqa: E402  (octet's methods, as an independent NumPy reference)
import qat_graph  # noqa: E402
from qat_quant import ActQuant, ActQuantUse, WeightQuant  # noqa: E402

# `octet calibrate --method all`, in runtime/calibration_methods.cpp's order.
METHODS = ("max", "entropy", "percentile=99.9", "percentile=99.99", "percentile=99.999",
           "percentile=99.9999", "mse")
TARGETS = ("auto", "avx2", "vnni")


def cpu_target():
    """"vnni" when oneDNN would use VNNI on this CPU (as octet's cpu_has_vnni()),
    else "avx2". An ISA cap in ONEDNN_MAX_CPU_ISA / DNNL_MAX_CPU_ISA is honoured."""
    cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "").lower()
    if cap and cap != "all" and "vnni" not in cap and "amx" not in cap and "bf16" not in cap:
        return "avx2"
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return "avx2"
    return "vnni" if (" avx512_vnni" in flags or " avx_vnni" in flags) else "avx2"


def canonical_method(method):
    """octet's spelling of a method name ("percentile" is 99.99)."""
    if method in ("max", "entropy", "mse"):
        return method
    if method == "percentile":
        return "percentile=99.99"
    if method.startswith("percentile="):
        p = float(method.split("=", 1)[1])
        if 0 < p <= 100:
            return f"percentile={p:.10g}"
    raise ValueError(f"unknown calibration method '{method}': expected max, entropy, mse or "
                     "percentile=P with 0 < P <= 100")


# ---------------------------------------------------------------- quantized layers

class _QuantLayer(nn.Module):
    """Weights fake-quantized per output channel; ``mode`` "quant", "fp32" or "export"."""

    def __init__(self, weight, bias, wq):
        super().__init__()
        if isinstance(weight, nn.Parameter):
            self.weight = weight
        else:  # a fixed buffer stays fixed (e.g. option-A shortcut selections)
            self.register_buffer("weight", weight.detach().clone())
        self.bias = bias if bias is None or isinstance(bias, nn.Parameter) else nn.Parameter(bias)
        self.wq = wq
        self.mode = "fp32"

    def quantized_weight(self):
        if self.mode == "quant":
            return self.wq(self.weight)
        if self.mode == "export":
            return self.export_weight
        return self.weight


class QuantConv2d(_QuantLayer):
    def __init__(self, weight, bias, stride, padding, dilation, groups, wq):
        super().__init__(weight, bias, wq)
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups

    def extra_repr(self):
        return (f"{tuple(self.weight.shape)}, stride={self.stride}, padding={self.padding}, "
                f"weight levels {self.wq.describe()}")

    def forward(self, x):
        return F.conv2d(x, self.quantized_weight(), self.bias, self.stride, self.padding,
                        self.dilation, self.groups)


class QuantLinear(_QuantLayer):
    def extra_repr(self):
        return f"{tuple(self.weight.shape)}, weight levels {self.wq.describe()}"

    def forward(self, x):
        return F.linear(x, self.quantized_weight(), self.bias)


def _conv_args(node, gm):
    """(weight, bias, stride, padding, dilation, groups) of an F.conv2d node."""
    names = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
    given = dict(zip(names, node.args))
    given.update(node.kwargs)
    fetch = lambda a: None if a is None else _attr(gm, a.target)  # noqa: E731
    return (fetch(given["weight"]), fetch(given.get("bias")), given.get("stride", 1),
            given.get("padding", 0), given.get("dilation", 1), given.get("groups", 1))


def _attr(gm, target):
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def weight_levels(target, kind, src_unsigned):
    """(levels, halved) of an int8 layer's weights on `target` (ops/quantize.cpp)."""
    if target == "vnni":
        return 127, False
    if kind == "conv" and not src_unsigned:
        return 127, True  # oneDNN halves the weights of an s8-source conv itself
    return 63, False


# Tensor factories whose arguments can be traced values (torch.arange(seq_len)
# with seq_len = x.size(1)): fx cannot see through them by itself.
_FACTORIES = ("arange", "zeros", "ones", "full", "empty")


class _Tracer(torch.fx.Tracer):
    """fx tracing with tensor factories of traced sizes, and user leaf modules."""

    def __init__(self, leaf_modules=()):
        super().__init__()
        self.leaf_types = tuple(leaf_modules)

    def is_leaf_module(self, m, qualified_name):
        return isinstance(m, self.leaf_types) or super().is_leaf_module(m, qualified_name)

    def trace(self, root, concrete_args=None):
        originals = {name: getattr(torch, name) for name in _FACTORIES}

        def factory(fn):
            def call(*args, **kwargs):
                for a in list(args) + list(kwargs.values()):
                    if isinstance(a, torch.fx.Proxy):
                        return a.tracer.create_proxy("call_function", fn, args, kwargs)
                return fn(*args, **kwargs)
            return call
        try:
            for name, fn in originals.items():
                setattr(torch, name, factory(fn))
            return super().trace(root, concrete_args)
        finally:
            for name, fn in originals.items():
                setattr(torch, name, fn)


def _as_args(inputs):
    return tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)


# ---------------------------------------------------------------- prepare

def prepare(model, example_inputs, target="auto", leaf_modules=()):
    """A copy of `model` with fake quantization where octet quantizes.

    BatchNorm after a convolution is folded into it (as octet's importer
    does). `target`: "avx2" (no VNNI: 63 weight levels for most layers,
    matmuls of two activations in fp32), "vnni" (127 levels, those matmuls in
    int8), or "auto" (this CPU, see cpu_target()). The result runs in fp32
    until calibrate() gives every activation its range. `leaf_modules`:
    module types not to trace into (their outputs count as fp32 ops).
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}")
    target = cpu_target() if target == "auto" else target
    root = copy.deepcopy(model).eval()
    gm = torch.fx.GraphModule(root, _Tracer(leaf_modules).trace(root))
    qat_graph.fold_batchnorm(gm)
    ShapeProp(gm).propagate(*_as_args(example_inputs))
    p = qat_graph.plan(gm, target)
    graph = gm.graph
    container = nn.Module()
    gm.add_module("octet_q", container)

    homes = {}
    for v, unsigned in p.own.items():
        q = ActQuant(v.name, unsigned)
        container.add_module(v.name, q)
        homes[v] = q
    uses = itertools.count(1)

    def call(module_name, arg, after):
        with graph.inserting_after(after):
            return graph.call_module("octet_q." + module_name, (arg,))

    def use_module(home):
        name = f"{home.name}_use{next(uses)}"
        container.add_module(name, ActQuantUse(homes[home]))
        return name

    for n, home in p.after.items():  # produced in int8: every reader reads the fake quant
        fq = call(home.name if home is n else use_module(home), n, n)
        n.replace_all_uses_with(fq, delete_user_cb=lambda u, fq=fq: u is not fq)
    edge_nodes = {}
    for reader, v, home in p.edges:  # quantized for int8 readers only
        key = (v, home)
        if key not in edge_nodes:
            edge_nodes[key] = call(home.name if home is v else use_module(home), v, v)
        reader.replace_input_with(v, edge_nodes[key])

    layers = []
    for g in p.groups:
        if not g["int8"] or p.kind[g["node"]] == "matmul":
            continue
        n, kind = g["node"], p.kind[g["node"]]
        levels, halved = weight_levels(target, kind, p.own[g["homes"][0]])
        wq = WeightQuant(levels, halved)
        if n.op == "call_module":
            old = gm.get_submodule(n.target)
            if kind == "conv":
                if old.padding_mode != "zeros":
                    raise ValueError(f"{n.target}: padding_mode {old.padding_mode} is not "
                                     "supported")
                new = QuantConv2d(old.weight, old.bias, old.stride, old.padding, old.dilation,
                                  old.groups, wq)
            else:
                new = QuantLinear(old.weight, old.bias, wq)
            qat_graph.set_submodule(gm, n.target, new)
            layers.append(n.target)
            continue
        # A functional F.conv2d / F.linear on constant weights: a module of its own.
        if kind == "conv":
            w, b, stride, padding, dilation, groups = _conv_args(n, gm)
            new = QuantConv2d(w, b, stride, padding, dilation, groups, wq)
        else:
            w = _attr(gm, n.args[1].target)
            b = _attr(gm, n.args[2].target) if len(n.args) > 2 and n.args[2] is not None else None
            new = QuantLinear(w, b, wq)
        owner = n.args[1].target.rpartition(".")[0]
        name = (owner + "." if owner else "") + f"octet_{kind}_{n.name}"
        qat_graph.set_submodule(gm, name, new)
        with graph.inserting_after(n):
            m = graph.call_module(name, (n.args[0],))
        n.replace_all_uses_with(m)
        graph.erase_node(n)
        layers.append(name)
    graph.eliminate_dead_code()
    graph.lint()
    gm.recompile()
    gm.octet_target = target
    gm.octet_layers = layers
    gm.octet_fp32_matmuls = sum(1 for g in p.groups if not g["int8"])
    set_mode(gm, "fp32")
    return gm


def quantizers(model):
    """(name, ActQuant) of every activation with its own range."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, ActQuant)]


def quant_layers(model):
    return [(n, m) for n, m in model.named_modules() if isinstance(m, _QuantLayer)]


def set_mode(model, mode):
    """"quant" (fake quantization), "fp32" (the float model) or "export"."""
    for _, m in quantizers(model) + quant_layers(model):
        m.mode = mode


def describe(model):
    """One line per quantized layer and activation, for logs."""
    lines = [f"target {model.octet_target}: {len(quant_layers(model))} int8 layers, "
             f"{len(quantizers(model))} activation ranges, "
             f"{model.octet_fp32_matmuls} matmuls of two activations in fp32"]
    for n, m in quant_layers(model):
        lines.append(f"  layer {n}: weights {tuple(m.weight.shape)}, levels {m.wq.describe()}")
    for n, q in quantizers(model):
        lines.append(f"  activation {q.value}: {'u8' if q.unsigned else 's8'}, "
                     f"amax {float(q.amax):.6g}")
    return "\n".join(lines)


# ---------------------------------------------------------------- calibrate

class _Observer:
    """octet's two passes for one tensor: min/max, then a histogram of |x|."""

    def __init__(self, bins):
        self.bins = bins
        self.min, self.max = math.inf, -math.inf
        self.counts = None
        self.range = 0.0

    def __call__(self, x):
        a = x.detach().double().reshape(-1)
        a = a[torch.isfinite(a)]  # e.g. a -inf attention mask
        if a.numel() == 0:
            return
        if self.counts is None:
            self.min = min(self.min, float(a.min()))
            self.max = max(self.max, float(a.max()))
        elif self.range > 0:
            v = np.minimum(np.abs(a.numpy()), self.range)
            self.counts += np.histogram(v, bins=self.bins, range=(0.0, self.range))[0]

    def start_histogram(self):
        self.range = float(np.float32(max(abs(self.min), abs(self.max))))
        self.counts = np.zeros(self.bins, np.int64)


def _run(model, batches):
    with torch.no_grad():
        for inputs, _ in batches:
            model(*_as_args(inputs))


def calibrate(model, batches, method="max", methods=None, bins=2048):
    """Activation ranges as `octet calibrate` computes them on the same data.

    Runs the model in fp32 over `batches` twice (min/max, then histograms of
    |x| with `bins` bins over [0, max|x|]), computes every method in
    `methods` (default: just `method`; "all" for octet's --method all list)
    and sets each activation's amax to `method`'s. Returns {value: {method:
    amax}}. set_method() switches to another computed method later.
    """
    method = canonical_method(method)
    wanted = METHODS if methods == "all" else tuple(canonical_method(m) for m in (methods or ()))
    wanted = tuple(dict.fromkeys(wanted + (method,)))
    if iter(batches) is batches:  # a one-shot iterator: two passes need it twice
        batches = list(batches)
    qs = quantizers(model)
    was_training = model.training
    model.eval()
    set_mode(model, "fp32")
    for _, q in qs:
        q.observer = _Observer(bins)
        q.mode = "observe"
    _run(model, batches)
    if wanted != ("max",):
        for _, q in qs:
            q.observer.start_histogram()
        _run(model, batches)
    result = {}
    for _, q in qs:
        o = q.observer
        amax = float(np.float32(max(abs(o.min), abs(o.max))))
        if not math.isfinite(amax) or amax <= 0:
            warnings.warn(f"activation '{q.value}' was all zeros (or never seen): amax 1")
            q.amax_by_method = {m: 1.0 for m in wanted}
        else:
            q.amax_by_method = {m: float(np.float32(_method_amax(o, m, q.unsigned, amax)))
                                for m in wanted}
        q.observer = None
        result[q.value] = dict(q.amax_by_method)
    set_method(model, method)
    set_mode(model, "quant")
    model.train(was_training)
    return result


def _method_amax(obs, method, unsigned, amax):
    if method == "max":
        return amax
    edges = np.linspace(0.0, obs.range, obs.bins + 1)
    if method == "entropy":
        return calib_reference.amax_entropy(obs.counts, edges, unsigned)
    if method == "mse":
        return calib_reference.amax_mse(obs.counts, edges, unsigned, precision="float64")
    return calib_reference.amax_percentile(obs.counts, edges, float(method.split("=")[1]))


def set_method(model, method):
    """Every activation's amax from `method`'s calibration (computed by calibrate())."""
    method = canonical_method(method)
    for _, q in quantizers(model):
        if method not in q.amax_by_method:
            raise ValueError(f"activation '{q.value}': method {method} was not calibrated")
        with torch.no_grad():
            q.amax.fill_(q.amax_by_method[method])


# ---------------------------------------------------------------- fine-tune

def finetune(model, batches, loss_fn, epochs=1, lr=1e-3, optimizer="sgd", momentum=0.9,
             weight_decay=0.0, learn_ranges=False, clip_grad=None, max_steps=None,
             log_every=50, log=print, fake_quant=True):
    """Fake-quantized training with the STE, from the calibrated model.

    The paper's schedule: start from the calibrated ranges, train a small
    fraction of the original schedule, the learning rate annealed from `lr`
    to 0 with a cosine over all steps. `batches`: an iterable of (inputs,
    labels) iterated once per epoch, or a function epoch -> such an iterable
    (e.g. to reshuffle). `optimizer` "sgd" (with `momentum`) or "adamw".
    `learn_ranges`: activation amax become parameters (LSQ gradient, no
    weight decay). Weight ranges always follow max|w| per channel, as octet's.
    `fake_quant=False` trains the float model the same way (a control: what
    the fine-tuning alone does). Returns the history: one dict per logged step.
    """
    for _, q in quantizers(model):
        if not math.isfinite(float(q.amax)):
            raise RuntimeError("finetune() needs calibrated ranges: run calibrate() first")
        q.set_learned(learn_ranges)
    weights = [p for n, p in model.named_parameters() if ".octet_q." not in "." + n]
    ranges = [q.amax for _, q in quantizers(model) if learn_ranges]
    groups = [{"params": weights, "weight_decay": weight_decay}]
    if ranges:
        groups.append({"params": ranges, "weight_decay": 0.0})
    if optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=lr, momentum=momentum)
    elif optimizer == "adamw":
        opt = torch.optim.AdamW(groups, lr=lr)
    else:
        raise ValueError("optimizer must be sgd or adamw")
    epoch_batches = batches if callable(batches) else (lambda epoch: batches)
    per_epoch = None if callable(batches) or not hasattr(batches, "__len__") else len(batches)
    total = max_steps or (epochs * per_epoch if per_epoch else None)
    if total is None:
        raise ValueError("batches has no length: give max_steps for the schedule")
    set_mode(model, "quant" if fake_quant else "fp32")
    model.train()
    history, step = [], 0
    for epoch in range(epochs):
        running, count = 0.0, 0
        for inputs, labels in epoch_batches(epoch):
            if step >= total:
                break
            for group in opt.param_groups:
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / total))
            loss = loss_fn(model(*_as_args(inputs)), labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if clip_grad:
                nn.utils.clip_grad_norm_(weights, clip_grad)
            opt.step()
            with torch.no_grad():
                for r in ranges:
                    r.clamp_(min=1e-6)
            step += 1
            running, count = running + float(loss), count + 1
            if step % log_every == 0 or step == total:
                history.append({"epoch": epoch + 1, "step": step, "loss": running / count,
                                "lr": opt.param_groups[0]["lr"]})
                log(f"step {step}/{total} (epoch {epoch + 1}): loss {running / count:.4f}, "
                    f"lr {opt.param_groups[0]['lr']:.3g}")
                running, count = 0.0, 0
    model.eval()
    set_mode(model, "quant")
    for _, q in quantizers(model):
        q.set_learned(False)
    return history


def export_qdq(model, example_inputs, path, **kwargs):
    """ONNX with QuantizeLinear/DequantizeLinear pairs (qat_export.py)."""
    import qat_export
    return qat_export.export_qdq(model, example_inputs, path, **kwargs)


def export_fp32(model, example_inputs, path, **kwargs):
    """The float model (BatchNorm folded, no fake quantization) as plain ONNX."""
    import qat_export
    return qat_export.export_fp32(model, example_inputs, path, **kwargs)
