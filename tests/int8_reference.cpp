#include "tests/int8_reference.hpp"

#include <algorithm>
#include <cmath>

#include <doctest/doctest.h>

#include "tests/expected_isa.hpp"
#include "tests/op_harness.hpp"

namespace octet::test {

namespace {

double at_int(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DataType::s8:
      return t.data<int8_t>()[i];
    case DataType::u8:
      return t.data<uint8_t>()[i];
    default:
      return t.data<float>()[i];
  }
}

// The integers of `t` as int32, read once so that the loops below stay plain.
std::vector<int32_t> ints_of(const Tensor& t) {
  std::vector<int32_t> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int32_t>(at_int(t, i));
  return v;
}

}  // namespace

Tensor quantize_ref(const Tensor& x, float scale, DataType dtype) {
  Tensor q(dtype, x.shape());
  const float lo = dtype == DataType::u8 ? 0.f : -128.f, hi = dtype == DataType::u8 ? 255.f : 127.f;
  // octet multiplies by the reciprocal (one division per tensor, as oneDNN's
  // scaled reorder does); ONNX divides. They differ by one unit, rarely.
  const float inverse = 1.f / scale;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float v = std::clamp(std::nearbyint(x.data<float>()[i] * inverse), lo, hi);
    if (dtype == DataType::u8) {
      q.data<uint8_t>()[i] = static_cast<uint8_t>(v);
    } else {
      q.data<int8_t>()[i] = static_cast<int8_t>(v);
    }
  }
  return q;
}

std::vector<float> weight_scales_ref(const Tensor& w, int axis, int levels) {
  const int64_t channels = w.dim(axis);
  int64_t inner = 1;
  for (size_t d = axis + 1; d < w.rank(); ++d) inner *= w.dim(d);
  std::vector<float> amax(channels, 0.f);
  for (int64_t i = 0; i < w.numel(); ++i) {
    float& a = amax[(i / inner) % channels];
    a = std::max(a, std::fabs(w.data<float>()[i]));
  }
  for (float& a : amax) a = a > 0 ? a / static_cast<float>(levels) : 1.f;
  return amax;
}

Tensor quantize_weights_ref(const Tensor& w, const std::vector<float>& scales, int axis,
                            int levels) {
  Tensor q(DataType::s8, w.shape());
  const int64_t channels = w.dim(axis);
  int64_t inner = 1;
  for (size_t d = axis + 1; d < w.rank(); ++d) inner *= w.dim(d);
  for (int64_t i = 0; i < w.numel(); ++i) {
    const float v = std::nearbyint(w.data<float>()[i] / scales[(i / inner) % channels]);
    const float l = static_cast<float>(levels);
    q.data<int8_t>()[i] = static_cast<int8_t>(std::clamp(v, -l, l));
  }
  return q;
}

EffectiveWeights effective_weights_ref(const Tensor& w, DataType src, Kernel kernel, int axis) {
  const bool vnni = expected_isa().vnni;  // the CPU's flags, not octet's detection
  const bool halved = !vnni && kernel == Kernel::conv && src == DataType::s8;
  const int levels = vnni || halved ? 127 : 63;
  EffectiveWeights e{Tensor(), weight_scales_ref(w, axis, levels)};
  // Always by way of the 8-bit integers, as a model that stores them has
  // only those: 7 bits are round_half_even(q8 x 63 / 127).
  e.q = quantize_weights_ref(w, weight_scales_ref(w, axis, 127), axis, 127);
  if (levels != 127) {
    for (int64_t i = 0; i < e.q.numel(); ++i) {
      int8_t& q = e.q.data<int8_t>()[i];
      q = static_cast<int8_t>(std::nearbyint(q * static_cast<float>(levels) / 127.f));
    }
  }
  if (halved) {
    for (int64_t i = 0; i < e.q.numel(); ++i) {
      int8_t& q = e.q.data<int8_t>()[i];
      q = static_cast<int8_t>(std::nearbyint(q * 0.5f));
    }
    for (float& s : e.scales) s *= 2.f;
  }
  return e;
}

Tensor conv_int8_ref(const Tensor& qx, float sx, const Tensor& qw, const std::vector<float>& sw,
                     const Tensor& bias, const ConvParams& p, const Tensor* qz, float sz) {
  const int64_t n = qx.dim(0), c = qx.dim(1), h = qx.dim(2), w = qx.dim(3);
  const int64_t oc = qw.dim(0), icg = qw.dim(1), kh = qw.dim(2), kw = qw.dim(3);
  const int64_t oh = (h + 2 * p.pad - kh) / p.stride + 1, ow = (w + 2 * p.pad - kw) / p.stride + 1;
  const int64_t ocg = oc / p.group;
  const std::vector<int32_t> x = ints_of(qx);
  Tensor y(DataType::f32, {n, oc, oh, ow});
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t o = 0; o < oc; ++o) {
      const int64_t g = o / ocg;
      for (int64_t yy = 0; yy < oh; ++yy) {
        for (int64_t xx = 0; xx < ow; ++xx) {
          int32_t acc = 0;
          for (int64_t i = 0; i < icg; ++i) {
            for (int64_t ky = 0; ky < kh; ++ky) {
              const int64_t iy = yy * p.stride - p.pad + ky;
              if (iy < 0 || iy >= h) continue;
              for (int64_t kx = 0; kx < kw; ++kx) {
                const int64_t ix = xx * p.stride - p.pad + kx;
                if (ix < 0 || ix >= w) continue;
                acc += x[((b * c + g * icg + i) * h + iy) * w + ix] *
                       qw.data<int8_t>()[((o * icg + i) * kh + ky) * kw + kx];
              }
            }
          }
          const int64_t at = ((b * oc + o) * oh + yy) * ow + xx;
          double v = static_cast<double>(sx) * sw[o] * acc + bias.data<float>()[o];
          if (qz) v += static_cast<double>(sz) * at_int(*qz, at);
          if (p.relu) v = std::max(v, 0.0);
          y.data<float>()[at] = static_cast<float>(v);
        }
      }
    }
  }
  return y;
}

Tensor matmul_int8_ref(const Tensor& qa, float sa, const Tensor& qb, const std::vector<float>& sb,
                       const Tensor* bias) {
  const int64_t m = qa.numel() / qa.dim(qa.rank() - 1), k = qa.dim(qa.rank() - 1), n = qb.dim(1);
  Shape out = qa.shape();
  out.back() = n;
  Tensor y(DataType::f32, out);
  const std::vector<int32_t> a = ints_of(qa);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      int32_t acc = 0;
      for (int64_t kk = 0; kk < k; ++kk) {
        acc += a[i * k + kk] * qb.data<int8_t>()[kk * n + j];
      }
      const double sbj = sb.size() == 1 ? sb[0] : sb[j];
      y.data<float>()[i * n + j] = static_cast<float>(static_cast<double>(sa) * sbj * acc +
                                                      (bias ? bias->data<float>()[j] : 0.f));
    }
  }
  return y;
}

Tensor batched_matmul_int8_ref(const Tensor& qa, float sa, const Tensor& qb, float sb) {
  const size_t rank = qa.rank();
  const int64_t m = qa.dim(rank - 2), k = qa.dim(rank - 1), n = qb.dim(rank - 1);
  const int64_t batches = qa.numel() / (m * k);
  REQUIRE(qb.numel() == batches * k * n);
  Shape out = qa.shape();
  out.back() = n;
  Tensor y(DataType::f32, out);
  const std::vector<int32_t> a = ints_of(qa), b = ints_of(qb);
  for (int64_t h = 0; h < batches; ++h) {
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        int32_t acc = 0;
        for (int64_t kk = 0; kk < k; ++kk) acc += a[(h * m + i) * k + kk] * b[(h * k + kk) * n + j];
        y.data<float>()[(h * m + i) * n + j] =
            static_cast<float>(static_cast<double>(sa) * sb * acc);
      }
    }
  }
  return y;
}

Tensor requantize_ref(const Tensor& q, float from_scale, float to_scale, DataType dtype) {
  Tensor r(dtype, q.shape());
  const float lo = dtype == DataType::u8 ? 0.f : -128.f, hi = dtype == DataType::u8 ? 255.f : 127.f;
  const float factor = from_scale / to_scale;
  const std::vector<int32_t> v = ints_of(q);
  for (size_t i = 0; i < v.size(); ++i) {
    const float x = std::clamp(std::nearbyint(static_cast<float>(v[i]) * factor), lo, hi);
    if (dtype == DataType::u8) {
      r.data<uint8_t>()[i] = static_cast<uint8_t>(x);
    } else {
      r.data<int8_t>()[i] = static_cast<int8_t>(x);
    }
  }
  return r;
}

std::vector<int> integers_of(const Tensor& dequantized, float scale) {
  std::vector<int> q(static_cast<size_t>(dequantized.numel()));
  for (size_t i = 0; i < q.size(); ++i) {
    q[i] = static_cast<int>(std::lround(dequantized.data<float>()[i] / scale));
  }
  return q;
}

void check_integers(const Tensor& dequantized, const Tensor& reference_q, float scale, int slack) {
  const std::vector<int> q = integers_of(dequantized, scale);
  const std::vector<double> r = to_doubles(reference_q);
  REQUIRE(q.size() == r.size());
  int off_by_one = 0, worse = 0;
  for (size_t i = 0; i < q.size(); ++i) {
    const double d = std::fabs(q[i] - r[i]);
    off_by_one += d == 1;
    worse += d > 1;
  }
  CHECK(worse == 0);
  CHECK(off_by_one <= static_cast<int>(q.size() / 1000) + slack);
}

}  // namespace octet::test
