// Softmax with opset-13 semantics: normalizes along the single dimension `axis`
// (default -1). The node does not record its opset, so a model from opset < 13
// whose axis is not the last dim (the old semantics coerced the input to 2-D at
// `axis`) is the importer's to rewrite; for axis = -1, the common case, both
// definitions agree.
// oneDNN path: softmax_forward on plain layouts.
#include <algorithm>
#include <cmath>

#include "ops/dnnl_kernel.hpp"

namespace octet {
namespace {

class Softmax final : public Op {
 public:
  explicit Softmax(const Node& node) : Op(node) {
    if (node.inputs.size() != 1 || node.outputs.size() != 1) {
      node.fail(ErrorCode::invalid_model, "expects 1 input and 1 output");
    }
    axis_ = node.attr_int("axis", -1);
  }

  void infer(InferContext& ctx) const override {
    if (ctx.dtype(0) != DataType::f32) ctx.fail("expects an f32 input");
    normalize_axis(node(), axis_, ctx.shape(0).size());  // fails on a bad axis
    ctx.set(0, ctx.shape(0), DataType::f32);
  }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    const Shape& s = src[0]->shape();
    const int64_t axis = normalize_axis(node(), axis_, s.size());
    const int64_t len = s[axis];
    const int64_t outer = numel(Shape(s.begin(), s.begin() + axis));
    const int64_t inner = numel(Shape(s.begin() + axis + 1, s.end()));
    const float* x = src[0]->data<float>();
    float* y = dst[0].data<float>();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        const float* xs = x + o * len * inner + i;
        float* ys = y + o * len * inner + i;
        // Subtracting the max keeps exp() finite; the sum is kept in double.
        float mx = -INFINITY;
        for (int64_t j = 0; j < len; ++j) mx = std::max(mx, xs[j * inner]);
        double sum = 0;
        for (int64_t j = 0; j < len; ++j) sum += std::exp(static_cast<double>(xs[j * inner]) - mx);
        for (int64_t j = 0; j < len; ++j) {
          ys[j * inner] =
              static_cast<float>(std::exp(static_cast<double>(xs[j * inner]) - mx) / sum);
        }
      }
    }
  }

  bool output_never_negative(const std::vector<bool>&) const override { return true; }

  std::unique_ptr<Kernel> make_kernel(KernelContext& ctx) const override {
    const dnnl::memory::desc md = plain_md(ctx.src[0].shape, DataType::f32);
    if (md.is_zero() || ctx.src[0].constant) return make_reference_kernel(*this, ctx);
    const int axis = static_cast<int>(normalize_axis(node(), axis_, ctx.src[0].shape.size()));
    const dnnl::softmax_forward::desc desc(dnnl::prop_kind::forward_inference, md, axis);
    const dnnl::softmax_forward::primitive_desc pd(desc, default_attr(), ctx.engine);
    auto kernel = std::make_unique<PrimitiveKernel>(ctx.engine, dnnl::softmax_forward(pd),
                                                    impl_name(pd), pd.scratchpad_desc().get_size());
    ctx.src[0].want = md;
    ctx.dst[0].md = md;
    kernel->map_src(0, DNNL_ARG_SRC, md);
    kernel->map_dst(0, DNNL_ARG_DST, md);
    return kernel;
  }

 private:
  int64_t axis_;
};

}  // namespace

std::unique_ptr<Op> make_softmax(const Node& node) {
  return std::make_unique<Softmax>(node);
}

}  // namespace octet
