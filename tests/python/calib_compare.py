#!/usr/bin/python3
"""octet's calibration methods against the NumPy reference, end to end.

For each synthetic distribution of calib_reference.py (Gaussian, Laplace,
half-normal, with and without injected outliers, uniform): a one-node model
y = Relu(x) over rows of 1000 values, `octet calibrate --method all` on the
data as a .npy, and every method's amax compared with calib_reference.py:
the input x is calibrated signed (s8), Relu's output unsigned (u8), each
within one histogram bin of the reference. Then determinism: other batch
sizes and a shuffled row order must give a byte-identical table.

    calib_compare.py --octet BUILD/apps/octet --dir WORKDIR

Exits 77 (skipped) when the onnx package is missing.
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calib_reference as ref  # noqa: E402

try:
    import onnx
    from onnx import TensorProto, helper
except ImportError:
    print("calib_compare.py: skipped: python3-onnx is not installed")
    sys.exit(77)

ROW = 1000
METHODS = ("max", "entropy", "mse", "percentile=99.9", "percentile=99.99", "percentile=99.999")


def relu_model(path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", ROW])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", ROW])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "relu",
                              [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def run(cmd, cwd=None):
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000", OMP_NUM_THREADS="2")
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"calib_compare.py: {' '.join(cmd)} failed:\n{r.stdout}{r.stderr}")
    return r.stdout


def calibrate(octet, model, data_dir, batch, out):
    # --data is the same relative name in every run, so the tables' provenance
    # is identical and only the numbers can differ.
    run([octet, "calibrate", model, "--data", "data.npy", "--method", "all", "--batch",
         str(batch), "--quiet", "--threads", "2", "-o", out], cwd=data_dir)
    with open(out, "rb") as f:
        return f.read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--octet", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--samples", type=int, default=100_000)
    args = ap.parse_args()
    args.octet = os.path.abspath(args.octet)
    args.dir = os.path.abspath(args.dir)
    os.makedirs(args.dir, exist_ok=True)
    onnx_path = os.path.join(args.dir, "relu.onnx")
    model = os.path.join(args.dir, "relu")
    relu_model(onnx_path)
    run([args.octet, "convert", onnx_path, "-o", model])

    failures = 0
    for name, x in ref.synth_distributions(seed=1, samples=args.samples).items():
        data_dir = os.path.join(args.dir, name)
        os.makedirs(data_dir, exist_ok=True)
        rows = x.reshape(-1, ROW)
        np.save(os.path.join(data_dir, "data.npy"), rows)
        table_bytes = calibrate(args.octet, model, data_dir, 16, os.path.join(data_dir, "t.json"))
        table = json.loads(table_bytes)
        for tensor, data, unsigned in (("x", x, False), ("y", np.maximum(x, 0), True)):
            want = ref.all_amax(data, unsigned=unsigned, mse_precision="float64")
            row = table["tensors"][tensor]
            if row["dtype"] != ("u8" if unsigned else "s8"):
                print(f"FAIL {name} {tensor}: dtype {row['dtype']}")
                failures += 1
            for m in METHODS:
                got = row["amax_by_method"][m]
                ok = abs(got - want[m]) <= want["bin_width"] * 1.0001
                failures += not ok
                print(f"{'ok  ' if ok else 'FAIL'} {name:18s} {tensor} {m:18s} octet {got:.8g} "
                      f"reference {want[m]:.8g} (bin {want['bin_width']:.3g})")

        # Determinism: another batch size and shuffled rows give the same bytes.
        for batch in (7,):
            again = calibrate(args.octet, model, data_dir, batch,
                              os.path.join(data_dir, f"t{batch}.json"))
            if again != table_bytes:
                print(f"FAIL {name}: --batch {batch} changed the table")
                failures += 1
        shuffled_dir = os.path.join(data_dir, "shuffled")
        os.makedirs(shuffled_dir, exist_ok=True)
        perm = np.random.default_rng(3).permutation(len(rows))
        np.save(os.path.join(shuffled_dir, "data.npy"), rows[perm])
        if calibrate(args.octet, model, shuffled_dir, 16,
                     os.path.join(shuffled_dir, "t.json")) != table_bytes:
            print(f"FAIL {name}: shuffling the samples changed the table")
            failures += 1
    print(f"calib_compare.py: {failures} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
