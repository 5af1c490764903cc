#include "ops/quantize.hpp"

// quantize_weights rounds with float additions that -ffast-math may fold.
#ifdef __FAST_MATH__
#error "ops/quantize.cpp must be built without -ffast-math"
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

namespace octet {

namespace {

// max|w| along every index of `axis`.
std::vector<float> channel_amax(const Tensor& w, int axis) {
  const Shape& s = w.shape();
  const int64_t channels = s[axis];
  int64_t inner = 1;
  for (size_t d = axis + 1; d < s.size(); ++d) inner *= s[d];
  const int64_t outer = w.numel() / std::max<int64_t>(1, channels * inner);
  std::vector<float> amax(channels, 0.f);
  const float* p = w.data<float>();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t c = 0; c < channels; ++c) {
      const float* row = p + (o * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i) amax[c] = std::max(amax[c], std::fabs(row[i]));
    }
  }
  return amax;
}

// 1.5 x 2^23: adding and subtracting it rounds a float of magnitude below
// 2^22 to an integer, half to even, in the default rounding mode (octet is
// built without -ffast-math, which would fold it away), in vector registers
// where std::nearbyint is a libm call per element.
constexpr float kRound = 12582912.f;

// round_half_even(q x ratio) for the integers q of weight_integers: q x
// (levels / 127) lands at least 1/254 from a tie (126 q8 is even, 127 (2k +
// 1) odd, for levels 63), far beyond float error, so any exact-enough
// product rounds the same way.
inline float reduced(float q, float ratio) {
  return (q * ratio + kRound) - kRound;
}

// round_half_even(clamp(w / scale, -levels, levels)) per element, which is
// clamp(round_half_even(w / scale), ...) since levels is an integer, then
// reduced by `ratio` when Reduce. Rows of one channel at a time, so that the
// inner loop has no index arithmetic and vectorizes: BERT-base's 85M
// weights were most of its int8 prepare.
template <bool Reduce>
Tensor quantize_rows(const Tensor& w, int axis, const std::vector<float>& scales, float levels,
                     float ratio) {
  Tensor q(DataType::s8, w.shape());
  const Shape& s = w.shape();
  const int64_t channels = s[axis];
  int64_t inner = 1;
  for (size_t d = axis + 1; d < s.size(); ++d) inner *= s[d];
  const int64_t rows = channels * inner > 0 ? w.numel() / inner : 0;
  const float* src = w.data<float>();
  int8_t* dst = q.data<int8_t>();
  bool finite = true;
  for (int64_t r = 0; r < rows; ++r) {
    const float scale = scales[static_cast<size_t>(r % channels)];
    const float* x = src + r * inner;
    int8_t* y = dst + r * inner;
    for (int64_t i = 0; i < inner; ++i) {
      float v = x[i] / scale;
      finite &= std::fabs(v) <= std::numeric_limits<float>::max();  // false for NaN
      v = v == v ? std::min(std::max(v, -levels), levels) : 0.f;
      v = (v + kRound) - kRound;
      if constexpr (Reduce) v = reduced(v, ratio);
      y[i] = static_cast<int8_t>(v);
    }
  }
  if (!finite) {
    for (int64_t i = 0; i < w.numel(); ++i) {
      if (!std::isfinite(src[i] / scales[static_cast<size_t>((i / inner) % channels)])) {
        throw Error(ErrorCode::invalid_model, "the weights hold a NaN or infinite value at index " +
                                                  std::to_string(i) + ": they cannot be quantized");
      }
    }
  }
  return q;
}

}  // namespace

Tensor quantize_weights(const Tensor& w, int axis, const std::vector<float>& scales, float levels) {
  return quantize_rows<false>(w, axis, scales, levels, 1.f);
}

int conv_weight_levels(DataType src) {
  return cpu_has_vnni() || src == DataType::s8 ? 127 : 63;
}

int linear_weight_levels() {
  return cpu_has_vnni() ? 127 : 63;
}

namespace {
std::atomic<bool> int8_activation_matmul_forced{false};
}  // namespace

bool int8_activation_matmul_available() {
  return cpu_has_vnni() || int8_activation_matmul_forced.load();
}

void force_int8_activation_matmul_for_tests(bool force) {
  int8_activation_matmul_forced = force;
}

std::vector<float> weight_amax(const Tensor& w, int axis, const WeightQuant* given) {
  if (given) return given->amax;
  return channel_amax(w, axis);
}

std::vector<float> weight_scales(const std::vector<float>& amax, int levels) {
  std::vector<float> scales(amax.size());
  for (size_t c = 0; c < amax.size(); ++c) {
    scales[c] = amax[c] > 0 ? amax[c] / static_cast<float>(levels) : 1.f;
  }
  return scales;
}

Tensor weight_integers(const Tensor& w, int axis, const std::vector<float>& amax, int levels) {
  const float ratio = static_cast<float>(levels) / 127.f;
  if (w.dtype() != DataType::s8) {
    const std::vector<float> scales = weight_scales(amax, 127);
    return levels == 127 ? quantize_rows<false>(w, axis, scales, 127.f, 1.f)
                         : quantize_rows<true>(w, axis, scales, 127.f, ratio);
  }
  if (levels == 127) return w;
  Tensor q(DataType::s8, w.shape());
  const int8_t* src = w.data<int8_t>();
  int8_t* dst = q.data<int8_t>();
  const int64_t n =
      w.numel();  // not in the loop's test: numel() is a call, which stops vectorizing
  for (int64_t i = 0; i < n; ++i)
    dst[i] = static_cast<int8_t>(reduced(static_cast<float>(src[i]), ratio));
  return q;
}

dnnl::memory int8_weights(const KernelContext& ctx, const Tensor& w, int axis,
                          const std::vector<float>& amax, int levels,
                          const dnnl::memory::desc& plain, const dnnl::memory::desc& want) {
  auto make = [&] {
    const Tensor q = weight_integers(w, axis, amax, levels);
    return reordered(ctx.engine, plain, q.raw(), want);
  };
  if (!ctx.constants) return make();
  return ctx.constants->get({w.raw(), plain, want, weight_scales(amax, levels), axis, levels}, w,
                            make);
}

Tensor f32_weights(const Tensor& w, const WeightQuant* quant) {
  if (w.dtype() == DataType::f32) return w;
  if (w.dtype() != DataType::s8 || !quant || !quant->stored_s8) {
    throw Error(ErrorCode::internal, std::string("a constant weight of dtype ") +
                                         to_string(w.dtype()) +
                                         " where f32 or a stored s8 weight was expected");
  }
  return stored_weight_values(w, *quant);
}

dnnl::memory reorder_f32_weights(const KernelContext& ctx, const Tensor& w,
                                 const WeightQuant* quant, const dnnl::memory::desc& src_md,
                                 const dnnl::memory::desc& want) {
  if (w.dtype() == DataType::f32) return reorder_constant(ctx, w, src_md, want);
  auto make = [&] {
    const Tensor f = f32_weights(w, quant);
    return reordered(ctx.engine, src_md, f.raw(), want);
  };
  if (!ctx.constants) return make();
  // Keyed by the s8 tensor: src_md (f32) tells the entry from the int8 ones.
  return ctx.constants->get({w.raw(), src_md, want, quant->amax, quant->axis, 127}, w, make);
}

dnnl::memory int8_bias(const dnnl::engine& engine, const Tensor& bias, float src_scale,
                       const std::vector<float>& weight_scales, dnnl::memory::desc md) {
  const int64_t n = bias.numel();
  if (md.is_zero()) md = {{n}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a};
  dnnl::memory m(md, engine);
  float* dst = static_cast<float*>(m.get_data_handle());
  const float* b = bias.data<float>();
  for (int64_t c = 0; c < n; ++c) {
    const float ws = weight_scales.size() == 1 ? weight_scales[0] : weight_scales[c];
    dst[c] = b[c] / (src_scale * ws);
  }
  return m;
}

std::vector<float> output_scales(float src_scale, const std::vector<float>& weight_scales,
                                 float dst_scale) {
  std::vector<float> out(weight_scales.size());
  for (size_t c = 0; c < out.size(); ++c) out[c] = src_scale * weight_scales[c] / dst_scale;
  if (std::all_of(out.begin(), out.end(), [&](float v) { return v == out[0]; })) out.resize(1);
  return out;
}

}  // namespace octet
