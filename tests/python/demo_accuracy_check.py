#!/usr/bin/python3
"""The demos' committed models keep their accuracy, in fp32 and int8.

    demo_accuracy_check.py --octet OCTET --model M --data D [--vocab V]
        --min-fp32 0.92 --max-drop 0.005 --min-agreement 0.98

Runs ``octet eval M --data D --json`` (Fashion-MNIST's IDX test set, or
SST-2's dev TSV with --vocab) and asserts: fp32 top-1 >= --min-fp32 (a bit
under what tools/train/README.md records, so that a broken preprocessing,
tokenizer or kernel fails, not a different rounding), int8 top-1 >= fp32's
minus --max-drop, and int8 top-1 equal to fp32's on >= --min-agreement of the
samples. Exit 77 (skipped) when the data file or the vocabulary is missing.
"""

import argparse
import json
import os
import subprocess
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--octet", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--vocab")
    p.add_argument("--min-fp32", type=float, required=True)
    p.add_argument("--max-drop", type=float, required=True)
    p.add_argument("--min-agreement", type=float, required=True)
    args = p.parse_args()
    for path in [args.data] + ([args.vocab] if args.vocab else []):
        if not os.path.exists(path):
            print(f"skipped: {path} is missing")
            return 77
    cmd = [args.octet, "eval", args.model, "--data", args.data, "--json", "--threads", "2"]
    if args.vocab:
        cmd += ["--vocab", args.vocab]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        print(r.stderr)
        return 1
    out = json.loads(r.stdout)
    # Image eval reports top1 and agreement_top1; text eval accuracy and agreement.
    fp32, int8 = (out[p].get("top1", out[p].get("accuracy")) for p in ("fp32", "int8"))
    agree = out.get("agreement_top1", out.get("agreement"))
    print(f"{out['samples']} samples: fp32 top-1 {fp32:.4f}, int8 {int8:.4f}, agreement {agree:.4f}")
    failures = []
    if fp32 < args.min_fp32:
        failures.append(f"fp32 top-1 {fp32:.4f} < {args.min_fp32}")
    if int8 < fp32 - args.max_drop:
        failures.append(f"int8 top-1 {int8:.4f} < fp32 {fp32:.4f} - {args.max_drop}")
    if agree < args.min_agreement:
        failures.append(f"agreement {agree:.4f} < {args.min_agreement}")
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
