// Where: Y = cond ? X : Y2 elementwise, cond boolean, X and Y2 of one (any)
// dtype, all three broadcast multidirectionally. Reference kernel only: in the
// models octet runs it builds attention masks, which are small or folded.
#include "ops/broadcast.hpp"

namespace octet {
namespace {

class Where final : public Op {
 public:
  explicit Where(const Node& node) : Op(node) { check_arity(node, 3, 3); }

  void infer(InferContext& ctx) const override {
    if (ctx.dtype(0) != DataType::boolean) {
      ctx.fail(std::string("condition must be bool, got ") + to_string(ctx.dtype(0)));
    }
    if (ctx.dtype(1) != ctx.dtype(2)) {
      ctx.fail(std::string("X and Y must have the same dtype, got ") + to_string(ctx.dtype(1)) +
               " and " + to_string(ctx.dtype(2)));
    }
    const Shape out = broadcast_shapes(node(), broadcast_shapes(node(), ctx.shape(0), ctx.shape(1)),
                                       ctx.shape(2));
    check_output_size(ctx, out);
    ctx.set(0, out, ctx.dtype(1));
  }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    Tensor& y = dst[0];
    const size_t rank = y.rank();
    const uint8_t* c = static_cast<const uint8_t*>(src[0]->raw());
    visit_dtype(y.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* a = static_cast<const T*>(src[1]->raw());
      const T* b = static_cast<const T*>(src[2]->raw());
      T* out = static_cast<T*>(y.raw());
      for_each_strided<3>(
          y.shape(),
          {broadcast_strides(src[0]->shape(), rank), broadcast_strides(src[1]->shape(), rank),
           broadcast_strides(src[2]->shape(), rank)},
          {0, 0, 0}, [&](int64_t o, const std::array<int64_t, 3>& i) {
            out[o] = c[i[0]] ? a[i[1]] : b[i[2]];
          });
    });
  }
};

}  // namespace

std::unique_ptr<Op> make_where(const Node& node) {
  return std::make_unique<Where>(node);
}

}  // namespace octet
