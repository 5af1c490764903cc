// Slice (opset 10+): inputs data, starts, ends, [axes], [steps] (s32 or s64,
// constant at prepare); any data dtype. Per ONNX: negative starts/ends count
// from the end, then clamp to [0, dim] (step > 0) or [-1, dim - 1] for ends
// and [0, dim - 1] for starts (step < 0); steps may be negative, not 0.
#include <algorithm>
#include <limits>

#include "ops/broadcast.hpp"

namespace octet {
namespace {

struct SliceDims {
  Shape out;
  std::vector<int64_t> start, step;  // per input dim
};

class Slice final : public Op {
 public:
  explicit Slice(const Node& node) : Op(node) {
    if (node.has_attr("starts") || node.has_attr("ends")) {
      node.fail(ErrorCode::unsupported,
                "starts/ends as attributes (opset < 10) are not supported; expected inputs");
    }
    check_arity(node, 3, 5);
  }

  void infer(InferContext& ctx) const override {
    std::vector<std::vector<int64_t>> params;
    const char* names[4] = {"starts", "ends", "axes", "steps"};
    for (size_t i = 1; i < 5; ++i) {
      if (ctx.has(i)) {
        if (ctx.shape(i).size() != 1) {
          ctx.fail(std::string(names[i - 1]) + " must be 1-D, got shape " +
                   to_string(ctx.shape(i)));
        }
        params.push_back(constant_ints(ctx, i, names[i - 1]));
      } else {
        params.emplace_back();
      }
    }
    const SliceDims d = compute(ctx.shape(0), params, ctx.has(3), ctx.has(4));
    ctx.set(0, d.out, ctx.dtype(0));
  }

  // Moves, picks or copies input 0's values.
  bool output_never_negative(const std::vector<bool>& src) const override {
    return !src.empty() && src[0];
  }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    std::vector<std::vector<int64_t>> params;
    for (size_t i = 1; i < 5; ++i) {
      const bool has = i < src.size() && src[i];
      params.push_back(has ? read_ints(node(), *src[i], "a slice parameter")
                           : std::vector<int64_t>());
    }
    const bool has_axes = src.size() > 3 && src[3], has_steps = src.size() > 4 && src[4];
    const SliceDims d = compute(src[0]->shape(), params, has_axes, has_steps);
    const std::vector<int64_t> in_strides = row_major_strides(src[0]->shape());
    std::vector<int64_t> strides(in_strides.size());
    int64_t base = 0;
    for (size_t i = 0; i < strides.size(); ++i) {
      strides[i] = in_strides[i] * d.step[i];
      if (d.out[i] > 0) base += in_strides[i] * d.start[i];
    }
    strided_copy(dst[0].raw(), src[0]->raw(), d.out, strides, base, size_of(src[0]->dtype()));
  }

 private:
  // params: starts, ends, axes, steps.
  SliceDims compute(const Shape& in, const std::vector<std::vector<int64_t>>& params, bool has_axes,
                    bool has_steps) const {
    const std::vector<int64_t>& starts = params[0];
    const std::vector<int64_t>& ends = params[1];
    const size_t n = starts.size();
    const size_t rank = in.size();
    auto fail = [&](const std::string& msg) { node().fail(ErrorCode::invalid_argument, msg); };
    if (ends.size() != n || (has_axes && params[2].size() != n) ||
        (has_steps && params[3].size() != n)) {
      fail("starts, ends, axes and steps must have the same length");
    }
    SliceDims d{in, std::vector<int64_t>(rank, 0), std::vector<int64_t>(rank, 1)};
    std::vector<bool> seen(rank, false);
    for (size_t k = 0; k < n; ++k) {
      int64_t axis = has_axes ? params[2][k] : static_cast<int64_t>(k);
      const int64_t r = static_cast<int64_t>(rank);
      if (axis < -r || axis >= r) {
        fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
      }
      if (axis < 0) axis += r;
      if (seen[axis]) fail("axis " + std::to_string(axis) + " is sliced twice");
      seen[axis] = true;
      const int64_t step = has_steps ? params[3][k] : 1;
      if (step == 0) fail("steps must not be 0");
      const int64_t dim = in[axis];
      int64_t start = starts[k], end = ends[k];
      if (start < 0) start += dim;  // no overflow: start < 0 <= dim
      if (end < 0) end += dim;
      int64_t count;
      if (dim == 0) {
        count = 0;
      } else if (step > 0) {
        start = std::clamp<int64_t>(start, 0, dim);
        end = std::clamp<int64_t>(end, 0, dim);
        count = end > start ? 1 + (end - start - 1) / step : 0;
      } else {
        start = std::clamp<int64_t>(start, 0, dim - 1);
        end = std::clamp<int64_t>(end, -1, dim - 1);
        const int64_t mag = step == std::numeric_limits<int64_t>::min()
                                ? std::numeric_limits<int64_t>::max()
                                : -step;
        count = start > end ? 1 + (start - end - 1) / mag : 0;
      }
      d.out[axis] = count;
      d.start[axis] = count > 0 ? start : 0;
      d.step[axis] = count > 1 ? step : 1;  // |step| <= dim here: strides cannot overflow
    }
    return d;
  }
};

}  // namespace

std::unique_ptr<Op> make_slice(const Node& node) {
  return std::make_unique<Slice>(node);
}

}  // namespace octet
