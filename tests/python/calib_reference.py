#!/usr/bin/python3
"""Independent NumPy reference for octet's activation calibration methods.

The four methods of NVIDIA pytorch-quantization's HistogramCalibrator
(TensorRT repo, tools/pytorch-quantization/pytorch_quantization/calib/
histogram.py), reimplemented from their description, vectorised where it
pays, over one histogram of |x| with B bins on the fixed range [0, max|x|]::

    counts, edges = np.histogram(np.abs(x), bins=B, range=(0, max|x|))

* ``max``: max|x|.
* ``percentile=P``: the RIGHT edge ``edges[idx + 1]`` of the first bin whose
  cumulative fraction ``cumsum(counts)[idx] / total`` is >= P/100 (octet's
  convention: the bin holding the percentile is kept whole). TensorRT returns
  the left edge ``edges[idx]`` (and sums ``cumsum(counts / total)``); see
  :func:`amax_percentile`'s ``edge``. ``raw_percentile=P`` is
  ``np.percentile(|x|, P)`` on the raw data, a histogram-free cross-check.
* ``entropy``: minimum KL divergence. ``bins[0] = bins[1]``; for every i in
  [128, B] (stride 1): P = bins[:i] with sum(bins[i:]) added to P[i-1];
  Q = the i kept bins merged into 128 levels (256 unsigned) by
  ``np.digitize(range(i), np.linspace(0, i, levels + 1)) - 1``, each level's
  count spread evenly over its non-empty bins (empty bins stay 0); KL(P||Q)
  as scipy.stats.entropy computes it (both normalised, sum p log(p/q) over
  p > 0, inf where q == 0 < p). The last i among equal minima wins;
  amax = edges[i].
* ``mse``: for i in [128, B) the candidate amax = centers[i]; the bin
  centers are fake-quantized with it (scale = 127/amax or 255/amax,
  round half to even, clamp to [-127, 127] or [0, 255], divide by the scale),
  the squared error weighted by the counts; the first minimum wins. As in
  TensorRT the centers, scale and fake quantization are float32 (torch
  ``.float()``); the weighted errors are summed in float64 here (TensorRT: a
  float32 mean on the GPU). ``--mse-precision float64`` does it all in
  float64, as octet's C++ does.

Commands::

    calib_reference.py amax --npy X.npy [--bins 2048] [--unsigned]   JSON of every amax
    calib_reference.py synth --out DIR [--seed 0] [--samples 1000000]  synthetic .npy files
    calib_reference.py selftest [--seed 0]                               property checks

NumPy only (no scipy, no torch), so it runs wherever the tests do.
"""

import argparse
import json
import os
import sys

import numpy as np

DEFAULT_BINS = 2048
START_BIN = 128
PERCENTILES = (99.9, 99.99, 99.999)


# --------------------------------------------------------------------------
# histogram and methods
# --------------------------------------------------------------------------

def abs_histogram(x, bins=DEFAULT_BINS):
    """(counts int64 [B], edges float64 [B+1], amax) of |x| over [0, max|x|].

    Non-finite values are ignored, as octet's calibrator does. |x| is taken in
    float64 first: np.histogram of float32 data computes float32 edges (and
    bins in float32), while the edges meant here are the float64
    ``i * (max|x| / B)`` (the last one exactly max|x|).
    """
    a = np.abs(np.asarray(x, dtype=np.float64).ravel())
    a = a[np.isfinite(a)]
    if a.size == 0:
        raise ValueError("no finite values")
    amax = float(a.max())
    if amax == 0:
        raise ValueError("all values are zero: no range to histogram")
    counts, edges = np.histogram(a, bins=bins, range=(0, amax))
    return counts.astype(np.int64), edges, amax


def amax_percentile(counts, edges, percentile, edge="right"):
    """Edge of the first bin whose cumulative fraction reaches percentile/100.

    ``edge="right"`` (octet): ``edges[idx + 1]``; ``edge="left"`` (TensorRT):
    ``edges[idx]`` with TensorRT's ``cumsum(counts / total)``.
    """
    if not 0 <= percentile <= 100:
        raise ValueError("percentile must be in [0, 100]")
    total = counts.sum()
    if edge == "right":
        cdf = np.cumsum(counts) / total       # exact 1.0 at the end
    else:
        cdf = np.cumsum(counts / total)       # TensorRT's order of operations
    idx = int(np.searchsorted(cdf, percentile / 100, side="left"))
    idx = min(idx, len(counts) - 1)           # rounding may leave cdf[-1] < 1
    return float(edges[idx + 1] if edge == "right" else edges[idx])


def kl_divergence(p, q):
    """KL(P||Q) of unnormalised p, q as scipy.stats.entropy(p, q): inf if q == 0 < p."""
    if q.sum() == 0:  # every kept bin empty: q == 0 < p wherever p > 0
        return np.inf
    p = p / p.sum()
    q = q / q.sum()
    support = p > 0
    if np.any(q[support] == 0):
        return np.inf
    ps, qs = p[support], q[support]
    return float(np.sum(ps * np.log(ps / qs)))


def entropy_divergences(counts, unsigned=False, start_bin=START_BIN):
    """(candidate bin counts i, KL divergence of each) for i in [start_bin, B]."""
    bins = counts.astype(np.float64).copy()
    bins[0] = bins[1]
    n = len(bins)
    levels = 256 if unsigned else 128
    tail = np.concatenate([np.cumsum(bins[::-1])[::-1], [0.0]])  # tail[i] = sum(bins[i:])
    nonempty = bins != 0
    candidates = np.arange(start_bin, n + 1)
    divergences = np.empty(len(candidates))
    for k, i in enumerate(candidates):
        kept = bins[:i]
        level = np.digitize(np.arange(i), np.linspace(0, i, levels + 1)) - 1
        level_sum = np.bincount(level, weights=kept, minlength=levels)
        level_nonempty = np.bincount(level, weights=nonempty[:i], minlength=levels)
        q = np.where(nonempty[:i], level_sum[level] / np.maximum(level_nonempty[level], 1), 0.0)
        p = kept.copy()
        p[-1] += tail[i]
        divergences[k] = kl_divergence(p, q)
    return candidates, divergences


def amax_entropy(counts, edges, unsigned=False, start_bin=START_BIN):
    """edges[i] for the i of minimum KL divergence (the last of equal minima)."""
    if len(counts) <= start_bin:
        return float(edges[-1])
    candidates, divergences = entropy_divergences(counts, unsigned, start_bin)
    best = np.flatnonzero(divergences == divergences.min())[-1]
    return float(edges[candidates[best]])


def mse_errors(counts, edges, unsigned=False, start_bin=START_BIN, precision="float32"):
    """(candidate indices i, weighted squared error of each) for i in [start_bin, B)."""
    dt = np.float32 if precision == "float32" else np.float64
    e = edges.astype(dt)
    centers = (e[1:] + e[:-1]) / dt(2)
    max_bound = dt(255 if unsigned else 127)
    min_bound = dt(0 if unsigned else -127)
    candidates = np.arange(start_bin, len(centers))
    errors = np.empty(len(candidates))
    weights = counts.astype(np.float64)
    chunk = 256  # candidates per block: a [chunk, B] matrix at a time
    for s in range(0, len(candidates), chunk):
        amax = centers[candidates[s:s + chunk]][:, None]
        scale = max_bound / amax
        q = np.clip(np.round(centers[None, :] * scale), min_bound, max_bound) / scale
        err = ((q - centers[None, :]) ** 2).astype(np.float64)
        errors[s:s + chunk] = (err * weights[None, :]).sum(axis=1) / len(centers)
    return candidates, centers, errors


def amax_mse(counts, edges, unsigned=False, start_bin=START_BIN, precision="float32"):
    """centers[i] of the smallest count-weighted quantization error (first minimum)."""
    if len(counts) <= start_bin:
        return float(edges[-1])
    candidates, centers, errors = mse_errors(counts, edges, unsigned, start_bin, precision)
    return float(centers[candidates[int(np.argmin(errors))]])


def all_amax(x, bins=DEFAULT_BINS, unsigned=False, percentiles=PERCENTILES,
             mse_precision="float32"):
    """Every method's amax for the data x, as the ``amax`` command prints it."""
    counts, edges, amax = abs_histogram(x, bins)
    out = {"max": amax,
           "entropy": amax_entropy(counts, edges, unsigned),
           "mse": amax_mse(counts, edges, unsigned, precision=mse_precision)}
    for p in percentiles:
        out[f"percentile={p:g}"] = amax_percentile(counts, edges, p)
    a = np.abs(np.asarray(x, dtype=np.float64).ravel())
    out["raw_percentile=99.99"] = float(np.percentile(a[np.isfinite(a)], 99.99))
    out["bin_width"] = float(edges[1] - edges[0])
    return out


# --------------------------------------------------------------------------
# synthetic distributions
# --------------------------------------------------------------------------

def synth_distributions(seed=0, samples=1_000_000):
    """name -> 1-D float32 array, every one with unit standard deviation (sigma = 1).

    gaussian N(0,1); laplace (b = 1/sqrt 2); half_normal = relu(N(0,1)) (about
    half exact zeros); gaussian_outliers / laplace_outliers: 20 values replaced
    by +-U(30, 50) sigma at random positions; uniform U(-sqrt 3, sqrt 3).
    """
    rng = np.random.default_rng(seed)

    def with_outliers(x):
        x = x.copy()
        pos = rng.choice(x.size, 20, replace=False)
        x[pos] = rng.uniform(30, 50, 20) * rng.choice([-1.0, 1.0], 20)
        return x

    gauss = rng.standard_normal(samples)
    lap = rng.laplace(0, 1 / np.sqrt(2), samples)
    out = {
        "gaussian": gauss,
        "laplace": lap,
        "half_normal": np.maximum(rng.standard_normal(samples), 0),
        "gaussian_outliers": with_outliers(rng.standard_normal(samples)),
        "laplace_outliers": with_outliers(rng.laplace(0, 1 / np.sqrt(2), samples)),
        "uniform": rng.uniform(-np.sqrt(3), np.sqrt(3), samples),
    }
    return {k: v.astype(np.float32) for k, v in out.items()}


# --------------------------------------------------------------------------
# self-test
# --------------------------------------------------------------------------

def selftest(seed=0):
    """Obvious properties of the methods; returns the number of failures."""
    failures = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    data = synth_distributions(seed, 1_000_000)
    for name, x in data.items():
        counts, edges, amax = abs_histogram(x)
        width = edges[1] - edges[0]
        check(amax_percentile(counts, edges, 100) == amax, f"{name}: percentile=100 is max")
        check(amax_percentile(counts, edges, 100, edge="left") <= amax,
              f"{name}: TensorRT's left-edge percentile=100 is <= max")
        ordered = np.sort(np.abs(x.astype(np.float64)))
        n = ordered.size
        for p in PERCENTILES:
            hist = amax_percentile(counts, edges, p)
            # Exact: the right edge of the bin holding the k-th smallest |x|,
            # k the smallest count with k / n >= p / 100 (same float test).
            k = int(np.searchsorted(np.arange(1, n + 1) / n, p / 100, side="left")) + 1
            b = min(int(np.searchsorted(edges, ordered[k - 1], side="right")) - 1, len(counts) - 1)
            check(hist == edges[b + 1], f"{name}: percentile={p:g} histogram {hist:.6g} is the "
                  f"right edge of the bin of the {k}-th smallest |x|")
            # Raw: np.percentile interpolates at rank (n-1) p/100, which can sit
            # one order statistic away from k-1 (p/100 is rounded: 99.9/100 >
            # 0.999), so allow one bin plus the gap between those two samples.
            raw = float(np.percentile(ordered, p))
            r0 = int(np.floor((n - 1) * p / 100))
            gap = ordered[min(max(k - 1, r0 + 1), n - 1)] - ordered[min(k - 1, r0)]
            check(abs(hist - raw) <= width * (1 + 1e-9) + gap,
                  f"{name}: percentile={p:g} histogram {hist:.6g} vs raw {raw:.6g} "
                  f"within one bin ({width:.3g}) + order-statistic gap ({gap:.2g})")
        got = all_amax(x)
        for key in ("entropy", "mse"):
            check(0 < got[key] <= amax, f"{name}: {key} amax {got[key]:.6g} in (0, max]")

    # Gaussian: both clipping methods land a few sigma out.
    counts, edges, _ = abs_histogram(data["gaussian"])
    ent = amax_entropy(counts, edges)
    mse = amax_mse(counts, edges)
    check(2 <= ent <= 6, f"gaussian: entropy amax {ent:.4f} in [2, 6] sigma")
    check(2 <= mse <= 5, f"gaussian: mse amax {mse:.4f} in [2, 5] sigma")
    # Outliers at 30-50 sigma must not drag entropy/mse to max.
    counts, edges, amax = abs_histogram(data["gaussian_outliers"])
    check(amax_entropy(counts, edges) < 0.3 * amax, "gaussian_outliers: entropy clips the outliers")
    # MSE does not: 20 clipped values at 30-50 sigma cost more squared error
    # than the coarser steps on 1e6 inliers, so it keeps (most of) them.
    check(amax_mse(counts, edges) > 0.5 * amax, "gaussian_outliers: mse keeps the outliers")
    # Uniform: nothing to clip; the MSE optimum sits near the top.
    counts, edges, amax = abs_histogram(data["uniform"])
    check(amax_mse(counts, edges) > 0.95 * amax, "uniform: mse amax near max")
    # float32 vs float64 MSE arithmetic: same choice or a neighbouring bin.
    for name in data:
        counts, edges, _ = abs_histogram(data[name])
        a32, a64 = amax_mse(counts, edges), amax_mse(counts, edges, precision="float64")
        check(abs(a32 - a64) <= 1.001 * (edges[1] - edges[0]),
              f"{name}: mse float32 {a32:.6g} vs float64 {a64:.6g} within one bin")

    # Entropy on a hand-made histogram where the result is known: a flat
    # histogram over 512 bins then nothing: every i >= 512 keeps all the mass,
    # the divergence is equal from 512 on and the last i (B) wins.
    counts = np.zeros(1024, np.int64)
    counts[:512] = 1000
    edges = np.linspace(0, 1.0, 1025)
    cands, div = entropy_divergences(counts)
    check(np.all(div[cands >= 512] == div[cands == 512][0]),
          "flat-then-empty: equal divergence for every i >= 512")
    check(amax_entropy(counts, edges) == 1.0,
          "flat-then-empty: the last of equal minima (edges[B])")
    # KL specifics: q == 0 where p > 0 is inf; p == 0 terms are skipped.
    check(kl_divergence(np.array([1.0, 1.0]), np.array([1.0, 0.0])) == np.inf,
          "KL inf when q == 0 < p")
    check(abs(kl_divergence(np.array([0.0, 1.0]), np.array([1.0, 1.0])) - np.log(2)) < 1e-12,
          "KL skips p == 0 terms")
    # Unsigned entropy uses 256 levels: on a half-normal it can only keep more range.
    counts, edges, _ = abs_histogram(data["half_normal"])
    check(amax_entropy(counts, edges, unsigned=True) >= amax_entropy(counts, edges) * 0.9,
          "half_normal: unsigned entropy amax not far below the signed one")

    print(f"{len(failures)} failed")
    return len(failures)


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------

def parse_args(argv=None):
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("amax", help="print every method's amax for one .npy as JSON")
    a.add_argument("--npy", required=True)
    a.add_argument("--bins", type=int, default=DEFAULT_BINS)
    a.add_argument("--unsigned", action="store_true",
                   help="u8 activation: 256 entropy levels, mse clamp [0, 255]")
    a.add_argument("--mse-precision", choices=("float32", "float64"), default="float32")
    s = sub.add_parser("synth", help="write the synthetic distributions as DIR/<name>.npy")
    s.add_argument("--out", required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--samples", type=int, default=1_000_000)
    t = sub.add_parser("selftest", help="check obvious properties (exit 1 on failure)")
    t.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.cmd == "amax":
        if args.bins <= START_BIN:
            raise SystemExit(f"--bins must be > {START_BIN}")
        x = np.load(args.npy, allow_pickle=False)
        print(json.dumps(all_amax(x, args.bins, args.unsigned,
                                  mse_precision=args.mse_precision), indent=1))
        return 0
    if args.cmd == "synth":
        os.makedirs(args.out, exist_ok=True)
        for name, x in synth_distributions(args.seed, args.samples).items():
            path = os.path.join(args.out, name + ".npy")
            np.save(path, x)
            print(f"{path}: {x.size} float32, std {x.std():.4f}, max|x| {np.abs(x).max():.4f}")
        return 0
    return 1 if selftest(args.seed) else 0


if __name__ == "__main__":
    sys.exit(main())
