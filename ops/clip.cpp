// Clip: Y = min(max(X, min), max), elementwise.
//   opset >= 11: inputs X, [min], [max] (scalars of X's dtype, either omitted);
//   opset < 11:  attributes min, max (floats, defaults -/+ 3.402823e38).
// An omitted bound does not clip. When min > max every value becomes max
// (opset 13's wording; it is what min(max(x, lo), hi) gives anyway).
// f32 and the integer dtypes (opset 12). oneDNN path: eltwise_clip_v2 on the
// input's layout as produced (f32, bounds known at prepare); the reference
// kernel otherwise (bounds computed at run time, integer data).
#include <algorithm>
#include <limits>

#include "ops/broadcast.hpp"

namespace octet {
namespace {

class Clip final : public Op {
 public:
  explicit Clip(const Node& node) : Op(node) {
    check_arity(node, 1, 3);
    attr_bounds_ = node.has_attr("min") || node.has_attr("max");
    if (attr_bounds_ && node.inputs.size() > 1) {
      node.fail(ErrorCode::invalid_model,
                "has min/max both as attributes (opset < 11) and as inputs (opset >= 11)");
    }
    attr_min_ = node.attr_float("min", -std::numeric_limits<float>::max());
    attr_max_ = node.attr_float("max", std::numeric_limits<float>::max());
  }

  void infer(InferContext& ctx) const override {
    const DataType dtype = ctx.dtype(0);
    if (dtype == DataType::boolean) ctx.fail("does not clip boolean tensors");
    if (attr_bounds_ && dtype != DataType::f32) {
      ctx.fail(std::string("min/max attributes need an f32 input, got ") + to_string(dtype));
    }
    const char* names[3] = {"", "min", "max"};
    for (size_t i = 1; i < 3; ++i) {
      if (!ctx.has(i)) continue;
      if (ctx.dtype(i) != dtype || numel(ctx.shape(i)) != 1 || ctx.shape(i).size() > 1) {
        ctx.fail(std::string(names[i]) + " must be a scalar of the input's dtype " +
                 to_string(dtype) + ", got " + to_string(ctx.dtype(i)) + " of shape " +
                 to_string(ctx.shape(i)));
      }
    }
    ctx.set(0, ctx.shape(0), dtype);
  }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    visit_dtype(src[0]->dtype(), [&](auto tag) {
      using T = decltype(tag);
      T lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
      if (attr_bounds_) {
        lo = static_cast<T>(attr_min_);
        hi = static_cast<T>(attr_max_);
      }
      if (src.size() > 1 && src[1]) lo = *src[1]->template data<T>();
      if (src.size() > 2 && src[2]) hi = *src[2]->template data<T>();
      const T* x = src[0]->template data<T>();
      T* y = dst[0].template data<T>();
      const int64_t n = src[0]->numel();
      for (int64_t i = 0; i < n; ++i) {
        const T v = x[i] < lo ? lo : x[i];  // NaN stays NaN
        y[i] = v > hi ? hi : v;
      }
    });
  }

  // min(max(x, lo), hi) >= min(lo, hi): never negative when min is given and
  // >= 0 and max, if given, is >= 0 too (min > max gives max everywhere).
  bool output_never_negative(const std::vector<bool>& src) const override {
    if (attr_bounds_) return attr_min_ >= 0 && attr_max_ >= 0;
    const bool min_ok = node().has_input(1) && src[1];
    const bool max_ok = !node().has_input(2) || src[2];
    return min_ok && max_ok;
  }

  std::unique_ptr<Kernel> make_kernel(KernelContext& ctx) const override {
    if (ctx.src[0].dtype != DataType::f32) return make_reference_kernel(*this, ctx);
    float lo = attr_bounds_ ? static_cast<float>(attr_min_) : -std::numeric_limits<float>::max();
    float hi = attr_bounds_ ? static_cast<float>(attr_max_) : std::numeric_limits<float>::max();
    for (size_t i = 1; i < ctx.src.size(); ++i) {
      if (!ctx.src[i].present) continue;
      if (!ctx.src[i].constant) return make_reference_kernel(*this, ctx);
      (i == 1 ? lo : hi) = *ctx.src[i].constant->data<float>();
    }
    lo = std::min(lo, hi);  // min > max: every value becomes max
    return make_eltwise_kernel(*this, ctx, dnnl::algorithm::eltwise_clip_v2, lo, hi);
  }

 private:
  bool attr_bounds_ = false;
  double attr_min_ = 0, attr_max_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_clip(const Node& node) {
  return std::make_unique<Clip>(node);
}

}  // namespace octet
