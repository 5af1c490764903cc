// ReduceMean (ONNX): the mean of an f32 tensor over `axes`, given as the
// attribute (opset < 18) or as a constant second input (opset 18); keepdims
// (default 1) keeps reduced dims as 1; no axes reduces everything unless
// noop_with_empty_axes = 1, which makes the op an identity.
// oneDNN path: the reduction primitive (reduction_mean) on the input as
// produced, any layout. On int8 data (ShuffleNetV2's head, `x.mean([2, 3])`
// between an int8 conv and an int8 Gemm) the mean of the integers is rounded
// once onto the input's scale, as an average pool does, so no dequantize /
// quantize pair sits around it.
#include <algorithm>

#include "ops/dnnl_kernel.hpp"

namespace octet {
namespace {

class ReduceMean final : public Op {
 public:
  explicit ReduceMean(const Node& node) : Op(node) {
    if (node.inputs.empty() || node.inputs.size() > 2 || node.outputs.size() != 1) {
      node.fail(ErrorCode::invalid_model, "expects 1 or 2 inputs (data, [axes]) and 1 output");
    }
    const int64_t keepdims = node.attr_int("keepdims", 1);
    const int64_t noop = node.attr_int("noop_with_empty_axes", 0);
    if ((keepdims != 0 && keepdims != 1) || (noop != 0 && noop != 1)) {
      node.fail(ErrorCode::invalid_model, "keepdims and noop_with_empty_axes must be 0 or 1");
    }
    keepdims_ = keepdims == 1;
    noop_ = noop == 1;
    if (node.has_attr("axes") && node.has_input(1)) {
      node.fail(ErrorCode::invalid_model, "axes given both as attribute and as input");
    }
    axes_attr_ = node.attr_ints("axes", {});
  }

  void infer(InferContext& ctx) const override {
    if (ctx.dtype(0) != DataType::f32) {
      node().fail(ErrorCode::unsupported,
                  std::string("only f32 data is supported, got ") + to_string(ctx.dtype(0)));
    }
    const Tensor* axes = nullptr;
    if (ctx.has(1)) {
      axes = ctx.src[1].constant;
      if (!axes) node().fail(ErrorCode::unsupported, "the axes input must be a constant");
      if (axes->dtype() != DataType::s64 || axes->rank() > 1) {
        ctx.fail("the axes input must be a 1-D s64 tensor, got " + to_string(axes->shape()));
      }
    }
    ctx.set(0, out_shape(ctx.shape(0), reduced(ctx.shape(0).size(), axes)), DataType::f32);
  }

  bool accepts_int8() const override { return true; }
  bool output_never_negative(const std::vector<bool>& src) const override {
    return !src.empty() && src[0];
  }

  std::unique_ptr<Kernel> make_kernel(KernelContext& ctx) const override {
    const Shape& x = ctx.src[0].shape;
    const std::vector<bool> red =
        reduced(x.size(), ctx.src.size() > 1 ? ctx.src[1].constant : nullptr);
    const bool any = std::find(red.begin(), red.end(), true) != red.end();
    if (ctx.src[0].constant || numel(x) == 0 || !any || ctx.dst[0].shape.empty() ||
        plain_md(x, DataType::f32).is_zero()) {
      return make_reference_kernel(*this, ctx);
    }
    const QuantView have = ctx.src[0].have;
    const DataType dtype = have.is_int8() ? have.dtype : DataType::f32;
    dnnl::memory::desc src_md = ctx.src[0].md;
    if (src_md.is_zero() || src_md.dims() != to_dnnl_dims(x)) src_md = plain_md(x, dtype);
    // oneDNN keeps the reduced dims as 1; plain, that is also the bytes of
    // the output without them (keepdims 0).
    Shape kept = x;
    for (size_t d = 0; d < x.size(); ++d) {
      if (red[d]) kept[d] = 1;
    }
    const dnnl::memory::desc dst_md = plain_md(kept, dtype);
    const dnnl::reduction::primitive_desc pd(
        dnnl::reduction::desc(dnnl::algorithm::reduction_mean, src_md, dst_md, 0.f, 0.f),
        default_attr(), ctx.engine);
    auto kernel = std::make_unique<PrimitiveKernel>(ctx.engine, dnnl::reduction(pd), impl_name(pd),
                                                    pd.scratchpad_desc().get_size());
    ctx.src[0].want = src_md;
    ctx.dst[0].md = plain_md(ctx.dst[0].shape, dtype);
    ctx.dst[0].scale = have.is_int8() ? have.scale : 1.f;
    kernel->map_src(0, DNNL_ARG_SRC, src_md);
    kernel->map_dst(0, DNNL_ARG_DST, dst_md);
    return kernel;
  }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    const Shape& s = src[0]->shape();
    const size_t rank = s.size();
    const std::vector<bool> red = reduced(rank, src.size() > 1 ? src[1] : nullptr);
    // Input strides, and the reduced / kept dims in order (last fastest).
    std::vector<int64_t> stride(rank), kept_dims, red_dims;
    for (size_t d = rank, st = 1; d-- > 0;) {
      stride[d] = static_cast<int64_t>(st);
      st *= static_cast<size_t>(s[d]);
    }
    int64_t count = 1;
    for (size_t d = 0; d < rank; ++d) {
      (red[d] ? red_dims : kept_dims).push_back(static_cast<int64_t>(d));
      if (red[d]) count *= s[d];
    }
    const float* x = src[0]->data<float>();
    float* y = dst[0].data<float>();
    std::vector<int64_t> kidx(kept_dims.size(), 0), ridx(red_dims.size(), 0);
    // Advances a multi-index over `dims`, the last one fastest.
    auto next = [&](std::vector<int64_t>& idx, const std::vector<int64_t>& dims) {
      for (size_t j = dims.size(); j-- > 0;) {
        if (++idx[j] < s[dims[j]]) return;
        idx[j] = 0;
      }
    };
    const int64_t outputs = dst[0].numel();
    for (int64_t o = 0; o < outputs; ++o) {
      int64_t base = 0;
      for (size_t j = 0; j < kept_dims.size(); ++j) base += kidx[j] * stride[kept_dims[j]];
      double acc = 0;
      std::fill(ridx.begin(), ridx.end(), 0);
      for (int64_t r = 0; r < count; ++r) {
        int64_t off = base;
        for (size_t j = 0; j < red_dims.size(); ++j) off += ridx[j] * stride[red_dims[j]];
        acc += x[off];
        next(ridx, red_dims);
      }
      y[o] = static_cast<float>(acc / static_cast<double>(count));  // NaN for an empty reduction
      next(kidx, kept_dims);
    }
  }

 private:
  // Which dims are reduced, from the axes input (if any) or the attribute.
  std::vector<bool> reduced(size_t rank, const Tensor* axes_input) const {
    std::vector<int64_t> axes = axes_attr_;
    if (axes_input)
      axes.assign(axes_input->data<int64_t>(), axes_input->data<int64_t>() + axes_input->numel());
    std::vector<bool> red(rank, axes.empty() && !noop_);
    for (int64_t a : axes) {
      const int64_t d = normalize_axis(node(), a, rank);
      if (red[d]) {
        node().fail(ErrorCode::invalid_argument, "axis " + std::to_string(a) + " is repeated");
      }
      red[d] = true;
    }
    return red;
  }

  Shape out_shape(const Shape& s, const std::vector<bool>& red) const {
    Shape out;
    for (size_t d = 0; d < s.size(); ++d) {
      if (!red[d]) {
        out.push_back(s[d]);
      } else if (keepdims_) {
        out.push_back(1);
      }
    }
    return out;
  }

  bool keepdims_ = true, noop_ = false;
  std::vector<int64_t> axes_attr_;
};

}  // namespace

std::unique_ptr<Op> make_reduce_mean(const Node& node) {
  return std::make_unique<ReduceMean>(node);
}

}  // namespace octet
