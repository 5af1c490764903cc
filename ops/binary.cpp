// Add, Sub, Mul, Div, Pow, Equal: elementwise binary ops with multidirectional
// (numpy) broadcasting.
//   Add, Sub, Mul, Div  f32, s32, s64; both inputs of one dtype. Integer
//                       arithmetic wraps around (two's complement); integer
//                       Div truncates toward zero, fails on a zero divisor and
//                       gives INT_MIN for INT_MIN / -1.
//   Pow                 f32 base, exponent f32, s32 or s64; f32 result.
//   Equal               any dtype, both inputs of one dtype; boolean result.
// oneDNN paths (f32 only):
//   - Add/Sub/Mul/Div through the `binary` primitive when one input has the
//     output's shape. Equal shapes: every input and the output use the layout
//     of the first non-constant input as produced (a residual Add of two
//     blocked conv outputs runs without reorders). Broadcasting: plain layouts,
//     the full-shape input as src0 (swapped for Add/Mul; for Sub swapped with a
//     negating post-op; Div with a broadcast dividend stays on the reference).
//   - Pow with a constant scalar exponent: eltwise_pow on the base's layout.
// int8 (Add: a residual that is not fused into a Conv; Mul: a
// squeeze-excitation gate, x * sigmoid(...)): each input is read as
// produced, int8 with its own scale or f32, and the output is int8 on its
// calibrated scale when a reader consumes int8 (f32 otherwise). The scales
// fold into the binary primitive's per-source scales: s_a / s_y and s_b / s_y
// for Add, so y = sat(round(s_a/s_y * q_a + s_b/s_y * q_b)); s_a * s_b / s_y
// on the first source for Mul. One rounding, as dequantize, f32 op and
// quantize would give (up to one unit where f32 reassociation moves a tie).
// A Mul's broadcast operand (the gate) is not worth quantizing: it stays f32.
// Div reads int8 too (s_a / s_y on the dividend, s_b on the divisor). An
// int8 value divided or multiplied by a positive constant scalar (attention's
// q / sqrt(d) in torch's MultiheadAttention) for an int8 reader is a view:
// the same integers on the scale s / c (s x c), no kernel and no rounding.
#include <cmath>
#include <limits>
#include <type_traits>

#include "ops/broadcast.hpp"
#include "ops/dnnl_kernel.hpp"

namespace octet {
namespace {

enum class Kind { add, sub, mul, div, pow, equal };

template <class T>
T wrap(T a, T b, Kind kind) {
  using U = std::make_unsigned_t<T>;
  const U ua = static_cast<U>(a), ub = static_cast<U>(b);
  switch (kind) {
    case Kind::add:
      return static_cast<T>(static_cast<U>(ua + ub));
    case Kind::sub:
      return static_cast<T>(static_cast<U>(ua - ub));
    default:
      return static_cast<T>(static_cast<U>(ua * ub));
  }
}

class Binary final : public Op {
 public:
  Binary(const Node& node, Kind kind) : Op(node), kind_(kind) { check_arity(node, 2, 2); }

  void infer(InferContext& ctx) const override {
    const DataType a = ctx.dtype(0), b = ctx.dtype(1);
    if (kind_ == Kind::pow) {
      if (a != DataType::f32 || (b != DataType::f32 && b != DataType::s32 && b != DataType::s64)) {
        node().fail(ErrorCode::unsupported, std::string("expects an f32 base and an f32, s32 or ") +
                                                "s64 exponent, got " + to_string(a) + " and " +
                                                to_string(b));
      }
    } else {
      if (a != b) {
        ctx.fail(std::string("inputs must have the same dtype, got ") + to_string(a) + " and " +
                 to_string(b));
      }
      if (kind_ != Kind::equal && a != DataType::f32 && a != DataType::s32 && a != DataType::s64) {
        node().fail(ErrorCode::unsupported,
                    std::string("supports f32, s32 and s64 inputs, got ") + to_string(a));
      }
    }
    const Shape out = broadcast_shapes(node(), ctx.shape(0), ctx.shape(1));
    check_output_size(ctx, out);
    ctx.set(0, out, kind_ == Kind::equal ? DataType::boolean : a);
  }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    const Tensor& a = *src[0];
    const Tensor& b = *src[1];
    Tensor& y = dst[0];
    if (kind_ == Kind::pow) {
      visit_dtype(b.dtype(), [&](auto e) {
        using E = decltype(e);
        loop<float, E, float>(a, b, y, [](float x, E p) {
          return static_cast<float>(std::pow(static_cast<double>(x), static_cast<double>(p)));
        });
      });
    } else if (kind_ == Kind::equal) {
      const bool boolean = a.dtype() == DataType::boolean;
      visit_dtype(a.dtype(), [&](auto t) {
        using T = decltype(t);
        loop<T, T, uint8_t>(a, b, y, [boolean](T x, T z) {
          return static_cast<uint8_t>(boolean ? (x != 0) == (z != 0) : x == z);
        });
      });
    } else if (a.dtype() == DataType::f32) {
      loop<float, float, float>(a, b, y, [k = kind_](float x, float z) {
        switch (k) {
          case Kind::add:
            return x + z;
          case Kind::sub:
            return x - z;
          case Kind::mul:
            return x * z;
          default:
            return x / z;
        }
      });
    } else if (a.dtype() == DataType::s32) {
      integer<int32_t>(a, b, y);
    } else {
      integer<int64_t>(a, b, y);
    }
  }

  // The residual Add and the gating Mul read int8 inputs directly (see the
  // top of this file).
  bool accepts_int8() const override {
    return kind_ == Kind::add || kind_ == Kind::mul || kind_ == Kind::div;
  }
  bool int8_passthrough_input(const std::vector<SrcInfo>& src, size_t i) const override {
    if (kind_ == Kind::div) return i == 0;
    return kind_ != Kind::mul || numel(src[i].shape) >= numel(src[1 - i].shape);
  }
  // A product of two non-negative values (a sigmoid gate on a rectified
  // value) is non-negative.
  bool output_never_negative(const std::vector<bool>& src) const override {
    return kind_ == Kind::mul && src.size() == 2 && src[0] && src[1];
  }

  std::unique_ptr<Kernel> make_kernel(KernelContext& ctx) const override {
    if (kind_ == Kind::pow) return make_pow_kernel(ctx);
    const Shape& out = ctx.dst[0].shape;
    if (kind_ == Kind::equal || ctx.dst[0].dtype != DataType::f32 ||
        plain_md(out, DataType::f32).is_zero() || (ctx.src[0].constant && ctx.src[1].constant)) {
      return make_reference_kernel(*this, ctx);
    }
    if (make_rescale_view(ctx)) return nullptr;
    // a: the input with the output's shape (oneDNN's src0); b: the other.
    size_t ia = 0, ib = 1;
    bool negate = false;
    if (ctx.src[0].shape != out) {
      if (ctx.src[1].shape != out || kind_ == Kind::div) return make_reference_kernel(*this, ctx);
      std::swap(ia, ib);
      negate = kind_ == Kind::sub;  // a - b == -(b - a), exactly
    }
    const bool same = ctx.src[ib].shape == out;
    // Equal shapes: the layout of the first input as produced. Broadcasting:
    // src0's layout as produced (a channel gate after a blocked conv), else
    // plain when oneDNN does not take that (see make_binary_pd).
    dnnl::memory::desc layout = plain_md(out, DataType::f32);
    for (size_t i : {ia, ib}) {
      if (!ctx.src[i].constant && !ctx.src[i].md.is_zero() && ctx.src[i].shape == out) {
        layout = with_dtype(ctx.src[i].md, DataType::f32);
        break;
      }
    }
    Shape b_dims(out.size() - ctx.src[ib].shape.size(), 1);
    b_dims.insert(b_dims.end(), ctx.src[ib].shape.begin(), ctx.src[ib].shape.end());
    // The dtype each input is read in (int8 as produced, else f32) and the
    // output's: int8 only for an Add whose reader consumes int8.
    auto read_dtype = [&](size_t i) {
      return ctx.src[i].have.is_int8() ? ctx.src[i].have.dtype : DataType::f32;
    };
    const QuantView y = accepts_int8() ? ctx.dst[0].int8 : QuantView{};
    dnnl::primitive_attr attr = default_attr();
    const int args[2] = {DNNL_ARG_SRC_0, DNNL_ARG_SRC_1};
    const size_t order[2] = {ia, ib};
    const float dst_scale = y.is_int8() ? y.scale : 1.f;
    float scales[2];
    for (size_t r = 0; r < 2; ++r) {
      const QuantView& have = ctx.src[order[r]].have;
      scales[r] = have.is_int8() ? have.scale : 1.f;
    }
    // Add: each source on its own scale; Mul: the product on the first; Div:
    // the quotient's scale on the dividend, the divisor on its own.
    if (kind_ == Kind::mul) {
      scales[0] *= scales[1];
      scales[1] = 1.f;
    } else if (kind_ != Kind::div) {
      scales[1] /= dst_scale;
    }
    scales[0] /= dst_scale;
    for (size_t r = 0; r < 2; ++r) {
      if (scales[r] != 1.f) attr.set_scales(args[r], 0, {scales[r]});
    }
    if (negate) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, -1.f, 0.f);
      attr.set_post_ops(ops);
    }
    const dnnl::algorithm alg = kind_ == Kind::add   ? dnnl::algorithm::binary_add
                                : kind_ == Kind::mul ? dnnl::algorithm::binary_mul
                                : kind_ == Kind::sub ? dnnl::algorithm::binary_sub
                                                     : dnnl::algorithm::binary_div;
    dnnl::memory::desc md_a, md_b, md_y;
    dnnl::binary::primitive_desc pd;
    // The chosen layout, then (broadcasting) plain, when oneDNN refuses it.
    for (const dnnl::memory::desc& l : {layout, plain_md(out, DataType::f32)}) {
      md_a = with_dtype(l, read_dtype(ia));
      md_b = same ? with_dtype(l, read_dtype(ib)) : plain_md(b_dims, read_dtype(ib));
      md_y = with_dtype(l, y.dtype);
      try {
        pd = dnnl::binary::primitive_desc(dnnl::binary::desc(alg, md_a, md_b, md_y), attr,
                                          ctx.engine);
        break;
      } catch (const dnnl::error&) {
        if (same || is_plain(l)) return make_reference_kernel(*this, ctx);
      }
    }
    auto kernel = std::make_unique<PrimitiveKernel>(ctx.engine, dnnl::binary(pd), impl_name(pd),
                                                    pd.scratchpad_desc().get_size());
    const dnnl::memory::desc mds[2] = {md_a, md_b};
    for (size_t r = 0; r < 2; ++r) {
      const size_t i = order[r];
      if (ctx.src[i].constant) {
        const dnnl::memory::desc own = plain_md(r == 0 ? out : b_dims, DataType::f32);
        kernel->set_const(args[r], reorder_constant(ctx, *ctx.src[i].constant, own, mds[r]));
      } else {
        // Same bytes as mds[r]; a broadcast input keeps its own rank (plain).
        ctx.src[i].want = same || r == 0 ? mds[r] : plain_md(ctx.src[i].shape, read_dtype(i));
        kernel->map_src(i, args[r], mds[r]);
      }
    }
    ctx.dst[0].md = md_y;
    ctx.dst[0].scale = y.is_int8() ? y.scale : 1.f;
    kernel->map_dst(0, DNNL_ARG_DST, md_y);
    return kernel;
  }

 private:
  // The view described at the top of this file, when it applies.
  bool make_rescale_view(KernelContext& ctx) const {
    if ((kind_ != Kind::div && kind_ != Kind::mul) || !ctx.dst[0].int8.is_int8()) return false;
    const size_t data = kind_ == Kind::mul && ctx.src[0].constant ? 1 : 0;
    const KernelSrc& x = ctx.src[data];
    const Tensor* c = ctx.src[1 - data].constant;
    if (!c || c->numel() != 1 || c->dtype() != DataType::f32 || x.constant || !x.have.is_int8() ||
        x.shape != ctx.dst[0].shape || x.md.is_zero()) {
      return false;
    }
    const float v = c->data<float>()[0];
    const float rescale = kind_ == Kind::div ? 1.f / v : v;
    if (!std::isnormal(rescale) || rescale < 0.f) return false;
    ctx.src[data].want = x.md;
    ctx.dst[0].md = x.md;
    ctx.dst[0].alias = static_cast<int>(data);
    ctx.dst[0].rescale = rescale;
    return true;
  }

  template <class A, class B, class R, class F>
  static void loop(const Tensor& a, const Tensor& b, Tensor& y, F f) {
    const A* pa = static_cast<const A*>(a.raw());
    const B* pb = static_cast<const B*>(b.raw());
    R* py = static_cast<R*>(y.raw());
    const size_t rank = y.rank();
    for_each_strided<2>(
        y.shape(), {broadcast_strides(a.shape(), rank), broadcast_strides(b.shape(), rank)}, {0, 0},
        [&](int64_t o, const std::array<int64_t, 2>& i) { py[o] = f(pa[i[0]], pb[i[1]]); });
  }

  template <class T>
  void integer(const Tensor& a, const Tensor& b, Tensor& y) const {
    if (kind_ != Kind::div) {
      loop<T, T, T>(a, b, y, [k = kind_](T x, T z) { return wrap(x, z, k); });
      return;
    }
    loop<T, T, T>(a, b, y, [this](T x, T z) {
      if (z == 0) node().fail(ErrorCode::invalid_argument, "integer division by zero");
      if (z == -1) return wrap(T(0), x, Kind::sub);  // INT_MIN / -1 wraps to INT_MIN
      return static_cast<T>(x / z);
    });
  }

  std::unique_ptr<Kernel> make_pow_kernel(KernelContext& ctx) const {
    const Tensor* e = ctx.src[1].constant;
    if (!e || e->numel() != 1 || ctx.dst[0].shape != ctx.src[0].shape) {
      return make_reference_kernel(*this, ctx);
    }
    double beta = 0;
    visit_dtype(e->dtype(), [&](auto t) {
      beta = static_cast<double>(*static_cast<const decltype(t)*>(e->raw()));
    });
    if (!std::isfinite(beta) || std::fabs(beta) > std::numeric_limits<float>::max()) {
      return make_reference_kernel(*this, ctx);
    }
    return make_eltwise_kernel(*this, ctx, dnnl::algorithm::eltwise_pow, 1.f,
                               static_cast<float>(beta));
  }

  Kind kind_;
};

}  // namespace

std::unique_ptr<Op> make_add(const Node& node) {
  return std::make_unique<Binary>(node, Kind::add);
}
std::unique_ptr<Op> make_sub(const Node& node) {
  return std::make_unique<Binary>(node, Kind::sub);
}
std::unique_ptr<Op> make_mul(const Node& node) {
  return std::make_unique<Binary>(node, Kind::mul);
}
std::unique_ptr<Op> make_div(const Node& node) {
  return std::make_unique<Binary>(node, Kind::div);
}
std::unique_ptr<Op> make_pow(const Node& node) {
  return std::make_unique<Binary>(node, Kind::pow);
}
std::unique_ptr<Op> make_equal(const Node& node) {
  return std::make_unique<Binary>(node, Kind::equal);
}

}  // namespace octet
