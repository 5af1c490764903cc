// LayerNormalization (opset 17): inputs X, Scale, optional B; attributes axis
// (default -1), epsilon (1e-5), stash_type. X is normalized over the dims
// [axis, rank): Y = (X - mean) / sqrt(var + epsilon) * Scale + B, with Scale
// and B of the normalized shape. Only Y is produced: the optional Mean and
// InvStdDev outputs (training) are unsupported. Statistics are always computed
// in f32 or better, so stash_type has nothing to change.
// oneDNN path: layer_normalization_forward with use_scale / use_shift on X
// viewed as 2-D [outer, inner] (inner = product of the normalized dims), which
// covers every axis, not only the last one.
// int8 output: when every reader of Y reads it in int8 (ConvNeXt's Linear
// after each LayerNorm), Y is written in int8 on the readers' scale by a
// loop of its own, since oneDNN 2.6's layer normalization writes its source
// data type only; one pass instead of an f32 tensor and a quantize step.
// When some readers read Y in int8 and others in f32 (the Linear and the
// residual of a post-norm Transformer or BERT), oneDNN's kernel writes Y and
// the same step quantizes it into an int8 copy for the int8 readers.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "ops/dnnl_kernel.hpp"

namespace octet {
namespace {

Shape strip_leading_ones(Shape s) {
  size_t i = 0;
  while (i < s.size() && s[i] == 1) ++i;
  return Shape(s.begin() + static_cast<std::ptrdiff_t>(i), s.end());
}

// q = saturate(round(v / y_scale)) for `n` values, `inv_scale` = 1 / y_scale,
// rounding to nearest even as oneDNN's quantizing reorders do: cvtps2dq (the
// default MXCSR rounding) and saturating packs, 16 at a time, since the
// compiler does not vectorize std::nearbyint for baseline x86-64 (SSE2 has
// no roundps). The clamp first keeps large values and NaN (maxps returns its
// second operand, -128 or 0) out of cvtps2dq's overflow.
template <class Q>
void quantize_row(const float* v, Q* q, int64_t n, float inv_scale) {
  constexpr bool is_signed = std::is_signed<Q>::value;
  const float lo = is_signed ? -128.f : 0.f, hi = is_signed ? 127.f : 255.f;
  const __m128 s = _mm_set1_ps(inv_scale), vlo = _mm_set1_ps(lo), vhi = _mm_set1_ps(hi);
  auto cvt = [&](const float* p) {
    return _mm_cvtps_epi32(_mm_min_ps(_mm_max_ps(_mm_mul_ps(_mm_loadu_ps(p), s), vlo), vhi));
  };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i ab = _mm_packs_epi32(cvt(v + i), cvt(v + i + 4));
    const __m128i cd = _mm_packs_epi32(cvt(v + i + 8), cvt(v + i + 12));
    const __m128i r = is_signed ? _mm_packs_epi16(ab, cd) : _mm_packus_epi16(ab, cd);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), r);
  }
  for (; i < n; ++i) {
    const float c = std::min(hi, std::max(lo, v[i] * inv_scale));
    q[i] = static_cast<Q>(std::nearbyint(c));
  }
}

// Y = (X - mean) / sqrt(var + eps) * scale + bias per row of `inner`, in
// f32, written in int8 only, on `y_scale`.
template <class Q>
class LayerNormInt8Kernel final : public Kernel {
 public:
  LayerNormInt8Kernel(int64_t outer, int64_t inner, float epsilon, const Tensor& scale,
                      const Tensor* bias, float y_scale)
      : outer_(outer), inner_(inner), epsilon_(epsilon), inv_y_(1.f / y_scale) {
    gamma_.assign(scale.data<float>(), scale.data<float>() + inner);
    beta_.assign(static_cast<size_t>(inner), 0.f);
    if (bias) beta_.assign(bias->data<float>(), bias->data<float>() + inner);
  }
  void bind(const std::vector<const void*>& src, const std::vector<void*>& dst, void*) override {
    src_ = static_cast<const float*>(src.at(0));
    dst_ = static_cast<Q*>(dst.at(0));
  }
  void execute(dnnl::stream&) override {
    const int64_t n = inner_;
    const float* g = gamma_.data();
    const float* b = beta_.data();
#pragma omp parallel
    {
      std::vector<float> y(static_cast<size_t>(n));
#pragma omp for schedule(static)
      for (int64_t o = 0; o < outer_; ++o) {
        const float* x = src_ + o * n;
        float sum = 0.f;
#pragma omp simd reduction(+ : sum)
        for (int64_t i = 0; i < n; ++i) sum += x[i];
        const float mean = sum / static_cast<float>(n);
        float var = 0.f;
#pragma omp simd reduction(+ : var)
        for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
        const float inv_std = 1.f / std::sqrt(var / static_cast<float>(n) + epsilon_);
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * inv_std * g[i] + b[i];
        quantize_row(y.data(), dst_ + o * n, n, inv_y_);
      }
    }
  }
  std::string name() const override {
    return "loop";
  }

 private:
  int64_t outer_, inner_;
  float epsilon_, inv_y_;
  std::vector<float> gamma_, beta_;
  const float* src_ = nullptr;
  Q* dst_ = nullptr;
};

// oneDNN's f32 layer normalization, then its output quantized into an int8
// copy on `y_scale`: the numbers of the f32 kernel and a quantize step
// exactly (a loop of its own computing both in one pass changed BERT-base's
// f32 residual stream by an ulp here and there, which 12 layers of int8
// amplify), in one step, while the rows are still in cache.
template <class Q>
class Int8CopyKernel final : public Kernel {
 public:
  Int8CopyKernel(std::unique_ptr<Kernel> f32, int64_t outer, int64_t inner, float y_scale)
      : f32_(std::move(f32)), outer_(outer), inner_(inner), inv_y_(1.f / y_scale) {}
  void bind(const std::vector<const void*>& src, const std::vector<void*>& dst,
            void* scratchpad) override {
    f32_->bind(src, {dst.at(0)}, scratchpad);
    y_ = static_cast<const float*>(dst.at(0));
    q_ = static_cast<Q*>(dst.at(1));
  }
  void execute(dnnl::stream& stream) override {
    f32_->execute(stream);
    stream.wait();
    const int64_t n = inner_;
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < outer_; ++o) quantize_row(y_ + o * n, q_ + o * n, n, inv_y_);
  }
  std::string name() const override {
    return f32_->name() + " + int8 copy";
  }
  size_t scratchpad_bytes() const override {
    return f32_->scratchpad_bytes();
  }

 private:
  std::unique_ptr<Kernel> f32_;
  int64_t outer_, inner_;
  float inv_y_;
  const float* y_ = nullptr;
  Q* q_ = nullptr;
};

class LayerNorm final : public Op {
 public:
  explicit LayerNorm(const Node& node) : Op(node) {
    if (node.inputs.size() < 2 || node.inputs.size() > 3 || node.outputs.empty() ||
        node.outputs.size() > 3) {
      node.fail(ErrorCode::invalid_model,
                "expects 2 or 3 inputs (X, Scale, [B]) and 1 to 3 outputs");
    }
    for (size_t i = 1; i < node.outputs.size(); ++i) {
      if (node.outputs[i] != kNoValue) {
        node.fail(ErrorCode::unsupported, "only output 0 (Y) is supported, not Mean / InvStdDev");
      }
    }
    axis_ = node.attr_int("axis", -1);
    epsilon_ = node.attr_float("epsilon", 1e-5);
    if (!(epsilon_ >= 0)) node.fail(ErrorCode::invalid_model, "epsilon must be >= 0");
    node.attr_int("stash_type", 1);  // type-checked only, see above
  }

  void infer(InferContext& ctx) const override {
    const Shape& x = ctx.shape(0);
    if (x.empty()) ctx.fail("expects an input of rank >= 1");
    const int64_t axis = normalize_axis(node(), axis_, x.size());
    const Shape norm = strip_leading_ones(Shape(x.begin() + axis, x.end()));
    for (size_t i = 0; i < 3; ++i) {
      if (i > 0 && !ctx.has(i)) continue;
      if (ctx.dtype(i) != DataType::f32) ctx.fail("expects f32 inputs");
      if (i > 0 && strip_leading_ones(ctx.shape(i)) != norm) {
        ctx.fail(std::string(i == 1 ? "Scale" : "B") + " has shape " + to_string(ctx.shape(i)) +
                 ", expected the normalized shape " + to_string(Shape(x.begin() + axis, x.end())) +
                 " of X " + to_string(x));
      }
    }
    ctx.set(0, x, DataType::f32);
  }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    int64_t outer, inner;
    split(src[0]->shape(), outer, inner);
    const float* x = src[0]->data<float>();
    const float* scale = src[1]->data<float>();
    const float* bias = src.size() > 2 && src[2] ? src[2]->data<float>() : nullptr;
    float* y = dst[0].data<float>();
    for (int64_t o = 0; o < outer; ++o) {
      const float* xr = x + o * inner;
      float* yr = y + o * inner;
      double mean = 0, var = 0;
      for (int64_t i = 0; i < inner; ++i) mean += xr[i];
      mean /= static_cast<double>(inner);
      for (int64_t i = 0; i < inner; ++i) var += (xr[i] - mean) * (xr[i] - mean);
      var /= static_cast<double>(inner);
      const double inv_std = 1.0 / std::sqrt(var + epsilon_);
      for (int64_t i = 0; i < inner; ++i) {
        yr[i] = static_cast<float>((xr[i] - mean) * inv_std * scale[i] + (bias ? bias[i] : 0.0));
      }
    }
  }

  bool writes_int8() const override { return true; }

  std::unique_ptr<Kernel> make_kernel(KernelContext& ctx) const override {
    int64_t outer, inner;
    split(ctx.src[0].shape, outer, inner);
    if (outer * inner == 0 || ctx.src[0].constant) return make_reference_kernel(*this, ctx);
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    const bool has_bias = ctx.src.size() > 2 && ctx.src[2].present;
    // int8 for int8 readers only: a loop of its own (see the top).
    const QuantView y = ctx.dst[0].int8;
    if (y.is_int8() && ctx.src[1].constant && (!has_bias || ctx.src[2].constant)) {
      const Tensor& scale = *ctx.src[1].constant;
      const Tensor* bias = has_bias ? ctx.src[2].constant : nullptr;
      const float eps = static_cast<float>(epsilon_);
      std::unique_ptr<Kernel> kernel;
      if (y.dtype == DataType::u8) {
        kernel =
            std::make_unique<LayerNormInt8Kernel<uint8_t>>(outer, inner, eps, scale, bias, y.scale);
      } else {
        kernel =
            std::make_unique<LayerNormInt8Kernel<int8_t>>(outer, inner, eps, scale, bias, y.scale);
      }
      ctx.src[0].want = plain_md(ctx.src[0].shape, DataType::f32);
      ctx.dst[0].md = plain_md(ctx.dst[0].shape, y.dtype);
      ctx.dst[0].scale = y.scale;
      return kernel;
    }
    const dnnl::memory::desc data_md({outer, inner}, dt::f32, tag::ab);
    const dnnl::memory::desc param_md({inner}, dt::f32, tag::a);
    dnnl::normalization_flags flags = dnnl::normalization_flags::use_scale;
    if (has_bias) flags |= dnnl::normalization_flags::use_shift;
    const dnnl::layer_normalization_forward::desc desc(dnnl::prop_kind::forward_inference, data_md,
                                                       static_cast<float>(epsilon_), flags);
    const dnnl::layer_normalization_forward::primitive_desc pd(desc, default_attr(), ctx.engine);
    auto kernel =
        std::make_unique<PrimitiveKernel>(ctx.engine, dnnl::layer_normalization_forward(pd),
                                          impl_name(pd), pd.scratchpad_desc().get_size());
    ctx.src[0].want = plain_md(ctx.src[0].shape, DataType::f32);  // the 2-D view needs plain
    ctx.dst[0].md = ctx.src[0].want;
    kernel->map_src(0, DNNL_ARG_SRC, data_md);
    kernel->map_dst(0, DNNL_ARG_DST, data_md);
    for (size_t i = 1; i < (has_bias ? 3u : 2u); ++i) {
      const int arg = i == 1 ? DNNL_ARG_SCALE : DNNL_ARG_SHIFT;
      if (ctx.src[i].constant) {
        kernel->set_const(arg, wrap_constant(ctx.engine, *ctx.src[i].constant, param_md));
      } else {
        ctx.src[i].want = plain_md(ctx.src[i].shape, DataType::f32);
        kernel->map_src(i, arg, param_md);
      }
    }
    // f32 for the f32 readers, and an int8 copy for the int8 ones.
    const QuantView copy = ctx.dst[0].int8_copy;
    if (!copy.is_int8()) return kernel;
    ctx.dst[0].int8_copy_md = plain_md(ctx.dst[0].shape, copy.dtype);
    if (copy.dtype == DataType::u8) {
      return std::make_unique<Int8CopyKernel<uint8_t>>(std::move(kernel), outer, inner, copy.scale);
    }
    return std::make_unique<Int8CopyKernel<int8_t>>(std::move(kernel), outer, inner, copy.scale);
  }

 private:
  void split(const Shape& x, int64_t& outer, int64_t& inner) const {
    const int64_t axis = normalize_axis(node(), axis_, x.size());
    outer = numel(Shape(x.begin(), x.begin() + axis));
    inner = numel(Shape(x.begin() + axis, x.end()));
  }

  int64_t axis_;
  double epsilon_;
};

}  // namespace

std::unique_ptr<Op> make_layer_norm(const Node& node) {
  return std::make_unique<LayerNorm>(node);
}

}  // namespace octet
