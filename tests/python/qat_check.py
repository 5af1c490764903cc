#!/usr/bin/python3
"""tools/qat (octet_qat.py) against octet itself.

    qat_check.py ste                            the STE gradient (no octet needed)
    qat_check.py calibrate --octet BIN --dir D  calibrate() == `octet calibrate`, every method
    qat_check.py export --octet BIN --dir D     export_qdq(): scales imported exactly, and
                                                octet int8 == the fake-quant torch forward

Two seeded models with random weights: a ResNet (tools/cifar/resnet_cifar.py,
one block a stage: identity and option-A 1x1-conv shortcuts, residual adds,
global average pool, a Linear; BatchNorm with random statistics) and a small
BERT (tools/export/models.py: LayerNorm, GELU, softmax, attention matmuls).

Exits 77 (CTest's skip code) only when Debian's torch is missing; without
onnx beside torch (tools/setup.sh installs both together) or on any mismatch
it exits 1. One torch thread: CTest runs two tests at a time on two cores.
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SKIP = 77
try:
    import torch
except ImportError:
    print("qat_check.py: skipped: Debian's python3-torch is not installed")
    sys.exit(SKIP)
import onnx  # noqa: E402  (a failure, not a skip: setup.sh installs it with torch)
for sub in ("tools/qat", "tools/cifar", "tools/export"):
    sys.path.insert(0, os.path.join(ROOT, sub))
import models  # noqa: E402
import octet_qat  # noqa: E402
import qat_quant  # noqa: E402
import resnet_cifar  # noqa: E402

FAILURES = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILURES.append(what)


def finish():
    print(f"qat_check.py: {len(FAILURES)} failure(s)")
    return 1 if FAILURES else 0


# ---------------------------------------------------------------- models

def tiny_resnet(seed=0):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    model = resnet_cifar.ResNetCifar(1, in_channels=3).set_shortcut_mode("conv").eval()
    models.randomize_batchnorm(model, gen)
    models.calibrate_conv_scales(model, torch.randn((8, 3, 32, 32), generator=gen))
    names = ["input"]
    inputs = lambda n, g: (torch.randn((n, 3, 32, 32), generator=g),)  # noqa: E731
    axes = {"input": {0: "batch"}, "logits": {0: "batch"}}
    return model, names, inputs, axes


def tiny_bert(seed=0):
    torch.manual_seed(seed)
    cfg = models.BertConfig(vocab_size=500, hidden_size=32, num_hidden_layers=1,
                            num_attention_heads=2, intermediate_size=64,
                            max_position_embeddings=64)
    model = models.BertForSequenceClassification(cfg)
    models.init_bert_weights(model, torch.Generator().manual_seed(seed + 1), std=0.1)
    names = ["input_ids", "attention_mask", "token_type_ids"]

    def inputs(n, g):
        ids = torch.randint(1, cfg.vocab_size, (n, 24), generator=g)
        return ids, torch.ones_like(ids), torch.zeros_like(ids)
    axes = {k: {0: "batch", 1: "sequence"} for k in names}
    axes["logits"] = {0: "batch"}
    return model.eval(), names, inputs, axes


MODELS = {"resnet": tiny_resnet, "bert": tiny_bert}


def run(cmd, cwd=None):
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000", OMP_NUM_THREADS="1")
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"qat_check.py: {' '.join(cmd)} failed:\n{r.stdout}{r.stderr}")
    return r.stdout


def save_inputs(directory, prefix, names, tensors):
    paths = []
    for name, t in zip(names, tensors):
        path = os.path.join(directory, f"{prefix}.{name}.npy")
        np.save(path, t.numpy())
        paths.append(f"{name}={path}")
    return paths


# ---------------------------------------------------------------- (c) STE

def ste():
    """The gradient is 1 where the rounded value is inside the integer range, else 0."""
    torch.manual_seed(0)
    for unsigned in (False, True):
        amax = torch.tensor(2.0)
        x = (torch.randn(10000) * 2).requires_grad_()
        y = qat_quant.fake_quant(x, amax, unsigned)
        y.backward(torch.ones_like(y))
        s = amax / (255.0 if unsigned else 127.0)  # float32, as octet
        r = torch.round(x.detach() * (1 / s))
        lo, hi = (0, 255) if unsigned else (-128, 127)
        inside = (r >= lo) & (r <= hi)
        kind = "u8" if unsigned else "s8"
        check(bool(((x.grad == 1) == inside).all()) and bool(((x.grad == 0) == ~inside).all()),
              f"{kind}: gradient 1 on the {int(inside.sum())} values inside the range, 0 on "
              f"the {int((~inside).sum())} outside")
        check(int(inside.sum()) > 1000 and int((~inside).sum()) > 1000,
              f"{kind}: both cases occur")
        q = y.detach() / s
        on_grid = bool(((q - torch.round(q)).abs() < 1e-3).all())  # y = fl(q * s)
        check(on_grid and round(float(q.min())) >= lo and round(float(q.max())) <= hi,
              f"{kind}: the forward values are integers in [{lo}, {hi}] times the scale")
    # Round half to even, as octet: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2 (scale 1).
    x = torch.tensor([0.5, 1.5, 2.5, -0.5, -1.5])
    y = qat_quant.fake_quant(x, torch.tensor(127.0), False)
    check(y.tolist() == [0.0, 2.0, 2.0, -0.0, -2.0], f"round half to even: {y.tolist()}")
    # Weights: inside their range by construction (amax = max|w|): identity.
    w = torch.randn(8, 4, 3, 3, requires_grad=True)
    for levels, halved in ((127, False), (63, False), (127, True)):
        w.grad = None
        wq = qat_quant.WeightQuant(levels, halved)
        out = wq(w)
        out.backward(torch.ones_like(out))
        check(bool((w.grad == 1).all()), f"weights ({wq.describe()}): gradient 1 everywhere")
        q = out.detach() / (wq.amax(w) / levels).reshape(-1, 1, 1, 1)
        bound = 128 if halved else levels  # halving 127 rounds to 64, times 2
        check(bool((q.abs() <= bound + 1e-3).all()), f"weights ({wq.describe()}): |q| <= {bound}")
    return finish()


# ---------------------------------------------------------------- (a) calibrate

def calibrate(args):
    """torch calibrate() and `octet calibrate --method all` on the same samples."""
    for name, build in MODELS.items():
        model, names, inputs, axes = build()
        gen = torch.Generator().manual_seed(7)
        data = inputs(24, gen)
        example = inputs(2, torch.Generator().manual_seed(8))
        q = octet_qat.prepare(model, example)
        d = os.path.join(args.dir, name)
        os.makedirs(d, exist_ok=True)
        # The same prepared graph, once as plain fp32 ONNX for octet calibrate,
        # once with QDQ pairs: those name the ONNX value of each quantizer.
        plain = os.path.join(d, "plain.onnx")
        octet_qat.set_mode(q, "fp32")
        with torch.no_grad():
            torch.onnx.export(q, example, plain, input_names=names, output_names=["logits"],
                              dynamic_axes=axes, opset_version=13, do_constant_folding=True)
        run([args.octet, "convert", plain, "-o", os.path.join(d, "plain")])
        data_flags = ",".join(save_inputs(d, "calib", names, data))
        run([args.octet, "calibrate", os.path.join(d, "plain"), "--data", data_flags, "--method",
             "all", "--quiet", "-o", os.path.join(d, "table.json")])
        with open(os.path.join(d, "table.json")) as f:
            table = json.load(f)["tensors"]
        batches = [(tuple(t[i:i + 8] for t in data), None) for i in range(0, 24, 8)]
        octet_qat.calibrate(q, batches, "max", methods="all")
        report = octet_qat.export_qdq(q, example, os.path.join(d, "qdq.onnx"), input_names=names,
                                      output_names=["logits"], dynamic_axes=axes)
        by_quantizer = {v["quantizer"]: value for value, v in report["activations"].items()
                        if v["home"]}
        exact = compared = 0
        for qname, qz in octet_qat.quantizers(q):
            value = by_quantizer.get(qz.value)
            if value not in table:
                check(False, f"{name}: quantizer {qz.value} (onnx value {value}) is not in "
                             "octet's table")
                continue
            row = table[value]
            want = "u8" if qz.unsigned else "s8"
            check(row["dtype"] == want, f"{name} {value}: octet calibrates it {row['dtype']}, "
                                        f"torch {want}")
            width = max(abs(row["min"]), abs(row["max"])) / 2048
            for m in octet_qat.METHODS:
                # The table holds float32 values as their shortest decimals.
                got = float(np.float32(qz.amax_by_method[m]))
                ref = float(np.float32(row["amax_by_method"][m]))
                compared += 1
                exact += got == ref
                # torch's and oneDNN's fp32 convolutions differ in the last
                # bits, so max|x| (and the bin edges with it) may be an ulp or
                # two apart; the method must then pick the same bin. The model
                # input is the same data on both sides: identical.
                tol = 0.0 if value == names[0] else 1e-5 * ref
                if abs(got - ref) > tol:
                    check(False, f"{name} {value} {m}: torch {got!r}, octet {ref!r} "
                                 f"({(got - ref) / width:+.2f} bins of {width:.3g})")
        check(compared == len(octet_qat.quantizers(q)) * len(octet_qat.METHODS) and compared > 0,
              f"{name}: {compared} ranges ({len(octet_qat.quantizers(q))} tensors x "
              f"{len(octet_qat.METHODS)} methods) checked against octet's: {exact} identical, "
              f"the others within 1e-5 (the same bin)")
    return finish()


# ---------------------------------------------------------------- (b) + (d) export

def export(args):
    for name, build in MODELS.items():
        model, names, inputs, axes = build()
        gen = torch.Generator().manual_seed(7)
        example = inputs(2, torch.Generator().manual_seed(8))
        sample = inputs(16, torch.Generator().manual_seed(9))
        q = octet_qat.prepare(model, example)
        batches = [(inputs(8, gen), None) for _ in range(3)]
        octet_qat.calibrate(q, batches, "percentile=99.99")
        # A few fine-tuning steps so that weights and ranges are QAT's, not max|w|'s.
        target = q(*sample).detach()
        octet_qat.finetune(q, [(inputs(8, gen), target[:8]) for _ in range(3)],
                           torch.nn.functional.mse_loss, epochs=1, lr=1e-3, learn_ranges=True,
                           log=lambda s: None)
        d = os.path.join(args.dir, name)
        os.makedirs(d, exist_ok=True)
        onnx_path = os.path.join(d, "qat.onnx")
        report = octet_qat.export_qdq(q, example, onnx_path, input_names=names,
                                      output_names=["logits"], dynamic_axes=axes)
        octet_model = os.path.join(d, "qat")
        run([args.octet, "convert", onnx_path, "-o", octet_model])
        with open(octet_model + ".octet.json") as f:
            doc = json.load(f)
        quant = doc.get("quantization", {})
        check_scales(name, report, quant, q)
        check_int8_run(args, name, q, names, example, sample, batches, report, onnx_path, d)
        inspect = run([args.octet, "inspect", octet_model] +
                      (["--seq", "24"] if name == "bert" else []))
        layers = [ln for ln in inspect.splitlines() if " Conv " in ln or " Gemm " in ln
                  or (" MatMul " in ln and "fp32" not in ln)]
        fp32 = [ln for ln in inspect.splitlines()
                if (" Conv " in ln or " Gemm " in ln) and "int8" not in ln]
        check(not fp32 and layers, f"{name}: octet runs every Conv/Gemm of the QAT model in "
                                   f"int8 ({len(layers)} int8 layers) {fp32 or ''}")
        # Trained for the other CPU family (VNNI: attention matmuls in int8 too):
        # the scales import exactly all the same.
        other = "vnni" if q.octet_target == "avx2" else "avx2"
        q2 = octet_qat.prepare(model, example, target=other)
        octet_qat.calibrate(q2, batches, "entropy")
        path = os.path.join(d, f"qat-{other}.onnx")
        report = octet_qat.export_qdq(q2, example, path, input_names=names,
                                      output_names=["logits"], dynamic_axes=axes)
        run([args.octet, "convert", path, "-o", path[:-5]])
        with open(path[:-5] + ".octet.json") as f:
            check_scales(f"{name} ({other})", report, json.load(f).get("quantization", {}), q2)
    return finish()


def check_scales(name, report, quant, q):
    acts = quant.get("activations", {})
    n_act = n_ok = 0
    for value, r in report["activations"].items():
        got = acts.get(value)
        n_act += 1
        ok = (got is not None and np.float32(got["amax"]) == np.float32(r["amax"])
              and got["dtype"] == r["dtype"] and got.get("source") == "qdq")
        n_ok += ok
        if not ok:
            check(False, f"{name} activation {value}: octet has {got}, the module {r}")
    check(n_act == n_ok and n_act >= len(octet_qat.quantizers(q)),
          f"{name}: {n_ok}/{n_act} activation ranges imported exactly (amax, dtype, source qdq) "
          f"for {len(octet_qat.quantizers(q))} quantizers")
    weights = quant.get("weights", {})
    n_w = n_ok = 0
    for init, r in report["weights"].items():
        got = weights.get(r["dequantized"])  # the importer's f32 weight constant
        n_w += 1
        ok = got is not None and np.array_equal(np.float32(got["amax"]), np.float32(r["amax"]))
        n_ok += ok
        if not ok:
            check(False, f"{name} weight {init} ({r['layer']}): octet {got}, module {r['amax']}")
    layers = len(octet_qat.quant_layers(q))
    check(n_w == n_ok == layers, f"{name}: {n_ok}/{n_w} weights' per-channel ranges imported "
                                 f"exactly, {layers} quantized layers")


def octet_outputs(args, onnx_path, report, names, sample, d, tag):
    """octet's int8 run of the QDQ model with every quantized activation as an
    extra output (dequantized: scale x the integers octet computed)."""
    m = onnx.load(onnx_path)
    values = [v for v in report["activations"] if v not in names]
    for v in values:
        m.graph.output.append(onnx.helper.make_tensor_value_info(v, onnx.TensorProto.FLOAT, None))
    path = os.path.join(d, f"{tag}-outputs.onnx")
    onnx.save(m, path)
    model = os.path.join(d, f"{tag}-outputs")
    run([args.octet, "convert", path, "-o", model])
    flags = []
    for p in save_inputs(d, "sample", names, sample):
        flags += ["--input", p]
    out_dir = os.path.join(d, f"{tag}-out")
    run([args.octet, "run", model] + flags + ["--output-dir", out_dir])
    load = lambda v: np.load(os.path.join(out_dir, v.replace("/", "_") + ".npy"))  # noqa: E731
    return load("logits").astype(np.float64), {v: load(v) for v in values}


def torch_outputs(q, sample):
    """The fake-quant forward's logits and the output of every quantizer module."""
    seen, handles = {}, []
    for n, mod in q.named_modules():
        if isinstance(mod, (qat_quant.ActQuant, qat_quant.ActQuantUse)):
            handles.append(mod.register_forward_hook(
                lambda mod, i, out, n=n: seen.__setitem__(n, out.detach().numpy())))
    with torch.no_grad():
        logits = q(*sample).double().numpy()
    for h in handles:
        h.remove()
    return logits, seen


def steps_off(report, value, got, want):
    """|octet - torch| in integers of the value's scale, per element. A value
    octet produces in fp32 (LayerNorm, Tanh ...) comes out unquantized: it is
    quantized here as octet's quantize step does before its int8 reader."""
    r = report["activations"][value]
    s = np.float32(r["scale"])
    lo, hi = (0, 255) if r["dtype"] == "u8" else (-128, 127)
    q_got = np.clip(np.rint(got.astype(np.float32) * (np.float32(1) / s)), lo, hi)
    return np.abs(q_got - np.rint(want.astype(np.float64) / float(s)))


def check_int8_run(args, name, q, names, example, sample, batches, report, onnx_path, d):
    """octet int8 against the fake-quant forward, tensor by tensor.

    Both compute the same integers from the same inputs except where a real
    value lies within float32 rounding of a .5 boundary: torch sums the
    dequantized products in float32, octet sums the integers exactly and then
    scales in float32. Such a tie moves one element one step, and that
    difference travels to later layers (fp32 layers such as LayerNorm, run
    by both, differ in their last bits too). Bars: the first quantized tensor
    off by one step on at most 0.1% of its elements, every tensor on at most
    2% and by at most 8 steps, the logits within 2% of their largest
    magnitude with the same top-1. Control: the same weights fake-quantized
    for the other CPU family (other weight levels) must miss these bars.
    """
    got_logits, got = octet_outputs(args, onnx_path, report, names, sample, d, "int8")
    want_logits, want = torch_outputs(q, sample)
    worst_frac, worst_steps, first = 0.0, 0.0, None
    for value, r in report["activations"].items():
        if value in names:
            continue
        off = steps_off(report, value, got[value], want[r["module"]])
        frac, steps = float((off > 0.5).mean()), float(off.max())
        first = frac if first is None else first
        worst_frac, worst_steps = max(worst_frac, frac), max(worst_steps, steps)
        print(f"  {name} {value}: {100 * frac:.3f}% of {off.size} off, max {steps:.0f} steps")
    check(first is not None and first <= 1e-3,
          f"{name}: the first quantized tensor matches the fake quant (off by one on "
          f"{100 * (first or 0):.4f}% <= 0.1%)")
    check(worst_frac <= 0.02 and worst_steps <= 8.5,
          f"{name}: every quantized tensor within 8 steps of the fake quant, off on "
          f"{100 * worst_frac:.3f}% <= 2% (worst), max {worst_steps:.0f} steps")
    err = float(np.abs(got_logits - want_logits).max())
    span = float(np.abs(want_logits).max())
    with torch.no_grad():
        octet_qat.set_mode(q, "fp32")
        err_fp32 = float(np.abs(got_logits - q(*sample).double().numpy()).max())
        octet_qat.set_mode(q, "quant")
    print(f"  {name}: logits max|diff| {err:.3g} (max|logit| {span:.3g}); "
          f"fp32 torch is {err_fp32:.3g} away")
    check(err <= 0.02 * span and err < err_fp32,
          f"{name}: logits within 2% of max|logit| of the fake quant ({err:.3g}), closer than "
          f"fp32 ({err_fp32:.3g})")
    check(bool((got_logits.argmax(1) == want_logits.argmax(1)).all()),
          f"{name}: same top-1 on all {len(got_logits)} samples")
    # Control: weight levels for the other CPU family.
    other = "vnni" if q.octet_target == "avx2" else "avx2"
    control = octet_qat.prepare(MODELS[name]()[0], example, target=other)
    octet_qat.calibrate(control, batches, "percentile=99.99")
    control.load_state_dict(q.state_dict(), strict=False)  # weights and shared ranges
    _, ctl = torch_outputs(control, sample)
    worst_ctl = max(float((steps_off(report, v, got[v], ctl[r["module"]]) > 0.5).mean())
                    for v, r in report["activations"].items()
                    if v not in names and r["module"] in ctl)
    check(worst_ctl > 0.02 and worst_ctl > 5 * worst_frac,
          f"{name}: control: fake quant for {other} is off on {100 * worst_ctl:.2f}% of a "
          f"tensor (worst)")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=("ste", "calibrate", "export"))
    p.add_argument("--octet")
    p.add_argument("--dir")
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.what == "ste":
        return ste()
    if not args.octet or not args.dir:
        p.error("--octet and --dir are required")
    args.octet = os.path.abspath(args.octet)
    os.makedirs(args.dir, exist_ok=True)
    return calibrate(args) if args.what == "calibrate" else export(args)


if __name__ == "__main__":
    sys.exit(main())
