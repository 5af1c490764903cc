// The prepared state of a Session: the steps to execute, the buffers they
// read and write, and the arena those buffers live in.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ops/dnnl_kernel.hpp"
#include "runtime/model/model.hpp"
#include "runtime/session/precision.hpp"

namespace octet {
namespace detail {

// One physical tensor: a value in one layout (a value read in two layouts
// has two buffers, the second written by a reorder step).
struct Buffer {
  dnnl::memory::desc md;  // zero for dtypes oneDNN cannot describe (always plain)
  size_t bytes = 0;
  float scale = 1.f;          // int8 buffers: real value = scale x stored integer
  int first = -1, last = -1;  // steps that first write / last read it
  int storage = -1;           // buffers that alias one another share a storage
  bool pinned = false;        // graph inputs and outputs: alive for the whole run
};

struct Storage {
  size_t bytes = 0;
  int first = -1, last = -1;
  bool pinned = false;
  size_t offset = 0;
};

// An argument of a step: a buffer, a constant, or nothing (omitted input).
struct Arg {
  int buffer = -1;
  const void* constant = nullptr;
};

struct Step {
  int node = -1;  // index in the graph, -1 for inserted reorders
  std::string name, op;
  // What it computes in: int8 (s8/u8 data), else `dtype`: f32, or integers
  // (shape arithmetic, ids, masks). precision_name() says it as inspect does.
  bool int8 = false;
  DataType dtype = DataType::f32;
  Reason reason;
  Shape shape;                     // first output's shape
  std::unique_ptr<Kernel> kernel;  // null for a view (its output aliases an input)
  std::vector<Arg> src;
  std::vector<int> dst;  // buffers
  // (from, to) buffer copies done before the kernel runs: the contents a
  // kernel accumulates into, when the buffers could not be shared.
  std::vector<std::pair<int, int>> pre_copies;
  struct Copy {
    const void* from;
    void* to;
    size_t bytes;
  };
  std::vector<Copy> copies;  // pre_copies resolved to addresses
};

// "int8", "fp32", or the integer dtype ("s64").
std::string precision_name(const Step& step);

// Everything prepare() builds for one set of input shapes.
struct Plan {
  std::map<std::string, Shape> input_shapes;
  std::vector<Buffer> buffers;
  std::vector<Storage> storages;
  std::vector<Step> steps;
  std::deque<Tensor> folded;  // values computed once at prepare (shape arithmetic)
  Tensor arena;
  void* scratchpad = nullptr;
  std::vector<Tensor> inputs, outputs;  // views into the arena (or owned constants)
};

}  // namespace detail

struct SessionState {
  Model model;
  SessionOptions options;
  dnnl::stream stream;
  // Reordered weights, kept across prepares and shared with the other
  // sessions of the Model (its ConstantStore). Declared before `plan`,
  // whose kernels use them.
  ConstantCache constants;
  std::unique_ptr<detail::Plan> plan;
  // Plans of earlier shapes (SessionOptions::kept_plans), most recent first.
  std::deque<std::unique_ptr<detail::Plan>> kept;
  double prepare_ms = 0;
  std::vector<LayerTime> profile;

  SessionState(Model m, SessionOptions o);
};

namespace detail {

// Builds a plan for the given input shapes. Throws without side effects on
// `state` other than entries added to its constant cache (and to the
// Model's store, which other sessions may then use).
std::unique_ptr<Plan> make_plan(SessionState& state,
                                const std::map<std::string, Shape>& input_shapes);

}  // namespace detail
}  // namespace octet
