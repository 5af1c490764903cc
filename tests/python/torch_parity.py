#!/usr/bin/python3
"""octet against PyTorch on the same seeded models, through the command line.

    torch_parity.py export --out DIR --model M [export.py options]
        exports DIR/M.onnx, its sample inputs and torch's logits (skips if done)
    torch_parity.py check --octet BIN --dir DIR --model M [--min-cosine C] [--max-rel-err E]
                          [--expected fakequant]
        `octet convert` + `octet run` on those inputs, then compares with torch
        (or, for the QDQ exports of tools/export/qdq.py, with torch's
        fake-quantized run)
    torch_parity.py export-qdq --out DIR   the QDQ exports

Exits 77 (CTest's skip code) when Debian's torch is not installed, so a
machine without it reports the test as skipped, never as passed.
"""

import argparse
import glob
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SKIP = 77


def have_torch():
    try:
        import torch  # noqa: F401
        import onnx  # noqa: F401
        return True
    except ImportError:
        return False


def run(cmd):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def export(args, extra):
    done = os.path.join(args.out, args.model + ".expected.logits.npy")
    if os.path.exists(done):
        print(f"{done} exists: export skipped")
        return 0
    os.makedirs(args.out, exist_ok=True)
    run([sys.executable, os.path.join(ROOT, "tools/export/export.py"), "--model", args.model,
         "--out", args.out] + extra)
    return 0


def export_qdq(args):
    done = os.path.join(args.out, "convnet-qdq.expected_fakequant.logits.npy")
    if os.path.exists(done):
        print(f"{done} exists: export skipped")
        return 0
    run([sys.executable, os.path.join(ROOT, "tools/export/qdq.py"), "--out", args.out])
    return 0


def check(args):
    prefix = os.path.join(args.dir, args.model)
    if not os.path.exists(prefix + ".onnx"):
        print(f"SKIP: {prefix}.onnx was not exported (is torch installed?)")
        return SKIP
    converted = os.path.join(args.dir, "octet", args.model)
    os.makedirs(os.path.dirname(converted), exist_ok=True)
    run([args.octet, "convert", prefix + ".onnx", "-o", converted])
    inputs = []
    for path in sorted(glob.glob(prefix + ".input.*.npy")):
        name = path[len(prefix + ".input."):-len(".npy")]
        inputs += ["--input", f"{name}={path}"]
    out_dir = os.path.join(args.dir, "octet-out-" + args.model)
    run([args.octet, "run", converted, "--output-dir", out_dir] + inputs)
    return subprocess.run([sys.executable, os.path.join(HERE, "compare_npy.py"),
                           prefix + f".{args.expected}.logits.npy",
                           os.path.join(out_dir, "logits.npy"),
                           "--min-cosine", str(args.min_cosine),
                           "--max-rel-err", str(args.max_rel_err)]).returncode


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("--out", required=True)
    e.add_argument("--model", required=True)
    c = sub.add_parser("check")
    c.add_argument("--octet", required=True)
    c.add_argument("--dir", required=True)
    c.add_argument("--model", required=True)
    c.add_argument("--min-cosine", type=float, default=0.99999)
    c.add_argument("--max-rel-err", type=float, default=1e-3)
    c.add_argument("--expected", default="expected", choices=("expected", "expected_fakequant"))
    q = sub.add_parser("export-qdq")
    q.add_argument("--out", required=True)
    args, extra = p.parse_known_args()
    if not have_torch():
        print("SKIP: Debian's python3-torch and python3-onnx are not installed "
              "(tools/setup.sh test installs them)")
        return SKIP
    if args.cmd == "export":
        return export(args, extra)
    if args.cmd == "export-qdq":
        return export_qdq(args)
    return check(args)


if __name__ == "__main__":
    sys.exit(main())
