#include "ops/inner_product.hpp"

#include <cstring>

#include "ops/quantize.hpp"

namespace octet {

namespace {

// Without VNNI, oneDNN 2.6 runs an s8 x s8 inner product on x64:gemm_s8s8s32,
// which shifts the source and sums the weights again on every call: 2-3x
// slower than its u8 x s8 GEMM on BERT-base's shapes (measured with
// bench/onednn/linear_bench.cpp, bench/README.md). So an s8 source is read as
// u8 = s8 + 128 (the sign bit flipped, into scratch memory) by a matmul whose
// source zero point is 128. The products stay exact (u8 x 7-bit weights
// cannot saturate) and oneDNN takes the shift out of the s32 accumulator, so
// the result is the s8 x s8 path's to the bit. A bias of -128 x each
// channel's weight sum would not be: oneDNN adds the bias in f32, after the
// s32 to f32 conversion, and a different rounding there flips an int8 output
// now and then, which BERT-base's 12 layers amplify.
constexpr int kShift = 128;

class ShiftedSourceKernel final : public Kernel {
 public:
  ShiftedSourceKernel(std::unique_ptr<PrimitiveKernel> inner, size_t src_bytes)
      : inner_(std::move(inner)), src_bytes_(src_bytes), reserved_((src_bytes + 63) / 64 * 64) {}

  void bind(const std::vector<const void*>& src, const std::vector<void*>& dst,
            void* scratchpad) override {
    src_ = static_cast<const uint8_t*>(src.at(0));
    shifted_ = static_cast<uint8_t*>(scratchpad);
    std::vector<const void*> inner_src = src;
    inner_src[0] = shifted_;
    inner_->bind(inner_src, dst, shifted_ + reserved_);
  }

  void execute(dnnl::stream& stream) override {
    // Eight bytes at a time (the compiler vectorizes this further).
    const size_t words = src_bytes_ / 8;
    for (size_t i = 0; i < words; ++i) {
      uint64_t v;
      std::memcpy(&v, src_ + 8 * i, 8);
      v ^= 0x8080808080808080ull;
      std::memcpy(shifted_ + 8 * i, &v, 8);
    }
    for (size_t i = words * 8; i < src_bytes_; ++i) shifted_[i] = src_[i] ^ 0x80;
    inner_->execute(stream);
  }

  std::string name() const override { return inner_->name() + " (s8+128)"; }
  size_t scratchpad_bytes() const override { return reserved_ + inner_->scratchpad_bytes(); }

 private:
  std::unique_ptr<PrimitiveKernel> inner_;
  size_t src_bytes_, reserved_;
  const uint8_t* src_ = nullptr;
  uint8_t* shifted_ = nullptr;
};

}  // namespace

std::unique_ptr<Kernel> make_int8_linear(KernelContext& ctx, const Int8Linear& spec) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  const QuantView x = ctx.src[0].int8;
  const QuantView y = spec.residual ? QuantView{} : ctx.dst[0].int8;
  const bool shift = x.dtype == DataType::s8 && !cpu_has_vnni();
  const int levels = linear_weight_levels();
  const std::vector<float> w_amax =
      weight_amax(*spec.weights, spec.weight_axis, ctx.src[1].weight_quant);
  const std::vector<float> w_scales = weight_scales(w_amax, levels);
  // oneDNN 2.x applies output scales before post-ops. ReLU commutes with a
  // positive scale, GELU does not: such an activation sees real values and
  // its post-op divides by the destination scale (ops/activation.hpp).
  const float dst_scale = y.is_int8() ? y.scale : 1.f;
  std::vector<float> scales =
      output_scales(x.scale, w_scales, spec.activation.scale_before(dst_scale));
  for (float& s : scales) s *= spec.alpha;

  dnnl::primitive_attr attr = default_attr();
  attr.set_output_scales(scales.size() > 1 ? 1 << 1 : 0, scales);
  dnnl::post_ops ops;
  if (spec.residual) ops.append_sum(1.f);
  spec.activation.append(ops, dst_scale);
  attr.set_post_ops(ops);
  const dnnl::memory::desc src_md({spec.m, spec.k}, shift ? dt::u8 : to_dnnl(x.dtype), tag::ab);
  const dnnl::memory::desc dst_md({spec.m, spec.n}, y.is_int8() ? to_dnnl(y.dtype) : dt::f32,
                                  tag::ab);
  const dnnl::memory::desc bias_md({spec.n}, dt::f32, tag::a);
  const dnnl::memory::desc matmul_bias_md({1, spec.n}, dt::f32, tag::ab);
  const dnnl::memory::desc plain_weights = with_dtype(spec.weights_as_nk, DataType::s8);
  std::unique_ptr<PrimitiveKernel> kernel;
  dnnl::memory::desc weights_want;
  if (shift) {
    attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
    const dnnl::matmul::desc desc(src_md, dnnl::memory::desc({spec.k, spec.n}, dt::s8, tag::any),
                                  spec.bias.empty() ? dnnl::memory::desc() : matmul_bias_md,
                                  dst_md);
    const dnnl::matmul::primitive_desc pd(desc, attr, ctx.engine);
    kernel = std::make_unique<PrimitiveKernel>(ctx.engine, dnnl::matmul(pd), impl_name(pd),
                                               pd.scratchpad_desc().get_size());
    weights_want = pd.weights_desc();
    dnnl::memory zero_point({{1}, dt::s32, tag::x}, ctx.engine);
    *static_cast<int32_t*>(zero_point.get_data_handle()) = kShift;
    kernel->set_const(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, zero_point);
  } else {
    const dnnl::inner_product_forward::desc desc(
        dnnl::prop_kind::forward_inference, src_md,
        dnnl::memory::desc({spec.n, spec.k}, dt::s8, tag::any),
        spec.bias.empty() ? dnnl::memory::desc() : bias_md, dst_md);
    const dnnl::inner_product_forward::primitive_desc pd(desc, attr, ctx.engine);
    kernel = std::make_unique<PrimitiveKernel>(ctx.engine, dnnl::inner_product_forward(pd),
                                               impl_name(pd), pd.scratchpad_desc().get_size());
    weights_want = pd.weights_desc();
  }
  ctx.src[0].want = plain_md(ctx.src[0].shape, x.dtype);  // the [M,K] view needs plain rows
  kernel->map_src(0, DNNL_ARG_SRC, src_md);
  // The matmul wants the weights as [K,N]: the same bytes, axes swapped.
  kernel->set_const(
      DNNL_ARG_WEIGHTS,
      int8_weights(ctx, *spec.weights, spec.weight_axis, w_amax, levels,
                   shift ? plain_weights.permute_axes({1, 0}) : plain_weights, weights_want));
  if (!spec.bias.empty()) {
    // oneDNN 2.x adds the bias to the s32 sum before the output scale.
    Tensor b(DataType::f32, {spec.n});
    for (int64_t c = 0; c < spec.n; ++c) b.data<float>()[c] = spec.bias[c] / spec.alpha;
    kernel->set_const(DNNL_ARG_BIAS, int8_bias(ctx.engine, b, x.scale, w_scales,
                                               shift ? matmul_bias_md : bias_md));
  }
  ctx.dst[0].md = plain_md(ctx.dst[0].shape, y.is_int8() ? y.dtype : DataType::f32);
  ctx.dst[0].scale = y.is_int8() ? y.scale : 1.f;
  kernel->map_dst(0, DNNL_ARG_DST, dst_md);
  if (shift) {
    return std::make_unique<ShiftedSourceKernel>(std::move(kernel),
                                                 static_cast<size_t>(spec.m * spec.k));
  }
  return kernel;
}

}  // namespace octet
