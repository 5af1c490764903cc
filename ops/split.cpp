// Split: cuts `input` along `axis` (default 0, negative counts from the end)
// into the node's outputs, of the lengths given by `split`: an input
// (opset 13+, s64, known at prepare) or an attribute (opset < 13). Without
// it the outputs are equal, and the axis must divide evenly, unless
// num_outputs (opset 18) is given: then each is ceil(dim / n) long and the
// last one takes what is left. Any dtype.
// oneDNN path (f32 and int8 data): one reorder per output, from its part of
// the input read in the layout its producer wrote to a plain output. int8
// data is cut as it is: each output keeps the input's scale, so a Split
// between int8 layers needs no dequantize.
#include <algorithm>

#include "ops/broadcast.hpp"
#include "ops/dnnl_kernel.hpp"

namespace octet {
namespace {

// One reorder per output, from a region of the input.
class SplitKernel final : public Kernel {
 public:
  explicit SplitKernel(const dnnl::engine& engine) : engine_(engine) {}

  void add(const dnnl::memory::desc& region, const dnnl::memory::desc& dst) {
    const dnnl::reorder::primitive_desc pd(engine_, region, engine_, dst, default_attr());
    if (impl_.empty()) impl_ = "reorders:" + impl_name(pd);
    scratchpad_bytes_ = std::max(scratchpad_bytes_, pd.scratchpad_desc().get_size());
    parts_.push_back({dnnl::reorder(pd), region, dst, {}});
  }
  void skip() { parts_.push_back({}); }  // an empty output

  void bind(const std::vector<const void*>& src, const std::vector<void*>& dst,
            void* scratchpad) override {
    dnnl::memory scratch;
    if (scratchpad_bytes_ > 0) {
      const dnnl::memory::desc md({static_cast<dnnl::memory::dim>(scratchpad_bytes_)},
                                  dnnl::memory::data_type::u8, dnnl::memory::format_tag::a);
      scratch = dnnl::memory(md, engine_, scratchpad);
    }
    for (size_t k = 0; k < parts_.size(); ++k) {
      Part& p = parts_[k];
      if (!p.reorder) continue;
      p.args = {{DNNL_ARG_FROM, dnnl::memory(p.region, engine_, const_cast<void*>(src.at(0)))},
                {DNNL_ARG_TO, dnnl::memory(p.dst, engine_, dst.at(k))}};
      if (scratchpad_bytes_ > 0) p.args[DNNL_ARG_SCRATCHPAD] = scratch;
    }
  }

  void execute(dnnl::stream& stream) override {
    for (Part& p : parts_) {
      if (p.reorder) p.reorder.execute(stream, p.args);
    }
  }
  std::string name() const override { return impl_.empty() ? "reorders" : impl_; }
  size_t scratchpad_bytes() const override { return scratchpad_bytes_; }

 private:
  struct Part {
    dnnl::reorder reorder;
    dnnl::memory::desc region, dst;
    std::unordered_map<int, dnnl::memory> args;
  };
  dnnl::engine engine_;
  std::vector<Part> parts_;
  std::string impl_;
  size_t scratchpad_bytes_ = 0;
};

class Split final : public Op {
 public:
  explicit Split(const Node& node) : Op(node) {
    if (node.outputs.empty()) node.fail(ErrorCode::invalid_model, "expects at least one output");
    check_arity(node, 1, node.has_attr("split") ? 1 : 2, node.outputs.size());
    axis_ = node.attr_int("axis", 0);
    split_attr_ = node.attr_ints("split", {});
    num_outputs_ = node.attr_int("num_outputs", 0);
    if (node.has_attr("num_outputs") && num_outputs_ != static_cast<int64_t>(node.outputs.size())) {
      node.fail(ErrorCode::invalid_model, "num_outputs is " + std::to_string(num_outputs_) +
                                              " but the node has " +
                                              std::to_string(node.outputs.size()) + " outputs");
    }
  }

  void infer(InferContext& ctx) const override {
    const Shape& in = ctx.shape(0);
    const std::vector<int64_t> split =
        ctx.has(1) ? constant_ints(ctx, 1, "split") : std::vector<int64_t>();
    const std::vector<int64_t> lengths = lengths_of(in, split);
    const size_t axis = static_cast<size_t>(normalize_axis(node(), axis_, in.size()));
    for (size_t k = 0; k < lengths.size(); ++k) {
      Shape out = in;
      out[axis] = lengths[k];
      ctx.set(k, out, ctx.dtype(0));
    }
  }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    const Tensor& x = *src[0];
    const size_t axis = static_cast<size_t>(normalize_axis(node(), axis_, x.rank()));
    const std::vector<int64_t> strides = row_major_strides(x.shape());
    int64_t at = 0;  // start of the current output along the axis
    for (Tensor& y : dst) {
      strided_copy(y.raw(), x.raw(), y.shape(), strides, at * strides[axis], size_of(x.dtype()));
      at += y.dim(axis);
    }
  }

  bool accepts_int8() const override { return true; }

  std::unique_ptr<Kernel> make_kernel(KernelContext& ctx) const override {
    const QuantView have = ctx.src[0].have;
    const DataType dtype = have.is_int8() ? have.dtype : ctx.src[0].dtype;
    const Shape& in = ctx.src[0].shape;
    if (ctx.src[0].constant || ctx.src[0].md.is_zero() ||
        (dtype != DataType::f32 && !have.is_int8())) {
      return make_reference_kernel(*this, ctx);
    }
    const int axis = static_cast<int>(normalize_axis(node(), axis_, in.size()));
    // The input as produced, then plain (a part that splits a block of a
    // blocked layout cannot be described).
    for (const dnnl::memory::desc& src : {ctx.src[0].md, plain_md(in, dtype)}) {
      try {
        auto kernel = std::make_unique<SplitKernel>(ctx.engine);
        dnnl::memory::dims offsets(in.size(), 0);
        for (size_t k = 0; k < ctx.dst.size(); ++k) {
          const Shape& out = ctx.dst[k].shape;
          if (numel(out) == 0) {
            kernel->skip();
            continue;
          }
          kernel->add(src.submemory_desc(to_dnnl_dims(out), offsets), plain_md(out, dtype));
          offsets[axis] += out[axis];
        }
        ctx.src[0].want = src;
        for (size_t k = 0; k < ctx.dst.size(); ++k) {
          ctx.dst[k].md = plain_md(ctx.dst[k].shape, dtype);
          ctx.dst[k].scale = have.is_int8() ? have.scale : 1.f;
        }
        return kernel;
      } catch (const dnnl::error&) {
        // Try the next layout.
      }
    }
    return make_reference_kernel(*this, ctx);
  }

 private:
  std::vector<int64_t> lengths_of(const Shape& in, const std::vector<int64_t>& split_input) const {
    auto fail = [&](const std::string& m) { node().fail(ErrorCode::invalid_argument, m); };
    auto list = [](const std::vector<int64_t>& v) {
      std::string s = "[";
      for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
      return s + "]";
    };
    const size_t axis = static_cast<size_t>(normalize_axis(node(), axis_, in.size()));
    const int64_t dim = in[axis];
    const int64_t n = static_cast<int64_t>(node().outputs.size());
    std::vector<int64_t> split = node().has_attr("split") ? split_attr_ : split_input;
    if (split.empty()) {
      if (dim % n != 0 && num_outputs_ == 0) {
        fail("axis " + std::to_string(axis) + " of size " + std::to_string(dim) +
             " does not split evenly into " + std::to_string(n) + " outputs");
      }
      const int64_t part = (dim + n - 1) / n;  // opset 18: the last part takes the rest
      for (int64_t k = 0; k < n; ++k) split.push_back(std::clamp<int64_t>(dim - k * part, 0, part));
      return split;
    }
    if (static_cast<int64_t>(split.size()) != n) {
      fail("split has " + std::to_string(split.size()) + " lengths for " + std::to_string(n) +
           " outputs");
    }
    int64_t total = 0;
    for (int64_t v : split) {
      if (v < 0 || v > dim) fail("split " + list(split) + " has a negative or too large length");
      total += v;
    }
    if (total != dim) {
      fail("split " + list(split) + " adds up to " + std::to_string(total) + ", not the size " +
           std::to_string(dim) + " of axis " + std::to_string(axis));
    }
    return split;
  }

  int64_t axis_ = 0;
  std::vector<int64_t> split_attr_;
  int64_t num_outputs_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_split(const Node& node) {
  return std::make_unique<Split>(node);
}

}  // namespace octet
