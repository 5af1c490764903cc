// MatMul: numpy matmul (ranks >= 1, batch dims broadcast), extended by the
// importer's fusions:
//   inputs  A [..., M, K], B [..., K, N], optional bias [N] (added along the last dim),
//   optional Z (a residual: a fused Add of a computed value, broadcast numpy-style),
//   attributes alpha (a scalar Mul or Div that followed the MatMul, such as
//   attention's 1/sqrt(d)), activation and activation_params (ops/activation.hpp);
//   Y = act(alpha * (A @ B) + bias + Z).
// alpha costs nothing where oneDNN takes it as an output scale (int8, and the
// fp32 matmul primitive) and one eltwise post-op on the fp32 inner product.
// Z of the product's shape on a Linear layer is a sum post-op: the session
// makes Y's buffer hold Z first (in place when Z dies here, as BERT's residual
// does), which saves the Add's pass; other Z shapes use the reference kernel.
// oneDNN paths:
//   - B a constant 2-D [K,N] (Linear layers): inner_product on A viewed as [M,K]
//     (M = product of the leading dims), weights reordered once at prepare.
//     Measured against `matmul` with `any` weights (oneDNN 2.6, AVX2, 1 thread,
//     M=128): tied for K=768,N=768 and K=3072,N=768, but for K=768,N=3072 inner
//     product picks K-contiguous weights and ran in ~9-12 ms vs ~15-21 ms.
//   - otherwise (attention's Q.K^T and P.V, both dynamic): the matmul primitive
//     on plain layouts, or on a Transpose's permuted view of its input as it
//     is (no copy); oneDNN broadcasts batch dims of size 1.
// Degenerate shapes (an empty dim, a scalar result) use the reference kernel.
#include <algorithm>
#include <cmath>

#include "ops/activation.hpp"
#include "ops/broadcast.hpp"
#include "ops/dnnl_kernel.hpp"
#include "ops/inner_product.hpp"
#include "ops/quantize.hpp"

namespace octet {
namespace {

// Both operands extended to rank >= 2 (a 1-D A is [1,K], a 1-D B is [K,1]) and
// to a common rank by leading 1s, as oneDNN's matmul wants them.
struct MatMulGeometry {
  Shape a, b, dst;  // extended shapes [batch..., M, K], [batch..., K, N], [batch..., M, N]
  Shape out;        // the ONNX output shape (the 1-D operands' dims dropped)
  int64_t m = 0, k = 0, n = 0;
};

class MatMul final : public Op {
 public:
  explicit MatMul(const Node& node) : Op(node) {
    if (node.inputs.size() < 2 || node.inputs.size() > 4 || !node.has_input(0) ||
        !node.has_input(1) || node.outputs.size() != 1) {
      node.fail(ErrorCode::invalid_model,
                "expects 2 to 4 inputs (A, B, [bias], [residual]) and 1 output");
    }
    act_ = FusedActivation::of(node);
    alpha_ = node.attr_float("alpha", 1.0);
    if (!std::isnormal(static_cast<float>(alpha_))) {
      node.fail(ErrorCode::invalid_model, "alpha must be a finite, non-zero, normal float");
    }
  }

  void infer(InferContext& ctx) const override {
    if (ctx.dtype(0) != DataType::f32 || ctx.dtype(1) != DataType::f32) {
      ctx.fail("expects f32 A and B");
    }
    const MatMulGeometry g = geometry(ctx.shape(0), ctx.shape(1));
    if (ctx.has(2) && (ctx.dtype(2) != DataType::f32 || ctx.shape(2) != Shape{g.n})) {
      ctx.fail("bias has shape " + to_string(ctx.shape(2)) + ", expected f32 of length " +
               std::to_string(g.n));
    }
    Shape out = g.out;
    if (ctx.has(3)) {
      if (ctx.dtype(3) != DataType::f32) ctx.fail("expects an f32 residual (input 3)");
      out = broadcast_shapes(node(), out, ctx.shape(3));
    }
    ctx.set(0, out, DataType::f32);
  }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    const MatMulGeometry g = geometry(src[0]->shape(), src[1]->shape());
    const float* a = src[0]->data<float>();
    const float* b = src[1]->data<float>();
    const float* bias = src.size() > 2 && src[2] ? src[2]->data<float>() : nullptr;
    const Tensor* z = src.size() > 3 ? src[3] : nullptr;
    // alpha * (A.B) + bias in double; then Z (broadcast) and the activation.
    std::vector<double> y(static_cast<size_t>(numel(g.dst)));
    const size_t rank = g.dst.size();
    // Element strides of each batch dim; 0 where the operand broadcasts.
    Shape a_stride(rank, 0), b_stride(rank, 0), index(rank, 0);
    for (int64_t i = static_cast<int64_t>(rank) - 3, sa = g.m * g.k, sb = g.k * g.n; i >= 0; --i) {
      a_stride[i] = g.a[i] == 1 ? 0 : sa;
      b_stride[i] = g.b[i] == 1 ? 0 : sb;
      sa *= g.a[i];
      sb *= g.b[i];
    }
    std::vector<double> acc(g.n);
    const int64_t batches = numel(g.dst) / (g.m * g.n);
    for (int64_t bi = 0; bi < batches; ++bi) {
      int64_t a_off = 0, b_off = 0;
      for (size_t i = 0; i + 2 < rank; ++i) a_off += index[i] * a_stride[i];
      for (size_t i = 0; i + 2 < rank; ++i) b_off += index[i] * b_stride[i];
      for (int64_t i = 0; i < g.m; ++i) {
        std::fill(acc.begin(), acc.end(), 0.0);
        // i-k-j order walks B row by row (cache friendly) and accumulates in double.
        for (int64_t kk = 0; kk < g.k; ++kk) {
          const double av = a[a_off + i * g.k + kk];
          const float* brow = b + b_off + kk * g.n;
          for (int64_t j = 0; j < g.n; ++j) acc[j] += av * brow[j];
        }
        double* yrow = y.data() + (bi * g.m + i) * g.n;
        for (int64_t j = 0; j < g.n; ++j) yrow[j] = alpha_ * acc[j] + (bias ? bias[j] : 0.0);
      }
      for (size_t i = rank - 2; i-- > 0;) {  // next batch index, last dim fastest
        if (++index[i] < g.dst[i]) break;
        index[i] = 0;
      }
    }
    const Shape& out = dst[0].shape();
    float* o = dst[0].data<float>();
    const float* zv = z ? z->data<float>() : nullptr;
    for_each_strided<2>(
        out,
        {broadcast_strides(g.out, out.size()),
         z ? broadcast_strides(z->shape(), out.size()) : std::vector<int64_t>(out.size(), 0)},
        {0, 0}, [&](int64_t i, const std::array<int64_t, 2>& at) {
          const double v = y[static_cast<size_t>(at[0])] + (zv ? zv[at[1]] : 0.0);
          o[i] = static_cast<float>(act_.apply(v));
        });
  }

  bool has_int8_kernel() const override { return true; }
  // The fp32 matmul of two activations reads permuted plain operands in
  // place; the other paths ask the session for plain ones.
  bool reads_strided(size_t i) const override { return i < 2; }
  bool output_never_negative(const std::vector<bool>&) const override {
    return act_.non_negative();
  }
  std::vector<int> int8_inputs(const std::vector<SrcInfo>& src) const override {
    if (src[1].constant) return {0};
    return {0, 1};
  }

  // Both operands dynamic (attention): without VNNI oneDNN's u8 x s8
  // products saturate in s16 for full-range int8 data, and a dynamic operand
  // cannot be kept to 7 bits the way weights are, so such CPUs use fp32.
  std::string int8_unavailable(const std::vector<SrcInfo>& src) const override {
    if (!src[1].constant && !int8_activation_matmul_available()) {
      return "the CPU lacks VNNI: int8 x int8 activations would saturate";
    }
    return "";
  }

  std::unique_ptr<Kernel> make_kernel(KernelContext& ctx) const override {
    const MatMulGeometry g = geometry(ctx.src[0].shape, ctx.src[1].shape);
    if (g.out.empty() || numel(g.dst) == 0 || g.k == 0) {
      ctx.int8 = false;
      return make_reference_kernel(*this, ctx);
    }
    const bool linear = ctx.src[1].constant && ctx.src[1].shape.size() == 2 && !ctx.src[0].constant;
    const bool bias_constant = ctx.src.size() < 3 || !ctx.src[2].present || ctx.src[2].constant;
    const bool has_residual = residual_of(ctx);
    // A residual is a sum post-op only where it has the product's shape, on a Linear layer.
    if (has_residual && (!linear || ctx.src[3].shape != g.out)) {
      ctx.int8 = false;
      return make_reference_kernel(*this, ctx);
    }
    if (ctx.int8 && linear && bias_constant) return make_int8_linear_kernel(ctx, g);
    if (ctx.int8 && !ctx.src[0].constant && !ctx.src[1].constant &&
        !(ctx.src.size() > 2 && ctx.src[2].present)) {
      return make_int8_matmul_kernel(ctx, g);
    }
    ctx.int8 = false;
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    const bool has_bias = ctx.src.size() > 2 && ctx.src[2].present;
    // oneDNN scales the bias with the product (alpha * (A.B + bias')): a
    // constant bias is divided by alpha once, a computed one cannot be.
    if (alpha_ != 1.0 && has_bias && !ctx.src[2].constant) return make_reference_kernel(*this, ctx);

    dnnl::primitive_attr attr = default_attr();
    dnnl::post_ops ops;
    ctx.dst[0].md = plain_md(g.out, DataType::f32);

    if (linear) {
      // The f32 inner product takes no output scale in oneDNN 2.6.
      if (alpha_ != 1.0) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, alpha_, 0.f);
      if (has_residual) ops.append_sum(1.f);
      act_.append(ops, 1.f);
      attr.set_post_ops(ops);
      // Linear layer: inner product computes dst[M,N] = src[M,K] . W[N,K]^T.
      const int64_t m = numel(ctx.src[0].shape) / g.k;
      const dnnl::memory::desc src_md({m, g.k}, dt::f32, tag::ab);
      const dnnl::memory::desc dst_md({m, g.n}, dt::f32, tag::ab);
      const dnnl::memory::desc bias_md({g.n}, dt::f32, tag::a);
      const dnnl::inner_product_forward::desc desc(
          dnnl::prop_kind::forward_inference, src_md,
          dnnl::memory::desc({g.n, g.k}, dt::f32, tag::any),
          has_bias ? bias_md : dnnl::memory::desc(), dst_md);
      const dnnl::inner_product_forward::primitive_desc pd(desc, attr, ctx.engine);
      auto kernel =
          std::make_unique<PrimitiveKernel>(ctx.engine, dnnl::inner_product_forward(pd),
                                            impl_name(pd), pd.scratchpad_desc().get_size());
      ctx.src[0].want = plain_md(ctx.src[0].shape, DataType::f32);  // the [M,K] view needs plain
      kernel->map_src(0, DNNL_ARG_SRC, src_md);
      // B [K,N] row-major is W = B^T [N,K] with strides {1,N}; the reorder transposes it.
      const dnnl::memory::desc b_as_oi({g.n, g.k}, dt::f32, dnnl::memory::dims{1, g.n});
      kernel->set_const(DNNL_ARG_WEIGHTS,
                        reorder_f32_weights(ctx, *ctx.src[1].constant, ctx.src[1].weight_quant,
                                            b_as_oi, pd.weights_desc()));
      if (has_bias) bind_bias(*kernel, ctx, bias_md);
      kernel->map_dst(0, DNNL_ARG_DST, dst_md);
      if (has_residual) accumulate_residual(ctx);
      return kernel;
    }
    if (alpha_ != 1.0) attr.set_output_scales(0, {static_cast<float>(alpha_)});
    act_.append(ops, 1.f);
    attr.set_post_ops(ops);

    // General case: the matmul primitive, on the operands as produced when
    // they are permuted plain layouts (a Transpose's view: oneDNN's gemm takes
    // the strides, measured as fast as plain on BERT-base's heads), else plain.
    const dnnl::memory::desc dst_md = plain_md(g.dst, DataType::f32);
    Shape bias_shape(g.dst.size(), 1);
    bias_shape.back() = g.n;
    const dnnl::memory::desc bias_md = plain_md(bias_shape, DataType::f32);
    const dnnl::matmul::primitive_desc pd =
        operand_pd(ctx, g, DataType::f32, DataType::f32, has_bias ? bias_md : dnnl::memory::desc(),
                   dst_md, attr);
    auto kernel = std::make_unique<PrimitiveKernel>(ctx.engine, dnnl::matmul(pd), impl_name(pd),
                                                    pd.scratchpad_desc().get_size());
    bind_operand(*kernel, ctx, 0, DNNL_ARG_SRC, pd.src_desc(), DataType::f32);
    bind_operand(*kernel, ctx, 1, DNNL_ARG_WEIGHTS, pd.weights_desc(), DataType::f32);
    if (has_bias) bind_bias(*kernel, ctx, bias_md);
    kernel->map_dst(0, DNNL_ARG_DST, dst_md);
    return kernel;
  }

 private:
  // Linear layer in int8: see ops/inner_product.hpp.
  std::unique_ptr<Kernel> make_int8_linear_kernel(KernelContext& ctx,
                                                  const MatMulGeometry& g) const {
    Int8Linear spec;
    spec.m = numel(ctx.src[0].shape) / g.k;
    spec.k = g.k;
    spec.n = g.n;
    spec.weights = ctx.src[1].constant;
    spec.weight_axis = 1;  // B [K,N]: output channels along axis 1
    spec.weights_as_nk =
        dnnl::memory::desc({g.n, g.k}, dnnl::memory::data_type::f32, dnnl::memory::dims{1, g.n});
    if (ctx.src.size() > 2 && ctx.src[2].present) {
      const Tensor& b = *ctx.src[2].constant;
      spec.bias.assign(b.data<float>(), b.data<float>() + b.numel());
    }
    spec.alpha = static_cast<float>(alpha_);
    spec.activation = act_;
    spec.residual = residual_of(ctx);
    std::unique_ptr<Kernel> kernel = make_int8_linear(ctx, spec);
    if (spec.residual) accumulate_residual(ctx);
    return kernel;
  }

  static bool residual_of(const KernelContext& ctx) {
    return ctx.src.size() > 3 && ctx.src[3].present;
  }

  // Y's buffer holds the f32 residual Z (input 3) before the kernel adds to it.
  static void accumulate_residual(KernelContext& ctx) {
    ctx.src[3].want = plain_md(ctx.src[3].shape, DataType::f32);
    ctx.dst[0].accumulates = 3;
  }

  // Both operands dynamic (attention): u8/s8 A x s8 B -> s32, one output
  // scale s_a * s_b / s_y.
  std::unique_ptr<Kernel> make_int8_matmul_kernel(KernelContext& ctx,
                                                  const MatMulGeometry& g) const {
    const QuantView a = ctx.src[0].int8, b = ctx.src[1].int8, y = ctx.dst[0].int8;
    // oneDNN's int8 matmul wants s8 weights; a u8 B is re-quantized to s8 on its range.
    const float sb = b.dtype == DataType::s8 ? b.scale : b.scale * 255.f / 127.f;
    const DataType dst_type = y.is_int8() ? y.dtype : DataType::f32;
    // As in ops/inner_product.cpp: an activation that does not commute with
    // the destination scale sees real values, and the post-op divides after it.
    const float dst_scale = y.is_int8() ? y.scale : 1.f;
    dnnl::primitive_attr attr = default_attr();
    attr.set_output_scales(
        0, {static_cast<float>(alpha_) * a.scale * sb / act_.scale_before(dst_scale)});
    dnnl::post_ops ops;
    act_.append(ops, dst_scale);
    attr.set_post_ops(ops);
    // Q, K^T and V arrive as Transpose views of the Linear outputs: read in
    // place, they save BERT-base 3 reorders per layer (bench/README.md).
    const dnnl::memory::desc dst_md = plain_md(g.dst, dst_type);
    const dnnl::matmul::primitive_desc pd =
        operand_pd(ctx, g, a.dtype, DataType::s8, dnnl::memory::desc(), dst_md, attr);
    auto kernel = std::make_unique<PrimitiveKernel>(ctx.engine, dnnl::matmul(pd), impl_name(pd),
                                                    pd.scratchpad_desc().get_size());
    bind_operand(*kernel, ctx, 0, DNNL_ARG_SRC, pd.src_desc(), a.dtype);
    bind_operand(*kernel, ctx, 1, DNNL_ARG_WEIGHTS, pd.weights_desc(), DataType::s8);
    ctx.dst[0].md = plain_md(g.out, dst_type);
    ctx.dst[0].scale = y.is_int8() ? y.scale : 1.f;
    kernel->map_dst(0, DNNL_ARG_DST, dst_md);
    return kernel;
  }

  // A plain input, read in place: constants are wrapped, others are bound at
  // run time and must arrive row-major (`md` views the same bytes).
  static void bind_input(PrimitiveKernel& kernel, KernelContext& ctx, size_t i, int arg,
                         const dnnl::memory::desc& md) {
    if (ctx.src[i].constant) {
      kernel.set_const(arg, wrap_constant(ctx.engine, *ctx.src[i].constant, md));
    } else {
      ctx.src[i].want = plain_md(ctx.src[i].shape, ctx.src[i].dtype);
      kernel.map_src(i, arg, md);
    }
  }

  // The bias, divided by alpha when there is one (the bias is constant then).
  void bind_bias(PrimitiveKernel& kernel, KernelContext& ctx, const dnnl::memory::desc& md) const {
    if (alpha_ == 1.0) return bind_input(kernel, ctx, 2, DNNL_ARG_BIAS, md);
    const Tensor& b = *ctx.src[2].constant;
    dnnl::memory scaled(md, ctx.engine);  // plain: the tensor's element order
    float* dst = static_cast<float*>(scaled.get_data_handle());
    for (int64_t i = 0; i < b.numel(); ++i)
      dst[i] = static_cast<float>(b.data<float>()[i] / alpha_);
    kernel.set_const(DNNL_ARG_BIAS, scaled);
  }

  // A dynamic operand of type `dtype` written in a permuted plain layout
  // (dense, no blocking) of the operand's own rank, as a Transpose view hands
  // it over.
  static bool is_dense_strided(const KernelSrc& src, const Shape& extended, DataType dtype) {
    if (src.constant || src.md.is_zero() ||
        src.md.data.ndims != static_cast<int>(extended.size()) ||
        src.md.data_type() != to_dnnl(dtype) || src.md.data.format_kind != dnnl_blocked ||
        src.md.data.format_desc.blocking.inner_nblks != 0) {
      return false;
    }
    for (size_t i = 0; i < extended.size(); ++i) {
      if (src.md.data.dims[i] != extended[i]) return false;
    }
    return src.md.get_size() == static_cast<size_t>(numel(extended)) * size_of(dtype) &&
           src.md != plain_md(extended, dtype);
  }

  // The matmul primitive on A and B as produced when they are permuted plain
  // layouts (oneDNN takes the strides), else plain: bind them with
  // bind_operand(pd.src_desc() / pd.weights_desc()).
  static dnnl::matmul::primitive_desc operand_pd(const KernelContext& ctx, const MatMulGeometry& g,
                                                 DataType a_type, DataType b_type,
                                                 const dnnl::memory::desc& bias_md,
                                                 const dnnl::memory::desc& dst_md,
                                                 const dnnl::primitive_attr& attr) {
    const bool a_strided = is_dense_strided(ctx.src[0], g.a, a_type);
    const bool b_strided = is_dense_strided(ctx.src[1], g.b, b_type);
    const dnnl::memory::desc a_plain = plain_md(g.a, a_type), b_plain = plain_md(g.b, b_type);
    if (a_strided || b_strided) {
      try {
        return dnnl::matmul::primitive_desc(
            dnnl::matmul::desc(a_strided ? ctx.src[0].md : a_plain,
                               b_strided ? ctx.src[1].md : b_plain, bias_md, dst_md),
            attr, ctx.engine);
      } catch (const dnnl::error&) {  // this CPU's matmul wants them plain: reorders do it
      }
    }
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_plain, b_plain, bias_md, dst_md), attr,
                                        ctx.engine);
  }

  // Operand `i` read as `md` of type `type`: as produced when md is its own
  // layout, else in plain rows (the session reorders, quantizes or
  // dequantizes it into them).
  static void bind_operand(PrimitiveKernel& kernel, KernelContext& ctx, size_t i, int arg,
                           const dnnl::memory::desc& md, DataType type) {
    KernelSrc& src = ctx.src[i];
    if (src.constant) return bind_input(kernel, ctx, i, arg, md);
    src.want = md == src.md ? md : plain_md(src.shape, type);
    kernel.map_src(i, arg, md);
  }

  MatMulGeometry geometry(const Shape& a, const Shape& b) const {
    if (a.empty() || b.empty()) {
      node().fail(ErrorCode::invalid_argument, "expects inputs of rank >= 1, got shapes " +
                                                   to_string(a) + " and " + to_string(b));
    }
    MatMulGeometry g;
    g.a = a.size() == 1 ? Shape{1, a[0]} : a;
    g.b = b.size() == 1 ? Shape{b[0], 1} : b;
    const size_t rank = std::max(g.a.size(), g.b.size());
    g.a.insert(g.a.begin(), rank - g.a.size(), 1);
    g.b.insert(g.b.begin(), rank - g.b.size(), 1);
    g.m = g.a[rank - 2], g.k = g.a[rank - 1], g.n = g.b[rank - 1];
    if (g.b[rank - 2] != g.k) {
      node().fail(ErrorCode::invalid_argument,
                  "inner dimensions differ: A " + to_string(a) + " and B " + to_string(b));
    }
    const Shape batch = broadcast_shapes(node(), Shape(g.a.begin(), g.a.end() - 2),
                                         Shape(g.b.begin(), g.b.end() - 2));
    g.dst = batch;
    g.dst.push_back(g.m);
    g.dst.push_back(g.n);
    g.out = batch;
    if (a.size() > 1) g.out.push_back(g.m);
    if (b.size() > 1) g.out.push_back(g.n);
    return g;
  }

  FusedActivation act_;
  double alpha_ = 1;
};

}  // namespace

std::unique_ptr<Op> make_matmul(const Node& node) {
  return std::make_unique<MatMul>(node);
}

}  // namespace octet
