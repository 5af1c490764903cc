// What a loaded Model holds. Immutable once built; shared by every Session.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ops/op.hpp"
#include "runtime/graph.hpp"

namespace octet {
namespace detail {

struct ModelData {
  Graph graph;
  std::vector<std::unique_ptr<Op>> ops;  // one per node, same order
  std::vector<TensorInfo> inputs, outputs;
  std::vector<std::string> import_log;
  std::string source;  // the file it came from, for messages
};

// Validates `graph` (ops known, attributes valid, inputs and outputs declared)
// and creates its ops. Errors are prefixed with `source`.
std::shared_ptr<const ModelData> build_model(Graph graph, std::string source,
                                             std::vector<std::string> import_log = {});

}  // namespace detail

// Evaluates every node whose inputs are all initializers once, replacing its
// outputs by initializers; returns the number of nodes folded.
int fold_constants(Graph& graph, std::vector<std::string>& log);

}  // namespace octet
