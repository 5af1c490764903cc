// BatchNormalization, inference form: inputs X [N,C,...], scale, B, mean, var
// (each [C]); Y = act((X - mean) / sqrt(var + epsilon) * scale + B) per
// channel, act from the attributes activation / activation_params
// (ops/activation.hpp) that the importer fuses in (a BN that follows no Conv,
// as in DenseNet's pre-activation blocks, then its Relu).
// Only Y: training mode and the running-statistics outputs are unsupported.
// oneDNN paths (all four parameters constant):
//   - no activation, rank 2 to 5: batch_normalization_forward with
//     use_global_stats | use_scale | use_shift, reading X in the producer's
//     layout (blocked layouts too) and writing Y in the same layout;
//   - with an activation, or in int8 (rank 3 to 5): the same affine map as a
//     depthwise 1x1 convolution, weight a_c = scale_c / sqrt(var_c + eps),
//     bias B_c - mean_c * a_c, the activation a post-op. In int8 each
//     channel's weight quantizes exactly (to +-levels on the scale
//     |a_c| / levels), so the int8 result differs from fp32 only by the
//     rounding of X and Y, and int8 data flows through the BN.
#include <cmath>

#include "ops/activation.hpp"
#include "ops/dnnl_kernel.hpp"
#include "ops/quantize.hpp"

namespace octet {
namespace {

class BatchNorm final : public Op {
 public:
  explicit BatchNorm(const Node& node) : Op(node) {
    if (node.inputs.size() != 5 || node.outputs.empty() || node.outputs.size() > 3) {
      node.fail(ErrorCode::invalid_model,
                "expects 5 inputs (X, scale, B, input_mean, input_var) and 1 output");
    }
    for (size_t i = 1; i < node.outputs.size(); ++i) {
      if (node.outputs[i] != kNoValue) {
        node.fail(ErrorCode::unsupported, "only output 0 (Y) is supported (inference)");
      }
    }
    if (node.attr_int("training_mode", 0) != 0) {
      node.fail(ErrorCode::unsupported, "training_mode = 1 is not supported");
    }
    epsilon_ = node.attr_float("epsilon", 1e-5);
    if (!(epsilon_ >= 0)) node.fail(ErrorCode::invalid_model, "epsilon must be >= 0");
    act_ = FusedActivation::of(node);
  }

  void infer(InferContext& ctx) const override {
    const Shape& x = ctx.shape(0);
    if (x.size() < 2) ctx.fail("expects X of rank >= 2 (N,C,...), got shape " + to_string(x));
    for (size_t i = 0; i < 5; ++i) {
      if (!ctx.has(i) || ctx.dtype(i) != DataType::f32) ctx.fail("expects 5 f32 inputs");
      if (i > 0 && ctx.shape(i) != Shape{x[1]}) {
        ctx.fail("parameter " + std::to_string(i) + " has shape " + to_string(ctx.shape(i)) +
                 ", expected [" + std::to_string(x[1]) + "] for X " + to_string(x));
      }
    }
    ctx.set(0, x, DataType::f32);
  }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    const Shape& s = src[0]->shape();
    const int64_t n = s[0], c = s[1], spatial = numel(Shape(s.begin() + 2, s.end()));
    const float* x = src[0]->data<float>();
    const float* scale = src[1]->data<float>();
    const float* shift = src[2]->data<float>();
    const float* mean = src[3]->data<float>();
    const float* var = src[4]->data<float>();
    float* y = dst[0].data<float>();
    for (int64_t ch = 0; ch < c; ++ch) {
      const double a = scale[ch] / std::sqrt(static_cast<double>(var[ch]) + epsilon_);
      for (int64_t b = 0; b < n; ++b) {
        const int64_t at = (b * c + ch) * spatial;
        for (int64_t i = 0; i < spatial; ++i) {
          y[at + i] = static_cast<float>(
              act_.apply((x[at + i] - static_cast<double>(mean[ch])) * a + shift[ch]));
        }
      }
    }
  }

  bool has_int8_kernel() const override { return true; }
  bool output_never_negative(const std::vector<bool>&) const override {
    return act_.non_negative();
  }
  std::vector<int> int8_inputs(const std::vector<SrcInfo>&) const override { return {0}; }
  std::string int8_unavailable(const std::vector<SrcInfo>& src) const override {
    for (size_t i = 1; i < 5; ++i) {
      if (!src[i].constant) return "its parameters are computed at run time";
    }
    if (src[0].shape.size() < 3 || src[0].shape.size() > 5) return "X is not 3-D to 5-D";
    return "";
  }

  std::unique_ptr<Kernel> make_kernel(KernelContext& ctx) const override {
    const Shape& x = ctx.src[0].shape;
    bool params_constant = true;
    for (size_t i = 1; i < 5; ++i) params_constant = params_constant && ctx.src[i].constant;
    if (!params_constant || ctx.src[0].constant || x.size() > 5 || numel(x) == 0) {
      ctx.int8 = false;
      return make_reference_kernel(*this, ctx);
    }
    if (ctx.int8 || !act_.none()) {
      if (x.size() >= 3) return make_depthwise_kernel(ctx);
      ctx.int8 = false;
      return make_reference_kernel(*this, ctx);
    }
    // Read X as produced when oneDNN can describe it, plain otherwise.
    dnnl::memory::desc data_md = ctx.src[0].md;
    if (data_md.is_zero() || data_md.data_type() != dnnl::memory::data_type::f32 ||
        data_md.dims() != to_dnnl_dims(x)) {
      data_md = plain_md(x, DataType::f32);
    }
    const auto flags = dnnl::normalization_flags::use_global_stats |
                       dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
    const dnnl::batch_normalization_forward::desc desc(dnnl::prop_kind::forward_inference, data_md,
                                                       static_cast<float>(epsilon_), flags);
    const dnnl::batch_normalization_forward::primitive_desc pd(desc, default_attr(), ctx.engine);
    auto kernel =
        std::make_unique<PrimitiveKernel>(ctx.engine, dnnl::batch_normalization_forward(pd),
                                          impl_name(pd), pd.scratchpad_desc().get_size());
    ctx.src[0].want = pd.src_desc();
    ctx.dst[0].md = pd.dst_desc();
    kernel->map_src(0, DNNL_ARG_SRC, pd.src_desc());
    kernel->map_dst(0, DNNL_ARG_DST, pd.dst_desc());
    const dnnl::memory::desc param_md({x[1]}, dnnl::memory::data_type::f32,
                                      dnnl::memory::format_tag::a);
    const int args[] = {DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE};
    for (size_t i = 1; i < 5; ++i) {
      kernel->set_const(args[i - 1], wrap_constant(ctx.engine, *ctx.src[i].constant, param_md));
    }
    return kernel;
  }

 private:
  // The affine map as a depthwise 1x1 convolution (see the top of the file).
  std::unique_ptr<Kernel> make_depthwise_kernel(KernelContext& ctx) const {
    using tag = dnnl::memory::format_tag;
    using dt = dnnl::memory::data_type;
    const Shape& x = ctx.src[0].shape;
    const int64_t c = x[1];
    const size_t spatial = x.size() - 2;
    Tensor w(DataType::f32, {c, 1, 1, 1});
    Tensor b(DataType::f32, {c});
    const float* gamma = ctx.src[1].constant->data<float>();
    const float* beta = ctx.src[2].constant->data<float>();
    const float* mean = ctx.src[3].constant->data<float>();
    const float* var = ctx.src[4].constant->data<float>();
    for (int64_t ch = 0; ch < c; ++ch) {
      const double a = gamma[ch] / std::sqrt(static_cast<double>(var[ch]) + epsilon_);
      w.data<float>()[ch] = static_cast<float>(a);
      b.data<float>()[ch] = static_cast<float>(beta[ch] - mean[ch] * a);
    }
    // w and b are computed here, anew at each prepare: nothing a session's
    // ConstantCache could find again, so they are not kept in it.
    KernelContext uncached = ctx;
    uncached.constants = nullptr;
    const QuantView src = ctx.int8 ? ctx.src[0].int8 : QuantView{};
    const QuantView y = ctx.int8 ? ctx.dst[0].int8 : QuantView{};
    const float dst_scale = y.is_int8() ? y.scale : 1.f;
    const int levels = conv_weight_levels(src.dtype);
    const std::vector<float> w_amax = ctx.int8 ? weight_amax(w, 0, nullptr) : std::vector<float>{};
    const std::vector<float> w_scales = weight_scales(w_amax, levels);

    dnnl::memory::dims wei_dims{c, 1, 1}, ones(spatial, 1), zeros(spatial, 0);
    wei_dims.insert(wei_dims.end(), ones.begin(), ones.end());
    const tag wei_tag = spatial == 1 ? tag::goiw : spatial == 2 ? tag::goihw : tag::goidhw;
    dnnl::primitive_attr attr = default_attr();
    if (ctx.int8) {
      const std::vector<float> scales =
          output_scales(src.scale, w_scales, act_.scale_before(dst_scale));
      attr.set_output_scales(scales.size() > 1 ? 1 << 1 : 0, scales);
    }
    dnnl::post_ops ops;
    act_.append(ops, dst_scale);
    attr.set_post_ops(ops);
    const dnnl::memory::desc bias_md({c}, dt::f32, tag::a);
    const dnnl::convolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
        dnnl::memory::desc(to_dnnl_dims(x), to_dnnl(src.dtype), tag::any),
        dnnl::memory::desc(wei_dims, ctx.int8 ? dt::s8 : dt::f32, tag::any), bias_md,
        dnnl::memory::desc(to_dnnl_dims(x), to_dnnl(y.dtype), tag::any), ones, zeros, zeros, zeros);
    const dnnl::convolution_forward::primitive_desc pd(desc, attr, ctx.engine);
    auto kernel = std::make_unique<PrimitiveKernel>(ctx.engine, dnnl::convolution_forward(pd),
                                                    impl_name(pd), pd.scratchpad_desc().get_size());
    ctx.src[0].want = pd.src_desc();
    kernel->map_src(0, DNNL_ARG_SRC, pd.src_desc());
    if (ctx.int8) {
      kernel->set_const(
          DNNL_ARG_WEIGHTS,
          int8_weights(uncached, w, 0, w_amax, levels,
                       dnnl::memory::desc(wei_dims, dt::s8, wei_tag), pd.weights_desc()));
      kernel->set_const(DNNL_ARG_BIAS, int8_bias(ctx.engine, b, src.scale, w_scales));
    } else {
      kernel->set_const(
          DNNL_ARG_WEIGHTS,
          reorder_constant(uncached, w, dnnl::memory::desc(wei_dims, dt::f32, wei_tag),
                           pd.weights_desc()));
      kernel->set_const(DNNL_ARG_BIAS, reorder_constant(uncached, b, bias_md, bias_md));
    }
    ctx.dst[0].md = pd.dst_desc();
    ctx.dst[0].scale = dst_scale;
    kernel->map_dst(0, DNNL_ARG_DST, pd.dst_desc());
    return kernel;
  }

  double epsilon_;
  FusedActivation act_;
};

}  // namespace

std::unique_ptr<Op> make_batch_norm(const Node& node) {
  return std::make_unique<BatchNorm>(node);
}

}  // namespace octet
