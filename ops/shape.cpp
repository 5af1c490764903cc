// Shape: the input's shape as a 1-D s64 tensor, optionally the dims
// [start, end) (opset 15 attributes; negative values count from the end,
// then clamp to [0, rank]). infer() also computes the value, so the session
// treats the output as a constant and folds what depends on it.
#include <algorithm>
#include <cstring>

#include "ops/broadcast.hpp"

namespace octet {
namespace {

class ShapeOp final : public Op {
 public:
  explicit ShapeOp(const Node& node) : Op(node) {
    check_arity(node, 1, 1);
    start_ = node.attr_int("start", 0);
    has_end_ = node.has_attr("end");
    end_ = node.attr_int("end", 0);
  }

  void infer(InferContext& ctx) const override {
    const Shape dims = slice(ctx.shape(0));
    ctx.set(0, {static_cast<int64_t>(dims.size())}, DataType::s64);
    if (ctx.dst_value.empty()) ctx.dst_value.resize(1);
    Tensor value(DataType::s64, {static_cast<int64_t>(dims.size())});
    if (!dims.empty()) std::memcpy(value.raw(), dims.data(), dims.size() * sizeof(int64_t));
    ctx.dst_value[0] = value;
  }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    const Shape dims = slice(src[0]->shape());
    if (!dims.empty()) std::memcpy(dst[0].raw(), dims.data(), dims.size() * sizeof(int64_t));
  }

 private:
  Shape slice(const Shape& shape) const {
    const int64_t rank = static_cast<int64_t>(shape.size());
    auto clamp = [rank](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank); };
    const int64_t begin = clamp(start_), end = has_end_ ? clamp(end_) : rank;
    return begin < end ? Shape(shape.begin() + begin, shape.begin() + end) : Shape{};
  }

  int64_t start_ = 0, end_ = 0;
  bool has_end_ = false;
};

}  // namespace

std::unique_ptr<Op> make_shape(const Node& node) {
  return std::make_unique<ShapeOp>(node);
}

}  // namespace octet
