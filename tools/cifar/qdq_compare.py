#!/usr/bin/python3
"""Helpers of tools/cifar/qdq_accuracy.sh: the split as .npy, and the verdict.

``images``: the split (eval_torch.list_split / load_batch: PIL decode and the
export's normalization) as ``images.npy`` float32 [N, 3, 32, 32] and
``labels.npy`` int64 [N], so that octet and ONNX Runtime see the same tensors.

``compare``: octet's logits (``octet run`` output .npy) and ONNX Runtime's
top-1 (``bench/peers/ort_top1.js`` JSON) against the labels: both top-1
accuracies, their agreement, one JSON line; exit 1 when the agreement is
below ``--min-agreement`` or the accuracies differ by more than
``--max-diff`` points.
"""

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import eval_torch  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    im = sub.add_parser("images")
    im.add_argument("--data", required=True)
    im.add_argument("--per-class-skip", type=int, default=0)
    im.add_argument("--per-class-samples", type=int, default=None)
    im.add_argument("--out", required=True, help="folder for images.npy and labels.npy")
    cmp = sub.add_parser("compare")
    cmp.add_argument("--labels", required=True)
    cmp.add_argument("--octet-logits", required=True)
    cmp.add_argument("--ort-top1", required=True)
    cmp.add_argument("--min-agreement", type=float, default=None, help="in %%")
    cmp.add_argument("--max-diff", type=float, default=None, help="in top-1 points")
    cmp.add_argument("--markdown", nargs="*", default=None,
                     help="print a Markdown table row starting with these cells, not JSON")
    args = p.parse_args(argv)

    if args.cmd == "images":
        items = eval_torch.list_split(args.data, args.per_class_skip, args.per_class_samples)
        os.makedirs(args.out, exist_ok=True)
        np.save(os.path.join(args.out, "images.npy"),
                eval_torch.load_batch([path for path, _ in items]).astype(np.float32))
        np.save(os.path.join(args.out, "labels.npy"), np.array([y for _, y in items], np.int64))
        return 0

    labels = np.load(args.labels)
    octet_top1 = np.load(args.octet_logits).argmax(axis=1)
    with open(args.ort_top1) as f:
        ort = json.load(f)
    ort_top1 = np.array(ort["top1"])
    if not len(labels) == len(octet_top1) == len(ort_top1):
        raise SystemExit(f"sizes differ: {len(labels)} labels, {len(octet_top1)} octet, "
                         f"{len(ort_top1)} ONNX Runtime")
    result = {
        "images": int(len(labels)),
        "octet_int8_top1": float(100 * (octet_top1 == labels).mean()),
        "ort_qdq_top1": float(100 * (ort_top1 == labels).mean()),
        "agreement": float(100 * (octet_top1 == ort_top1).mean()),
        "ort": ort["runtime"],
    }
    result["diff"] = result["ort_qdq_top1"] - result["octet_int8_top1"]
    if args.markdown is None:
        print(json.dumps(result))
    else:
        cells = args.markdown + [f"{result['octet_int8_top1']:.2f}", f"{result['ort_qdq_top1']:.2f}",
                                 f"{result['diff']:+.2f}", f"{result['agreement']:.2f}%"]
        print("| " + " | ".join(cells) + " |")
    ok = True
    if args.min_agreement is not None and result["agreement"] < args.min_agreement:
        print(f"agreement {result['agreement']:.2f}% < {args.min_agreement}%", file=sys.stderr)
        ok = False
    if args.max_diff is not None and abs(result["diff"]) > args.max_diff:
        print(f"top-1 differs by {result['diff']:+.2f} points (> {args.max_diff})", file=sys.stderr)
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
