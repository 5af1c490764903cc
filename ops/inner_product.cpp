#include "ops/inner_product.hpp"

#include "ops/quantize.hpp"

namespace octet {

std::unique_ptr<Kernel> make_int8_linear(KernelContext& ctx, const Int8Linear& spec) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  const QuantView x = ctx.src[0].int8;
  const QuantView y = ctx.dst[0].int8;
  const int levels = linear_weight_levels();
  const std::vector<float> w_scales =
      weight_scales(*spec.weights, spec.weight_axis, ctx.src[1].weight_quant, levels);
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
  spec.activation.append(ops, dst_scale);
  attr.set_post_ops(ops);
  const dnnl::memory::desc src_md({spec.m, spec.k}, to_dnnl(x.dtype), tag::ab);
  const dnnl::memory::desc dst_md({spec.m, spec.n}, y.is_int8() ? to_dnnl(y.dtype) : dt::f32,
                                  tag::ab);
  const dnnl::memory::desc bias_md({spec.n}, dt::f32, tag::a);
  const bool has_bias = !spec.bias.empty();
  const dnnl::inner_product_forward::desc desc(
      dnnl::prop_kind::forward_inference, src_md,
      dnnl::memory::desc({spec.n, spec.k}, dt::s8, tag::any),
      has_bias ? bias_md : dnnl::memory::desc(), dst_md);
  const dnnl::inner_product_forward::primitive_desc pd(desc, attr, ctx.engine);
  auto kernel = std::make_unique<PrimitiveKernel>(ctx.engine, dnnl::inner_product_forward(pd),
                                                  impl_name(pd), pd.scratchpad_desc().get_size());
  ctx.src[0].want = plain_md(ctx.src[0].shape, x.dtype);  // the [M,K] view needs plain rows
  kernel->map_src(0, DNNL_ARG_SRC, src_md);
  kernel->set_const(DNNL_ARG_WEIGHTS,
                    int8_weights(ctx, *spec.weights, spec.weight_axis, w_scales, levels,
                                 with_dtype(spec.weights_as_nk, DataType::s8), pd.weights_desc()));
  if (has_bias) {
    // oneDNN 2.x adds the bias to the s32 sum before the output scale.
    Tensor b(DataType::f32, {spec.n});
    for (int64_t c = 0; c < spec.n; ++c) b.data<float>()[c] = spec.bias[c] / spec.alpha;
    kernel->set_const(DNNL_ARG_BIAS, int8_bias(ctx.engine, b, x.scale, w_scales));
  }
  ctx.dst[0].md = plain_md(ctx.dst[0].shape, y.is_int8() ? y.dtype : DataType::f32);
  ctx.dst[0].scale = y.is_int8() ? y.scale : 1.f;
  kernel->map_dst(0, DNNL_ARG_DST, dst_md);
  return kernel;
}

}  // namespace octet
