#include "ops/op.hpp"

#include <cassert>

#include "ops/quantize.hpp"

namespace octet {

KernelContext::KernelContext(const Node& node_, const dnnl::engine& engine_,
                             ConstantCache* constants_, const std::vector<SrcInfo>& src_,
                             const std::vector<Shape>& dst_shape,
                             const std::vector<DataType>& dst_dtype,
                             const std::vector<dnnl::memory::desc>& src_md)
    : node(node_), engine(engine_), constants(constants_) {
  for (size_t i = 0; i < src_.size(); ++i) {
    KernelSrc s;
    static_cast<SrcInfo&>(s) = src_[i];
    if (i < src_md.size()) s.md = src_md[i];
    s.want = s.md;
    src.push_back(std::move(s));
  }
  for (size_t k = 0; k < dst_shape.size(); ++k) {
    KernelDst d;
    d.shape = dst_shape[k];
    d.dtype = dst_dtype[k];
    d.md = plain_md(d.shape, d.dtype);
    dst.push_back(std::move(d));
  }
}

void InferContext::set(size_t i, Shape shape, DataType dtype) {
  if (dst_shape.size() <= i) {
    dst_shape.resize(i + 1);
    dst_dtype.resize(i + 1, DataType::f32);
  }
  dst_shape[i] = std::move(shape);
  dst_dtype[i] = dtype;
}

void InferContext::fail(const std::string& message) const {
  node.fail(ErrorCode::invalid_argument, message);
}

dnnl::memory::data_type to_dnnl(DataType dtype) {
  using dt = dnnl::memory::data_type;
  switch (dtype) {
    case DataType::f32:
      return dt::f32;
    case DataType::s8:
      return dt::s8;
    case DataType::u8:
      return dt::u8;
    case DataType::s32:
      return dt::s32;
    default:
      return dt::undef;
  }
}

bool dnnl_supports(DataType dtype) {
  return to_dnnl(dtype) != dnnl::memory::data_type::undef;
}

dnnl::memory::dims to_dnnl_dims(const Shape& shape) {
  return dnnl::memory::dims(shape.begin(), shape.end());
}

dnnl::memory::desc plain_md(const Shape& shape, DataType dtype) {
  // oneDNN describes ranks 1..12 with positive dims; anything else stays ours.
  if (!dnnl_supports(dtype) || shape.empty() || shape.size() > 12) return {};
  for (int64_t d : shape) {
    if (d <= 0) return {};
  }
  dnnl::memory::dims strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return dnnl::memory::desc(to_dnnl_dims(shape), to_dnnl(dtype), strides);
}

bool is_plain(const dnnl::memory::desc& md) {
  if (md.is_zero()) return true;
  const dnnl_memory_desc_t& d = md.data;
  if (d.format_kind != dnnl_blocked || d.format_desc.blocking.inner_nblks != 0) return false;
  if (d.offset0 != 0) return false;
  int64_t stride = 1;
  for (int i = d.ndims; i-- > 0;) {
    if (d.format_desc.blocking.strides[i] != stride && d.dims[i] != 1) return false;
    stride *= d.dims[i];
  }
  return true;
}

dnnl::memory::desc with_dtype(const dnnl::memory::desc& md, DataType dtype) {
  if (md.is_zero()) return md;
  dnnl_memory_desc_t d = md.data;
  d.data_type = dnnl::memory::convert_to_c(to_dnnl(dtype));
  return dnnl::memory::desc(d);
}

namespace {

class ReferenceKernel final : public Kernel {
 public:
  // `moved`: s8/u8 when input 0 and output 0 are int8 integers the op only
  // moves (make_int8_moving_kernel), else f32.
  ReferenceKernel(const Op& op, const KernelContext& ctx, DataType moved = DataType::f32)
      : op_(op), moved_(moved) {
    src_info_.assign(ctx.src.begin(), ctx.src.end());
    // A weight stored as s8 (WeightQuant::stored_s8) is read dequantized.
    dequantized_.resize(ctx.src.size());
    for (size_t i = 0; i < ctx.src.size(); ++i) {
      const KernelSrc& s = ctx.src[i];
      if (s.present && s.constant && s.constant->dtype() != s.dtype) {
        dequantized_[i] = f32_weights(*s.constant, s.weight_quant);
      }
    }
    for (const KernelDst& d : ctx.dst) {
      dst_shape_.push_back(d.shape);
      dst_dtype_.push_back(d.dtype);
    }
    if (moved != DataType::f32) src_info_[0].dtype = dst_dtype_[0] = moved;
  }

  void bind(const std::vector<const void*>& src, const std::vector<void*>& dst, void*) override {
    src_.clear();
    for (size_t i = 0; i < src.size(); ++i) {
      const SrcInfo& info = src_info_[i];
      if (!dequantized_[i].empty()) {
        src_.push_back(dequantized_[i]);
      } else {
        src_.push_back(info.present
                           ? Tensor::wrap(info.dtype, info.shape, const_cast<void*>(src[i]))
                           : Tensor());
      }
    }
    src_ptr_.clear();
    for (size_t i = 0; i < src_.size(); ++i) {
      src_ptr_.push_back(src_info_[i].present ? &src_[i] : nullptr);
    }
    dst_.clear();
    for (size_t i = 0; i < dst.size(); ++i) {
      dst_.push_back(Tensor::wrap(dst_dtype_[i], dst_shape_[i], dst[i]));
    }
  }

  void execute(dnnl::stream&) override { op_.reference(src_ptr_, dst_); }
  std::string name() const override { return moved_ == DataType::f32 ? "ref" : "ref:int8"; }

 private:
  const Op& op_;
  DataType moved_;
  std::vector<SrcInfo> src_info_;
  std::vector<Shape> dst_shape_;
  std::vector<DataType> dst_dtype_;
  std::vector<Tensor> dequantized_;  // per input: empty, or a stored s8 weight as f32
  std::vector<Tensor> src_;
  std::vector<const Tensor*> src_ptr_;
  std::vector<Tensor> dst_;
};

// Every input read, and every output written, in plain rows of its own type.
void want_plain(KernelContext& ctx) {
  for (KernelSrc& s : ctx.src) {
    if (s.present && !s.constant) s.want = plain_md(s.shape, s.dtype);
  }
  for (KernelDst& d : ctx.dst) d.md = plain_md(d.shape, d.dtype);
}

}  // namespace

std::unique_ptr<Kernel> make_reference_kernel(const Op& op, KernelContext& ctx) {
  want_plain(ctx);
  return std::make_unique<ReferenceKernel>(op, ctx);
}

std::unique_ptr<Kernel> make_int8_moving_kernel(const Op& op, KernelContext& ctx) {
  const QuantView have = ctx.src[0].have;
  assert(have.is_int8() && !ctx.src[0].constant);
  want_plain(ctx);
  ctx.src[0].want = plain_md(ctx.src[0].shape, have.dtype);
  ctx.dst[0].md = plain_md(ctx.dst[0].shape, have.dtype);
  ctx.dst[0].scale = have.scale;
  return std::make_unique<ReferenceKernel>(op, ctx, have.dtype);
}

std::unique_ptr<Kernel> Op::make_kernel(KernelContext& ctx) const {
  return make_reference_kernel(*this, ctx);
}

int64_t normalize_axis(const Node& node, int64_t axis, size_t rank) {
  const int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r) {
    node.fail(ErrorCode::invalid_argument, "axis " + std::to_string(axis) +
                                               " is out of range for a tensor of rank " +
                                               std::to_string(rank));
  }
  return axis < 0 ? axis + r : axis;
}

Shape broadcast_shapes(const Node& node, const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      node.fail(ErrorCode::invalid_argument,
                "cannot broadcast shapes " + to_string(a) + " and " + to_string(b));
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace octet
