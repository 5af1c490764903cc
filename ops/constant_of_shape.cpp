// ConstantOfShape: a tensor of the shape given by input 0 (1-D s64, constant
// at prepare) filled with one value. The importer turns ONNX's `value` tensor
// attribute into attributes `value` (double or int64) and `dtype` ("f32",
// "s64", "s32", "s8", "u8", "bool"); absent: 0 and "f32". The value must be
// representable in the dtype (integral and in range for integer types; any
// nonzero value is true for bool). At most 2^31 output elements.
#include <cmath>
#include <cstring>
#include <limits>

#include "ops/broadcast.hpp"

namespace octet {
namespace {

// Whether `v` is an integer that T holds (2 * (max / 2 + 1) is max + 1, exact in double).
template <class T>
bool fits_integer(double v) {
  const double above = 2.0 * static_cast<double>(std::numeric_limits<T>::max() / 2 + 1);
  return std::trunc(v) == v && v >= static_cast<double>(std::numeric_limits<T>::min()) && v < above;
}

class ConstantOfShape final : public Op {
 public:
  explicit ConstantOfShape(const Node& node) : Op(node) {
    check_arity(node, 1, 1);
    const std::string name = node.attr_string("dtype", "f32");
    try {
      dtype_ = data_type_from_string(name);
    } catch (const Error& e) {
      node.fail(ErrorCode::invalid_model, std::string("attribute 'dtype': ") + e.what());
    }
    const auto it = node.attrs.find("value");
    const bool is_int = it != node.attrs.end() && std::holds_alternative<int64_t>(it->second);
    const int64_t ivalue = is_int ? std::get<int64_t>(it->second) : 0;
    const double value = node.attr_float("value", 0.0);
    visit_dtype(dtype_, [&](auto tag) {
      using T = decltype(tag);
      T v{};
      if (dtype_ == DataType::boolean) {
        v = static_cast<T>(is_int ? ivalue != 0 : value != 0.0);
      } else if constexpr (std::is_same_v<T, float>) {
        if (std::isfinite(value) && std::fabs(value) > std::numeric_limits<float>::max()) {
          node.fail(ErrorCode::invalid_model,
                    "attribute 'value' " + std::to_string(value) + " does not fit in f32");
        }
        v = is_int ? static_cast<float>(ivalue) : static_cast<float>(value);
      } else {
        const bool fits = is_int ? ivalue >= std::numeric_limits<T>::min() &&
                                       ivalue <= std::numeric_limits<T>::max()
                                 : fits_integer<T>(value);
        if (!fits) {
          node.fail(ErrorCode::invalid_model,
                    "attribute 'value' " +
                        (is_int ? std::to_string(ivalue) : std::to_string(value)) +
                        " is not representable as " + name);
        }
        v = is_int ? static_cast<T>(ivalue) : static_cast<T>(value);
      }
      std::memcpy(bytes_, &v, sizeof(T));
    });
  }

  void infer(InferContext& ctx) const override {
    if (ctx.shape(0).size() != 1) {
      ctx.fail("the shape input must be 1-D, got shape " + to_string(ctx.shape(0)));
    }
    const Shape out = constant_ints(ctx, 0, "the shape input");
    check_output_size(ctx, out);
    ctx.set(0, out, dtype_);
  }

  void reference(const std::vector<const Tensor*>&, std::vector<Tensor>& dst) const override {
    Tensor& y = dst[0];
    const size_t elem = size_of(dtype_);
    auto* out = static_cast<uint8_t*>(y.raw());
    const int64_t n = y.numel();
    for (int64_t i = 0; i < n; ++i) std::memcpy(out + i * elem, bytes_, elem);
  }

 private:
  DataType dtype_ = DataType::f32;
  unsigned char bytes_[8] = {};  // the value in dtype_'s representation
};

}  // namespace

std::unique_ptr<Op> make_constant_of_shape(const Node& node) {
  return std::make_unique<ConstantOfShape>(node);
}

}  // namespace octet
