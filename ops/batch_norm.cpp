// BatchNormalization, inference form: inputs X [N,C,...], scale, B, mean, var
// (each [C]); Y = (X - mean) / sqrt(var + epsilon) * scale + B per channel.
// Only Y: training mode and the running-statistics outputs are unsupported.
// oneDNN path (all four parameters constant, rank 2 to 5):
// batch_normalization_forward with use_global_stats | use_scale | use_shift,
// reading X in the producer's layout (blocked layouts too) and writing Y in
// the same layout.
#include <cmath>

#include "ops/dnnl_kernel.hpp"

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
          y[at + i] =
              static_cast<float>((x[at + i] - static_cast<double>(mean[ch])) * a + shift[ch]);
        }
      }
    }
  }

  std::unique_ptr<Kernel> make_kernel(KernelContext& ctx) const override {
    const Shape& x = ctx.src[0].shape;
    bool params_constant = true;
    for (size_t i = 1; i < 5; ++i) params_constant = params_constant && ctx.src[i].constant;
    if (!params_constant || ctx.src[0].constant || x.size() > 5 || numel(x) == 0) {
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
  double epsilon_;
};

}  // namespace

std::unique_ptr<Op> make_batch_norm(const Node& node) {
  return std::make_unique<BatchNorm>(node);
}

}  // namespace octet
