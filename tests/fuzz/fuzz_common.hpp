// What every model fuzz target does once its loader has produced a Graph:
// build the Model (every op's attribute validation), and for a small graph
// prepare a Session on zero inputs and run it (shape inference, the planner,
// the memory plan and the kernels).
//
// The contract fuzzed: on any input, octet either succeeds or throws
// octet::Error. The harnesses catch nothing else, so any other exception, a
// crash, a sanitizer report, a hang or an out-of-memory is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "runtime/model/model.hpp"

namespace octet::fuzz {

// How far an input got; the replay tool counts these to show what a corpus reaches.
enum class Stage { rejected, parsed, built, prepared, ran };

inline const char* to_string(Stage s) {
  switch (s) {
    case Stage::rejected:
      return "rejected";
    case Stage::parsed:
      return "parsed";
    case Stage::built:
      return "built";
    case Stage::prepared:
      return "prepared";
    case Stage::ran:
      return "ran";
  }
  return "?";
}

// Graphs this small are run; bigger ones are only built (a fuzzer spending a
// second per input on a large convolution finds nothing).
constexpr size_t kMaxNodes = 50;
constexpr int64_t kMaxInputElements = 4096;
// Symbolic input dimensions ("batch") are given this size.
constexpr int64_t kSymbolicDimSize = 2;

// The input shapes to prepare with, or false when an input is too large to run.
inline bool small_input_shapes(const ModelData& model, std::map<std::string, Shape>& shapes) {
  if (model.graph.nodes.size() >= kMaxNodes) return false;
  for (const TensorInfo& in : model.inputs) {
    Shape shape;
    int64_t elements = 1;
    for (const Dim& d : in.dims) {
      const int64_t size = d.size >= 0 ? d.size : kSymbolicDimSize;
      if (size > kMaxInputElements) return false;
      elements *= size;  // both <= 4096 here: no overflow
      if (elements > kMaxInputElements) return false;
      shape.push_back(size);
    }
    shapes[in.name] = std::move(shape);
  }
  return true;
}

// Builds the Model and, when it is small, prepares and runs it on zeros,
// recording in `reached` how far it got. Throws octet::Error.
inline void build_and_run(Graph graph, const std::string& source, Stage& reached) {
  const Model model = detail::build_model(std::move(graph), source);
  reached = Stage::built;
  std::map<std::string, Shape> shapes;
  if (!small_input_shapes(model_data(model), shapes)) return;
  SessionOptions options;
  options.threads = 1;
  // A tiny file may describe huge constants (Range, ConstantOfShape): the
  // limit turns them into an out_of_memory error instead of a slow run.
  options.memory_limit = size_t(256) << 20;
  Session session(model, options);
  session.prepare(shapes);
  reached = Stage::prepared;
  for (size_t i = 0; i < model.inputs().size(); ++i) {
    Tensor& x = session.input(i);
    if (x.nbytes()) std::memset(x.raw(), 0, x.nbytes());
  }
  (void)session.layers();
  session.run();
  // Read every output byte: a view outside its buffer is an ASan report here.
  unsigned checksum = 0;
  for (const Tensor& y : session.outputs()) {
    const auto* p = static_cast<const unsigned char*>(y.raw());
    for (size_t k = 0; k < y.nbytes(); ++k) checksum += p[k];
  }
  volatile unsigned sink = checksum;
  (void)sink;
  reached = Stage::ran;
}

// The result of one input: how far it got and the octet::Error that stopped it.
struct Outcome {
  Stage stage = Stage::rejected;
  bool failed = false;
  std::string error;
};

// One input through a target's `run(data, size, reached)`, catching
// octet::Error and nothing else: what the libFuzzer entry points and
// fuzz_replay both call.
template <void (*Run)(const uint8_t*, size_t, Stage&)>
Outcome outcome_of(const uint8_t* data, size_t size) {
  Outcome out;
  try {
    Run(data, size, out.stage);
  } catch (const Error& e) {
    out.failed = true;
    out.error = e.what();
  }
  return out;
}

}  // namespace octet::fuzz
