// Gemm (ONNX): Y = alpha * op(A) * op(B) + beta * C, op = identity or transpose
// (transA, transB), A and B 2-D, C optional and unidirectionally broadcastable
// to Y [M,N]; extended by the importer's fusions with the attributes
// activation and activation_params (ops/activation.hpp): Y = act(...).
// oneDNN path, for the classifier layer (A dynamic [M,K] not transposed, B
// constant, C absent or a constant scalar / [N] / [1,N]): inner_product with
// alpha folded into a scaled copy of the weights and beta * C into the bias,
// both made once at prepare. Other cases run the reference kernel.
#include <cmath>

#include "ops/activation.hpp"
#include "ops/dnnl_kernel.hpp"
#include "ops/inner_product.hpp"
#include "ops/quantize.hpp"

namespace octet {
namespace {

class Gemm final : public Op {
 public:
  explicit Gemm(const Node& node) : Op(node) {
    if (node.inputs.size() < 2 || node.inputs.size() > 3 || node.outputs.size() != 1) {
      node.fail(ErrorCode::invalid_model, "expects 2 or 3 inputs (A, B, [C]) and 1 output");
    }
    alpha_ = node.attr_float("alpha", 1.0);
    beta_ = node.attr_float("beta", 1.0);
    const int64_t ta = node.attr_int("transA", 0), tb = node.attr_int("transB", 0);
    if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1)) {
      node.fail(ErrorCode::invalid_model, "transA and transB must be 0 or 1");
    }
    trans_a_ = ta == 1;
    trans_b_ = tb == 1;
    act_ = FusedActivation::of(node);
  }

  void infer(InferContext& ctx) const override {
    const Shape& a = ctx.shape(0);
    const Shape& b = ctx.shape(1);
    if (ctx.dtype(0) != DataType::f32 || ctx.dtype(1) != DataType::f32) {
      ctx.fail("expects f32 A and B");
    }
    if (a.size() != 2 || b.size() != 2) {
      ctx.fail("expects 2-D A and B, got shapes " + to_string(a) + " and " + to_string(b));
    }
    const int64_t m = trans_a_ ? a[1] : a[0], k = trans_a_ ? a[0] : a[1];
    const int64_t kb = trans_b_ ? b[1] : b[0], n = trans_b_ ? b[0] : b[1];
    if (k != kb) {
      ctx.fail("inner dimensions differ: A " + to_string(a) + (trans_a_ ? " (transposed)" : "") +
               " and B " + to_string(b) + (trans_b_ ? " (transposed)" : ""));
    }
    if (ctx.has(2)) {
      const Shape& c = ctx.shape(2);
      const Shape y{m, n};
      bool ok = ctx.dtype(2) == DataType::f32 && c.size() <= 2;
      for (size_t i = 0; ok && i < c.size(); ++i) {
        const int64_t want = y[2 - c.size() + i];
        ok = c[i] == want || c[i] == 1;
      }
      if (!ok) ctx.fail("C has shape " + to_string(c) + ", not broadcastable to " + to_string(y));
    }
    ctx.set(0, {m, n}, DataType::f32);
  }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    const Shape& as = src[0]->shape();
    const Shape& bs = src[1]->shape();
    const int64_t m = dst[0].dim(0), n = dst[0].dim(1), k = trans_a_ ? as[0] : as[1];
    const float* a = src[0]->data<float>();
    const float* b = src[1]->data<float>();
    const Tensor* c = src.size() > 2 ? src[2] : nullptr;
    // C's element strides over Y's [M,N]; 0 where it broadcasts.
    int64_t c_sm = 0, c_sn = 0;
    if (c) {
      const Shape& cs = c->shape();
      const int64_t cm = cs.size() == 2 ? cs[0] : 1, cn = cs.empty() ? 1 : cs.back();
      c_sm = cm == 1 ? 0 : cn;
      c_sn = cn == 1 ? 0 : 1;
    }
    const float* cd = c ? c->data<float>() : nullptr;
    float* y = dst[0].data<float>();
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t kk = 0; kk < k; ++kk) {
          const double av = trans_a_ ? a[kk * as[1] + i] : a[i * as[1] + kk];
          const double bv = trans_b_ ? b[j * bs[1] + kk] : b[kk * bs[1] + j];
          acc += av * bv;
        }
        acc *= alpha_;
        if (cd) acc += beta_ * cd[i * c_sm + j * c_sn];
        y[i * n + j] = static_cast<float>(act_.apply(acc));
      }
    }
  }

  bool has_int8_kernel() const override { return true; }
  bool output_never_negative(const std::vector<bool>&) const override {
    return act_.non_negative();
  }
  std::vector<int> int8_inputs(const std::vector<SrcInfo>&) const override { return {0}; }

  // The int8 kernel applies alpha as an output scale and so adds beta * C / alpha
  // to the integer sums: alpha = 0 (Y = beta * C) or a subnormal alpha would
  // make that bias infinite (inf * 0 = NaN). The fp32 path scales the weights
  // instead, which is exact for alpha = 0.
  std::string int8_unavailable(const std::vector<SrcInfo>&) const override {
    if (alpha_ == 0) return "alpha = 0: Y = beta * C, there is no product to quantize";
    if (!std::isnormal(static_cast<float>(alpha_))) return "alpha is not a normal float";
    return "";
  }

  std::unique_ptr<Kernel> make_kernel(KernelContext& ctx) const override {
    const bool has_c = ctx.src.size() > 2 && ctx.src[2].present;
    const int64_t m = ctx.dst[0].shape[0], n = ctx.dst[0].shape[1];
    const int64_t k = ctx.src[0].shape[1];
    const bool c_is_row = has_c && ctx.src[2].constant &&
                          (numel(ctx.src[2].shape) == 1 ||
                           (ctx.src[2].shape.back() == n && numel(ctx.src[2].shape) == n));
    if (trans_a_ || ctx.src[0].constant || !ctx.src[1].constant || (has_c && !c_is_row) ||
        m * n * k == 0) {
      ctx.int8 = false;
      return make_reference_kernel(*this, ctx);
    }
    if (ctx.int8) {
      Int8Linear spec;
      spec.m = m;
      spec.k = k;
      spec.n = n;
      spec.weights = ctx.src[1].constant;
      spec.weight_axis = trans_b_ ? 0 : 1;
      spec.weights_as_nk =
          dnnl::memory::desc({n, k}, dnnl::memory::data_type::f32,
                             trans_b_ ? dnnl::memory::dims{k, 1} : dnnl::memory::dims{1, n});
      spec.alpha = static_cast<float>(alpha_);
      spec.activation = act_;
      if (has_c && beta_ != 0) {
        const Tensor& c = *ctx.src[2].constant;
        for (int64_t j = 0; j < n; ++j) {
          spec.bias.push_back(static_cast<float>(beta_ * c.data<float>()[c.numel() == 1 ? 0 : j]));
        }
      }
      return make_int8_linear(ctx, spec);
    }
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    const dnnl::memory::desc src_md({m, k}, dt::f32, tag::ab);
    const dnnl::memory::desc dst_md({m, n}, dt::f32, tag::ab);
    const dnnl::memory::desc bias_md({n}, dt::f32, tag::a);
    const bool has_bias = has_c && beta_ != 0;
    const dnnl::inner_product_forward::desc desc(dnnl::prop_kind::forward_inference, src_md,
                                                 dnnl::memory::desc({n, k}, dt::f32, tag::any),
                                                 has_bias ? bias_md : dnnl::memory::desc(), dst_md);
    dnnl::primitive_attr attr = default_attr();
    dnnl::post_ops ops;
    act_.append(ops, 1.f);
    attr.set_post_ops(ops);
    const dnnl::inner_product_forward::primitive_desc pd(desc, attr, ctx.engine);
    auto kernel = std::make_unique<PrimitiveKernel>(ctx.engine, dnnl::inner_product_forward(pd),
                                                    impl_name(pd), pd.scratchpad_desc().get_size());
    ctx.src[0].want = src_md;
    kernel->map_src(0, DNNL_ARG_SRC, src_md);

    // Inner-product weights are "oi" [N,K]: B itself when transB, else B^T (strides {1,N}).
    const dnnl::memory::desc b_as_oi(
        {n, k}, dt::f32, trans_b_ ? dnnl::memory::dims{k, 1} : dnnl::memory::dims{1, n});
    if (alpha_ == 1.0) {
      kernel->set_const(DNNL_ARG_WEIGHTS,
                        reorder_f32_weights(ctx, *ctx.src[1].constant, ctx.src[1].weight_quant,
                                            b_as_oi, pd.weights_desc()));
    } else {
      // alpha * (A.B) == A.(alpha * B) up to one rounding of each weight.
      const Tensor b = f32_weights(*ctx.src[1].constant, ctx.src[1].weight_quant);
      Tensor scaled(DataType::f32, b.shape());
      const float* from = b.data<float>();
      float* to = scaled.data<float>();
      for (int64_t i = 0; i < b.numel(); ++i) to[i] = static_cast<float>(alpha_ * from[i]);
      kernel->set_const(DNNL_ARG_WEIGHTS,
                        reorder_constant(ctx, scaled, b_as_oi, pd.weights_desc()));
    }
    if (has_bias) {
      dnnl::memory bias(bias_md, ctx.engine);  // owned by the kernel
      const Tensor& c = *ctx.src[2].constant;
      const float* cd = c.data<float>();
      float* bd = static_cast<float*>(bias.get_data_handle());
      for (int64_t j = 0; j < n; ++j)
        bd[j] = static_cast<float>(beta_ * cd[c.numel() == 1 ? 0 : j]);
      kernel->set_const(DNNL_ARG_BIAS, bias);
    }
    ctx.dst[0].md = dst_md;
    kernel->map_dst(0, DNNL_ARG_DST, dst_md);
    return kernel;
  }

 private:
  double alpha_ = 1, beta_ = 1;
  bool trans_a_ = false, trans_b_ = false;
  FusedActivation act_;
};

}  // namespace

std::unique_ptr<Op> make_gemm(const Node& node) {
  return std::make_unique<Gemm>(node);
}

}  // namespace octet
