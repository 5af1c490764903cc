// Resize (opsets 10-17) and Upsample (7-9): nearest and linear resampling
// of an f32 tensor of any rank, each axis on its own (linear is bilinear on
// two resized axes, trilinear on three).
//   Resize-11+: inputs X, roi (used only by tf_crop_and_resize: unsupported),
//     scales (f32 [rank]) or sizes (s64 [rank]), exactly one of them
//     non-empty, known at prepare; attributes mode (nearest | linear; cubic
//     is unsupported), coordinate_transformation_mode (half_pixel,
//     pytorch_half_pixel, align_corners, asymmetric), nearest_mode
//     (round_prefer_floor, round_prefer_ceil, floor, ceil), exclude_outside
//     (accepted: with nearest and linear its renormalised weights equal the
//     edge-clamped ones used here).
//   Resize-10 (inputs X, scales) and Upsample (scales as input, opset 9, or
//     attribute, opset 7): asymmetric coordinates; nearest takes the floor
//     of the coordinate when upsampling and its ceiling when downsampling, as
//     onnxruntime does (the spec leaves it open; Upsample only upsamples).
// Output size: sizes, or floor(input x scale); with sizes, scale = out / in.
// Source coordinate of output index o (ONNX's formulas):
//   half_pixel (o + 1/2) / scale - 1/2; pytorch_half_pixel the same, -1/2
//   when out is 1; align_corners o (in - 1) / (out - 1), 0 when out is 1
//   (out: the size before flooring, in x scale, when scales are given, as
//   in the specification's examples); asymmetric o / scale. Nearest rounds it (an integer stays as
//   it is), linear weighs floor and floor + 1 by the fraction; indices are clamped to the input
//   (edge padding). Coordinates are computed in double and snapped to integers and half-integers
//   within 1e-9, so that an exact rational such as 3 x (7/3) rounds as its exact value would.
// Paths: oneDNN's resampling (half_pixel coordinates, and nearest rounding
// half away from zero) where it gives the same answer: linear with
// half_pixel (or pytorch_half_pixel with every resized out > 1) on the
// spatial axes of a 3-5-D tensor with scale = out / in; nearest whenever its
// index tables equal ONNX's, with no coordinate near a rounding tie (e.g.
// integer upsampling with asymmetric + floor, RetinaNet's FPN). Nearest
// moves int8 data as it is, on its scale (through oneDNN, or a gather on
// plain layouts); everything else runs the reference kernel.
#include <algorithm>
#include <cmath>

#include "ops/broadcast.hpp"
#include "ops/dnnl_kernel.hpp"

namespace octet {
namespace {

enum class Coord { half_pixel, pytorch_half_pixel, align_corners, asymmetric };
enum class Rounding { round_prefer_floor, round_prefer_ceil, floor, ceil, simple };

// Per output index along one axis: y[o] = (1 - w) x[lo] + w x[hi].
struct AxisTable {
  std::vector<int64_t> lo, hi;
  std::vector<float> w;
};

struct Geometry {
  Shape in, out;
  std::vector<double> scale;
  bool from_sizes = false;
  // ONNX's length_resized: out, or in x scale before it is floored (as the
  // specification's examples compute align_corners with scales).
  double length(size_t d) const {
    return from_sizes ? static_cast<double>(out[d]) : static_cast<double>(in[d]) * scale[d];
  }
  // Whether axis d changes at all (ONNX skips an axis of scale 1 and the same size).
  bool resized(size_t d) const { return out[d] != in[d] || scale[d] != 1.0; }
};

double snap(double x) {
  const double r = std::round(2 * x) / 2;  // the nearest half-integer
  return std::fabs(x - r) <= 1e-9 * std::max(1.0, std::fabs(x)) ? r : x;
}

class Resize final : public Op {
 public:
  explicit Resize(const Node& node) : Op(node) {
    const std::string mode = node.attr_string("mode", "nearest");
    if (mode != "nearest" && mode != "linear") {
      node.fail(ErrorCode::unsupported,
                "mode '" + mode + "' is not supported (expected nearest or linear)");
    }
    linear_ = mode != "nearest";
    if (node.op == "Upsample" || node.inputs.size() == 2) {  // Upsample-7/9, Resize-10
      legacy_ = true;
      coord_ = Coord::asymmetric;
      rounding_ = Rounding::simple;
      if (node.op == "Upsample" && node.has_attr("scales")) {
        check_arity(node, 1, 1);
        for (double s : node.attr_floats("scales")) scales_attr_.push_back(s);
      } else {
        check_arity(node, 2, 2);
      }
      return;
    }
    check_arity(node, 1, 4);  // X, [roi], [scales], [sizes]
    for (const char* opset18 : {"antialias", "axes", "keep_aspect_ratio_policy"}) {
      if (node.has_attr(opset18)) {
        node.fail(ErrorCode::unsupported,
                  std::string("attribute '") + opset18 + "' (opset 18) is not supported");
      }
    }
    const std::string coord = node.attr_string("coordinate_transformation_mode", "half_pixel");
    if (coord == "half_pixel") {
      coord_ = Coord::half_pixel;
    } else if (coord == "pytorch_half_pixel") {
      coord_ = Coord::pytorch_half_pixel;
    } else if (coord == "align_corners") {
      coord_ = Coord::align_corners;
    } else if (coord == "asymmetric") {
      coord_ = Coord::asymmetric;
    } else {
      node.fail(ErrorCode::unsupported, "coordinate_transformation_mode '" + coord +
                                            "' is not supported (expected half_pixel, "
                                            "pytorch_half_pixel, align_corners or asymmetric)");
    }
    const std::string rounding = node.attr_string("nearest_mode", "round_prefer_floor");
    if (rounding == "round_prefer_floor") {
      rounding_ = Rounding::round_prefer_floor;
    } else if (rounding == "round_prefer_ceil") {
      rounding_ = Rounding::round_prefer_ceil;
    } else if (rounding == "floor") {
      rounding_ = Rounding::floor;
    } else if (rounding == "ceil") {
      rounding_ = Rounding::ceil;
    } else {
      node.fail(ErrorCode::unsupported, "nearest_mode '" + rounding + "' is not supported");
    }
    const int64_t exclude = node.attr_int("exclude_outside", 0);
    if (exclude != 0 && exclude != 1) {
      node.fail(ErrorCode::invalid_model, "exclude_outside must be 0 or 1");
    }
  }

  void infer(InferContext& ctx) const override {
    if (ctx.dtype(0) != DataType::f32) {
      ctx.fail(std::string("supports f32 data only, got ") + to_string(ctx.dtype(0)));
    }
    auto known = [&](size_t i) -> const Tensor* {
      if (!ctx.has(i)) return nullptr;
      if (!ctx.src[i].constant) {
        ctx.fail(std::string(i == scales_input() ? "scales" : "sizes") +
                 " must be a constant known when the session is prepared");
      }
      return ctx.src[i].constant->numel() == 0 ? nullptr : ctx.src[i].constant;
    };
    const Geometry g = geometry(ctx.shape(0), known(scales_input()), known(sizes_input()));
    check_output_size(ctx, g.out);
    ctx.set(0, g.out, DataType::f32);
  }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    const Geometry g =
        geometry(src[0]->shape(), input(src, scales_input()), input(src, sizes_input()));
    if (!linear_) {
      gather(src[0]->data<float>(), dst[0].data<float>(), g, tables(g));
      return;
    }
    // One axis at a time (linear interpolation is separable), in double.
    std::vector<double> cur(src[0]->data<float>(), src[0]->data<float>() + src[0]->numel());
    Shape shape = g.in;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (!g.resized(d)) continue;
      const AxisTable t = table(g, d);
      int64_t outer = 1, inner = 1;
      for (size_t k = 0; k < d; ++k) outer *= shape[k];
      for (size_t k = d + 1; k < shape.size(); ++k) inner *= shape[k];
      std::vector<double> next(static_cast<size_t>(outer * g.out[d] * inner));
      for (int64_t a = 0; a < outer; ++a) {
        for (int64_t o = 0; o < g.out[d]; ++o) {
          const double* lo = &cur[static_cast<size_t>((a * shape[d] + t.lo[o]) * inner)];
          const double* hi = &cur[static_cast<size_t>((a * shape[d] + t.hi[o]) * inner)];
          double* y = &next[static_cast<size_t>((a * g.out[d] + o) * inner)];
          const double w = t.w[o];
          for (int64_t b = 0; b < inner; ++b) y[b] = (1 - w) * lo[b] + w * hi[b];
        }
      }
      cur = std::move(next);
      shape[d] = g.out[d];
    }
    std::transform(cur.begin(), cur.end(), dst[0].data<float>(),
                   [](double v) { return static_cast<float>(v); });
  }

  // Nearest only moves values: int8 data stays int8 on its scale.
  bool accepts_int8() const override { return !linear_; }

  std::unique_ptr<Kernel> make_kernel(KernelContext& ctx) const override {
    if (ctx.src[0].constant || ctx.src[0].md.is_zero() || numel(ctx.dst[0].shape) == 0) {
      return make_reference_kernel(*this, ctx);
    }
    auto known = [&](size_t i) -> const Tensor* {
      return i < ctx.src.size() && ctx.src[i].present && ctx.src[i].constant->numel() > 0
                 ? ctx.src[i].constant
                 : nullptr;
    };
    const Geometry g = geometry(ctx.src[0].shape, known(scales_input()), known(sizes_input()));
    const QuantView have = ctx.src[0].have;
    const DataType dtype = have.is_int8() ? have.dtype : DataType::f32;
    if (onednn_matches(g)) {
      try {
        return make_onednn_kernel(ctx, g, dtype, have.scale);
      } catch (const dnnl::error&) {
        // A layout or data type this oneDNN does not resample: below.
      }
    }
    if (have.is_int8()) {  // nearest on int8 data: the reference's gather on plain layouts
      ctx.src[0].want = plain_md(g.in, dtype);
      ctx.dst[0].md = plain_md(g.out, dtype);
      ctx.dst[0].scale = have.scale;
      return std::make_unique<GatherKernel>(g, tables(g), dtype);
    }
    return make_reference_kernel(*this, ctx);
  }

 private:
  // Nearest-neighbour resampling of a row-major tensor through the index tables.
  template <class T>
  static void gather(const T* x, T* y, const Geometry& g, const std::vector<AxisTable>& t) {
    const size_t rank = g.in.size();
    if (rank == 0) {
      y[0] = x[0];
      return;
    }
    if (numel(g.out) == 0) return;
    const std::vector<int64_t> strides = row_major_strides(g.in);
    const int64_t width = g.out[rank - 1];
    const std::vector<int64_t>& inner = t[rank - 1].lo;
    std::vector<int64_t> counter(rank - 1, 0);
    for (T* row = y;; row += width) {
      int64_t base = 0;
      for (size_t d = 0; d + 1 < rank; ++d) base += t[d].lo[counter[d]] * strides[d];
      for (int64_t o = 0; o < width; ++o) row[o] = x[base + inner[o]];
      size_t d = rank - 1;
      while (d-- > 0) {
        if (++counter[d] < g.out[d]) break;
        counter[d] = 0;
      }
      if (d == static_cast<size_t>(-1)) return;
    }
  }

  class GatherKernel final : public Kernel {
   public:
    GatherKernel(Geometry g, std::vector<AxisTable> t, DataType dtype)
        : g_(std::move(g)), t_(std::move(t)), dtype_(dtype) {}
    void bind(const std::vector<const void*>& src, const std::vector<void*>& dst, void*) override {
      src_ = src.at(0);
      dst_ = dst.at(0);
    }
    void execute(dnnl::stream&) override {
      if (dtype_ == DataType::s8) {
        gather(static_cast<const int8_t*>(src_), static_cast<int8_t*>(dst_), g_, t_);
      } else {
        gather(static_cast<const uint8_t*>(src_), static_cast<uint8_t*>(dst_), g_, t_);
      }
    }
    std::string name() const override { return "gather:int8"; }

   private:
    Geometry g_;
    std::vector<AxisTable> t_;
    DataType dtype_;
    const void* src_ = nullptr;
    void* dst_ = nullptr;
  };

  std::unique_ptr<Kernel> make_onednn_kernel(KernelContext& ctx, const Geometry& g, DataType dtype,
                                             float scale) const {
    dnnl::memory::desc src = ctx.src[0].md;
    if (src.dims() != to_dnnl_dims(g.in)) src = plain_md(g.in, dtype);
    const dnnl::memory::desc dst_any(to_dnnl_dims(g.out), to_dnnl(dtype),
                                     dnnl::memory::format_tag::any);
    const dnnl::resampling_forward::primitive_desc pd(
        dnnl::resampling_forward::desc(
            dnnl::prop_kind::forward_inference,
            linear_ ? dnnl::algorithm::resampling_linear : dnnl::algorithm::resampling_nearest, src,
            dst_any),
        default_attr(), ctx.engine);
    auto kernel = std::make_unique<PrimitiveKernel>(ctx.engine, dnnl::resampling_forward(pd),
                                                    impl_name(pd), pd.scratchpad_desc().get_size());
    ctx.src[0].want = pd.src_desc();
    ctx.dst[0].md = pd.dst_desc();
    ctx.dst[0].scale = dtype == DataType::f32 ? 1.f : scale;
    kernel->map_src(0, DNNL_ARG_SRC, pd.src_desc());
    kernel->map_dst(0, DNNL_ARG_DST, pd.dst_desc());
    return kernel;
  }

  // Whether oneDNN's resampling computes exactly this Resize (see the header).
  bool onednn_matches(const Geometry& g) const {
    const size_t rank = g.in.size();
    if (rank < 3 || rank > 5 || g.resized(0) || g.resized(1)) return false;
    if (linear_) {
      if (coord_ != Coord::half_pixel && coord_ != Coord::pytorch_half_pixel) return false;
      for (size_t d = 2; d < rank; ++d) {
        if (g.scale[d] != static_cast<double>(g.out[d]) / static_cast<double>(g.in[d]))
          return false;
        if (coord_ == Coord::pytorch_half_pixel && g.length(d) == 1 && g.resized(d)) return false;
      }
      return true;
    }
    for (size_t d = 2; d < rank; ++d) {
      const AxisTable t = table(g, d);
      // oneDNN: round((o + 1/2) in / out - 1/2) half away from zero, clamped.
      for (int64_t o = 0; o < g.out[d]; ++o) {
        const double x = (o + 0.5) * static_cast<double>(g.in[d]) / g.out[d] - 0.5;
        if (std::fabs(x - std::floor(x) - 0.5) < 1e-3) return false;  // too near a tie
        const int64_t i = std::clamp<int64_t>(std::llround(x), 0, g.in[d] - 1);
        if (i != t.lo[o]) return false;
      }
    }
    return true;
  }

  size_t scales_input() const { return legacy_ ? 1 : 2; }
  size_t sizes_input() const { return legacy_ ? 99 : 3; }

  static const Tensor* input(const std::vector<const Tensor*>& src, size_t i) {
    return i < src.size() && src[i] && src[i]->numel() > 0 ? src[i] : nullptr;
  }

  Geometry geometry(const Shape& in, const Tensor* scales, const Tensor* sizes) const {
    auto fail = [&](const std::string& m) { node().fail(ErrorCode::invalid_argument, m); };
    const size_t rank = in.size();
    Geometry g{in, in, std::vector<double>(rank, 1.0), sizes != nullptr};
    std::vector<double> s = scales_attr_;
    if (scales && sizes) fail("has both scales and sizes; expected one of them");
    if (scales) {
      if (scales->dtype() != DataType::f32) fail("scales must be f32");
      s.assign(scales->data<float>(), scales->data<float>() + scales->numel());
    }
    if (sizes) {
      const std::vector<int64_t> n = read_ints(node(), *sizes, "sizes");
      if (n.size() != rank) {
        fail("sizes has " + std::to_string(n.size()) + " values for an input of rank " +
             std::to_string(rank));
      }
      for (size_t d = 0; d < rank; ++d) {
        if (n[d] < 0 || (in[d] == 0 && n[d] != 0)) {
          fail("sizes " + to_string(Shape(n)) + " cannot resize " + to_string(in));
        }
        g.out[d] = n[d];
        g.scale[d] = in[d] == 0 ? 1.0 : static_cast<double>(n[d]) / static_cast<double>(in[d]);
      }
      return g;
    }
    if (s.empty()) fail("needs scales or sizes");
    if (s.size() != rank) {
      fail("scales has " + std::to_string(s.size()) + " values for an input of rank " +
           std::to_string(rank));
    }
    for (size_t d = 0; d < rank; ++d) {
      if (!(s[d] > 0) || s[d] > static_cast<double>(kMaxElements) ||
          (node().op == "Upsample" && s[d] < 1)) {
        fail("scale " + std::to_string(s[d]) + " on axis " + std::to_string(d) +
             (node().op == "Upsample" ? " must be >= 1" : " must be > 0"));
      }
      g.scale[d] = s[d];
      g.out[d] = static_cast<int64_t>(std::floor(snap(static_cast<double>(in[d]) * s[d])));
    }
    return g;
  }

  // The source coordinate of output index `o` along axis `d`.
  double coordinate(const Geometry& g, size_t d, int64_t o) const {
    const double in = static_cast<double>(g.in[d]), out = g.length(d);
    switch (coord_) {
      case Coord::half_pixel:
        return (o + 0.5) / g.scale[d] - 0.5;
      case Coord::pytorch_half_pixel:
        return out == 1 ? -0.5 : (o + 0.5) / g.scale[d] - 0.5;
      case Coord::align_corners:
        return out == 1 ? 0.0 : o * (in - 1) / (out - 1);
      case Coord::asymmetric:
        return o / g.scale[d];
    }
    return 0;
  }

  AxisTable table(const Geometry& g, size_t d) const {
    AxisTable t;
    const int64_t last = std::max<int64_t>(g.in[d] - 1, 0);
    for (int64_t o = 0; o < g.out[d]; ++o) {
      const double x = g.resized(d) ? snap(coordinate(g, d, o)) : static_cast<double>(o);
      const double fl = std::floor(x), frac = x - fl;
      int64_t lo = static_cast<int64_t>(fl), hi = lo + 1;
      float w = static_cast<float>(frac);
      if (!linear_) {
        bool up = false;  // an integer coordinate is its own nearest index
        if (frac > 0) {
          switch (rounding_) {
            case Rounding::round_prefer_floor:
              up = frac > 0.5;
              break;
            case Rounding::round_prefer_ceil:
              up = frac >= 0.5;
              break;
            case Rounding::floor:
              break;
            case Rounding::ceil:
              up = true;
              break;
            case Rounding::simple:  // onnxruntime: ceil when downsampling
              up = g.scale[d] < 1;
              break;
          }
        }
        lo = hi = up ? lo + 1 : lo;
        w = 0;
      }
      t.lo.push_back(std::clamp<int64_t>(lo, 0, last));
      t.hi.push_back(std::clamp<int64_t>(hi, 0, last));
      t.w.push_back(w);
    }
    return t;
  }

  std::vector<AxisTable> tables(const Geometry& g) const {
    std::vector<AxisTable> t;
    for (size_t d = 0; d < g.in.size(); ++d) t.push_back(table(g, d));
    return t;
  }

  bool linear_ = false;
  bool legacy_ = false;  // Resize-10 and Upsample: X, scales
  Coord coord_ = Coord::half_pixel;
  Rounding rounding_ = Rounding::round_prefer_floor;
  std::vector<double> scales_attr_;  // Upsample-7
};

}  // namespace

std::unique_ptr<Op> make_resize(const Node& node) {
  return std::make_unique<Resize>(node);
}

}  // namespace octet
