// Relu, Erf, Gelu, Tanh, Sqrt, Sigmoid, HardSigmoid, HardSwish: f32
// elementwise functions.
//   Gelu         attribute `approximate`: "none" (default) 0.5x(1 + erf(x/sqrt 2)),
//                or "tanh" 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))).
//   Sigmoid      1 / (1 + exp(-x)).
//   HardSigmoid  max(0, min(1, alpha x + beta)), attributes alpha (0.2), beta (0.5).
//   HardSwish    x max(0, min(1, x/6 + 1/2)) (opset 14; alpha and beta fixed).
// oneDNN path: eltwise_forward on the input's layout as produced (a Relu after
// a blocked conv needs no reorder). oneDNN 2.6 has no eltwise for Erf
// (reference kernel, std::erf) nor for HardSigmoid: an eltwise_linear with a
// clip post-op only has a `ref:any` implementation, so HardSigmoid runs a
// plain loop over the buffer as produced (any layout without padded blocks).
#include <algorithm>
#include <cmath>

#include "ops/broadcast.hpp"
#include "ops/dnnl_kernel.hpp"

namespace octet {

std::unique_ptr<Kernel> make_eltwise_kernel(const Op& op, KernelContext& ctx, dnnl::algorithm alg,
                                            float alpha, float beta) {
  const dnnl::memory::desc md = ctx.src.at(0).md;
  if (ctx.src[0].constant || md.is_zero() || ctx.src[0].dtype != DataType::f32) {
    return make_reference_kernel(op, ctx);
  }
  dnnl::eltwise_forward::primitive_desc pd;
  try {
    pd = dnnl::eltwise_forward::primitive_desc(
        dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, alg, md, alpha, beta),
        default_attr(), ctx.engine);
  } catch (const dnnl::error&) {
    return make_reference_kernel(op, ctx);
  }
  auto kernel = std::make_unique<PrimitiveKernel>(ctx.engine, dnnl::eltwise_forward(pd),
                                                  impl_name(pd), pd.scratchpad_desc().get_size());
  ctx.src[0].want = md;
  ctx.dst[0].md = pd.dst_desc();
  kernel->map_src(0, DNNL_ARG_SRC, md);
  kernel->map_dst(0, DNNL_ARG_DST, pd.dst_desc());
  return kernel;
}

namespace {

enum class Kind { relu, erf, gelu_erf, gelu_tanh, tanh, sqrt, sigmoid, hard_sigmoid, hard_swish };

// HardSigmoid over every element of a dense buffer, whatever its layout: the
// function is elementwise, so any layout of src serves if dst has the same.
class HardSigmoidKernel final : public Kernel {
 public:
  HardSigmoidKernel(int64_t n, float alpha, float beta) : n_(n), alpha_(alpha), beta_(beta) {}
  void bind(const std::vector<const void*>& src, const std::vector<void*>& dst, void*) override {
    src_ = static_cast<const float*>(src.at(0));
    dst_ = static_cast<float*>(dst.at(0));
  }
  void execute(dnnl::stream&) override {
    for (int64_t i = 0; i < n_; ++i) {
      const float v = alpha_ * src_[i] + beta_;
      dst_[i] = v < 0.f ? 0.f : (v > 1.f ? 1.f : v);
    }
  }
  std::string name() const override { return "loop"; }

 private:
  int64_t n_;
  float alpha_, beta_;
  const float* src_ = nullptr;
  float* dst_ = nullptr;
};

// Whether `md` stores exactly its elements (no padding of blocked dims).
bool dense(const dnnl::memory::desc& md) {
  const dnnl_memory_desc_t& d = md.data;
  if (d.format_kind != dnnl_blocked) return false;
  for (int i = 0; i < d.ndims; ++i) {
    if (d.padded_dims[i] != d.dims[i] || d.padded_offsets[i] != 0) return false;
  }
  return md.get_size() == static_cast<size_t>(numel(Shape(d.dims, d.dims + d.ndims))) * 4;
}

class Unary final : public Op {
 public:
  Unary(const Node& node, Kind kind) : Op(node), kind_(kind) {
    check_arity(node, 1, 1);
    if (node.op == "Gelu") {
      const std::string approximate = node.attr_string("approximate", "none");
      if (approximate == "tanh") {
        kind_ = Kind::gelu_tanh;
      } else if (approximate != "none") {
        node.fail(ErrorCode::unsupported,
                  "attribute 'approximate' is '" + approximate + "' (expected none or tanh)");
      }
    }
    if (kind_ == Kind::hard_sigmoid) {
      alpha_ = static_cast<float>(node.attr_float("alpha", 0.2));
      beta_ = static_cast<float>(node.attr_float("beta", 0.5));
    }
  }

  void infer(InferContext& ctx) const override {
    if (ctx.dtype(0) != DataType::f32) {
      node().fail(ErrorCode::unsupported,
                  std::string("supports f32 input only, got ") + to_string(ctx.dtype(0)));
    }
    ctx.set(0, ctx.shape(0), DataType::f32);
  }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    const float* x = src[0]->data<float>();
    float* y = dst[0].data<float>();
    const int64_t n = src[0]->numel();
    for (int64_t i = 0; i < n; ++i) y[i] = apply(x[i]);
  }

  // Relu's max(0, x), Sigmoid's (0, 1) and HardSigmoid's [0, 1].
  bool output_never_negative(const std::vector<bool>&) const override {
    return kind_ == Kind::relu || kind_ == Kind::sigmoid || kind_ == Kind::hard_sigmoid;
  }

  std::unique_ptr<Kernel> make_kernel(KernelContext& ctx) const override {
    switch (kind_) {
      case Kind::relu:
        return make_eltwise_kernel(*this, ctx, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      case Kind::gelu_erf:
        return make_eltwise_kernel(*this, ctx, dnnl::algorithm::eltwise_gelu_erf, 0.f, 0.f);
      case Kind::gelu_tanh:
        return make_eltwise_kernel(*this, ctx, dnnl::algorithm::eltwise_gelu_tanh, 0.f, 0.f);
      case Kind::tanh:
        return make_eltwise_kernel(*this, ctx, dnnl::algorithm::eltwise_tanh, 0.f, 0.f);
      case Kind::sqrt:
        return make_eltwise_kernel(*this, ctx, dnnl::algorithm::eltwise_sqrt, 0.f, 0.f);
      case Kind::sigmoid:
        return make_eltwise_kernel(*this, ctx, dnnl::algorithm::eltwise_logistic, 0.f, 0.f);
      case Kind::hard_swish:
        return make_eltwise_kernel(*this, ctx, dnnl::algorithm::eltwise_hardswish, 0.f, 0.f);
      case Kind::hard_sigmoid: {
        const dnnl::memory::desc& md = ctx.src.at(0).md;
        if (ctx.src[0].constant || md.is_zero() || !dense(md)) break;
        ctx.src[0].want = md;
        ctx.dst[0].md = md;
        return std::make_unique<HardSigmoidKernel>(numel(ctx.src[0].shape), alpha_, beta_);
      }
      case Kind::erf:
        break;
    }
    return make_reference_kernel(*this, ctx);
  }

 private:
  float apply(float xf) const {
    const double x = xf;
    switch (kind_) {
      case Kind::relu:
        return xf < 0.f ? 0.f : xf;  // NaN stays NaN
      case Kind::erf:
        return static_cast<float>(std::erf(x));
      case Kind::gelu_erf:
        return static_cast<float>(0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))));
      case Kind::gelu_tanh: {
        const double c = std::sqrt(2.0 / 3.14159265358979323846);
        return static_cast<float>(0.5 * x * (1.0 + std::tanh(c * (x + 0.044715 * x * x * x))));
      }
      case Kind::tanh:
        return static_cast<float>(std::tanh(x));
      case Kind::sqrt:
        return static_cast<float>(std::sqrt(x));
      case Kind::sigmoid:
        return static_cast<float>(1.0 / (1.0 + std::exp(-x)));
      case Kind::hard_sigmoid:
        return static_cast<float>(
            std::max(0.0, std::min(1.0, static_cast<double>(alpha_) * x + beta_)));
      case Kind::hard_swish:
        return static_cast<float>(x * std::max(0.0, std::min(1.0, x / 6.0 + 0.5)));
    }
    return xf;
  }

  Kind kind_;
  float alpha_ = 0.f, beta_ = 0.f;  // HardSigmoid
};

}  // namespace

std::unique_ptr<Op> make_relu(const Node& node) {
  return std::make_unique<Unary>(node, Kind::relu);
}
std::unique_ptr<Op> make_erf(const Node& node) {
  return std::make_unique<Unary>(node, Kind::erf);
}
std::unique_ptr<Op> make_gelu(const Node& node) {
  return std::make_unique<Unary>(node, Kind::gelu_erf);
}
std::unique_ptr<Op> make_tanh(const Node& node) {
  return std::make_unique<Unary>(node, Kind::tanh);
}
std::unique_ptr<Op> make_sqrt(const Node& node) {
  return std::make_unique<Unary>(node, Kind::sqrt);
}
std::unique_ptr<Op> make_sigmoid(const Node& node) {
  return std::make_unique<Unary>(node, Kind::sigmoid);
}
std::unique_ptr<Op> make_hard_sigmoid(const Node& node) {
  return std::make_unique<Unary>(node, Kind::hard_sigmoid);
}
std::unique_ptr<Op> make_hard_swish(const Node& node) {
  return std::make_unique<Unary>(node, Kind::hard_swish);
}

}  // namespace octet
