// The contract between an op and the session that runs it.
//
// An Op is created once per node when a Model is loaded (its factory parses and
// checks the attributes, so a bad attribute fails at load, naming the node) and
// is immutable afterwards: one Op serves every Session of the Model, from any
// thread. Each op provides
//   - infer():     output shapes and dtypes for concrete input shapes;
//   - reference(): a plain C++ kernel on row-major tensors, the ground truth
//                  for tests and the fallback when nothing faster exists;
//   - make_kernel(): optionally, an optimized kernel (usually oneDNN) built once
//                  per prepared session.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "runtime/ir/graph.hpp"

namespace octet {

// What session preparation knows about one input of a node.
struct SrcInfo {
  bool present = false;  // false for an omitted optional input
  Shape shape;
  DataType dtype = DataType::f32;
  const Tensor* constant = nullptr;  // value known at prepare time (initializer or folded)
};

struct InferContext {
  const Node& node;
  std::vector<SrcInfo> src;
  // Filled by Op::infer, one entry per node output.
  std::vector<Shape> dst_shape;
  std::vector<DataType> dst_dtype;
  // An op may also compute an output's value here when it is known from shapes
  // alone (Shape, Size): the session then treats it as a constant.
  std::vector<Tensor> dst_value;

  size_t num_src() const { return src.size(); }
  bool has(size_t i) const { return i < src.size() && src[i].present; }
  const Shape& shape(size_t i) const { return src.at(i).shape; }
  DataType dtype(size_t i) const { return src.at(i).dtype; }
  void set(size_t i, Shape shape, DataType dtype);
  [[noreturn]] void fail(const std::string& message) const;  // ErrorCode::invalid_argument
};

// An executable instance of a node, created at prepare time.
class Kernel {
 public:
  virtual ~Kernel() = default;
  // Called once after memory planning with the address of every input
  // (nullptr for omitted ones) and output, and of the shared scratchpad.
  virtual void bind(const std::vector<const void*>& src, const std::vector<void*>& dst,
                    void* scratchpad) = 0;
  virtual void execute(dnnl::stream& stream) = 0;
  // The implementation that runs: "ref", or oneDNN's name ("jit:avx2", ...).
  virtual std::string name() const = 0;
  virtual size_t scratchpad_bytes() const { return 0; }
};

// How a tensor is stored: f32, or int8 (s8/u8) with a per-tensor scale and
// zero point 0 (real value = scale x stored integer).
struct QuantView {
  DataType dtype = DataType::f32;
  float scale = 1.f;
  bool is_int8() const { return dtype == DataType::s8 || dtype == DataType::u8; }
};

class ConstantCache;  // ops/constant_cache.hpp

// One input of a node as make_kernel() sees it: what the session knows
// (SrcInfo), how it can hand the value over, and (`want`) how the kernel
// asks for it.
struct KernelSrc : SrcInfo {
  // Physical layout as the producer wrote it; a zero md for constants, for
  // dtypes oneDNN cannot describe (s64, boolean) and for rank 0.
  dnnl::memory::desc md;
  // How the producer stored it (md's dtype and scale). Ops that do not
  // accept_int8() (and int8-transparent ops a blacklist sends to fp32) see
  // f32 here and in md: the session dequantizes.
  QuantView have;
  // The int8 form the session can give the kernel (the producer's own int8
  // buffer, or the value quantized with its calibrated range); dtype f32 when
  // there is none.
  QuantView int8;
  // The learned per-channel ranges of a constant weight (QAT), or null.
  const WeightQuant* weight_quant = nullptr;

  // Filled by make_kernel: the layout the kernel reads the input in. Preset
  // to md (read as produced); where it differs the session inserts a reorder.
  // Constant inputs are the kernel's own business (reorder them once inside).
  dnnl::memory::desc want;
};

// One output of a node as make_kernel() sees it.
struct KernelDst {
  Shape shape;  // from infer()
  DataType dtype = DataType::f32;
  // The int8 form to write because a reader consumes int8 (for an op that
  // writes_int8(): because every reader does); dtype f32 when every reader
  // wants f32 (or the value has no range).
  QuantView int8;
  // For an op that writes_int8(), when some readers read the value in int8
  // and others in f32 (a LayerNorm's output that is also the residual): the
  // int8 form it may write as well, in the same step; f32 otherwise.
  QuantView int8_copy;

  // --- filled by make_kernel ---
  // The layout written. Preset to plain row-major.
  dnnl::memory::desc md;
  // The index of an input whose contents the output buffer must hold before
  // execute() (oneDNN sum post-op, in-place ops), or -1. The session aliases
  // the two buffers when it can and copies otherwise.
  int accumulates = -1;
  // The scale of an int8 output (its md says s8/u8).
  float scale = 1.f;
  // The index of an input whose bytes the output reinterprets without a
  // kernel (Reshape and friends on a plain layout), or -1.
  int alias = -1;
  // An int8 alias's scale over its input's: the same integers stand for the
  // input times a positive constant (a Div or Mul by a scalar).
  float rescale = 1.f;
  // The layout of the `int8_copy` the kernel writes (its scale is
  // int8_copy's), or a zero md when it writes none. Such copies are bound as
  // extra destinations after the outputs, in output order, and int8 readers
  // read them instead of a quantize step.
  dnnl::memory::desc int8_copy_md;
  // Every reader of this output reads it as produced in any permutation of a
  // plain layout (Op::reads_strided), and it is no graph output: a Transpose
  // may then hand over a permuted view instead of copying.
  bool strided_ok = false;
};

// What make_kernel() receives, and what it must fill in (`want` of each
// input, the second half of each output; it may also clear `int8` when its
// int8 path does not cover the case, and the layer then runs in fp32).
struct KernelContext {
  // Presets every field make_kernel may change: inputs read as produced
  // (`src_md`, zero mds when empty), plain outputs, no accumulation or
  // aliasing, f32 everywhere, no int8.
  KernelContext(const Node& node, const dnnl::engine& engine, ConstantCache* constants,
                const std::vector<SrcInfo>& src, const std::vector<Shape>& dst_shape,
                const std::vector<DataType>& dst_dtype,
                const std::vector<dnnl::memory::desc>& src_md = {});

  const Node& node;
  const dnnl::engine& engine;
  // Constants reordered (and weights quantized) for this session and the
  // other sessions of its Model (ops/constant_cache.hpp): a re-prepare, or
  // another session, finds them here instead of redoing them. May be null
  // (then the kernel makes its own copy).
  ConstantCache* constants;
  // Whether this node computes in int8 (decided by the session's precision
  // plan, only for ops with has_int8_kernel()).
  bool int8 = false;
  // SessionOptions::winograd: an fp32 Conv may take oneDNN's Winograd.
  bool winograd = true;
  std::vector<KernelSrc> src;
  std::vector<KernelDst> dst;
};

class Op {
 public:
  virtual ~Op() = default;
  virtual void infer(InferContext& ctx) const = 0;
  // `src[i]` is nullptr for an omitted optional input; `dst` tensors are
  // allocated by the caller with the inferred shapes and dtypes.
  virtual void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const = 0;
  // Default: the reference kernel on plain layouts.
  virtual std::unique_ptr<Kernel> make_kernel(KernelContext& ctx) const;
  // Whether a node whose inputs are all constant may be evaluated once at
  // prepare time (false for ops too costly to run twice for nothing).
  virtual bool foldable() const { return true; }
  // Quantizable layers (Conv, MatMul, Gemm) compute in int8 when the
  // precision plan allows. int8_inputs() are the inputs their int8 kernel
  // reads in int8; the first int8_required_inputs() of them must have a
  // scale (an activation range, or an int8 producer) for int8 to be chosen,
  // the others are read in int8 when they have one (a residual).
  virtual bool has_int8_kernel() const { return false; }
  virtual std::vector<int> int8_inputs(const std::vector<SrcInfo>& src) const {
    (void)src;
    return {};
  }
  virtual size_t int8_required_inputs(const std::vector<SrcInfo>& src) const {
    return int8_inputs(src).size();
  }
  // Why the int8 kernel cannot run this node on these inputs here (or "").
  virtual std::string int8_unavailable(const std::vector<SrcInfo>& src) const {
    (void)src;
    return "";
  }
  // Ops that move int8 data as it is (pooling, reshapes, transposes,
  // concat), combine it with per-input scales (Add) or compute in int8 read
  // int8 inputs directly (see src_have); others get f32. For ops without an
  // int8 kernel a blacklist entry turns this off for the node.
  virtual bool accepts_int8() const { return has_int8_kernel(); }
  // Whether the kernel can read input `i` in a permuted plain layout (dense,
  // strides in any order) as produced. Where every reader of a value says so,
  // a Transpose writing it becomes a view; a reader that then wants another
  // layout after all gets a reorder from the session, as always.
  virtual bool reads_strided(size_t i) const {
    (void)i;
    return false;
  }
  // Whether the kernel can write its f32 result directly in int8, on the
  // scale its readers take (a fused quantize: LayerNorm, Softmax). The session
  // asks for it (KernelDst::int8) when every reader of the value reads it in
  // int8, and for an int8 copy beside the f32 output (KernelDst::int8_copy)
  // when only some do, so no reader loses precision that it had in f32. A
  // blacklist entry for the node keeps its output f32 only.
  virtual bool writes_int8() const { return false; }
  // For an op that accepts int8 without an int8 kernel, when its output is
  // worth int8: whether its f32 input `i` is worth quantizing too (so that
  // its producer writes int8). Default: every input; a Mul keeps its
  // broadcast gate f32.
  virtual bool int8_passthrough_input(const std::vector<SrcInfo>& src, size_t i) const {
    (void)src;
    (void)i;
    return true;
  }
  // Whether every output is >= 0 (or NaN) whatever the input values, given
  // which inputs are (`src_never_negative[i]`: an output some op proves so, or
  // an initializer without a negative value; false for an omitted input).
  // The calibrator gives such values u8 ranges: twice the resolution of s8.
  // An op whose outputs are never negative says so here, and nowhere else.
  virtual bool output_never_negative(const std::vector<bool>& src_never_negative) const {
    (void)src_never_negative;
    return false;
  }

  const Node& node() const { return *node_; }

 protected:
  explicit Op(const Node& node) : node_(&node) {}

 private:
  const Node* node_;  // owned by the Model's graph, which outlives the Op
};

// ---------------------------------------------------------------- helpers

dnnl::memory::data_type to_dnnl(DataType dtype);  // undef for s64 / boolean
bool dnnl_supports(DataType dtype);
dnnl::memory::dims to_dnnl_dims(const Shape& shape);
// Plain row-major layout; a zero md where oneDNN cannot describe the tensor.
dnnl::memory::desc plain_md(const Shape& shape, DataType dtype);
bool is_plain(const dnnl::memory::desc& md);
// The same layout with another data type (blocked strides count elements).
dnnl::memory::desc with_dtype(const dnnl::memory::desc& md, DataType dtype);

// The reference kernel as a Kernel: requires plain layouts everywhere.
std::unique_ptr<Kernel> make_reference_kernel(const Op& op, KernelContext& ctx);
// The reference kernel of an op that only moves input 0's values (whose
// reference() works on any dtype, as Gather's): on the producer's int8
// integers (ctx.src[0].have) as they are, output 0 in the same type and on
// the same scale.
std::unique_ptr<Kernel> make_int8_moving_kernel(const Op& op, KernelContext& ctx);

// Normalizes a possibly negative axis for a tensor of `rank`, or fails on `node`.
int64_t normalize_axis(const Node& node, int64_t axis, size_t rank);

// Multidirectional (numpy) broadcast of two shapes, or fails on `node`.
Shape broadcast_shapes(const Node& node, const Shape& a, const Shape& b);

}  // namespace octet
