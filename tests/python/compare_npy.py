#!/usr/bin/python3
"""Compare an octet output with a reference .npy and fail outside tolerance.

Prints cosine similarity, max abs error and max|expected|, then exits

* 0 when cosine >= --min-cosine and max_abs_err <= --max-rel-err * max|expected|,
* 1 when either tolerance is missed (or the output holds NaN/Inf),
* 2 when the arrays cannot be compared (unreadable file, shape mismatch).

The defaults are fp32-level; int8 runs pass looser values explicitly.
Pure numpy so it runs wherever the test vectors do.

Example::

    tests/python/compare_npy.py /tmp/ref/resnet50.expected.logits.npy out.npy \
        --min-cosine 0.999 --max-rel-err 0.05
"""

import argparse
import sys

import numpy as np

EXIT_OK, EXIT_TOLERANCE, EXIT_INCOMPARABLE = 0, 1, 2


def parse_args(argv=None):
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("expected", help="reference .npy (e.g. *.expected.logits.npy)")
    p.add_argument("actual", help=".npy produced by the runtime under test")
    p.add_argument("--min-cosine", type=float, default=0.99999,
                   help="smallest accepted cosine similarity (default 0.99999)")
    p.add_argument("--max-rel-err", type=float, default=1e-3,
                   help="largest accepted max|actual-expected| / max|expected| "
                        "(default 1e-3)")
    return p.parse_args(argv)


def load(path):
    """np.load without pickles; a clear message instead of a traceback."""
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        print(f"FAIL: cannot read {path}: {err}", file=sys.stderr)
        sys.exit(EXIT_INCOMPARABLE)


def shape_problem(expected, actual):
    """Why two arrays can't be compared element-wise, or None if they can."""
    if expected.shape == actual.shape:
        return None
    msg = f"shape mismatch: expected {expected.shape}, actual {actual.shape}"
    if expected.size == actual.size:
        msg += " (same element count: a layout/reshape difference?)"
    return msg


def cosine(a, b):
    """Cosine similarity of the flattened arrays; two all-zero arrays give 1."""
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0.0 and nb == 0.0:
        return 1.0
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.dot(a, b) / (na * nb))


def metrics(expected, actual):
    """cosine, max abs error, max|expected| computed in float64."""
    e = expected.astype(np.float64).ravel()
    a = actual.astype(np.float64).ravel()
    max_abs_err = float(np.max(np.abs(a - e))) if e.size else 0.0
    max_expected = float(np.max(np.abs(e))) if e.size else 0.0
    return cosine(e, a), max_abs_err, max_expected


def compare(expected, actual, min_cosine, max_rel_err):
    """Print the metrics and return the exit code."""
    problem = shape_problem(expected, actual)
    if problem:
        print(f"FAIL: {problem}")
        return EXIT_INCOMPARABLE
    if not np.all(np.isfinite(actual.astype(np.float64))):
        print(f"FAIL: actual holds {np.count_nonzero(~np.isfinite(actual))} NaN/Inf values")
        return EXIT_TOLERANCE
    cos, err, ref = metrics(expected, actual)
    limit = max_rel_err * ref
    print(f"shape {expected.shape}  cosine {cos:.9f}  max_abs_err {err:.6g}  "
          f"max|expected| {ref:.6g}  (rel {err / ref if ref else float('inf'):.3g})")
    failures = []
    if not cos >= min_cosine:
        failures.append(f"cosine {cos:.9f} < {min_cosine}")
    if not err <= limit:
        failures.append(f"max_abs_err {err:.6g} > {max_rel_err} * {ref:.6g} = {limit:.6g}")
    if failures:
        print("FAIL: " + "; ".join(failures))
        return EXIT_TOLERANCE
    print("OK")
    return EXIT_OK


def main(argv=None):
    """Load both files and compare."""
    args = parse_args(argv)
    return compare(load(args.expected), load(args.actual),
                   args.min_cosine, args.max_rel_err)


if __name__ == "__main__":
    sys.exit(main())
