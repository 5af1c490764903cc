// Cast: converts to the dtype named by attribute `to` (ONNX TensorProto data
// type: 1 f32, 2 u8, 3 s8, 6 s32, 7 s64, 9 bool; others are unsupported).
// Conversions (defined for every input, unlike a bare static_cast):
//   float -> integer   truncates toward zero, saturates at the target's range,
//                      NaN -> 0 (ONNX leaves out-of-range casts undefined)
//   integer -> integer two's-complement wrap-around (numpy's behaviour)
//   x -> bool          x != 0 (NaN -> true);  bool -> x: 0 or 1
//   integer -> f32     nearest float
#include <cmath>
#include <limits>
#include <type_traits>

#include "ops/broadcast.hpp"

namespace octet {
namespace {

template <class To>
To from_float(float v) {
  if (std::isnan(v)) return 0;
  if constexpr (std::is_same_v<To, int64_t>) {
    // 2^63 is exactly representable as a float; INT64_MAX is not.
    if (v >= 9223372036854775808.0f) return std::numeric_limits<int64_t>::max();
    if (v <= -9223372036854775808.0f) return std::numeric_limits<int64_t>::min();
    return static_cast<int64_t>(v);
  } else {
    const double d = std::trunc(static_cast<double>(v));
    if (d >= static_cast<double>(std::numeric_limits<To>::max())) {
      return std::numeric_limits<To>::max();
    }
    if (d <= static_cast<double>(std::numeric_limits<To>::min())) {
      return std::numeric_limits<To>::min();
    }
    return static_cast<To>(d);
  }
}

template <class To, class From>
To convert(From v, bool from_bool, bool to_bool) {
  if (to_bool) return static_cast<To>(v != From(0));
  if (from_bool) return static_cast<To>(v != From(0) ? 1 : 0);
  if constexpr (std::is_same_v<From, To>) {
    return v;
  } else if constexpr (std::is_same_v<From, float>) {
    return from_float<To>(v);
  } else if constexpr (std::is_same_v<To, float>) {
    return static_cast<float>(v);
  } else {
    using U = std::make_unsigned_t<To>;  // modular narrowing, no UB
    return static_cast<To>(static_cast<U>(v));
  }
}

class Cast final : public Op {
 public:
  explicit Cast(const Node& node) : Op(node) {
    check_arity(node, 1, 1);
    const int64_t to = node.attr_int("to");
    switch (to) {
      case 1:
        to_ = DataType::f32;
        break;
      case 2:
        to_ = DataType::u8;
        break;
      case 3:
        to_ = DataType::s8;
        break;
      case 6:
        to_ = DataType::s32;
        break;
      case 7:
        to_ = DataType::s64;
        break;
      case 9:
        to_ = DataType::boolean;
        break;
      default:
        node.fail(ErrorCode::unsupported,
                  "attribute 'to' = " + std::to_string(to) +
                      " is not a supported type (1 f32, 2 u8, 3 s8, 6 s32, 7 s64, 9 bool)");
    }
  }

  void infer(InferContext& ctx) const override { ctx.set(0, ctx.shape(0), to_); }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    const Tensor& x = *src[0];
    Tensor& y = dst[0];
    const int64_t n = x.numel();
    const bool from_bool = x.dtype() == DataType::boolean, to_bool = to_ == DataType::boolean;
    visit_dtype(x.dtype(), [&](auto from_tag) {
      using From = decltype(from_tag);
      const From* in = static_cast<const From*>(x.raw());
      visit_dtype(to_, [&](auto to_tag) {
        using To = decltype(to_tag);
        To* out = static_cast<To*>(y.raw());
        for (int64_t i = 0; i < n; ++i) out[i] = convert<To, From>(in[i], from_bool, to_bool);
      });
    });
  }

 private:
  DataType to_ = DataType::f32;
};

}  // namespace

std::unique_ptr<Op> make_cast(const Node& node) {
  return std::make_unique<Cast>(node);
}

}  // namespace octet
