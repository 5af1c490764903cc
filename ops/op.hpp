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

// What make_kernel() receives, and what it must fill in.
struct KernelContext {
  const Node& node;
  const dnnl::engine& engine;
  std::vector<SrcInfo> src;
  std::vector<Shape> dst_shape;  // from infer()
  std::vector<DataType> dst_dtype;
  // Physical layout of each non-constant input as its producer wrote it; a
  // zero md for dtypes oneDNN cannot describe (s64, boolean) or rank 0.
  std::vector<dnnl::memory::desc> src_md;

  // --- filled by make_kernel ---
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

// The reference kernel as a Kernel: requires plain layouts everywhere.
std::unique_ptr<Kernel> make_reference_kernel(const Op& op, KernelContext& ctx);

// Normalizes a possibly negative axis for a tensor of `rank`, or fails on `node`.
int64_t normalize_axis(const Node& node, int64_t axis, size_t rank);

// Multidirectional (numpy) broadcast of two shapes, or fails on `node`.
Shape broadcast_shapes(const Node& node, const Shape& a, const Shape& b);

}  // namespace octet
