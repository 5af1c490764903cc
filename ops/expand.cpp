// Expand: broadcasts input 0 (any dtype) with the shape given by input 1 (s64,
// constant at prepare) in both directions, as numpy does: the output shape is
// broadcast(input shape, shape). At most 2^31 output elements.
#include "ops/broadcast.hpp"

namespace octet {
namespace {

class Expand final : public Op {
 public:
  explicit Expand(const Node& node) : Op(node) { check_arity(node, 2, 2); }

  void infer(InferContext& ctx) const override {
    if (ctx.shape(1).size() != 1) {
      ctx.fail("the shape input must be 1-D, got shape " + to_string(ctx.shape(1)));
    }
    const Shape target = constant_ints(ctx, 1, "the target shape");
    for (int64_t d : target) {
      if (d < 0) ctx.fail("target shape " + to_string(target) + " has a negative dim");
    }
    const Shape out = broadcast_shapes(node(), ctx.shape(0), target);
    check_output_size(ctx, out);
    ctx.set(0, out, ctx.dtype(0));
  }

  // Moves, picks or copies input 0's values.
  bool output_never_negative(const std::vector<bool>& src) const override {
    return !src.empty() && src[0];
  }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    const Tensor& x = *src[0];
    Tensor& y = dst[0];
    strided_copy(y.raw(), x.raw(), y.shape(), broadcast_strides(x.shape(), y.rank()), 0,
                 size_of(x.dtype()));
  }
};

}  // namespace

std::unique_ptr<Op> make_expand(const Node& node) {
  return std::make_unique<Expand>(node);
}

}  // namespace octet
