// MaxPool, AveragePool and GlobalAveragePool (ONNX) over 2-D or 1-D spatial
// dims (input N,C,H,W or N,C,W; other ranks are unsupported; 1-D pools as
// 2-D ones of height 1, and through oneDNN's 1-D pooling).
//   attributes: kernel_shape, strides, pads, dilations (MaxPool only), ceil_mode,
//   auto_pad, count_include_pad (AveragePool), storage_order (accepted and
//   ignored: it only describes MaxPool's Indices output, which is unsupported).
// ceil_mode follows ONNX / PyTorch: the output size rounds up, but a window that
// would start inside the right padding is dropped. AveragePool with
// count_include_pad divides by the window clipped to the explicitly padded input.
// oneDNN path: pooling_v2_forward reading the producer's layout as is (blocked
// layouts such as nChw8c included, so a pool between convs needs no reorder)
// and writing dst `any`. ceil_mode becomes extra right padding; the one case
// oneDNN cannot express (count_include_pad windows reaching past the explicit
// padding, whose divisor shrinks) runs the reference kernel.
#include <algorithm>
#include <cmath>

#include "ops/dnnl_kernel.hpp"

namespace octet {
namespace {

enum class PoolKind { max, avg, global_avg };

struct PoolGeometry {
  int64_t n, c, h, w;
  int64_t kh, kw, sh, sw, dh, dw;
  int64_t pt, pl, pb, pr;  // pads: top, left, bottom, right (after auto_pad)
  int64_t oh, ow;
  bool one_d;  // N,C,W: h = kh = oh = 1, no vertical stride, dilation or pads

  // oneDNN's spatial dims: (h, w), or (w) in 1-D.
  dnnl::memory::dims spatial(int64_t vh, int64_t vw) const {
    return one_d ? dnnl::memory::dims{vw} : dnnl::memory::dims{vh, vw};
  }
  Shape dst_shape() const { return one_d ? Shape{n, c, ow} : Shape{n, c, oh, ow}; }
};

class Pool final : public Op {
 public:
  Pool(const Node& node, PoolKind kind) : Op(node), kind_(kind) {
    const size_t max_outputs = kind == PoolKind::max ? 2 : 1;
    if (node.inputs.size() != 1 || node.outputs.empty() || node.outputs.size() > max_outputs) {
      node.fail(ErrorCode::invalid_model, "expects 1 input and 1 output");
    }
    if (node.outputs.size() == 2 && node.outputs[1] != kNoValue) {
      node.fail(ErrorCode::unsupported, "the Indices output is not supported");
    }
    if (kind == PoolKind::global_avg) return;  // no attributes
    kernel_ = node.attr_ints("kernel_shape");
    const size_t k = kernel_.size();  // spatial rank
    strides_ = node.attr_ints("strides", std::vector<int64_t>(k, 1));
    pads_ = node.attr_ints("pads", std::vector<int64_t>(2 * k, 0));
    dilations_ = node.attr_ints("dilations", std::vector<int64_t>(k, 1));
    auto_pad_ = node.attr_string("auto_pad", "NOTSET");
    const int64_t ceil_mode = node.attr_int("ceil_mode", 0);
    const int64_t include_pad = node.attr_int("count_include_pad", 0);
    const int64_t storage_order = node.attr_int("storage_order", 0);
    if (k < 1 || k > 2 || strides_.size() != k || pads_.size() != 2 * k || dilations_.size() != k) {
      node.fail(ErrorCode::unsupported,
                "only 1-D and 2-D pooling is supported (kernel_shape, strides, dilations: 1 or 2 "
                "values; pads: twice as many)");
    }
    if (kind == PoolKind::avg && dilations_ != std::vector<int64_t>(k, 1)) {
      node.fail(ErrorCode::unsupported, "AveragePool with dilations is not supported");
    }
    if (ceil_mode < 0 || ceil_mode > 1 || include_pad < 0 || include_pad > 1 || storage_order < 0 ||
        storage_order > 1) {
      node.fail(ErrorCode::invalid_model,
                "ceil_mode, count_include_pad and storage_order must be 0 or 1");
    }
    if (auto_pad_ != "NOTSET" && auto_pad_ != "VALID" && auto_pad_ != "SAME_UPPER" &&
        auto_pad_ != "SAME_LOWER") {
      node.fail(ErrorCode::invalid_model, "unknown auto_pad '" + auto_pad_ + "'");
    }
    for (size_t i = 0; i < k; ++i) {
      if (kernel_[i] < 1 || strides_[i] < 1 || dilations_[i] < 1) {
        node.fail(ErrorCode::invalid_model, "kernel_shape, strides and dilations must be >= 1");
      }
      // As onnxruntime: a window lying entirely in the padding has no value.
      if (pads_[i] < 0 || pads_[i + k] < 0 || pads_[i] >= kernel_[i] ||
          pads_[i + k] >= kernel_[i]) {
        node.fail(ErrorCode::invalid_model, "pads must be >= 0 and smaller than the kernel");
      }
    }
    ceil_mode_ = ceil_mode == 1;
    include_pad_ = include_pad == 1;
  }

  void infer(InferContext& ctx) const override {
    if (ctx.dtype(0) != DataType::f32) ctx.fail("expects an f32 input");
    const PoolGeometry g = geometry(ctx.shape(0));
    ctx.set(0, g.dst_shape(), DataType::f32);
  }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    const PoolGeometry g = geometry(src[0]->shape());
    const float* x = src[0]->data<float>();
    float* y = dst[0].data<float>();
    for (int64_t plane = 0; plane < g.n * g.c; ++plane) {
      const float* xp = x + plane * g.h * g.w;
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        const int64_t y0 = oy * g.sh - g.pt;  // window start, in unpadded coordinates
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const int64_t x0 = ox * g.sw - g.pl;
          double acc = kind_ == PoolKind::max ? -INFINITY : 0.0;
          int64_t valid = 0;
          for (int64_t ky = 0; ky < g.kh; ++ky) {
            const int64_t iy = y0 + ky * g.dh;
            if (iy < 0 || iy >= g.h) continue;
            for (int64_t kx = 0; kx < g.kw; ++kx) {
              const int64_t ix = x0 + kx * g.dw;
              if (ix < 0 || ix >= g.w) continue;
              const float v = xp[iy * g.w + ix];
              acc = kind_ == PoolKind::max ? std::max(acc, static_cast<double>(v)) : acc + v;
              ++valid;
            }
          }
          if (kind_ != PoolKind::max) {
            // The window clipped to the padded input [-pt, h + pb) x [-pl, w + pr).
            const int64_t padded =
                (std::min(y0 + g.kh, g.h + g.pb) - y0) * (std::min(x0 + g.kw, g.w + g.pr) - x0);
            acc /= static_cast<double>(include_pad_ ? padded : valid);
          }
          y[(plane * g.oh + oy) * g.ow + ox] = static_cast<float>(acc);
        }
      }
    }
  }

  // Pooling int8 data gives int8 data on the same scale (max exactly, average
  // rounded once), so a pool between int8 convs needs no dequantize.
  bool accepts_int8() const override { return true; }

  // A maximum or an average of input 0's values (padding counts as 0).
  bool output_never_negative(const std::vector<bool>& src) const override {
    return !src.empty() && src[0];
  }

  std::unique_ptr<Kernel> make_kernel(KernelContext& ctx) const override {
    const Shape& x = ctx.src[0].shape;
    const PoolGeometry g = geometry(x);
    if (ctx.src[0].constant || numel(x) == 0) return make_reference_kernel(*this, ctx);
    // The right / bottom padding oneDNN needs to produce exactly oh x ow outputs
    // (its size check rounds down): the explicit padding unless ceil_mode added to it.
    auto right_pad = [](int64_t in, int64_t k_eff, int64_t s, int64_t begin, int64_t end,
                        int64_t out) {
      return (in - k_eff + begin + end) / s + 1 == out ? end : (out - 1) * s + k_eff - in - begin;
    };
    const int64_t ekh = (g.kh - 1) * g.dh + 1, ekw = (g.kw - 1) * g.dw + 1;
    const int64_t pb = right_pad(g.h, ekh, g.sh, g.pt, g.pb, g.oh);
    const int64_t pr = right_pad(g.w, ekw, g.sw, g.pl, g.pr, g.ow);
    dnnl::algorithm alg = dnnl::algorithm::pooling_avg_exclude_padding;
    if (kind_ == PoolKind::max) alg = dnnl::algorithm::pooling_max;
    if (kind_ == PoolKind::avg && include_pad_) {
      if (pb > g.pb || pr > g.pr) return make_reference_kernel(*this, ctx);
      alg = dnnl::algorithm::pooling_avg_include_padding;
    }
    // Read the source as produced (f32 or int8, any layout of the right dims).
    const QuantView have = ctx.src[0].have;
    const DataType dtype = have.is_int8() ? have.dtype : DataType::f32;
    dnnl::memory::desc src_md = ctx.src[0].md;
    if (src_md.is_zero() || src_md.dims() != to_dnnl_dims(x)) src_md = plain_md(x, dtype);
    const dnnl::memory::desc dst_any(to_dnnl_dims(g.dst_shape()), to_dnnl(dtype),
                                     dnnl::memory::format_tag::any);
    const dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, alg, src_md,
                                              dst_any, g.spatial(g.sh, g.sw), g.spatial(g.kh, g.kw),
                                              g.spatial(g.dh - 1, g.dw - 1), g.spatial(g.pt, g.pl),
                                              g.spatial(pb, pr));
    const dnnl::pooling_v2_forward::primitive_desc pd(desc, default_attr(), ctx.engine);
    auto kernel = std::make_unique<PrimitiveKernel>(ctx.engine, dnnl::pooling_v2_forward(pd),
                                                    impl_name(pd), pd.scratchpad_desc().get_size());
    ctx.src[0].want = pd.src_desc();
    ctx.dst[0].md = pd.dst_desc();
    ctx.dst[0].scale = have.scale;
    kernel->map_src(0, DNNL_ARG_SRC, pd.src_desc());
    kernel->map_dst(0, DNNL_ARG_DST, pd.dst_desc());
    return kernel;
  }

 private:
  PoolGeometry geometry(const Shape& x) const {
    if (x.size() != 3 && x.size() != 4) {
      node().fail(
          ErrorCode::unsupported,
          "only 4-D (N,C,H,W) and 3-D (N,C,W) inputs are supported, got shape " + to_string(x));
    }
    const size_t spatial = kind_ == PoolKind::global_avg ? x.size() - 2 : kernel_.size();
    if (x.size() != spatial + 2) {
      node().fail(ErrorCode::invalid_argument,
                  "a " + std::to_string(spatial) + "-D pool cannot take the input " + to_string(x));
    }
    PoolGeometry g{};
    g.one_d = x.size() == 3;  // as 2-D of height 1
    g.n = x[0], g.c = x[1], g.h = g.one_d ? 1 : x[2], g.w = x.back();
    if (kind_ == PoolKind::global_avg) {
      g.kh = g.h, g.kw = g.w, g.sh = g.sw = g.dh = g.dw = 1;
      g.oh = g.ow = 1;
      if (g.h * g.w == 0) node().fail(ErrorCode::invalid_argument, "empty input " + to_string(x));
      return g;
    }
    g.kh = g.one_d ? 1 : kernel_[0], g.kw = kernel_.back();
    g.sh = g.one_d ? 1 : strides_[0], g.sw = strides_.back();
    g.dh = g.one_d ? 1 : dilations_[0], g.dw = dilations_.back();
    g.pt = g.one_d ? 0 : pads_[0];
    g.pl = pads_[spatial - 1];
    g.pb = g.one_d ? 0 : pads_[2];
    g.pr = pads_.back();
    auto size = [&](int64_t in, int64_t k, int64_t s, int64_t d, int64_t& begin, int64_t& end) {
      const int64_t ek = (k - 1) * d + 1;
      if (auto_pad_ == "SAME_UPPER" || auto_pad_ == "SAME_LOWER") {
        // out = ceil(in / s); the odd pad goes last (UPPER) or first (LOWER).
        const int64_t out = (in + s - 1) / s;
        const int64_t total = std::max<int64_t>(0, (out - 1) * s + ek - in);
        begin = auto_pad_ == "SAME_UPPER" ? total / 2 : total - total / 2;
        end = total - begin;
        return out;
      }
      if (auto_pad_ == "VALID") begin = end = 0;
      const int64_t span = in + begin + end - ek;
      if (span < 0) {
        node().fail(
            ErrorCode::invalid_argument,
            "kernel " + std::to_string(ek) + " is larger than the padded input " + to_string(x));
      }
      if (!ceil_mode_) return span / s + 1;
      int64_t out = (span + s - 1) / s + 1;
      if ((out - 1) * s >= in + begin) --out;  // the last window would start in the padding
      return out;
    };
    g.oh = size(g.h, g.kh, g.sh, g.dh, g.pt, g.pb);
    g.ow = size(g.w, g.kw, g.sw, g.dw, g.pl, g.pr);
    return g;
  }

  PoolKind kind_;
  std::vector<int64_t> kernel_, strides_, pads_, dilations_;
  std::string auto_pad_;
  bool ceil_mode_ = false, include_pad_ = false;
};

}  // namespace

std::unique_ptr<Op> make_max_pool(const Node& node) {
  return std::make_unique<Pool>(node, PoolKind::max);
}
std::unique_ptr<Op> make_average_pool(const Node& node) {
  return std::make_unique<Pool>(node, PoolKind::avg);
}
std::unique_ptr<Op> make_global_average_pool(const Node& node) {
  return std::make_unique<Pool>(node, PoolKind::global_avg);
}

}  // namespace octet
