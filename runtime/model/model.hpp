// What a loaded Model holds. Immutable once built; shared by every Session.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ops/constant_cache.hpp"
#include "ops/op.hpp"
#include "runtime/ir/graph.hpp"

namespace octet {

struct ModelData {
  Graph graph;
  std::vector<std::unique_ptr<Op>> ops;  // one per node, same order
  std::vector<TensorInfo> inputs, outputs;
  std::vector<std::string> import_log;
  std::string source;  // the file it came from, for messages
  // The reordered and quantized forms of its initializers, one copy for all
  // its sessions (mutable behind the pointer: a cache, not part of what the
  // Model computes; thread-safe). Made by build_model().
  std::shared_ptr<ConstantStore> constants;
};

// The library's way into a Model (which befriends it): the public header
// shows only an opaque pointer.
struct ModelAccess {
  static const ModelData* data(const Model& model) { return model.data_.get(); }
  static Model make(std::shared_ptr<const ModelData> data) { return Model(std::move(data)); }
};

inline const ModelData& model_data(const Model& model) {
  return *ModelAccess::data(model);
}

namespace detail {

// Validates `graph` (ops known, attributes valid, inputs and outputs declared)
// and creates its ops. Errors are prefixed with `source`.
Model build_model(Graph graph, std::string source, std::vector<std::string> import_log = {});

}  // namespace detail

// Evaluates every node whose inputs are all initializers once, replacing its
// outputs by initializers; returns the number of nodes folded.
int fold_constants(Graph& graph, std::vector<std::string>& log);

}  // namespace octet
