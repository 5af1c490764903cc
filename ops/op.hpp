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

#include "runtime/graph.hpp"

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

// What make_kernel() receives, and what it must fill in.
struct KernelContext {
  // Presets every field make_kernel may change: inputs read as produced,
  // plain outputs, no accumulation or aliasing, f32 everywhere.
  KernelContext(const Node& node, const dnnl::engine& engine, std::vector<SrcInfo> src,
                std::vector<Shape> dst_shape, std::vector<DataType> dst_dtype,
                std::vector<dnnl::memory::desc> src_md);

  const Node& node;
  const dnnl::engine& engine;
  std::vector<SrcInfo> src;
  std::vector<Shape> dst_shape;  // from infer()
  std::vector<DataType> dst_dtype;
  // Physical layout of each non-constant input as its producer wrote it; a
  // zero md for dtypes oneDNN cannot describe (s64, boolean) or rank 0.
  std::vector<dnnl::memory::desc> src_md;

  // --- quantization, decided by the session's precision plan ---
  // Whether this node computes in int8 (only for ops with has_int8_kernel()).
  bool int8 = false;
  // Per input: how the producer stored it (src_md's dtype and scale). Ops that
  // do not accept_int8() (and int8-transparent ops a blacklist sends to fp32)
  // see f32 here and in src_md: the session dequantizes.
  std::vector<QuantView> src_have;
  // Per input: the int8 form the session can give the kernel (the producer's
  // own int8 buffer, or the value quantized with its calibrated range); dtype
  // f32 when there is none.
  std::vector<QuantView> src_int8;
  // Per output: the int8 form to write because a reader consumes int8; dtype
  // f32 when every reader wants f32 (or the value has no range).
  std::vector<QuantView> dst_int8;
  // Per input: the learned per-channel ranges of a constant weight (QAT), or null.
  std::vector<const WeightQuant*> weight_quant;

  // --- filled by make_kernel (a kernel may also clear `int8` when its int8
  // path does not cover this case; the layer then runs in fp32) ---
  // Layout the kernel reads each non-constant input in. Preset to src_md
  // (read as produced); where it differs the session inserts a reorder.
  // Constant inputs are the kernel's own business (reorder them once inside).
  std::vector<dnnl::memory::desc> src_want;
  // Layout of each output. Preset to plain row-major.
  std::vector<dnnl::memory::desc> dst_md;
  // Per output: the index of an input whose contents the output buffer must
  // hold before execute() (oneDNN sum post-op, in-place ops), or -1. The
  // session aliases the two buffers when it can and copies otherwise.
  std::vector<int> dst_accumulates;
  // Per output: the scale of an int8 output (its md says s8/u8); preset 1.
  std::vector<float> dst_scale;
  // Per output: the index of an input whose bytes the output reinterprets
  // without a kernel (Reshape and friends on a plain layout), or -1.
  std::vector<int> dst_alias;
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
  // For an op that accepts int8 without an int8 kernel, when its output is
  // worth int8: whether its f32 input `i` is worth quantizing too (so that
  // its producer writes int8). Default: every input; a Mul keeps its
  // broadcast gate f32.
  virtual bool int8_passthrough_input(const std::vector<SrcInfo>& src, size_t i) const {
    (void)src;
    (void)i;
    return true;
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

// Normalizes a possibly negative axis for a tensor of `rank`, or fails on `node`.
int64_t normalize_axis(const Node& node, int64_t axis, size_t rank);

// Multidirectional (numpy) broadcast of two shapes, or fails on `node`.
Shape broadcast_shapes(const Node& node, const Shape& a, const Shape& b);

}  // namespace octet
