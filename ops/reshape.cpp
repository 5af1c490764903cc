// Reshape, Flatten, Squeeze, Unsqueeze: views. The output holds the input's
// bytes unchanged in row-major order under a new shape, so the reference is a
// single memcpy, and in a session the output aliases the input's buffer (no
// kernel runs at all).
//   Reshape    input 1 `shape` (s64, constant at prepare): 0 copies the input
//              dim (unless attribute allowzero = 1), one -1 is inferred.
//   Flatten    attribute axis (default 1, in [-rank, rank]) -> 2-D.
//   Squeeze    axes as attribute (opset < 13) or input 1 (opset >= 13,
//              constant at prepare); none: every size-1 dim.
//   Unsqueeze  axes likewise (required), relative to the output's rank.
#include <algorithm>
#include <cstring>

#include "ops/broadcast.hpp"

namespace octet {
namespace {

class View : public Op {
 public:
  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    if (dst[0].nbytes()) std::memcpy(dst[0].raw(), src[0]->raw(), dst[0].nbytes());
  }

  // int8 data passes through with its scale.
  bool accepts_int8() const override { return true; }

  // Input 0's values, reinterpreted.
  bool output_never_negative(const std::vector<bool>& src) const override {
    return !src.empty() && src[0];
  }

  // No kernel at all: on a plain layout the output is the input's bytes, so
  // the session lets the output alias the input's buffer.
  std::unique_ptr<Kernel> make_kernel(KernelContext& ctx) const override {
    if (ctx.src[0].constant) return make_reference_kernel(*this, ctx);
    const DataType dtype = ctx.src[0].have.dtype;
    ctx.src[0].want = plain_md(ctx.src[0].shape, dtype);
    ctx.dst[0].md = plain_md(ctx.dst[0].shape, dtype);
    ctx.dst[0].alias = 0;
    return nullptr;
  }

 protected:
  using Op::Op;

  // Squeeze/Unsqueeze: reads attribute `axes` (checked at model load) and
  // refuses it together with input 1.
  void read_axes_attr() {
    if (!node().has_attr("axes")) return;
    if (node().has_input(1)) {
      node().fail(ErrorCode::invalid_model, "axes are given both as attribute and as input");
    }
    has_axes_attr_ = true;
    axes_attr_ = node().attr_ints("axes");
  }

  // The axes of Squeeze/Unsqueeze from attribute or input 1, normalized to
  // [0, rank) and checked for duplicates; `present` false when there are none.
  std::vector<int64_t> axes(const InferContext& ctx, size_t rank, bool& present) const {
    std::vector<int64_t> v;
    present = true;
    if (has_axes_attr_) {
      v = axes_attr_;
    } else if (ctx.has(1)) {
      v = constant_ints(ctx, 1, "axes");
    } else {
      present = false;
    }
    for (int64_t& a : v) a = normalize_axis(node(), a, rank);
    std::vector<int64_t> sorted = v;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      ctx.fail("axes contain a duplicate");
    }
    return v;
  }

  bool has_axes_attr_ = false;
  std::vector<int64_t> axes_attr_;
};

class Reshape final : public View {
 public:
  explicit Reshape(const Node& node) : View(node) {
    check_arity(node, 2, 2);
    allowzero_ = node.attr_int("allowzero", 0);
    if (allowzero_ != 0 && allowzero_ != 1) {
      node.fail(ErrorCode::invalid_model,
                "attribute 'allowzero' must be 0 or 1, got " + std::to_string(allowzero_));
    }
  }

  void infer(InferContext& ctx) const override {
    if (ctx.shape(1).size() != 1) {
      ctx.fail("the shape input must be 1-D, got shape " + to_string(ctx.shape(1)));
    }
    const Shape& in = ctx.shape(0);
    const Shape target = constant_ints(ctx, 1, "the target shape");
    Shape out = target;
    int64_t infer_at = -1, known = 1;  // product of the other dims, saturated
    bool zero = false, huge = false;
    for (size_t i = 0; i < out.size(); ++i) {
      if (out[i] == 0 && !allowzero_) {
        if (i >= in.size()) {
          ctx.fail("target shape " + to_string(target) + " copies dim " + std::to_string(i) +
                   " of an input of rank " + std::to_string(in.size()));
        }
        out[i] = in[i];
      }
      if (out[i] == -1) {
        if (infer_at >= 0) ctx.fail("target shape " + to_string(target) + " has more than one -1");
        infer_at = static_cast<int64_t>(i);
      } else if (out[i] < 0) {
        ctx.fail("target shape " + to_string(target) + " has a negative dim");
      } else if (out[i] == 0) {
        zero = true;
      } else if (!huge && known <= kMaxElements / out[i]) {
        known *= out[i];
      } else {
        huge = true;
      }
    }
    const int64_t total = numel(in);
    const bool ok = infer_at >= 0 ? !zero && !huge && total % known == 0
                                  : (zero ? total == 0 : !huge && known == total);
    if (!ok) {
      ctx.fail("cannot reshape " + to_string(in) + " (" + std::to_string(total) + " elements) to " +
               to_string(target) + (allowzero_ ? " with allowzero" : ""));
    }
    if (infer_at >= 0) out[infer_at] = total / known;
    ctx.set(0, out, ctx.dtype(0));
  }

 private:
  int64_t allowzero_ = 0;
};

class Flatten final : public View {
 public:
  explicit Flatten(const Node& node) : View(node) {
    check_arity(node, 1, 1);
    axis_ = node.attr_int("axis", 1);
  }

  void infer(InferContext& ctx) const override {
    const Shape& in = ctx.shape(0);
    const int64_t rank = static_cast<int64_t>(in.size());
    if (axis_ < -rank || axis_ > rank) {
      ctx.fail("attribute 'axis' = " + std::to_string(axis_) + " is out of range for rank " +
               std::to_string(rank));
    }
    const int64_t axis = axis_ < 0 ? axis_ + rank : axis_;
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < rank; ++i) (i < axis ? outer : inner) *= in[i];
    ctx.set(0, {outer, inner}, ctx.dtype(0));
  }

 private:
  int64_t axis_ = 1;
};

class Squeeze final : public View {
 public:
  explicit Squeeze(const Node& node) : View(node) {
    check_arity(node, 1, 2);
    read_axes_attr();
  }

  void infer(InferContext& ctx) const override {
    const Shape& in = ctx.shape(0);
    bool present = false;
    const std::vector<int64_t> ax = axes(ctx, in.size(), present);
    std::vector<bool> drop(in.size(), false);
    for (int64_t a : ax) {
      if (in[a] != 1) {
        ctx.fail("cannot squeeze axis " + std::to_string(a) + " of size " + std::to_string(in[a]) +
                 " (shape " + to_string(in) + ")");
      }
      drop[a] = true;
    }
    Shape out;
    for (size_t i = 0; i < in.size(); ++i) {
      if (!(present ? drop[i] : in[i] == 1)) out.push_back(in[i]);
    }
    ctx.set(0, out, ctx.dtype(0));
  }
};

class Unsqueeze final : public View {
 public:
  explicit Unsqueeze(const Node& node) : View(node) {
    check_arity(node, 1, 2);
    read_axes_attr();
    if (!has_axes_attr_ && !node.has_input(1)) {
      node.fail(ErrorCode::invalid_model,
                "expects axes either as attribute (opset < 13) or as input 1 (opset >= 13)");
    }
  }

  void infer(InferContext& ctx) const override {
    const Shape& in = ctx.shape(0);
    const size_t count =
        has_axes_attr_ ? axes_attr_.size() : static_cast<size_t>(numel(ctx.shape(1)));
    const size_t rank = in.size() + count;
    bool present = false;
    const std::vector<int64_t> ax = axes(ctx, rank, present);
    std::vector<bool> inserted(rank, false);
    for (int64_t a : ax) inserted[a] = true;
    Shape out;
    size_t next = 0;
    for (size_t i = 0; i < rank; ++i) out.push_back(inserted[i] ? 1 : in[next++]);
    ctx.set(0, out, ctx.dtype(0));
  }
};

}  // namespace

std::unique_ptr<Op> make_reshape(const Node& node) {
  return std::make_unique<Reshape>(node);
}
std::unique_ptr<Op> make_flatten(const Node& node) {
  return std::make_unique<Flatten>(node);
}
std::unique_ptr<Op> make_squeeze(const Node& node) {
  return std::make_unique<Squeeze>(node);
}
std::unique_ptr<Op> make_unsqueeze(const Node& node) {
  return std::make_unique<Unsqueeze>(node);
}

}  // namespace octet
