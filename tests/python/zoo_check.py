#!/usr/bin/python3
"""The model zoo of issue 16 through octet's command line, model by model.

    zoo_check.py export --ref DIR --model M [--opset 17]
        tools/export/export.py into DIR/M-opN/ (skipped when already there)
    zoo_check.py parity --octet BIN --ref DIR --model M [--opset 17]
        `octet convert`, `octet run` on the export's sample input, every
        output against torch: cosine >= 0.99999 and max abs error <= 1e-3 x
        max|output| (the issue's bar)
    zoo_check.py int8 --octet BIN --ref DIR --model M [--opset 17] [--images DIR]
        ranges calibrated on real images (CIFAR-10 from ../shared, resized to
        the net's input), `octet quantize`, then on other real images: int8
        output against fp32 (cosine), and `octet inspect` of the int8 model:
        every Conv/MatMul/Gemm int8 (or fp32 for a reason the expectations
        below accept) and no more Quantize/Dequantize steps than stated;
        below the cosine floor, partial quantization (see SELECT_COSINE)
    zoo_check.py board --octet BIN --ref DIR [--models ...] [--opsets 17,13]
        all of the above for each model and opset, one table row each
    zoo_check.py summary --ref DIR
        the same table from the results the CTest runs left in DIR
    zoo_check.py list [--all]
        SUBSET (or every model at both opsets) as 'model opset label' lines,
        label zoo-ci for CI's share, zoo for the others

Exit codes: 0 pass, 1 fail, 77 skipped (no torch, no export, no images:
CTest's SKIP_RETURN_CODE). The per-model expectations (cosine floor, which
fp32 layers and reorder steps are accepted, and why) are in EXPECT below.
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "export"))
SKIP = 77
IMAGES = os.path.join(ROOT, "..", "shared", "data", "cifar10", "test-a")
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # ImageNet, as torchvision's nets expect

from zoo_list import NAMES as MODELS, ZOO  # noqa: E402  (torch-free)

# The calibration methods whose int8 result is compared (besides the table's
# choice, entropy by default).
METHODS = ("max", "entropy", "percentile=99.99", "percentile=99.999", "mse")

# The subset CTest registers by default (label zoo), (model, opset): together
# these use every op and fusion the zoo needs (the comment says what each
# adds); `ctest -L zoo` runs them, tens of minutes on 2 cores. tools/zoo.sh
# runs every model at both opsets.
SUBSET = (
    ("mobilenet_v2", 13),        # Clip (ReLU6) fused, depthwise convs, opset 13
    ("mobilenet_v3_large", 17),  # HardSwish (Conv, Gemm), HardSigmoid gate, int8 Mul
    ("efficientnet_b0", 17),     # SiLU fused, Sigmoid gate
    ("densenet121", 17),         # BN + ReLU after Concat, no-op Pad, AveragePool
    ("inception_v3", 17),        # Pad + AveragePool (count_include_pad), Concat, 299x299
    ("shufflenet_v2_x1_0", 17),  # channel split and shuffle
    ("convnext_tiny", 13),       # decomposed LayerNorm, GELU Linears, 7x7 depthwise
    ("transformer", 17),         # attention, LayerNormalization, -inf causal mask
    ("jasper", 17),              # Conv1d, BatchNorm1d, residuals
)
# CI's share of it (label zoo-ci; tools/test.sh leaves out the rest): CI is
# held to 45 minutes on 2 cores and the rest of tools/test.sh already takes
# most of them, so one small model end to end (export, parity, int8). Each op
# and fusion also has its own C++ test against the reference kernels.
CI = (("mobilenet_v2", 13),)

# Per model: the int8 cosine floor against fp32 on real inputs, the most
# Quantize / Dequantize steps accepted, the reasons for which a Conv/MatMul/
# Gemm may stay fp32, and the largest share of the int8 Conv/MatMul/Gemm
# layers partial quantization may send to fp32 to reach the floor ("a few
# sensitive layers"; 0: every layer int8 must reach it).
#
# Partial quantization (Wu et al. section 5, octet sensitivity): when the
# fully int8 model misses the floor, `octet sensitivity --metric cosine`
# ranks the layers on images of their own (neither calibration nor
# evaluation images) and sends the worst to fp32 until the cosine there
# reaches SELECT_COSINE; the test then holds that blacklist to the floor on
# the evaluation images and to `max_fp32_layers`. The sweep runs two
# sessions per layer, minutes for EfficientNet on 2 cores, so it is bounded
# by SELECT_SECONDS (layers it does not reach are ranked by their output
# error, docs/partial-quantization.md).
DEFAULT_EXPECT = {"min_cosine": 0.99, "quantize": 1, "dequantize": 0, "fp32_reasons": (),
                  "max_fp32_fraction": 0.1}
SELECT_COSINE = 0.995  # above the floor: the blacklist is chosen on other images
SELECT_SECONDS = 900
NO_VNNI_MATMUL = "the CPU lacks VNNI"
EXPECT = {
    # Two graph inputs (source and target), each quantized once. Without
    # VNNI the 36 attention matmuls of two activations have no int8 kernel
    # (u8 x s8 pairs would saturate their 16-bit sums, ops/matmul.cpp): they
    # run fp32, and each of the 18 context matmuls' outputs is quantized for
    # the output projection after it.
    "transformer": {"quantize": 2, "quantize_no_vnni": 20, "fp32_reasons": (NO_VNNI_MATMUL,)},
    "vit_b_16": {"fp32_reasons": (NO_VNNI_MATMUL,)},
    # Below the floor, as the issue allows when the cause is named: with
    # seeded random weights (BatchNorm at its initial statistics) the int8
    # error grows block by block, each MBConv's SiLU features and its
    # squeeze-excitation product losing 0.5-1% of cosine, so neither the
    # fully int8 model (0.947 on AVX512-VNNI, 0.957 on AVX2) nor a blacklist
    # of a few layers (0.923 with 6) reaches 0.99; all 32 squeeze-excitation
    # 1x1 convs in fp32 give 0.986 (docs/partial-quantization.md). This
    # floor holds that state against regressions.
    "efficientnet_b0": {"min_cosine": 0.93, "max_fp32_fraction": 0},
    # Without VNNI, Conv weights have 63 levels, not 127 (docs/quantization.md):
    # MobileNetV3's depthwise convs lose more to that, and the five most
    # sensitive layers in fp32 give 0.9869 (0.9916 with VNNI, where it meets
    # 0.99); its floor there is 0.98.
    "mobilenet_v3_large": {"min_cosine_no_vnni": 0.98},
}


def expectations(model, octet):
    """EXPECT for `model` over DEFAULT_EXPECT; where octet reports no VNNI
    (`octet --version`), a key ending in `_no_vnni` replaces the key it
    names."""
    expect = {**DEFAULT_EXPECT, **EXPECT.get(model, {})}
    overrides = {k[:-len("_no_vnni")]: v for k, v in expect.items() if k.endswith("_no_vnni")}
    if overrides:
        version = subprocess.run([octet, "--version"], stdout=subprocess.PIPE, text=True).stdout
        if "(no VNNI)" in version:
            expect.update(overrides)
    return expect


def have_torch():
    try:
        import torch  # noqa: F401
        import onnx  # noqa: F401
        return True
    except ImportError:
        return False


def run(cmd, capture=False):
    print("+", " ".join(cmd), flush=True)
    if capture:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(cmd)


def export_dir(args, model=None, opset=None):
    return os.path.join(args.ref, f"{model or args.model}-op{opset or args.opset}")


def spec_inputs(model):
    """name -> shape at batch 1, and whether the model takes images."""
    return ZOO[model].inputs, ZOO[model].kind == "image"


# --------------------------------------------------------------------- export

def export(args):
    out = export_dir(args)
    prefix = os.path.join(out, args.model)
    if os.path.exists(prefix + ".onnx") and glob.glob(prefix + ".expected.*.npy"):
        print(f"{prefix}.onnx exists: export skipped")
        return 0
    os.makedirs(out, exist_ok=True)
    r = run([sys.executable, os.path.join(ROOT, "tools/export/export.py"), "--model", args.model,
             "--out", out, "--opset", str(args.opset)])
    return 0 if r.returncode == 0 else 1


# --------------------------------------------------------------------- parity

def convert(octet, out, model, converted=None):
    """`octet convert` of out/model.onnx (into out/octet/model, or
    `converted`); returns (model path, None) or (None, the error's text)."""
    converted = converted or os.path.join(out, "octet", model)
    os.makedirs(os.path.dirname(converted), exist_ok=True)
    r = run([octet, "convert", os.path.join(out, model + ".onnx"), "-o", converted], capture=True)
    if r.returncode != 0:
        lines = [line for line in r.stdout.splitlines() if line.strip()]
        return None, (lines[-1] if lines else f"exit {r.returncode}")
    return converted, None


def metrics(expected, actual):
    import numpy as np
    e = expected.astype(np.float64).ravel()
    a = actual.astype(np.float64).ravel()
    denom = np.linalg.norm(e) * np.linalg.norm(a)
    cos = float(e @ a / denom) if denom > 0 else float(np.array_equal(e, a))
    return cos, float(np.max(np.abs(a - e))) / max(float(np.max(np.abs(e))), 1e-30)


def run_octet(octet, model, inputs, out_dir, extra=()):
    """`octet run` with name -> .npy inputs; returns name -> array, or None."""
    import numpy as np
    cmd = [octet, "run", model, "--output-dir", out_dir, *extra]
    for name, path in inputs.items():
        cmd += ["--input", f"{name}={path}"]
    if run(cmd).returncode != 0:
        return None
    return {os.path.basename(p)[:-4]: np.load(p) for p in glob.glob(os.path.join(out_dir, "*.npy"))}


def parity(args, result):
    import numpy as np
    out = export_dir(args)
    prefix = os.path.join(out, args.model)
    if not os.path.exists(prefix + ".onnx"):
        print(f"SKIP: {prefix}.onnx was not exported")
        return SKIP
    converted, error = convert(args.octet, out, args.model)
    if error:
        result["converts"] = error
        print("FAIL: convert: " + error)
        return 1
    result["converts"] = "yes"
    inputs = {p[len(prefix + ".input."):-4]: p for p in sorted(glob.glob(prefix + ".input.*.npy"))}
    got = run_octet(args.octet, converted, inputs, os.path.join(out, "octet-out"))
    if got is None:
        result["parity"] = "run fails"
        return 1
    ok = True
    worst_cos, worst_err = 1.0, 0.0
    for path in sorted(glob.glob(prefix + ".expected.*.npy")):
        name = path[len(prefix + ".expected."):-4]
        expected = np.load(path)
        actual = got.get(name)
        if actual is None or actual.shape != expected.shape:
            print(f"FAIL: output {name}: expected shape {expected.shape}, got "
                  f"{None if actual is None else actual.shape}")
            ok = False
            continue
        cos, err = metrics(expected, actual)
        worst_cos, worst_err = min(worst_cos, cos), max(worst_err, err)
        passed = cos >= 0.99999 and err <= 1e-3 and np.all(np.isfinite(actual))
        print(f"{'ok' if passed else 'FAIL'}: {name} {expected.shape}: cosine {cos:.9f}, "
              f"max abs error {err:.3g} x max|output| (need >= 0.99999 and <= 1e-3)")
        ok = ok and passed
    result["parity"] = f"{worst_cos:.7f} / {worst_err:.1e}" + ("" if ok else " FAIL")
    return 0 if ok else 1


# ----------------------------------------------------------------------- int8

def image_batch(files, size):
    """CIFAR-10 JPEGs resized (bilinear) to size x size, ImageNet-normalised NCHW."""
    import numpy as np
    from PIL import Image
    batch = []
    for f in files:
        img = Image.open(f).convert("RGB").resize((size, size), Image.BILINEAR)
        x = np.asarray(img, dtype=np.float32) / 255.0
        batch.append(((x - MEAN) / STD).transpose(2, 0, 1))
    return np.stack(batch).astype(np.float32)


def real_inputs(model, images, out, per_class_calib, per_class_eval, per_class_select=0):
    """Calibration, evaluation and (if asked) layer-selection inputs as
    name -> .npy path (disjoint images).

    Image models: CIFAR-10 test images, the first `per_class_calib` of each
    class for calibration, the next `per_class_eval` for evaluation, the next
    `per_class_select` for the sensitivity analysis. The others (Transformer
    embeddings, Jasper features) have no real data here: seeded N(0, 1)
    arrays, another seed for each set.
    """
    import numpy as np
    shapes, is_image = spec_inputs(model)
    sets = {"calib": per_class_calib, "eval": per_class_eval}
    if per_class_select:
        sets["select"] = per_class_select
    paths = {}
    if is_image:
        classes = sorted(d for d in os.listdir(images) if os.path.isdir(os.path.join(images, d)))
        files = [sorted(glob.glob(os.path.join(images, c, "*.jpg"))) for c in classes]
        size = shapes["input"][2]
        first = {"calib": 0, "eval": per_class_calib, "select": per_class_calib + per_class_eval}
        for which, n in sets.items():
            chosen = [f for fs in files for f in fs[first[which]:first[which] + n]]
            path = os.path.join(out, f"{which}.input.npy")
            np.save(path, image_batch(chosen, size))
            paths[which] = {"input": path}
        return paths
    for seed, (which, n) in enumerate(sets.items()):
        rng = np.random.default_rng(1000 + seed)
        paths[which] = {}
        for name, shape in shapes.items():
            path = os.path.join(out, f"{which}.{name}.npy")
            np.save(path, rng.standard_normal((10 * n,) + tuple(shape[1:])).astype(np.float32))
            paths[which][name] = path
    return paths


def inspect_layers(octet, model, shapes):
    """`octet inspect`'s layer table as dicts (columns found from the header)."""
    cmd = [octet, "inspect", model]
    for name, shape in shapes.items():
        cmd += ["--shapes", f"{name}={'x'.join(str(d) for d in shape)}"]
    r = run(cmd, capture=True)
    if r.returncode != 0:
        raise RuntimeError("octet inspect failed:\n" + r.stdout)
    lines = r.stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("name ") and "precision" in line)
    cols = ["name", "op", "precision", "kernel", "shape", "reason"]
    starts = [lines[head].index(c) for c in cols]
    layers = []
    for line in lines[head + 2:]:
        if not line.strip() or line[0] == " " and not line.strip():
            break
        if " layers, prepared in " in line:
            break
        cells = [line[s:e].strip() for s, e in zip(starts, starts[1:] + [None])]
        layers.append(dict(zip(cols, cells)))
    return layers


def check_layers(model, layers, result, expect):
    """The issue's int8 coverage: every quantizable layer int8 (or an accepted
    reason), and no more Quantize/Dequantize steps than expected."""
    ok = True
    fp32_compute = [l for l in layers if l["op"] in ("Conv", "MatMul", "Gemm")
                    and l["precision"] != "int8"]
    unexplained = [l for l in fp32_compute
                   if not any(r in l["reason"] for r in expect["fp32_reasons"])]
    for l in unexplained:
        print(f"FAIL: {l['op']} '{l['name']}' runs {l['precision']}: {l['reason']}")
    ok = not unexplained
    counts = {op: sum(1 for l in layers if l["op"] == op) for op in ("Quantize", "Dequantize")}
    for op, key in (("Quantize", "quantize"), ("Dequantize", "dequantize")):
        steps = [l["name"] for l in layers if l["op"] == op]
        if len(steps) > expect[key]:
            print(f"FAIL: {len(steps)} {op} steps, expected at most {expect[key]}: {steps}")
            ok = False
    fp32 = {}
    for l in layers:
        if l["precision"] == "fp32" and l["op"] not in ("Reorder",):
            fp32[l["op"]] = fp32.get(l["op"], 0) + 1
    n_compute = sum(1 for l in layers if l["op"] in ("Conv", "MatMul", "Gemm"))
    result["int8 layers"] = f"{n_compute - len(fp32_compute)}/{n_compute}"
    result["q/dq"] = f"{counts['Quantize']}/{counts['Dequantize']}"
    result["fp32 ops"] = ", ".join(f"{op} {n}" for op, n in sorted(fp32.items())) or "-"
    return ok


def int8(args, result):
    out = export_dir(args)
    if not os.path.exists(os.path.join(out, args.model + ".onnx")):
        print(f"SKIP: {out}/{args.model}.onnx was not exported")
        return SKIP
    _, is_image = spec_inputs(args.model)
    if is_image and not os.path.isdir(args.images):
        print(f"SKIP: no images in {args.images}")
        return SKIP
    # A conversion of its own: the parity test may convert at the same time.
    work = os.path.join(out, "int8")
    os.makedirs(work, exist_ok=True)
    converted, error = convert(args.octet, out, args.model, os.path.join(work, "fp32"))
    if error:
        result["int8"] = "convert fails"
        print("FAIL: convert: " + error)
        return 1
    data = real_inputs(args.model, args.images, work, args.calib_per_class, args.eval_per_class,
                       args.select_per_class)
    table = os.path.join(work, "table.json")
    spec = ",".join(f"{n}={p}" for n, p in data["calib"].items())
    if run([args.octet, "calibrate", converted, "--data", spec, "--batch", "4", "--quiet",
            "-o", table]).returncode != 0:
        result["int8"] = "calibrate fails"
        return 1
    with open(table) as f:
        chosen = json.load(f)["method"]
    fp32 = run_octet(args.octet, converted, data["eval"], os.path.join(work, "fp32-out"))
    if fp32 is None:
        result["int8"] = "run fails"
        return 1
    # The table's own choice (what `octet quantize` does by default), and the
    # other methods, since no method wins everywhere (Wu et al., section 4).
    cosines = {}
    for method in [chosen] + [m for m in METHODS if m != chosen]:
        quantized = os.path.join(work, f"{args.model}-int8-{method}")
        got = None
        if run([args.octet, "quantize", converted, "--table", table, "--method", method,
                "-o", quantized]).returncode == 0:
            got = run_octet(args.octet, quantized, data["eval"],
                            os.path.join(work, f"int8-out-{method}"))
        if got is None:
            result["int8"] = f"quantize or run fails ({method})"
            return 1
        cosines[method] = min(metrics(fp32[name], got[name])[0] for name in fp32)
    best = max(cosines, key=cosines.get)
    expect = expectations(args.model, args.octet)
    n = len(next(iter(fp32.values())))
    print("int8 against fp32 on " + str(n) + " held-out inputs, cosine per calibration method: " +
          ", ".join(f"{m} {c:.6f}" for m, c in cosines.items()))
    print(f"all int8: best {best} {cosines[best]:.6f}; the table's choice {chosen} "
          f"{cosines[chosen]:.6f} (floor {expect['min_cosine']})")
    result["int8 cosine"] = f"{cosines[chosen]:.5f} ({chosen})"
    result["best method"] = f"{cosines[best]:.5f} ({best})"
    quantized = os.path.join(work, f"{args.model}-int8-{chosen}")
    shapes, _ = spec_inputs(args.model)
    try:
        layers = inspect_layers(args.octet, quantized, shapes)
    except RuntimeError as e:
        print(f"FAIL: {e}")
        result["int8"] = "inspect fails"
        return 1
    ok = check_layers(args.model, layers, result, expect)
    if cosines[best] >= expect["min_cosine"]:
        print(f"ok: every layer int8, {cosines[best]:.6f} >= {expect['min_cosine']}")
        result["partial"] = "-"
    else:
        n_int8 = sum(1 for l in layers if l["op"] in ("Conv", "MatMul", "Gemm")
                     and l["precision"] == "int8")
        bound = int(expect["max_fp32_fraction"] * n_int8)
        ok = partial(args, result, expect, bound, converted, table, best, data, fp32, work) and ok
    result["int8"] = "yes" if ok else "FAIL"
    return 0 if ok else 1


def partial(args, result, expect, bound, converted, table, method, data, fp32, work):
    """Partial quantization as a user would do it (see SELECT_COSINE): the
    layers `octet sensitivity` picks on the selection images go to fp32;
    passes when that blacklist, of at most `bound` layers, holds the floor on
    the evaluation images."""
    if bound == 0:
        print(f"FAIL: all int8 below {expect['min_cosine']}, and no layer may go to fp32")
        result["partial"] = "not allowed"
        return False
    select = os.path.join(work, "select.json")
    spec = ",".join(f"{n}={p}" for n, p in data["select"].items())
    start = time.time()
    if run([args.octet, "sensitivity", converted, "--table", table, "--method", method,
            "--data", spec, "--metric", "cosine", "--target", str(SELECT_COSINE),
            "--only-this", "--max-fp32-layers", str(bound), "--bench-runs", "0",
            "--max-seconds", str(SELECT_SECONDS), "--quiet",
            "-o", select]).returncode != 0:
        result["partial"] = "sensitivity fails"
        return False
    with open(select) as f:
        fallback = json.load(f)["fallback"]
    layers = fallback["fp32_layers"]
    print(f"octet sensitivity ({time.time() - start:.0f} s) on {args.select_per_class} other "
          f"images per class: {len(layers)} of {fallback['layers']} layers to fp32, cosine "
          f"{fallback['result']['output_cosine']:.6f} there (target {SELECT_COSINE}, "
          f"{'reached' if fallback['reached'] else 'not reached'}): " + ", ".join(layers))
    quantized = os.path.join(work, f"{args.model}-int8-partial")
    got = None
    blacklist = ["--fp32-layers", ",".join(layers)] if layers else []
    if run([args.octet, "quantize", converted, "--table", table, "--method", method,
            *blacklist, "-o", quantized]).returncode == 0:
        got = run_octet(args.octet, quantized, data["eval"], os.path.join(work, "partial-out"))
    if got is None:
        result["partial"] = "quantize or run fails"
        return False
    cosine = min(metrics(fp32[name], got[name])[0] for name in fp32)
    ok = cosine >= expect["min_cosine"] and len(layers) <= bound
    print(f"{'ok' if ok else 'FAIL'}: {len(layers)} layers in fp32 (at most {bound}): cosine "
          f"{cosine:.6f} on the evaluation images (need >= {expect['min_cosine']})")
    result["partial"] = f"{cosine:.5f} ({len(layers)} fp32)" + ("" if ok else " FAIL")
    return ok


# ---------------------------------------------------------------------- board

BOARD_COLUMNS = ("model", "opset", "converts", "parity", "int8 cosine", "best method",
                 "partial", "int8 layers", "q/dq", "fp32 ops", "seconds")


def board(args):
    rows = []
    for model in args.models:
        for opset in args.opsets:
            sub = argparse.Namespace(**vars(args), model=model, opset=opset)
            result = {"model": model, "opset": str(opset)}
            start = time.time()
            if export(sub) != 0:
                result["converts"] = "export fails"
            elif parity(sub, result) != 77 and result.get("converts") == "yes" and \
                    (opset == args.opsets[0] or args.int8_all_opsets):
                int8(sub, result)
            result["seconds"] = f"{time.time() - start:.0f}"
            rows.append(result)
            print("BOARD | " + " | ".join(result.get(c, "") for c in BOARD_COLUMNS), flush=True)
    lines = ["| " + " | ".join(BOARD_COLUMNS) + " |", "|" + "---|" * len(BOARD_COLUMNS)]
    lines += ["| " + " | ".join(r.get(c, "") for c in BOARD_COLUMNS) + " |" for r in rows]
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


def summary(args):
    """The board of what the CTest runs found (their result.*.json files)."""
    rows = {}
    for path in sorted(glob.glob(os.path.join(args.ref, "*-op*", "result.*.json"))):
        with open(path) as f:
            r = json.load(f)
        row = rows.setdefault((MODELS.index(r["model"]), -int(r["opset"])), {})
        seconds = int(row.get("seconds", 0)) + int(r.pop("seconds", 0))
        row.update(r)
        row["seconds"] = str(seconds)
    lines = ["| " + " | ".join(BOARD_COLUMNS) + " |", "|" + "---|" * len(BOARD_COLUMNS)]
    lines += ["| " + " | ".join(rows[k].get(c, "") for c in BOARD_COLUMNS) + " |"
              for k in sorted(rows)]
    print("\n".join(lines))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    listing = sub.add_parser("list", help="'model opset label' lines: SUBSET, or --all")
    listing.add_argument("--all", action="store_true")
    for name in ("export", "parity", "int8", "board", "summary"):
        s = sub.add_parser(name)
        s.add_argument("--ref", required=True, help="folder of the exports (a build folder)")
        if name == "summary":
            continue
        if name != "board":
            s.add_argument("--model", required=True, choices=MODELS)
            s.add_argument("--opset", type=int, default=17)
        if name != "export":
            s.add_argument("--octet", required=True)
        if name in ("int8", "board"):
            s.add_argument("--images", default=IMAGES)
            s.add_argument("--calib-per-class", type=int, default=2)
            s.add_argument("--eval-per-class", type=int, default=1)
            s.add_argument("--select-per-class", type=int, default=1,
                           help="images for the sensitivity analysis (partial quantization)")
        if name == "board":
            s.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
            s.add_argument("--opsets", type=lambda v: [int(x) for x in v.split(",")],
                           default=[17, 13])
            s.add_argument("--int8-all-opsets", action="store_true")
            s.add_argument("--json")
    args = p.parse_args()
    if args.cmd == "list":
        pairs = [(m, o) for m in MODELS for o in (17, 13)] if args.all else SUBSET
        print("\n".join(f"{m} {o} {'zoo-ci' if (m, o) in CI else 'zoo'}" for m, o in pairs))
        return 0
    if args.cmd == "summary":
        return summary(args)
    if not have_torch():
        print("SKIP: Debian's python3-torch and python3-onnx are not installed "
              "(tools/setup.sh test installs them)")
        return SKIP
    if args.cmd == "export":
        return export(args)
    if args.cmd == "board":
        return board(args)
    result = {"model": args.model, "opset": str(args.opset)}
    start = time.time()
    code = parity(args, result) if args.cmd == "parity" else int8(args, result)
    result["seconds"] = f"{time.time() - start:.0f}"
    if code != SKIP:  # for `summary`
        with open(os.path.join(export_dir(args), f"result.{args.cmd}.json"), "w") as f:
            json.dump(result, f)
    return code


if __name__ == "__main__":
    sys.exit(main())
