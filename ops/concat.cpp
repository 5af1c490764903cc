// Concat: joins inputs (one dtype, any) along attribute `axis`; every other
// dim must match. Reference kernel for f32 and integer data (in the models
// octet runs, Concat mostly builds shape tensors and is folded at prepare).
// int8 data (inputs their producers wrote as s8/u8) is read as it is:
//   - every input int8 of one dtype and one scale: oneDNN's `concat` joins
//     the integers as they are (inputs read in their layouts as produced,
//     output in the layout oneDNN picks), and the output keeps that scale,
//     exactly as pooling keeps its input's;
//   - scales (or dtypes) differ and a reader wants the output in int8 (so it
//     has a calibrated range): each input is requantized straight into its
//     slice of the output on the output's own scale, one scaled `reorder`
//     per input (f32 inputs are quantized there too): q_out = sat(round(
//     q_in * s_in / s_out)), one rounding, saturating where the output's range
//     is narrower than an input's. oneDNN 2.6's concat takes no per-input
//     scales, hence the reorders;
//   - scales differ and every reader wants f32: the same reorders dequantize
//     each input into its slice of an f32 output (x = s_in * q_in, as the
//     session's dequantize steps would, without them).
// Only f32 inputs with no int8 reader take the reference kernel.
#include <algorithm>
#include <cstring>

#include "ops/broadcast.hpp"
#include "ops/dnnl_kernel.hpp"

namespace octet {
namespace {

// One scaled reorder per input into its slice of a plain output.
class ConcatReordersKernel final : public Kernel {
 public:
  explicit ConcatReordersKernel(const dnnl::engine& engine) : engine_(engine) {}

  void add(const dnnl::memory::desc& src, const dnnl::memory::desc& slice, float scale) {
    dnnl::primitive_attr attr = default_attr();
    if (scale != 1.f) attr.set_output_scales(0, {scale});
    const dnnl::reorder::primitive_desc pd(engine_, src, engine_, slice, attr);
    if (impl_.empty()) impl_ = "reorders:" + impl_name(pd);
    scratchpad_bytes_ = std::max(scratchpad_bytes_, pd.scratchpad_desc().get_size());
    parts_.push_back({dnnl::reorder(pd), src, slice, {}, {}, {}});
  }

  void bind(const std::vector<const void*>& src, const std::vector<void*>& dst,
            void* scratchpad) override {
    dnnl::memory scratch;
    if (scratchpad_bytes_ > 0) {
      const dnnl::memory::desc md({static_cast<dnnl::memory::dim>(scratchpad_bytes_)},
                                  dnnl::memory::data_type::u8, dnnl::memory::format_tag::a);
      scratch = dnnl::memory(md, engine_, scratchpad);
    }
    for (size_t i = 0; i < parts_.size(); ++i) {
      Part& p = parts_[i];
      p.from = dnnl::memory(p.src_md, engine_, const_cast<void*>(src.at(i)));
      p.to = dnnl::memory(p.slice_md, engine_, dst.at(0));
      p.args = {{DNNL_ARG_FROM, p.from}, {DNNL_ARG_TO, p.to}};
      if (scratchpad_bytes_ > 0) p.args[DNNL_ARG_SCRATCHPAD] = scratch;
    }
  }

  void execute(dnnl::stream& stream) override {
    for (Part& p : parts_) p.reorder.execute(stream, p.args);
  }
  std::string name() const override { return impl_; }
  size_t scratchpad_bytes() const override { return scratchpad_bytes_; }

 private:
  struct Part {
    dnnl::reorder reorder;
    dnnl::memory::desc src_md, slice_md;
    dnnl::memory from, to;
    std::unordered_map<int, dnnl::memory> args;
  };
  dnnl::engine engine_;
  std::vector<Part> parts_;
  std::string impl_;
  size_t scratchpad_bytes_ = 0;
};

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

  bool accepts_int8() const override { return true; }

  bool output_never_negative(const std::vector<bool>& src) const override {
    return !src.empty() && std::all_of(src.begin(), src.end(), [](bool b) { return b; });
  }

  std::unique_ptr<Kernel> make_kernel(KernelContext& ctx) const override {
    bool same_scale = true, any_int8 = false;
    for (size_t i = 0; i < ctx.src.size(); ++i) {
      if (ctx.src[i].constant || ctx.src[i].md.is_zero()) return make_reference_kernel(*this, ctx);
      const QuantView& h = ctx.src[i].have;
      same_scale = same_scale && h.is_int8() && h.dtype == ctx.src[0].have.dtype &&
                   h.scale == ctx.src[0].have.scale;
      any_int8 = any_int8 || h.is_int8();
    }
    const int axis = static_cast<int>(normalize_axis(node(), axis_, ctx.dst[0].shape.size()));
    try {
      if (same_scale) return make_int8_concat(ctx, axis);
      if (any_int8 || ctx.dst[0].int8.is_int8()) return make_rescale(ctx, axis);
    } catch (const dnnl::error&) {
      // A layout mix oneDNN does not take (nothing in ctx is set yet): the
      // f32 reference on dequantized inputs.
    }
    return make_reference_kernel(*this, ctx);
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
  // Every input int8 on one scale: oneDNN's concat joins the integers as they are.
  std::unique_ptr<Kernel> make_int8_concat(KernelContext& ctx, int axis) const {
    const QuantView have = ctx.src[0].have;
    const dnnl::memory::desc dst_any(to_dnnl_dims(ctx.dst[0].shape), to_dnnl(have.dtype),
                                     dnnl::memory::format_tag::any);
    std::vector<dnnl::memory::desc> src_mds;
    for (const KernelSrc& s : ctx.src) src_mds.push_back(s.md);
    const dnnl::concat::primitive_desc pd(dst_any, axis, src_mds, ctx.engine, default_attr());
    auto kernel = std::make_unique<PrimitiveKernel>(ctx.engine, dnnl::concat(pd), impl_name(pd),
                                                    pd.scratchpad_desc().get_size());
    for (size_t i = 0; i < ctx.src.size(); ++i) {
      kernel->map_src(i, DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), src_mds[i]);
    }
    ctx.dst[0].md = pd.dst_desc();
    ctx.dst[0].scale = have.scale;
    kernel->map_dst(0, DNNL_ARG_DST, pd.dst_desc());
    return kernel;
  }

  // Each input (int8 on its own scale, or f32) reordered into its slice of a
  // plain output: int8 on the output's calibrated scale when a reader wants
  // int8, else f32 (scale 1).
  std::unique_ptr<Kernel> make_rescale(KernelContext& ctx, int axis) const {
    const QuantView out = ctx.dst[0].int8;
    const dnnl::memory::desc dst = plain_md(ctx.dst[0].shape, out.dtype);
    if (dst.is_zero()) return make_reference_kernel(*this, ctx);
    auto kernel = std::make_unique<ConcatReordersKernel>(ctx.engine);
    dnnl::memory::dims offsets(ctx.dst[0].shape.size(), 0);
    for (size_t i = 0; i < ctx.src.size(); ++i) {
      const dnnl::memory::dims dims = to_dnnl_dims(ctx.src[i].shape);
      const float s_in = ctx.src[i].have.is_int8() ? ctx.src[i].have.scale : 1.f;
      kernel->add(ctx.src[i].md, dst.submemory_desc(dims, offsets), s_in / out.scale);
      offsets[axis] += dims[axis];
    }
    ctx.dst[0].md = dst;
    ctx.dst[0].scale = out.scale;
    return kernel;
  }

  int64_t axis_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_concat(const Node& node) {
  return std::make_unique<Concat>(node);
}

}  // namespace octet
