// Softmax. Two definitions, chosen by the attribute `coerce_2d`:
//   0 (absent; ONNX opset 13+): normalizes along the single dimension `axis`
//     (default -1);
//   1 (ONNX opsets 1-12, written by the importer for models of those opsets,
//     with an explicit axis, whose old default was 1): the input is viewed as
//     2-D [a_0 * ... * a_{axis-1}, a_axis * ... * a_{n-1}] and each row is
//     normalized, i.e. over all the dims from `axis` on together.
// Both are one kernel: softmax along the middle dim of [outer, len, inner],
// with inner = 1 for the 2-D form.
// oneDNN path: softmax_forward on plain layouts (the 2-D form on a 2-D view of
// the same bytes). When every reader of the output reads it in int8 (the
// probabilities before an int8 attention matmul), softmax_v2 writes u8 on
// the readers' scale itself instead of an f32 tensor and a quantize step;
// where oneDNN has that only as a reference implementation (AVX2 in 2.6)
// the f32 kernel and the quantize step are faster, and stay.
#include <algorithm>
#include <cmath>

#include "ops/dnnl_kernel.hpp"

namespace octet {
namespace {

struct SoftmaxDims {
  int64_t outer, len, inner;
};

class Softmax final : public Op {
 public:
  explicit Softmax(const Node& node) : Op(node) {
    if (node.inputs.size() != 1 || node.outputs.size() != 1) {
      node.fail(ErrorCode::invalid_model, "expects 1 input and 1 output");
    }
    axis_ = node.attr_int("axis", -1);
    const int64_t coerce = node.attr_int("coerce_2d", 0);
    if (coerce != 0 && coerce != 1) node.fail(ErrorCode::invalid_model, "coerce_2d must be 0 or 1");
    coerce_2d_ = coerce == 1;
  }

  void infer(InferContext& ctx) const override {
    if (ctx.dtype(0) != DataType::f32) ctx.fail("expects an f32 input");
    normalize_axis(node(), axis_, ctx.shape(0).size());  // fails on a bad axis
    ctx.set(0, ctx.shape(0), DataType::f32);
  }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    const auto [outer, len, inner] = dims(src[0]->shape());
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
    const Shape& shape = ctx.src[0].shape;
    const dnnl::memory::desc md = plain_md(shape, DataType::f32);
    if (md.is_zero() || ctx.src[0].constant) return make_reference_kernel(*this, ctx);
    // The primitive's view of the bytes: the tensor itself, or [outer, len]
    // normalized along dim 1 for the 2-D form.
    const SoftmaxDims d = dims(shape);
    const dnnl::memory::desc view = coerce_2d_ ? plain_md({d.outer, d.len}, DataType::f32) : md;
    const int axis = coerce_2d_ ? 1 : static_cast<int>(normalize_axis(node(), axis_, shape.size()));
    ctx.src[0].want = md;
    const QuantView y = ctx.dst[0].int8;
    if (y.is_int8()) {
      dnnl::primitive_attr attr = default_attr();
      attr.set_output_scales(0, {1.f / y.scale});
      const dnnl::memory::desc dst = with_dtype(view, y.dtype);
      const dnnl::softmax_v2_forward::primitive_desc pd(
          dnnl::softmax_v2_forward::desc(dnnl::prop_kind::forward_inference,
                                         dnnl::algorithm::softmax_accurate, view, dst, axis),
          attr, ctx.engine);
      if (impl_name(pd).rfind("ref", 0) != 0) {
        auto kernel =
            std::make_unique<PrimitiveKernel>(ctx.engine, dnnl::softmax_v2_forward(pd),
                                              impl_name(pd), pd.scratchpad_desc().get_size());
        ctx.dst[0].md = with_dtype(md, y.dtype);
        ctx.dst[0].scale = y.scale;
        kernel->map_src(0, DNNL_ARG_SRC, view);
        kernel->map_dst(0, DNNL_ARG_DST, dst);
        return kernel;
      }
    }
    const dnnl::softmax_forward::desc desc(dnnl::prop_kind::forward_inference, view, axis);
    const dnnl::softmax_forward::primitive_desc pd(desc, default_attr(), ctx.engine);
    auto kernel = std::make_unique<PrimitiveKernel>(ctx.engine, dnnl::softmax_forward(pd),
                                                    impl_name(pd), pd.scratchpad_desc().get_size());
    ctx.dst[0].md = md;
    kernel->map_src(0, DNNL_ARG_SRC, view);
    kernel->map_dst(0, DNNL_ARG_DST, view);
    return kernel;
  }

  bool writes_int8() const override { return true; }

 private:
  SoftmaxDims dims(const Shape& s) const {
    const int64_t axis = normalize_axis(node(), axis_, s.size());
    const int64_t outer = numel(Shape(s.begin(), s.begin() + axis));
    const int64_t inner = numel(Shape(s.begin() + axis + 1, s.end()));
    if (coerce_2d_) return {outer, s[axis] * inner, 1};
    return {outer, s[axis], inner};
  }

  int64_t axis_;
  bool coerce_2d_ = false;
};

}  // namespace

std::unique_ptr<Op> make_softmax(const Node& node) {
  return std::make_unique<Softmax>(node);
}

}  // namespace octet
