// Concat: joins inputs (one dtype, any) along attribute `axis`; every other
// dim must match. Reference kernel only (in the models octet runs, Concat
// builds shape tensors and is folded at prepare).
#include <cstring>

#include "ops/broadcast.hpp"

namespace octet {
namespace {

class Concat final : public Op {
 public:
  explicit Concat(const Node& node) : Op(node) {
    const size_t n = node.inputs.empty() ? 1 : node.inputs.size();
    check_arity(node, n, n);  // at least one input, none omitted
    axis_ = node.attr_int("axis");
  }

  void infer(InferContext& ctx) const override {
    const Shape& first = ctx.shape(0);
    if (first.empty()) ctx.fail("cannot concatenate scalars");
    const int64_t axis = normalize_axis(node(), axis_, first.size());
    Shape out = first;
    out[axis] = 0;
    for (size_t i = 0; i < ctx.num_src(); ++i) {
      const Shape& s = ctx.shape(i);
      bool ok = s.size() == first.size() && ctx.dtype(i) == ctx.dtype(0);
      for (size_t d = 0; ok && d < s.size(); ++d) {
        ok = static_cast<int64_t>(d) == axis || s[d] == first[d];
      }
      if (!ok) {
        ctx.fail("input " + std::to_string(i) + " (" + to_string(ctx.dtype(i)) + " " +
                 to_string(s) + ") does not match input 0 (" + to_string(ctx.dtype(0)) + " " +
                 to_string(first) + ") outside axis " + std::to_string(axis));
      }
      if (s[axis] > kMaxElements) ctx.fail("input " + std::to_string(i) + " is too large");
      out[axis] += s[axis];
    }
    check_output_size(ctx, out);
    ctx.set(0, out, ctx.dtype(0));
  }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    Tensor& y = dst[0];
    const size_t axis = static_cast<size_t>(normalize_axis(node(), axis_, y.rank()));
    const size_t elem = size_of(y.dtype());
    int64_t outer = 1, inner = 1;
    for (size_t d = 0; d < y.rank(); ++d) {
      if (d < axis) outer *= y.dim(d);
      if (d > axis) inner *= y.dim(d);
    }
    const size_t row = static_cast<size_t>(y.dim(axis) * inner) * elem;  // bytes per outer index
    size_t at = 0;  // byte offset of the current input within a row
    for (const Tensor* x : src) {
      const size_t chunk = static_cast<size_t>(x->dim(axis) * inner) * elem;
      const auto* in = static_cast<const uint8_t*>(x->raw());
      auto* out = static_cast<uint8_t*>(y.raw()) + at;
      if (chunk) {
        for (int64_t o = 0; o < outer; ++o) std::memcpy(out + o * row, in + o * chunk, chunk);
      }
      at += chunk;
    }
  }

 private:
  int64_t axis_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_concat(const Node& node) {
  return std::make_unique<Concat>(node);
}

}  // namespace octet
