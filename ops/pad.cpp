// Pad: grows (or, with negative pads, crops) every axis of `data`.
//   opset >= 11: inputs data, pads (s64 [2 x rank]: all begins, then all
//                ends; known at prepare), [constant_value] (a scalar of
//                data's dtype, default 0); attribute mode.
//   opset < 11:  attributes mode, pads, value (float, default 0).
// Modes, as numpy.pad: constant (the value), edge (the nearest edge value)
// and reflect (mirrored about the edge value, which is not repeated; pads
// longer than the axis keep reflecting back and forth). The axes input of
// opset 18 and the wrap mode of opset 19 are outside octet's opsets.
// Paths: constant mode on f32 or int8 data (the value known at prepare,
// 0 for int8) fills the output and copies the input into its interior with
// one oneDNN reorder, reading the input's layout as produced (nChw8c stays
// blocked when the channel pads keep the blocks aligned; only for 0, whose
// fill also keeps a blocked layout's padding zero). int8 data is padded as
// it is, on its own scale (0 is 0 on every symmetric scale), so a Pad
// between int8 layers needs no dequantize. edge and reflect move int8 data
// with the reference's index walk; everything else runs the reference.
#include <algorithm>
#include <cstring>

#include "ops/broadcast.hpp"
#include "ops/dnnl_kernel.hpp"

namespace octet {
namespace {

enum class PadMode { constant, edge, reflect };

// Per output index along one axis, the input index it reads (-1: the constant).
std::vector<int64_t> source_index(int64_t in, int64_t begin, int64_t out, PadMode mode) {
  std::vector<int64_t> src(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    int64_t i = o - begin;
    if (i < 0 || i >= in) {
      if (mode == PadMode::constant) {
        i = -1;
      } else if (mode == PadMode::edge) {
        i = std::clamp<int64_t>(i, 0, in - 1);
      } else if (in == 1) {
        i = 0;
      } else {  // reflect: period 2 (in - 1), folded back into [0, in)
        const int64_t period = 2 * (in - 1);
        i = ((i % period) + period) % period;
        if (i >= in) i = period - i;
      }
    }
    src[static_cast<size_t>(o)] = i;
  }
  return src;
}

// The padded copy of a row-major tensor of T.
template <class T>
void pad_rows(const T* x, T* y, const Shape& in, const Shape& out,
              const std::vector<int64_t>& begin, PadMode mode, T value) {
  const size_t rank = in.size();
  if (rank == 0) {
    y[0] = x[0];
    return;
  }
  if (numel(out) == 0) return;
  std::vector<std::vector<int64_t>> map(rank);
  for (size_t d = 0; d < rank; ++d) map[d] = source_index(in[d], begin[d], out[d], mode);
  const std::vector<int64_t> in_strides = row_major_strides(in);
  const int64_t width = out[rank - 1];
  const std::vector<int64_t>& inner = map[rank - 1];
  std::vector<int64_t> counter(rank - 1, 0);  // the output row being written
  for (T* row = y;; row += width) {
    int64_t base = 0;  // offset of the input row, or -1 when the row is all constant
    for (size_t d = 0; d + 1 < rank && base >= 0; ++d) {
      const int64_t i = map[d][static_cast<size_t>(counter[d])];
      base = i < 0 ? -1 : base + i * in_strides[d];
    }
    for (int64_t o = 0; o < width; ++o) {
      const int64_t i = inner[static_cast<size_t>(o)];
      row[o] = base < 0 || i < 0 ? value : x[base + i];
    }
    size_t d = rank - 1;
    while (d-- > 0) {
      if (++counter[d] < out[d]) break;
      counter[d] = 0;
    }
    if (d == static_cast<size_t>(-1)) return;
  }
}

// int8 data through pad_rows (edge and reflect), on plain layouts.
class Int8PadKernel final : public Kernel {
 public:
  Int8PadKernel(DataType dtype, Shape in, Shape out, std::vector<int64_t> begin, PadMode mode)
      : dtype_(dtype),
        in_(std::move(in)),
        out_(std::move(out)),
        begin_(std::move(begin)),
        mode_(mode) {}
  void bind(const std::vector<const void*>& src, const std::vector<void*>& dst, void*) override {
    src_ = src.at(0);
    dst_ = dst.at(0);
  }
  void execute(dnnl::stream&) override {
    if (dtype_ == DataType::s8) {
      pad_rows(static_cast<const int8_t*>(src_), static_cast<int8_t*>(dst_), in_, out_, begin_,
               mode_, int8_t{0});
    } else {
      pad_rows(static_cast<const uint8_t*>(src_), static_cast<uint8_t*>(dst_), in_, out_, begin_,
               mode_, uint8_t{0});
    }
  }
  std::string name() const override { return "loop:int8"; }

 private:
  DataType dtype_;
  Shape in_, out_;
  std::vector<int64_t> begin_;
  PadMode mode_;
  const void* src_ = nullptr;
  void* dst_ = nullptr;
};

// Constant mode: fill the output, then one reorder of the kept input region
// into its place.
class FillCopyKernel final : public Kernel {
 public:
  FillCopyKernel(const dnnl::engine& engine, const dnnl::memory::desc& src_region,
                 const dnnl::memory::desc& dst, const dnnl::memory::desc& dst_region, float value)
      : engine_(engine),
        src_md_(src_region),
        dst_md_(dst_region),
        bytes_(dst.get_size()),
        value_(value),
        f32_(dst.data_type() == dnnl::memory::data_type::f32) {
    if (src_region.is_zero()) return;  // nothing of the input is kept
    const dnnl::reorder::primitive_desc pd(engine, src_region, engine, dst_region, default_attr());
    impl_ = "fill+" + impl_name(pd);
    scratchpad_bytes_ = pd.scratchpad_desc().get_size();
    reorder_ = dnnl::reorder(pd);
  }

  void bind(const std::vector<const void*>& src, const std::vector<void*>& dst,
            void* scratchpad) override {
    dst_ = dst.at(0);
    if (!reorder_) return;
    args_ = {{DNNL_ARG_FROM, dnnl::memory(src_md_, engine_, const_cast<void*>(src.at(0)))},
             {DNNL_ARG_TO, dnnl::memory(dst_md_, engine_, dst_)}};
    if (scratchpad_bytes_ > 0) {
      const dnnl::memory::desc md({static_cast<dnnl::memory::dim>(scratchpad_bytes_)},
                                  dnnl::memory::data_type::u8, dnnl::memory::format_tag::a);
      args_[DNNL_ARG_SCRATCHPAD] = dnnl::memory(md, engine_, scratchpad);
    }
  }

  void execute(dnnl::stream& stream) override {
    if (value_ == 0.f || !f32_) {
      std::memset(dst_, 0, bytes_);
    } else {
      std::fill_n(static_cast<float*>(dst_), bytes_ / sizeof(float), value_);
    }
    if (reorder_) reorder_.execute(stream, args_);
  }
  std::string name() const override { return impl_; }
  size_t scratchpad_bytes() const override { return scratchpad_bytes_; }

 private:
  dnnl::engine engine_;
  dnnl::memory::desc src_md_, dst_md_;
  size_t bytes_;
  float value_;
  bool f32_;
  dnnl::reorder reorder_;
  std::unordered_map<int, dnnl::memory> args_;
  std::string impl_ = "fill";
  size_t scratchpad_bytes_ = 0;
  void* dst_ = nullptr;
};

class Pad final : public Op {
 public:
  explicit Pad(const Node& node) : Op(node) {
    legacy_ = node.has_attr("pads");
    if (legacy_) {
      check_arity(node, 1, 1);
      pads_attr_ = node.attr_ints("pads");
      value_attr_ = node.attr_float("value", 0.0);
    } else {
      if (node.inputs.size() == 4) {
        node.fail(ErrorCode::unsupported, "the axes input (opset 18) is not supported");
      }
      check_arity(node, 2, 3);
    }
    const std::string mode = node.attr_string("mode", "constant");
    if (mode == "constant") {
      mode_ = PadMode::constant;
    } else if (mode == "edge") {
      mode_ = PadMode::edge;
    } else if (mode == "reflect") {
      mode_ = PadMode::reflect;
    } else {
      node.fail(ErrorCode::unsupported,
                "mode '" + mode + "' is not supported (expected constant, reflect or edge)");
    }
  }

  void infer(InferContext& ctx) const override {
    const Shape& in = ctx.shape(0);
    const std::vector<int64_t> pads = legacy_ ? pads_attr_ : constant_ints(ctx, 1, "pads");
    if (legacy_ && ctx.dtype(0) != DataType::f32) {
      ctx.fail(std::string("the value attribute (opset < 11) needs f32 data, got ") +
               to_string(ctx.dtype(0)));
    }
    if (ctx.has(2) && (ctx.dtype(2) != ctx.dtype(0) || numel(ctx.shape(2)) != 1)) {
      ctx.fail(std::string("constant_value must be one value of the data's dtype ") +
               to_string(ctx.dtype(0)) + ", got " + to_string(ctx.dtype(2)) + " of shape " +
               to_string(ctx.shape(2)));
    }
    ctx.set(0, padded_shape(in, pads), ctx.dtype(0));
    check_output_size(ctx, ctx.dst_shape[0]);
  }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    const Tensor& x = *src[0];
    const std::vector<int64_t> pads = legacy_ ? pads_attr_ : read_ints(node(), *src[1], "pads");
    const std::vector<int64_t> begin(pads.begin(), pads.begin() + pads.size() / 2);
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T value = legacy_ ? static_cast<T>(value_attr_) : T{};
      if (src.size() > 2 && src[2]) value = *src[2]->template data<T>();
      pad_rows(x.template data<T>(), dst[0].template data<T>(), x.shape(), dst[0].shape(), begin,
               mode_, value);
    });
  }

  // Padding moves values (edge, reflect) or adds zeros: int8 data stays
  // int8 on its scale. A non-zero constant on int8 data reads f32.
  bool accepts_int8() const override { return true; }

  std::unique_ptr<Kernel> make_kernel(KernelContext& ctx) const override {
    const Shape& in = ctx.src[0].shape;
    const Shape& out = ctx.dst[0].shape;
    const std::vector<int64_t> pads =
        legacy_ ? pads_attr_ : read_ints(node(), *ctx.src[1].constant, "pads");
    const size_t rank = in.size();
    const std::vector<int64_t> begin(pads.begin(), pads.begin() + rank);
    const QuantView have = ctx.src[0].have;
    if (ctx.src[0].constant || ctx.src[0].md.is_zero() || numel(out) == 0) {
      return make_reference_kernel(*this, ctx);
    }
    if (mode_ != PadMode::constant) {
      if (!have.is_int8()) return make_reference_kernel(*this, ctx);
      ctx.src[0].want = plain_md(in, have.dtype);
      ctx.dst[0].md = plain_md(out, have.dtype);
      ctx.dst[0].scale = have.scale;
      return std::make_unique<Int8PadKernel>(have.dtype, in, out, begin, mode_);
    }
    float value = static_cast<float>(value_attr_);
    if (ctx.src.size() > 2 && ctx.src[2].present) {
      if (!ctx.src[2].constant || ctx.src[2].dtype != DataType::f32) {
        return make_reference_kernel(*this, ctx);
      }
      value = *ctx.src[2].constant->data<float>();
    }
    if (ctx.src[0].dtype != DataType::f32 || (have.is_int8() && value != 0.f)) {
      return make_reference_kernel(*this, ctx);
    }
    const DataType dtype = have.is_int8() ? have.dtype : DataType::f32;
    // The region of the input that is kept, and where it lands in the output.
    dnnl::memory::dims region(rank), src_at(rank), dst_at(rank);
    for (size_t d = 0; d < rank; ++d) {
      const int64_t end = pads[rank + d];
      region[d] = in[d] + std::min<int64_t>(begin[d], 0) + std::min<int64_t>(end, 0);
      src_at[d] = std::max<int64_t>(-begin[d], 0);
      dst_at[d] = std::max<int64_t>(begin[d], 0);
    }
    // The layout as produced, kept for the output when the fill is 0 (a
    // blocked layout's padding must stay zero), else a plain output; then
    // plain in and out.
    const dnnl::memory::desc produced = ctx.src[0].md, plain_in = plain_md(in, dtype),
                             plain_out = plain_md(out, dtype);
    std::vector<std::pair<dnnl::memory::desc, dnnl::memory::desc>> layouts;
    if (value == 0.f) layouts.push_back({produced, same_layout(produced, in, out, dtype)});
    layouts.push_back({produced, plain_out});
    layouts.push_back({plain_in, plain_out});
    for (const auto& [src, dst] : layouts) {
      if (dst.is_zero()) continue;
      try {
        auto kernel = std::make_unique<FillCopyKernel>(ctx.engine, region_md(src, region, src_at),
                                                       dst, region_md(dst, region, dst_at), value);
        ctx.src[0].want = src;
        ctx.dst[0].md = dst;
        ctx.dst[0].scale = have.is_int8() ? have.scale : 1.f;
        return kernel;
      } catch (const dnnl::error&) {
        // A region that splits a block of the layout: try the next pair.
      }
    }
    return make_reference_kernel(*this, ctx);
  }

 private:
  Shape padded_shape(const Shape& in, const std::vector<int64_t>& pads) const {
    const size_t rank = in.size();
    if (pads.size() != 2 * rank) {
      node().fail(ErrorCode::invalid_argument,
                  "pads has " + std::to_string(pads.size()) + " values for data of rank " +
                      std::to_string(rank) + " (expected " + std::to_string(2 * rank) + ")");
    }
    Shape out(rank);
    for (size_t d = 0; d < rank; ++d) {
      const int64_t b = pads[d], e = pads[rank + d];
      const int64_t limit = kMaxElements;
      if (b > limit || e > limit || b < -limit || e < -limit || in[d] + b + e < 0) {
        node().fail(ErrorCode::invalid_argument,
                    "pads " + std::to_string(b) + ", " + std::to_string(e) + " on axis " +
                        std::to_string(d) + " of size " + std::to_string(in[d]) +
                        " give a negative or huge size");
      }
      out[d] = in[d] + b + e;
      if (mode_ != PadMode::constant && out[d] > 0 &&
          in[d] + std::min<int64_t>(b, 0) + std::min<int64_t>(e, 0) <= 0) {
        node().fail(ErrorCode::invalid_argument, "mode edge/reflect cannot pad axis " +
                                                     std::to_string(d) +
                                                     ", which keeps no input values");
      }
    }
    return out;
  }

  // The layout of `md` (a tensor of dims `in`: plain, or a 4-D channel
  // layout a conv writes) for dims `out`; a zero md for any other layout.
  static dnnl::memory::desc same_layout(const dnnl::memory::desc& md, const Shape& in,
                                        const Shape& out, DataType dtype) {
    using tag = dnnl::memory::format_tag;
    if (md == plain_md(in, dtype)) return plain_md(out, dtype);
    if (in.size() != 4) return {};
    for (tag t : {tag::nChw8c, tag::nChw16c, tag::nhwc}) {
      if (md == dnnl::memory::desc(to_dnnl_dims(in), to_dnnl(dtype), t)) {
        return dnnl::memory::desc(to_dnnl_dims(out), to_dnnl(dtype), t);
      }
    }
    return {};
  }

  static dnnl::memory::desc region_md(const dnnl::memory::desc& md,
                                      const dnnl::memory::dims& region,
                                      const dnnl::memory::dims& at) {
    for (dnnl::memory::dim d : region) {
      if (d == 0) return dnnl::memory::desc();
    }
    return md.submemory_desc(region, at);
  }

  bool legacy_ = false;  // opset < 11: pads and value are attributes
  std::vector<int64_t> pads_attr_;
  double value_attr_ = 0;
  PadMode mode_ = PadMode::constant;
};

}  // namespace

std::unique_ptr<Op> make_pad(const Node& node) {
  return std::make_unique<Pad>(node);
}

}  // namespace octet
