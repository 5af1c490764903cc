// LayerNormalization (opset 17): inputs X, Scale, optional B; attributes axis
// (default -1), epsilon (1e-5), stash_type. X is normalized over the dims
// [axis, rank): Y = (X - mean) / sqrt(var + epsilon) * Scale + B, with Scale
// and B of the normalized shape. Only Y is produced: the optional Mean and
// InvStdDev outputs (training) are unsupported. Statistics are always computed
// in f32 or better, so stash_type has nothing to change.
// oneDNN path: layer_normalization_forward with use_scale / use_shift on X
// viewed as 2-D [outer, inner] (inner = product of the normalized dims), which
// covers every axis, not only the last one.
// int8 output: oneDNN 2.6's layer normalization writes its source data
// type only, so when the readers of Y read it in int8 the same step then
// quantizes Y for them (a reorder on their scale): into an int8 output when
// every reader reads int8 (ConvNeXt's Linear after each LayerNorm), into an
// int8 copy beside the f32 output when some read f32 (the residual of BERT
// and of a post-norm Transformer).
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "ops/dnnl_kernel.hpp"

namespace octet {
namespace {

Shape strip_leading_ones(Shape s) {
  size_t i = 0;
  while (i < s.size() && s[i] == 1) ++i;
  return Shape(s.begin() + static_cast<std::ptrdiff_t>(i), s.end());
}

// oneDNN's f32 layer normalization, then a quantizing reorder of its
// output: the session's quantize step, done inside this one, so the numbers
// are those of the f32 kernel and that step exactly. The f32 rows go to the
// f32 output when f32 readers want it (then the int8 form is a copy for the
// int8 readers), else to scratch memory.
class QuantizedLayerNormKernel final : public Kernel {
 public:
  QuantizedLayerNormKernel(std::unique_ptr<Kernel> norm, std::unique_ptr<Kernel> quantize,
                           size_t scratch_f32_bytes)
      : norm_(std::move(norm)),
        quantize_(std::move(quantize)),
        reserved_((scratch_f32_bytes + 63) / 64 * 64) {}
  void bind(const std::vector<const void*>& src, const std::vector<void*>& dst,
            void* scratchpad) override {
    // The two primitives run one after the other: their scratch may overlap.
    auto* inner = static_cast<uint8_t*>(scratchpad) + reserved_;
    void* f32 = reserved_ ? scratchpad : dst.at(0);
    void* q = reserved_ ? dst.at(0) : dst.at(1);
    norm_->bind(src, {f32}, inner);
    quantize_->bind({f32}, {q}, inner);
  }
  void execute(dnnl::stream& stream) override {
    norm_->execute(stream);
    quantize_->execute(stream);
  }
  std::string name() const override { return norm_->name() + " + quantize"; }
  size_t scratchpad_bytes() const override {
    return reserved_ + std::max(norm_->scratchpad_bytes(), quantize_->scratchpad_bytes());
  }

 private:
  std::unique_ptr<Kernel> norm_, quantize_;
  size_t reserved_;
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
    // int8 for int8 readers only, or f32 and an int8 copy for both kinds.
    KernelDst& dst = ctx.dst[0];
    const bool copy = !dst.int8.is_int8() && dst.int8_copy.is_int8();
    const QuantView y = copy ? dst.int8_copy : dst.int8;
    if (!y.is_int8()) return kernel;
    const dnnl::memory::desc f32_md = dst.md, q_md = plain_md(dst.shape, y.dtype);
    auto quantize = make_reorder_kernel(ctx.engine, f32_md, q_md, 1.f / y.scale);
    if (copy) {
      dst.int8_copy_md = q_md;
    } else {
      dst.md = q_md;
      dst.scale = y.scale;
    }
    return std::make_unique<QuantizedLayerNormKernel>(
        std::move(kernel), std::move(quantize),
        copy ? 0 : static_cast<size_t>(outer * inner) * sizeof(float));
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
