// Conv: 2-D and 1-D convolution with groups, strides, pads and dilations
// (ONNX Conv), extended by the importer's fusions:
//   inputs  X [N,C,H,W], W [OC,C/group,KH,KW] (1-D: X [N,C,W], W [OC,C/group,KW]),
//   optional B [OC], optional Z (a residual of the output's shape), attributes
//   activation and activation_params (ops/activation.hpp); Y = act(conv(X, W) + B + Z).
// A 1-D convolution is computed as a 2-D one of height 1 by the reference,
// and by oneDNN's own 1-D convolution (ncw layouts).
// The oneDNN path keeps weights in the layout the primitive wants (reordered
// once at prepare), fuses Z as a sum post-op (the session makes Y's buffer hold
// Z first) and the activation as an eltwise post-op.
#include <algorithm>
#include <cmath>

#include "ops/activation.hpp"
#include "ops/dnnl_kernel.hpp"
#include "ops/quantize.hpp"

namespace octet {
namespace {

struct ConvGeometry {
  int64_t n, c, h, w;  // source
  int64_t oc, kh, kw;  // weights
  int64_t group;
  int64_t sh, sw, dh, dw;
  int64_t pt, pl, pb, pr;  // pads: top, left, bottom, right
  int64_t oh, ow;
  bool one_d;  // X [N,C,W]: h = kh = oh = 1, no vertical stride, dilation or pads

  // oneDNN's spatial dims: (h, w), or (w) for a 1-D convolution.
  dnnl::memory::dims spatial(int64_t vh, int64_t vw) const {
    return one_d ? dnnl::memory::dims{vw} : dnnl::memory::dims{vh, vw};
  }
  dnnl::memory::dims src_dims() const {
    return one_d ? dnnl::memory::dims{n, c, w} : dnnl::memory::dims{n, c, h, w};
  }
  dnnl::memory::dims dst_dims() const {
    return one_d ? dnnl::memory::dims{n, oc, ow} : dnnl::memory::dims{n, oc, oh, ow};
  }
  Shape dst_shape() const { return one_d ? Shape{n, oc, ow} : Shape{n, oc, oh, ow}; }
  dnnl::memory::dims wei_dims() const {
    dnnl::memory::dims d =
        group == 1 ? dnnl::memory::dims{oc, c} : dnnl::memory::dims{group, oc / group, c / group};
    for (int64_t k : spatial(kh, kw)) d.push_back(k);
    return d;
  }
  dnnl::memory::format_tag wei_plain_tag() const {
    using tag = dnnl::memory::format_tag;
    if (one_d) return group == 1 ? tag::oiw : tag::goiw;
    return group == 1 ? tag::oihw : tag::goihw;
  }
};

// 3x3, stride 1, undilated, ungrouped, channels in whole blocks of 16: the
// convolutions oneDNN's Winograd takes and runs well (8 channels padded to
// 16 needed 0.8 MB of scratchpad for a 32x32 image).
bool winograd_candidate(const ConvGeometry& g) {
  return !g.one_d && g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 &&
         g.group == 1 && g.c % 16 == 0 && g.oc % 16 == 0;
}

// Whether oneDNN has an f32 Winograd convolution on this CPU (2.6: AVX512
// only), asked once with a small problem. ONEDNN_MAX_CPU_ISA is read by
// oneDNN once per process too.
bool winograd_available(const dnnl::engine& engine) {
  static const bool available = [&] {
    using tag = dnnl::memory::format_tag;
    using dt = dnnl::memory::data_type;
    const dnnl::memory::desc src({1, 16, 8, 8}, dt::f32, tag::any);
    const dnnl::memory::desc wei({16, 16, 3, 3}, dt::f32, tag::any);
    try {
      const dnnl::convolution_forward::desc desc(
          dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_winograd, src, wei,
          dnnl::memory::desc(), src, {1, 1}, {0, 0}, {1, 1}, {1, 1});
      return static_cast<bool>(dnnl::convolution_forward::primitive_desc(desc, engine));
    } catch (const dnnl::error&) {
      return false;
    }
  }();
  return available;
}

class Conv final : public Op {
 public:
  explicit Conv(const Node& node) : Op(node) {
    if (node.inputs.size() < 2 || node.inputs.size() > 4 || node.outputs.size() != 1) {
      node.fail(ErrorCode::invalid_model, "expects 2 to 4 inputs (X, W, [B], [Z]) and 1 output");
    }
    group_ = node.attr_int("group", 1);
    strides_ = node.attr_ints("strides", {});
    dilations_ = node.attr_ints("dilations", {});
    pads_ = node.attr_ints("pads", {});
    kernel_shape_ = node.attr_ints("kernel_shape", {});
    auto_pad_ = node.attr_string("auto_pad", "NOTSET");
    act_ = FusedActivation::of(node);
    // The spatial rank the attributes give (the input's rank decides in infer).
    const size_t k = !strides_.empty()        ? strides_.size()
                     : !dilations_.empty()    ? dilations_.size()
                     : !kernel_shape_.empty() ? kernel_shape_.size()
                                              : pads_.size() / 2;
    if (k > 2 || (!strides_.empty() && strides_.size() != k) ||
        (!dilations_.empty() && dilations_.size() != k) ||
        (!kernel_shape_.empty() && kernel_shape_.size() != k) ||
        (!pads_.empty() && pads_.size() != 2 * k)) {
      node.fail(ErrorCode::unsupported,
                "only 1-D and 2-D convolutions are supported (strides, dilations, kernel_shape: "
                "1 or 2 values; pads: twice as many)");
    }
    if (auto_pad_ != "NOTSET" && auto_pad_ != "VALID" && auto_pad_ != "SAME_UPPER" &&
        auto_pad_ != "SAME_LOWER") {
      node.fail(ErrorCode::invalid_model, "unknown auto_pad '" + auto_pad_ + "'");
    }
    for (int64_t v : strides_) {
      if (v < 1) node.fail(ErrorCode::invalid_model, "strides must be >= 1");
    }
    for (int64_t v : dilations_) {
      if (v < 1) node.fail(ErrorCode::invalid_model, "dilations must be >= 1");
    }
    for (int64_t v : pads_) {
      if (v < 0) node.fail(ErrorCode::invalid_model, "pads must be >= 0");
    }
    if (group_ < 1) node.fail(ErrorCode::invalid_model, "group must be >= 1");
  }

  void infer(InferContext& ctx) const override {
    const ConvGeometry g = geometry(ctx.shape(0), ctx.shape(1), &ctx);
    if (ctx.dtype(0) != DataType::f32 || ctx.dtype(1) != DataType::f32) {
      ctx.fail("expects f32 X and W");
    }
    if (ctx.has(2) && ctx.shape(2) != Shape{g.oc}) {
      ctx.fail("bias has shape " + to_string(ctx.shape(2)) + ", expected " + std::to_string(g.oc));
    }
    const Shape dst = g.dst_shape();
    if (ctx.has(3) && ctx.shape(3) != dst) {
      ctx.fail("residual input has shape " + to_string(ctx.shape(3)) + ", expected " +
               to_string(dst));
    }
    ctx.set(0, dst, DataType::f32);
  }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    const ConvGeometry g = geometry(src[0]->shape(), src[1]->shape(), nullptr);
    const float* x = src[0]->data<float>();
    const float* w = src[1]->data<float>();
    const float* b = src.size() > 2 && src[2] ? src[2]->data<float>() : nullptr;
    const float* z = src.size() > 3 && src[3] ? src[3]->data<float>() : nullptr;
    float* y = dst[0].data<float>();
    const int64_t icg = g.c / g.group, ocg = g.oc / g.group;
    for (int64_t n = 0; n < g.n; ++n) {
      for (int64_t oc = 0; oc < g.oc; ++oc) {
        const int64_t grp = oc / ocg;
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          for (int64_t ox = 0; ox < g.ow; ++ox) {
            double acc = b ? b[oc] : 0.0;
            for (int64_t ic = 0; ic < icg; ++ic) {
              const int64_t c = grp * icg + ic;
              for (int64_t ky = 0; ky < g.kh; ++ky) {
                const int64_t iy = oy * g.sh - g.pt + ky * g.dh;
                if (iy < 0 || iy >= g.h) continue;
                for (int64_t kx = 0; kx < g.kw; ++kx) {
                  const int64_t ix = ox * g.sw - g.pl + kx * g.dw;
                  if (ix < 0 || ix >= g.w) continue;
                  acc += static_cast<double>(x[((n * g.c + c) * g.h + iy) * g.w + ix]) *
                         w[((oc * icg + ic) * g.kh + ky) * g.kw + kx];
                }
              }
            }
            const int64_t at = ((n * g.oc + oc) * g.oh + oy) * g.ow + ox;
            if (z) acc += z[at];
            y[at] = static_cast<float>(act_.apply(acc));
          }
        }
      }
    }
  }

  bool has_int8_kernel() const override { return true; }
  // X, and the residual: read in int8 when it has a range (else the output is f32).
  std::vector<int> int8_inputs(const std::vector<SrcInfo>& src) const override {
    if (src.size() > 3 && src[3].present) return {0, 3};
    return {0};
  }
  size_t int8_required_inputs(const std::vector<SrcInfo>&) const override { return 1; }

  bool output_never_negative(const std::vector<bool>&) const override {
    return act_.non_negative();
  }

  std::unique_ptr<Kernel> make_kernel(KernelContext& ctx) const override {
    if (!ctx.src[1].constant ||
        (ctx.src.size() > 2 && ctx.src[2].present && !ctx.src[2].constant)) {
      ctx.int8 = false;
      return make_reference_kernel(*this, ctx);  // weights computed at run time: rare, keep simple
    }
    if (ctx.int8) return make_int8_kernel(ctx);
    using tag = dnnl::memory::format_tag;
    using dt = dnnl::memory::data_type;
    const ConvGeometry g = geometry(ctx.src[0].shape, ctx.src[1].shape, nullptr);
    const bool has_bias = ctx.src.size() > 2 && ctx.src[2].present;
    const bool has_residual = ctx.src.size() > 3 && ctx.src[3].present;

    const dnnl::memory::dims src_dims = g.src_dims(), dst_dims = g.dst_dims();
    const dnnl::memory::dims wei_dims = g.wei_dims();
    const dnnl::memory::desc src_any(src_dims, dt::f32, tag::any);
    const dnnl::memory::desc wei_any(wei_dims, dt::f32, tag::any);
    const dnnl::memory::desc bias_md({g.oc}, dt::f32, tag::a);
    const dnnl::memory::desc dst_any(dst_dims, dt::f32, tag::any);

    dnnl::primitive_attr attr = default_attr();
    dnnl::post_ops ops;
    if (has_residual) ops.append_sum(1.f);
    act_.append(ops, 1.f);
    attr.set_post_ops(ops);

    auto make_pd = [&](dnnl::algorithm alg) {
      const dnnl::convolution_forward::desc desc(
          dnnl::prop_kind::forward_inference, alg, src_any, wei_any,
          has_bias ? bias_md : dnnl::memory::desc(), dst_any, g.spatial(g.sh, g.sw),
          g.spatial(g.dh - 1, g.dw - 1), g.spatial(g.pt, g.pl), g.spatial(g.pb, g.pr));
      return dnnl::convolution_forward::primitive_desc(desc, attr, ctx.engine);
    };
    // oneDNN 2.6 has f32 Winograd (F(2x2,3x3), F(4x4,3x3)) on AVX512 CPUs
    // only, for 3x3 stride-1 undilated convolutions, and convolution_auto
    // never picks it. It ran ResNet-50's 3x3 stride-1 layers 1.0-2.5x faster
    // than oneDNN's direct pick on an AVX512 EPYC (bench/README.md); where
    // oneDNN refuses the problem (other CPUs, shapes, post-ops) the direct
    // kernel stays. Winograd works in nChw16c, the direct kernels around it
    // in nhwc, so reorders sit at its borders: making every convolution
    // nChw16c to save them sent ResNeXt's grouped convolutions and
    // EfficientNet's squeeze-excitation Muls to oneDNN's reference kernels.
    dnnl::convolution_forward::primitive_desc pd;
    if (ctx.winograd && winograd_candidate(g) && winograd_available(ctx.engine)) {
      try {
        pd = make_pd(dnnl::algorithm::convolution_winograd);
      } catch (const dnnl::error&) {
      }
    }
    if (!pd) pd = make_pd(dnnl::algorithm::convolution_direct);

    auto kernel = std::make_unique<PrimitiveKernel>(ctx.engine, dnnl::convolution_forward(pd),
                                                    impl_name(pd), pd.scratchpad_desc().get_size());
    ctx.src[0].want = pd.src_desc();
    kernel->map_src(0, DNNL_ARG_SRC, pd.src_desc());
    const dnnl::memory::desc wei_plain(wei_dims, dt::f32, g.wei_plain_tag());
    kernel->set_const(DNNL_ARG_WEIGHTS,
                      reorder_f32_weights(ctx, *ctx.src[1].constant, ctx.src[1].weight_quant,
                                          wei_plain, pd.weights_desc()));
    if (has_bias)
      kernel->set_const(DNNL_ARG_BIAS, wrap_constant(ctx.engine, *ctx.src[2].constant, bias_md));
    if (has_residual) {
      ctx.src[3].want = pd.dst_desc();  // the sum post-op reads Z in the destination's layout
      ctx.dst[0].accumulates = 3;
    }
    ctx.dst[0].md = pd.dst_desc();
    kernel->map_dst(0, DNNL_ARG_DST, pd.dst_desc());
    return kernel;
  }

 private:
  // u8/s8 source x s8 per-channel weights -> s32, requantized by oneDNN's
  // output scales s_x * s_w[c] / s_y straight into a u8/s8 destination (or
  // f32 when no reader wants int8). A residual is a sum post-op in the
  // destination's domain, scaled by s_z / s_y.
  std::unique_ptr<Kernel> make_int8_kernel(KernelContext& ctx) const {
    using tag = dnnl::memory::format_tag;
    using dt = dnnl::memory::data_type;
    const ConvGeometry g = geometry(ctx.src[0].shape, ctx.src[1].shape, nullptr);
    const bool has_bias = ctx.src.size() > 2 && ctx.src[2].present;
    const bool has_residual = ctx.src.size() > 3 && ctx.src[3].present;
    const QuantView x = ctx.src[0].int8;
    QuantView y = ctx.dst[0].int8;
    const QuantView z = has_residual ? ctx.src[3].int8 : QuantView{};
    // An int8 destination holds the residual before the sum: it needs one in int8.
    if (has_residual && !z.is_int8()) y = {};

    const dnnl::memory::dims src_dims = g.src_dims(), dst_dims = g.dst_dims();
    const dnnl::memory::dims wei_dims = g.wei_dims();
    const dnnl::memory::desc bias_md({g.oc}, dt::f32, tag::a);
    const int levels = conv_weight_levels(x.dtype);
    const std::vector<float> w_amax = weight_amax(*ctx.src[1].constant, 0, ctx.src[1].weight_quant);
    const std::vector<float> w_scales = weight_scales(w_amax, levels);
    const float dst_scale = y.is_int8() ? y.scale : 1.f;
    const std::vector<float> scales =
        output_scales(x.scale, w_scales, act_.scale_before(dst_scale));

    dnnl::primitive_attr attr = default_attr();
    attr.set_output_scales(scales.size() > 1 ? 1 << 1 : 0, scales);
    dnnl::post_ops ops;
    if (has_residual) {
      // The sum post-op adds in the domain the output scales left: the
      // destination's when the activation commutes with its scale, else real values.
      const float sum_scale = z.is_int8() ? z.scale / act_.scale_before(dst_scale) : 1.f;
      if (y.is_int8()) {
        ops.append_sum(sum_scale, z.dtype == y.dtype ? dt::undef : to_dnnl(z.dtype));
      } else {
        ops.append_sum(1.f);
      }
    }
    act_.append(ops, dst_scale);
    attr.set_post_ops(ops);

    const dnnl::convolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
        dnnl::memory::desc(src_dims, to_dnnl(x.dtype), tag::any),
        dnnl::memory::desc(wei_dims, dt::s8, tag::any), has_bias ? bias_md : dnnl::memory::desc(),
        dnnl::memory::desc(dst_dims, y.is_int8() ? to_dnnl(y.dtype) : dt::f32, tag::any),
        g.spatial(g.sh, g.sw), g.spatial(g.dh - 1, g.dw - 1), g.spatial(g.pt, g.pl),
        g.spatial(g.pb, g.pr));
    const dnnl::convolution_forward::primitive_desc pd(desc, attr, ctx.engine);

    auto kernel = std::make_unique<PrimitiveKernel>(ctx.engine, dnnl::convolution_forward(pd),
                                                    impl_name(pd), pd.scratchpad_desc().get_size());
    ctx.src[0].want = pd.src_desc();
    kernel->map_src(0, DNNL_ARG_SRC, pd.src_desc());
    const dnnl::memory::desc wei_plain(wei_dims, dt::s8, g.wei_plain_tag());
    kernel->set_const(DNNL_ARG_WEIGHTS, int8_weights(ctx, *ctx.src[1].constant, 0, w_amax, levels,
                                                     wei_plain, pd.weights_desc()));
    if (has_bias) {
      kernel->set_const(DNNL_ARG_BIAS,
                        int8_bias(ctx.engine, *ctx.src[2].constant, x.scale, w_scales));
    }
    if (has_residual) {
      ctx.src[3].want = with_dtype(pd.dst_desc(), y.is_int8() ? z.dtype : DataType::f32);
      ctx.dst[0].accumulates = 3;
    }
    ctx.dst[0].md = pd.dst_desc();
    ctx.dst[0].scale = y.is_int8() ? y.scale : 1.f;
    kernel->map_dst(0, DNNL_ARG_DST, pd.dst_desc());
    return kernel;
  }

  ConvGeometry geometry(const Shape& x, const Shape& w, const InferContext* ctx) const {
    auto fail = [&](const std::string& msg) {
      if (ctx) ctx->fail(msg);
      node().fail(ErrorCode::invalid_argument, msg);
    };
    if (x.size() != 3 && x.size() != 4) {
      fail("expects a 4-D input (N,C,H,W) or a 3-D one (N,C,W), got shape " + to_string(x));
    }
    if (w.size() != x.size()) {
      fail("expects weights (OC,C/group,KH,KW) or (OC,C/group,KW) of the input's rank, got " +
           to_string(w));
    }
    ConvGeometry g{};
    g.one_d = x.size() == 3;
    const size_t k = g.one_d ? 1 : 2;  // spatial rank
    if ((!strides_.empty() && strides_.size() != k) ||
        (!dilations_.empty() && dilations_.size() != k) ||
        (!pads_.empty() && pads_.size() != 2 * k)) {
      fail("strides, dilations or pads do not match the " + std::to_string(k) + "-D input " +
           to_string(x));
    }
    // The 1-D case as 2-D of height 1.
    auto at = [&](const std::vector<int64_t>& v, size_t i, int64_t fallback) {
      return v.empty() ? fallback : v[i];
    };
    g.n = x[0], g.c = x[1], g.h = g.one_d ? 1 : x[2], g.w = x.back();
    g.oc = w[0], g.kh = g.one_d ? 1 : w[2], g.kw = w.back();
    g.group = group_;
    if (!kernel_shape_.empty() && kernel_shape_ != Shape(w.begin() + 2, w.end())) {
      fail("kernel_shape does not match the weights' shape " + to_string(w));
    }
    if (g.c != w[1] * g.group || g.oc % g.group != 0) {
      fail("input channels " + std::to_string(g.c) + " do not match weights " + to_string(w) +
           " with group " + std::to_string(g.group));
    }
    g.sh = g.one_d ? 1 : at(strides_, 0, 1), g.sw = at(strides_, k - 1, 1);
    g.dh = g.one_d ? 1 : at(dilations_, 0, 1), g.dw = at(dilations_, k - 1, 1);
    g.pt = g.one_d ? 0 : at(pads_, 0, 0), g.pl = at(pads_, k - 1, 0);
    g.pb = g.one_d ? 0 : at(pads_, 2, 0), g.pr = at(pads_, 2 * k - 1, 0);
    const int64_t ekh = (g.kh - 1) * g.dh + 1, ekw = (g.kw - 1) * g.dw + 1;
    if (auto_pad_ == "VALID") {
      g.pt = g.pl = g.pb = g.pr = 0;
    } else if (auto_pad_ != "NOTSET") {
      // SAME_*: output = ceil(input / stride); the odd pad goes last (UPPER) or first (LOWER).
      auto same = [&](int64_t in, int64_t s, int64_t ek, int64_t& begin, int64_t& end) {
        const int64_t out = (in + s - 1) / s;
        const int64_t total = std::max<int64_t>(0, (out - 1) * s + ek - in);
        begin = auto_pad_ == "SAME_UPPER" ? total / 2 : total - total / 2;
        end = total - begin;
      };
      same(g.h, g.sh, ekh, g.pt, g.pb);
      same(g.w, g.sw, ekw, g.pl, g.pr);
    }
    const int64_t span_h = g.h + g.pt + g.pb - ekh, span_w = g.w + g.pl + g.pr - ekw;
    if (span_h < 0 || span_w < 0) {
      fail("kernel " + std::to_string(ekh) + "x" + std::to_string(ekw) +
           " is larger than the padded input " + to_string(x));
    }
    g.oh = span_h / g.sh + 1;
    g.ow = span_w / g.sw + 1;
    return g;
  }

  int64_t group_;
  std::vector<int64_t> strides_, dilations_, pads_, kernel_shape_;
  std::string auto_pad_;
  FusedActivation act_;
};

}  // namespace

std::unique_ptr<Op> make_conv(const Node& node) {
  return std::make_unique<Conv>(node);
}

}  // namespace octet
