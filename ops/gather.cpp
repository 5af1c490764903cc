// Gather (ONNX): out = data indexed along `axis` by `indices` (s32 or s64;
// negative indices count from the end). Output shape
// data[:axis] + indices + data[axis+1:], dtype of data (any dtype: this is both
// BERT's embedding lookup and shape arithmetic).
// Reference kernel only: each gathered slice is one contiguous memcpy. An index
// out of range is a data-dependent error, reported at run time by an Error
// naming the node and the index. int8 data (ViT's class token picked from
// the final LayerNorm for the int8 head) moves as it is, on its scale, so no
// quantize step follows the Gather.
#include <cstring>

#include "ops/op.hpp"

namespace octet {
namespace {

class Gather final : public Op {
 public:
  explicit Gather(const Node& node) : Op(node) {
    if (node.inputs.size() != 2 || node.outputs.size() != 1) {
      node.fail(ErrorCode::invalid_model, "expects 2 inputs (data, indices) and 1 output");
    }
    axis_ = node.attr_int("axis", 0);
  }

  void infer(InferContext& ctx) const override {
    const Shape& data = ctx.shape(0);
    if (data.empty()) ctx.fail("expects data of rank >= 1");
    if (ctx.dtype(1) != DataType::s64 && ctx.dtype(1) != DataType::s32) {
      ctx.fail(std::string("expects s32 or s64 indices, got ") + to_string(ctx.dtype(1)));
    }
    const int64_t axis = normalize_axis(node(), axis_, data.size());
    Shape out(data.begin(), data.begin() + axis);
    out.insert(out.end(), ctx.shape(1).begin(), ctx.shape(1).end());
    out.insert(out.end(), data.begin() + axis + 1, data.end());
    ctx.set(0, out, ctx.dtype(0));
  }

  // Picks input 0's values.
  bool output_never_negative(const std::vector<bool>& src) const override {
    return !src.empty() && src[0];
  }

  // The indices (s32/s64) are never quantized: the planner quantizes f32 only.
  bool accepts_int8() const override { return true; }

  std::unique_ptr<Kernel> make_kernel(KernelContext& ctx) const override {
    if (!ctx.src[0].have.is_int8() || ctx.src[0].constant) return make_reference_kernel(*this, ctx);
    return make_int8_moving_kernel(*this, ctx);
  }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    if (src[1]->dtype() == DataType::s64) {
      gather(*src[0], src[1]->data<int64_t>(), src[1]->numel(), dst[0]);
    } else {
      gather(*src[0], src[1]->data<int32_t>(), src[1]->numel(), dst[0]);
    }
  }

 private:
  template <class Index>
  void gather(const Tensor& data, const Index* indices, int64_t count, Tensor& out) const {
    const Shape& s = data.shape();
    const int64_t axis = normalize_axis(node(), axis_, s.size());
    const int64_t len = s[axis];
    const int64_t outer = numel(Shape(s.begin(), s.begin() + axis));
    const size_t slice =
        static_cast<size_t>(numel(Shape(s.begin() + axis + 1, s.end()))) * size_of(data.dtype());
    const char* from = static_cast<const char*>(data.raw());
    char* to = static_cast<char*>(out.raw());
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < count; ++i) {
        int64_t index = static_cast<int64_t>(indices[i]);
        if (index < -len || index >= len) {
          node().fail(ErrorCode::invalid_argument,
                      "index " + std::to_string(index) + " (at position " + std::to_string(i) +
                          ") is out of range for axis " + std::to_string(axis) + " of size " +
                          std::to_string(len));
        }
        if (index < 0) index += len;
        if (slice == 0) continue;  // nothing to copy (and the pointers may be null)
        std::memcpy(to, from + static_cast<size_t>(o * len + index) * slice, slice);
        to += slice;
      }
    }
  }

  int64_t axis_;
};

}  // namespace

std::unique_ptr<Op> make_gather(const Node& node) {
  return std::make_unique<Gather>(node);
}

}  // namespace octet
