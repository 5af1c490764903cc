// Transpose: permutes dims by attribute `perm` (default: reversed); any dtype.
// oneDNN path (f32, s8, u8, s32, bool as u8; ranks 1..12, no empty dims): one
// `reorder` from the input described with permuted axes (its layout as
// produced, blocked or plain, so no reorder before it) to a plain output.
// int8 data (an f32 value its producer wrote as s8/u8) moves as it is: the
// output is int8 on the input's scale, exactly, with no dequantize around it.
// When every reader reads strided layouts (Op::reads_strided: MatMul), a plain
// input is not copied: the output is a view of its bytes with permuted
// strides (BERT's Q, K and V head splits).
#include <algorithm>
#include <numeric>

#include "ops/broadcast.hpp"
#include "ops/dnnl_kernel.hpp"

namespace octet {
namespace {

class Transpose final : public Op {
 public:
  explicit Transpose(const Node& node) : Op(node) {
    check_arity(node, 1, 1);
    has_perm_ = node.has_attr("perm");
    perm_ = node.attr_ints("perm", {});
    std::vector<int64_t> sorted = perm_;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i) {
      if (sorted[i] != static_cast<int64_t>(i)) {
        node.fail(ErrorCode::invalid_model, "attribute 'perm' " + to_string(Shape(perm_)) +
                                                " is not a permutation of 0.." +
                                                std::to_string(perm_.size() - 1));
      }
    }
  }

  void infer(InferContext& ctx) const override {
    const Shape& in = ctx.shape(0);
    if (has_perm_ && perm_.size() != in.size()) {
      ctx.fail("attribute 'perm' has " + std::to_string(perm_.size()) +
               " entries for an input of rank " + std::to_string(in.size()));
    }
    const std::vector<int64_t> p = perm(in.size());
    Shape out(in.size());
    for (size_t i = 0; i < in.size(); ++i) out[i] = in[p[i]];
    ctx.set(0, out, ctx.dtype(0));
  }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    const Tensor& x = *src[0];
    const std::vector<int64_t> p = perm(x.rank());
    const std::vector<int64_t> in_strides = row_major_strides(x.shape());
    std::vector<int64_t> strides(x.rank());
    for (size_t i = 0; i < x.rank(); ++i) strides[i] = in_strides[p[i]];
    strided_copy(dst[0].raw(), x.raw(), dst[0].shape(), strides, 0, size_of(x.dtype()));
  }

  bool accepts_int8() const override { return true; }

  // Input 0's values, moved.
  bool output_never_negative(const std::vector<bool>& src) const override {
    return !src.empty() && src[0];
  }

  std::unique_ptr<Kernel> make_kernel(KernelContext& ctx) const override {
    const QuantView have = ctx.src[0].have;
    const DataType logical = ctx.src[0].dtype;
    const DataType dtype = have.is_int8()                 ? have.dtype
                           : logical == DataType::boolean ? DataType::u8
                                                          : logical;
    const dnnl::memory::desc out_md = plain_md(ctx.dst[0].shape, dtype);
    if (ctx.src[0].constant || !dnnl_supports(dtype) || out_md.is_zero()) {
      return make_reference_kernel(*this, ctx);
    }
    const dnnl::memory::desc& produced = ctx.src.at(0).md;
    const dnnl::memory::desc in_md =
        produced.is_zero() ? plain_md(ctx.src[0].shape, dtype) : produced;
    // oneDNN moves axis i of in_md to position axes[i]: the inverse of perm.
    const std::vector<int64_t> p = perm(ctx.src[0].shape.size());
    std::vector<int> axes(p.size());
    for (size_t i = 0; i < p.size(); ++i) axes[p[i]] = static_cast<int>(i);
    dnnl::reorder::primitive_desc pd;
    dnnl::memory::desc from;
    try {
      from = in_md.permute_axes(axes);
      pd = dnnl::reorder::primitive_desc(ctx.engine, from, ctx.engine, out_md, default_attr());
    } catch (const dnnl::error&) {
      return make_reference_kernel(*this, ctx);
    }
    // Every reader takes a permuted plain layout (attention's MatMuls): the
    // output is the input's bytes described with permuted strides, no copy.
    if (ctx.dst[0].strided_ok && (have.is_int8() || dtype == DataType::f32) &&
        produced == plain_md(ctx.src[0].shape, dtype)) {
      ctx.src[0].want = produced;
      ctx.dst[0].md = from;
      ctx.dst[0].scale = have.scale;
      ctx.dst[0].alias = 0;
      return nullptr;
    }
    auto kernel = std::make_unique<PrimitiveKernel>(ctx.engine, dnnl::reorder(pd), impl_name(pd),
                                                    pd.scratchpad_desc().get_size());
    // A bool input stays described as the session describes it (no md).
    ctx.src[0].want = produced;
    ctx.dst[0].md = have.is_int8() ? out_md : plain_md(ctx.dst[0].shape, ctx.dst[0].dtype);
    ctx.dst[0].scale = have.scale;
    kernel->map_src(0, DNNL_ARG_FROM, from);
    kernel->map_dst(0, DNNL_ARG_TO, out_md);
    return kernel;
  }

 private:
  std::vector<int64_t> perm(size_t rank) const {
    if (has_perm_) return perm_;
    std::vector<int64_t> p(rank);
    std::iota(p.rbegin(), p.rend(), int64_t(0));
    return p;
  }

  bool has_perm_ = false;
  std::vector<int64_t> perm_;
};

}  // namespace

std::unique_ptr<Op> make_transpose(const Node& node) {
  return std::make_unique<Transpose>(node);
}

}  // namespace octet
