#!/usr/bin/python3
"""`octet study` on real models and data: every row is there, with sane numbers.

    study_check.py fashion --octet OCTET --models apps/models --data t10k-images-idx3-ubyte.gz --dir D
    study_check.py sst2    --octet OCTET --models apps/models --data dev.tsv --vocab vocab.txt --dir D
    study_check.py cifar   --octet OCTET --shared ../shared --dir D

fashion: the demo ResNet-20 (BatchNorm folded when it was converted) on 200
Fashion-MNIST test images, with its committed calibration table, the committed
int8 model as --qat, and the ablation on entropy (the calibrator that loses
~14 points on this model) with --target-drop 0.5. Checks:
- one fp32 row, four weight-only rows (the two before folding unavailable,
  with the reason, and no number), one PTQ row per method of the table, one
  partial row and two QAT rows; numbers in range;
- fp32 top-1 equals `octet eval --fp32-only` on the same images;
- weight-only per channel: within 1 point of fp32, output SQNR >= 30 dB, and
  no worse than per tensor after folding (SQNR; top-1 within one sample);
- the QAT row (the committed model's own ranges) equals the PTQ row of the
  method those ranges came from, and its fp32 row equals fp32;
- the fallback reaches its target with at least one layer in fp32, and the
  partial row is the search's last step;
- auto_method / best_method are the PTQ rows' highest SQNR / top-1;
- `octet report --study` draws one table row per study row.

sst2: the demo BERT on 128 SST-2 dev sentences, calibrated by the study itself
on those sentences; fp32 accuracy equals `octet eval --fp32-only`, the rows
before folding say the model has no Conv, weight-only per channel is within
1 point and >= 30 dB, every PTQ row >= 20 dB, the 1% fallback is reached.

cifar (needs torch): the pretrained CIFAR-10 ResNet-20 exported with its
BatchNorms kept (tools/cifar/export.py --keep-batchnorm), 200 images of
../shared: all four weight-only rows measured; the unfolded model computes the
folded one's function (cosine >= 0.99999); per channel, folding changes
nothing (SQNR within 0.5 dB: per-channel scales absorb BN's per-channel
factors); per tensor, quantizing after folding loses more than before it, and
both lose more than per channel (the paper's finding, by output SQNR).

Exits 77 (skipped) when the data, the vocabulary, ../shared or torch are missing.
"""

import argparse
import json
import math
import os
import re
import subprocess
import sys

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
METHODS = {"max", "entropy", "mse", "percentile=99.9", "percentile=99.99",
           "percentile=99.999", "percentile=99.9999"}
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def run(cmd):
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        print(r.stdout)
        print(r.stderr)
        raise SystemExit(f"exit code {r.returncode}")
    return r.stdout


def study(args, model, extra, out):
    stdout = run([args.octet, "study", model, "--threads", "2", "--quiet", "-o", out] + extra)
    print(stdout)
    with open(out) as f:
        return json.load(f)


def rows_of(s, group):
    return [r for r in s["rows"] if r["group"] == group]


def common_checks(s, labeled):
    """Every row, the numbers' ranges, the choices."""
    check(s["format"] == "octet-study" and s["version"] == 1, "format octet-study, version 1")
    groups = [r["group"] for r in s["rows"]]
    check(groups.count("fp32") == 1 and groups[0] == "fp32", "one fp32 row, first")
    weights = rows_of(s, "weights")
    check([(r["weights"], r["batchnorm"]) for r in weights] ==
          [("int8 per channel", "folded"), ("int8 per tensor", "folded"),
           ("int8 per channel", "not folded"), ("int8 per tensor", "not folded")],
          "four weight-only rows: per channel / per tensor, folded / not folded")
    ptq = rows_of(s, "ptq")
    check({r["method"] for r in ptq} == METHODS and len(ptq) == len(METHODS),
          f"one PTQ row per calibrator: {sorted(r['method'] for r in ptq)}")
    check(len(rows_of(s, "partial")) == 1, "one partial row")
    for r in s["rows"]:
        name = f"{r['name']} ({r['weights']})"
        if not r["available"]:
            check(all(r[k] is None for k in ("metric", "drop", "top1", "output_sqnr_db",
                                             "output_cosine")) and r["note"],
                  f"{name}: unavailable, no number, a reason: {r['note']}")
            continue
        if labeled:
            check(0 <= r["top1"] <= 100, f"{name}: top-1 {r['top1']:.2f} in [0, 100]")
        check(-1 <= r["output_cosine"] <= 1.000001, f"{name}: cosine {r['output_cosine']:.6f}")
        if r["group"] == "fp32" or r["name"].endswith("in fp32"):
            continue
        check(r["output_sqnr_db"] is not None and 0 < r["output_sqnr_db"] < 150,
              f"{name}: output SQNR {r['output_sqnr_db']} dB in (0, 150)")
    best_sqnr = max(ptq, key=lambda r: r["output_sqnr_db"])
    check(s["auto_method"] == best_sqnr["method"],
          f"auto_method {s['auto_method']} is the PTQ row of highest SQNR")
    top = max(r["metric"] for r in ptq)
    check(any(r["method"] == s["best_method"] and r["metric"] == top for r in ptq),
          f"best_method {s['best_method']} has the highest {s['metric']} ({top:.2f})")
    return weights, ptq


def weight_checks(fp32, weights, samples, min_sqnr=30, max_drop=1.0):
    per_channel, per_tensor = weights[0], weights[1]
    # Top-1 moves in steps of one sample, and an fp32 kernel of another ISA
    # may flip a borderline one: one sample of slack there, none for SQNR.
    step = 100.0 / samples
    check(per_channel["top1"] >= fp32["top1"] - max_drop,
          f"weight-only per channel top-1 {per_channel['top1']:.2f} within {max_drop} of fp32 "
          f"{fp32['top1']:.2f}")
    check(per_channel["output_sqnr_db"] >= min_sqnr,
          f"weight-only per channel SQNR {per_channel['output_sqnr_db']:.2f} >= {min_sqnr} dB")
    check(per_channel["top1"] >= per_tensor["top1"] - step and
          per_channel["output_sqnr_db"] >= per_tensor["output_sqnr_db"],
          f"per channel ({per_channel['top1']:.2f}%, {per_channel['output_sqnr_db']:.2f} dB) no "
          f"worse than per tensor after folding ({per_tensor['top1']:.2f}%, "
          f"{per_tensor['output_sqnr_db']:.2f} dB)")


def partial_checks(s, fp32, target, need_layers):
    sens = s["sensitivity"]
    partial = rows_of(s, "partial")[0]
    fb = sens["fallback"]
    check(fb["reached"] and partial["top1"] >= fp32["top1"] - target - 1e-9,
          f"fallback reached: {partial['top1']:.2f} >= {fp32['top1']:.2f} - {target}")
    check(len(fb["fp32_layers"]) >= need_layers,
          f"{len(fb['fp32_layers'])} layer(s) in fp32 (at least {need_layers})")
    if fb["steps"]:
        check(abs(fb["steps"][-1]["metric"] - partial["metric"]) < 1e-9,
              "the partial row is the search's last step")
    check(len(sens["layers"]) == fb["layers"] and sens["method"] == partial["method"],
          f"the ranking covers all {fb['layers']} int8 layers, with {partial['method']}")


def fashion(args):
    table = os.path.join(args.models, "fashion-resnet20.table.json")
    model = os.path.join(args.models, "fashion-resnet20")
    out = os.path.join(args.dir, "fashion.study.json")
    s = study(args, model, ["--data", args.data, "--samples", "200", "--table", table,
                            "--qat", model, "--method", "entropy", "--target-drop", "0.5"], out)
    weights, ptq = common_checks(s, labeled=True)
    fp32 = s["rows"][0]
    for r in weights[2:]:
        check(not r["available"] and "converted octet model" in r["note"],
              "before folding: unavailable for a converted model")
    weight_checks(fp32, weights, 200)
    ev = json.loads(run([args.octet, "eval", model, "--data", args.data, "--samples", "200",
                         "--fp32-only", "--json", "--threads", "2"]))
    check(abs(ev["fp32"]["top1"] * 100 - fp32["top1"]) < 1e-9,
          f"fp32 top-1 {fp32['top1']:.4f} = octet eval --fp32-only {ev['fp32']['top1'] * 100:.4f}")
    qat = rows_of(s, "qat")
    check(len(qat) == 2, "two QAT rows")
    m = re.search(r"from calibration:(\S+)$", qat[0]["note"])
    check(m is not None, f"the QAT note names the ranges' method: {qat[0]['note']}")
    if m:
        same = [r for r in ptq if r["method"] == m.group(1)][0]
        check(qat[0]["top1"] == same["top1"] and
              abs(qat[0]["output_sqnr_db"] - same["output_sqnr_db"]) < 1e-6,
              f"QAT row = PTQ {same['method']} row ({qat[0]['top1']:.2f}%, "
              f"{qat[0]['output_sqnr_db']:.3f} dB)")
    check(qat[1]["top1"] == fp32["top1"] and qat[1]["output_sqnr_db"] is None,
          "the QAT model in fp32 is the fp32 model (same weights here)")
    entropy = [r for r in ptq if r["method"] == "entropy"][0]
    partial_checks(s, fp32, 0.5, 1 if entropy["top1"] < fp32["top1"] - 0.5 else 0)

    page = os.path.join(args.dir, "fashion.report.html")
    run([args.octet, "report", model, "--table", table, "--study", out, "--no-bench",
         "-o", page])
    with open(page) as f:
        html = f.read()
    body = html[html.index('id="study-rows"'):]
    body = body[:body.index("</tbody>")]
    check(body.count("<tr") == len(s["rows"]),
          f"the report's study table has {body.count('<tr')} rows, the file {len(s['rows'])}")


def sst2(args):
    model = os.path.join(args.models, "sst2-bert")
    out = os.path.join(args.dir, "sst2.study.json")
    s = study(args, model, ["--data", args.data, "--vocab", args.vocab, "--samples", "128",
                            "--target-drop", "1"], out)
    weights, ptq = common_checks(s, labeled=True)
    fp32 = s["rows"][0]
    for r in weights[2:]:
        check(not r["available"] and "no Conv" in r["note"], "before folding: the model has no Conv")
    weight_checks(fp32, weights, 128)
    check(s["calibration"]["table"] is None and s["calibration"]["samples"] == 128,
          "calibrated by the study on its 128 samples")
    for r in ptq:
        check(r["output_sqnr_db"] >= 20, f"PTQ {r['method']}: {r['output_sqnr_db']:.2f} dB >= 20")
    ev = json.loads(run([args.octet, "eval", model, "--data", args.data, "--vocab", args.vocab,
                         "--samples", "128", "--fp32-only", "--json", "--threads", "2"]))
    check(abs(ev["fp32"]["accuracy"] * 100 - fp32["top1"]) < 1e-9,
          f"fp32 accuracy {fp32['top1']:.4f} = octet eval --fp32-only "
          f"{ev['fp32']['accuracy'] * 100:.4f}")
    partial_checks(s, fp32, 1.0, 0)


def cifar(args):
    checkpoint = os.path.join(args.shared, "models", "cifar10-resnet", "resnet20-12fca82f.th")
    images = os.path.join(args.shared, "data", "cifar10", "test-a")
    onnx_path = os.path.join(args.dir, "resnet20-bn.onnx")
    run(["/usr/bin/python3", os.path.join(ROOT, "tools", "cifar", "export.py"), "--model",
         "resnet20", "--checkpoint", checkpoint, "-o", onnx_path, "--keep-batchnorm"])
    s = study(args, onnx_path, ["--data", images, "--per-class-samples", "20",
                                "--no-sensitivity"], os.path.join(args.dir, "cifar.study.json"))
    weights, _ = common_checks(s, labeled=True)
    check(all(r["available"] for r in weights), "all four weight-only rows measured")
    same = s["batchnorm_not_folded_fp32"]
    check(same["output_cosine"] >= 0.99999,
          f"unfolded fp32 = folded fp32: cosine {same['output_cosine']:.7f} >= 0.99999")
    pc_f, pt_f, pc_u, pt_u = (r["output_sqnr_db"] for r in weights)
    print(f"weight-only SQNR dB: per channel {pc_f:.2f} folded / {pc_u:.2f} not folded; "
          f"per tensor {pt_f:.2f} folded / {pt_u:.2f} not folded")
    check(abs(pc_f - pc_u) < 0.5, "per channel, folding changes nothing (within 0.5 dB)")
    check(pt_f < pt_u < pc_f, "per tensor after folding < per tensor before < per channel")
    check(not rows_of(s, "partial")[0]["available"], "no partial row with --no-sensitivity")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=("fashion", "sst2", "cifar"))
    p.add_argument("--octet", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--models", default=os.path.join(ROOT, "apps", "models"))
    p.add_argument("--data")
    p.add_argument("--vocab")
    p.add_argument("--shared", default=os.path.join(os.path.dirname(ROOT), "shared"))
    args = p.parse_args()
    needed = [x for x in (args.data, args.vocab) if x]
    if args.what == "cifar":
        needed = [os.path.join(args.shared, "models", "cifar10-resnet"),
                  os.path.join(args.shared, "data", "cifar10", "test-a")]
        try:
            import onnx  # noqa: F401
            import torch  # noqa: F401
        except ImportError as e:
            print(f"skipped: {e}")
            return SKIP
    for path in needed:
        if not os.path.exists(path):
            print(f"skipped: {path} is missing")
            return SKIP
    os.makedirs(args.dir, exist_ok=True)
    {"fashion": fashion, "sst2": sst2, "cifar": cifar}[args.what](args)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
