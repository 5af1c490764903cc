"""Fake quantization as octet's runtime computes it, with the straight-through
estimator (STE).

* Activations: per tensor, symmetric, zero point 0; s8 (``amax / 127``,
  integers saturated to [-128, 127]) or u8 (``amax / 255``, [0, 255]) where
  octet proves the tensor non-negative. ``q = round_half_even(x * (1 / s))``:
  octet's quantize steps multiply by the float reciprocal of the scale (one
  division per tensor, as oneDNN's scaled reorders do).
* Weights: per output channel, ``amax_c = max|w_c|`` (1 for an all-zero
  channel, whose integers are 0 with any scale), ``s_c = amax_c / L``,
  ``q = round_half_even(w / s_c)`` clamped to [-L, L] (octet divides here).
  ``L`` is 127 on CPUs with VNNI; without VNNI it is 63 for convolutions with
  a u8 source and for Linear layers, and for a convolution with an s8 source
  ``L = 127`` and oneDNN halves the integers itself (``round_half_even(q/2)``
  with twice the scale) (ops/quantize.hpp, tests/int8_reference.cpp).
* Every amax is *snapped* to the float that octet's QDQ importer recovers from
  the exported scale ``fl(amax / 127)`` (or ``/ 255``): ``amax_for_scale`` in
  loaders/onnx/pass_fold_qdq.cpp, reproduced by :func:`snap_amax`. For about
  1 amax in 128 that is a neighbouring float; snapping in the forward pass
  makes the torch model compute with exactly the scales octet will use.

STE: the gradient passes where the rounded value lies inside the integer range
and is zero where it saturates. With ``learn=True`` an activation's amax is a
parameter that moves as LSQ's step size does (Esser et al. 2020: the
gradient w.r.t. the step, scaled by ``1 / sqrt(numel * L)``, times L).
"""

import math

import torch
from torch import nn

S8 = (-128.0, 127.0)
U8 = (0.0, 255.0)


def snap_amax(amax, levels):
    """The amax octet's importer stores for the QDQ scale ``fl(amax / levels)``.

    ``amax_for_scale`` of loaders/onnx/pass_fold_qdq.cpp, element-wise: among
    the 17 floats nearest to ``scale * levels``, the one whose float quotient
    ``a / levels`` is nearest to the scale, then nearest to ``scale * levels``.
    """
    amax = torch.as_tensor(amax, dtype=torch.float32)
    lv = torch.tensor(float(levels), dtype=torch.float32)
    scale = amax / lv
    target = scale.double() * float(levels)
    start = target.float()
    best = start.clone()
    best_err = torch.full_like(target, math.inf)
    best_dist = torch.full_like(target, math.inf)

    def consider(a):
        nonlocal best, best_err, best_dist
        valid = torch.isfinite(a) & (a > 0)
        err = ((a / lv).double() - scale.double()).abs()
        dist = (a.double() - target).abs()
        better = valid & ((err < best_err) | ((err == best_err) & (dist < best_dist)))
        best = torch.where(better, a, best)
        best_err = torch.where(better, err, best_err)
        best_dist = torch.where(better, dist, best_dist)

    consider(start)
    lo, hi = start.clone(), start.clone()
    for _ in range(8):
        lo = torch.nextafter(lo, torch.zeros_like(lo))
        hi = torch.nextafter(hi, torch.full_like(hi, math.inf))
        consider(lo)
        consider(hi)
    return best


class _FakeQuantSTE(torch.autograd.Function):
    """q = clamp(round(x * inv), lo, hi) * s (or round(x / s) when divide);
    gradient 1 where round(...) is inside [lo, hi], else 0."""

    @staticmethod
    def forward(ctx, x, scale, inv, lo, hi, divide):
        r = torch.round(x / scale) if divide else torch.round(x * inv)
        inside = (r >= lo) & (r <= hi)
        ctx.save_for_backward(inside)
        return r.clamp(lo, hi) * scale

    @staticmethod
    def backward(ctx, grad):
        (inside,) = ctx.saved_tensors
        return grad * inside, None, None, None, None, None


class _FakeQuantLSQ(torch.autograd.Function):
    """Activation fake quant with a learned amax: STE for x, LSQ for amax."""

    @staticmethod
    def forward(ctx, x, amax, levels, lo, hi):
        scale = amax / levels
        inv = 1.0 / scale
        v = x * inv
        r = torch.round(v)
        inside = (r >= lo) & (r <= hi)
        ctx.save_for_backward(inside, r, v)
        ctx.levels, ctx.lo, ctx.hi = levels, lo, hi
        ctx.grad_scale = 1.0 / math.sqrt(max(1, x.numel()) * hi)
        return r.clamp(lo, hi) * scale

    @staticmethod
    def backward(ctx, grad):
        inside, r, v = ctx.saved_tensors
        # d(fq)/d(scale): the rounding error inside, the bound where saturated.
        ds = torch.where(inside, r - v, torch.where(r < ctx.lo, torch.full_like(v, ctx.lo),
                                                    torch.full_like(v, ctx.hi)))
        # LSQ learns the step size s = amax / L with this gradient; amax then
        # moves L times as far, so amax gets L times the step-size gradient
        # (the exact d/d(amax) would be 1/L of it: a step L^2 times smaller).
        g_amax = (grad * ds).sum() * ctx.grad_scale * ctx.levels
        return grad * inside, g_amax.reshape(1), None, None, None


def fake_quant(x, amax, unsigned, divide=False):
    """Per-tensor (scalar amax) or broadcast fake quant, octet's arithmetic, STE."""
    levels = 255.0 if unsigned else 127.0
    lo, hi = U8 if unsigned else S8
    scale = (amax / levels).to(torch.float32)
    inv = 1.0 / scale
    return _FakeQuantSTE.apply(x, scale, inv, lo, hi, divide)


class ActQuant(nn.Module):
    """One quantized activation (an octet value with its own range).

    ``mode``: ``"quant"`` fake-quantizes; ``"fp32"`` passes through;
    ``"observe"`` passes through and feeds ``observer`` (calibration);
    ``"export"`` emits torch's fake_quantize_per_tensor_affine, which the ONNX
    exporter writes as QuantizeLinear + DequantizeLinear.
    """

    def __init__(self, value, unsigned):
        super().__init__()
        self.value = value  # the fx node name of the quantized value, for messages
        self.unsigned = bool(unsigned)
        self.levels = 255.0 if unsigned else 127.0
        self.register_buffer("amax", torch.tensor([float("nan")]))
        self.amax_by_method = {}  # filled by calibration
        self.mode = "fp32"
        self.learn = False
        self.observer = None

    def extra_repr(self):
        return f"{'u8' if self.unsigned else 's8'}, amax={float(self.amax):.6g}, value={self.value}"

    def snapped_amax(self):
        return snap_amax(self.amax.detach(), self.levels)

    def scale(self):
        """The float32 scale octet computes: amax / 127 or / 255 (snapped amax)."""
        return (self.snapped_amax() / self.levels).to(torch.float32)

    def set_learned(self, learn):
        """Make amax a trainable parameter (LSQ) or a fixed buffer again."""
        value = self.amax.detach().clone()
        del self.amax
        if learn:
            self.amax = nn.Parameter(value)
        else:
            self.register_buffer("amax", value)
        self.learn = learn

    def forward(self, x):
        if self.mode == "fp32":
            return x
        if self.mode == "observe":
            self.observer(x)
            return x
        if not torch.isfinite(self.amax).all():
            raise RuntimeError(f"activation '{self.value}' has no range: run calibrate() first")
        lo, hi = U8 if self.unsigned else S8
        if self.mode == "export":
            return torch.fake_quantize_per_tensor_affine(x, float(self.scale()), 0, int(lo),
                                                         int(hi))
        if self.learn:
            amax = self.amax + (snap_amax(self.amax.detach(), self.levels) - self.amax).detach()
            return _FakeQuantLSQ.apply(x, amax, self.levels, lo, hi)
        return fake_quant(x, self.snapped_amax(), self.unsigned)


class ActQuantUse(nn.Module):
    """A second place where an octet value's range applies (after an average
    pool, or at an int8 layer reading a reshaped/pooled view of it): fake
    quantizes with the home quantizer's range, never observes."""

    def __init__(self, home):
        super().__init__()
        object.__setattr__(self, "home", home)  # not a submodule: one owner of amax

    def extra_repr(self):
        return f"uses the range of {self.home.value}"

    def forward(self, x):
        home = self.home
        if home.mode in ("fp32", "observe"):
            return x
        if home.mode == "export":
            lo, hi = U8 if home.unsigned else S8
            return torch.fake_quantize_per_tensor_affine(x, float(home.scale()), 0, int(lo),
                                                         int(hi))
        if home.learn:
            amax = home.amax + (snap_amax(home.amax.detach(), home.levels) - home.amax).detach()
            lo, hi = U8 if home.unsigned else S8
            return _FakeQuantLSQ.apply(x, amax, home.levels, lo, hi)
        return fake_quant(x, home.snapped_amax(), home.unsigned)


class WeightQuant:
    """Per-output-channel (axis 0) weight fake quant with octet's levels."""

    def __init__(self, levels=127, halved=False):
        if levels not in (63, 127) or (halved and levels != 127):
            raise ValueError("weight levels are 127 (optionally halved) or 63")
        self.levels = levels
        self.halved = halved

    def describe(self):
        return "127 halved by oneDNN" if self.halved else str(self.levels)

    def amax(self, w):
        """max|w| per output channel, 1 for all-zero channels, snapped (/127)."""
        a = w.detach().abs().reshape(w.shape[0], -1).amax(dim=1)
        a = torch.where(a > 0, a, torch.ones_like(a))
        return snap_amax(a, 127.0)

    def _scale(self, w):
        shape = (-1,) + (1,) * (w.dim() - 1)
        return (self.amax(w) / float(self.levels)).reshape(shape)

    def __call__(self, w):
        """The weights the int8 kernel multiplies with, as reals (STE: identity)."""
        s = self._scale(w)
        lv = float(self.levels)
        q = _FakeQuantSTE.apply(w, s, None, -lv, lv, True)
        if not self.halved:
            return q
        # oneDNN without VNNI, s8 source: round_half_even(q / 2) at twice the scale.
        k = torch.round(torch.round(w.detach() / s).clamp(-lv, lv) * 0.5)
        return q + (k * 2.0 * s - q).detach()

    def export_weight(self, w):
        """The weights the QDQ file carries: on octet's 127 grid (halved
        layers: before oneDNN's halving), or the 63 grid (octet recovers those
        integers exactly from the 127-scale QDQ pair)."""
        s = self._scale(w)
        lv = float(self.levels)
        return (torch.round(w.detach() / s).clamp(-lv, lv) * s).detach()
