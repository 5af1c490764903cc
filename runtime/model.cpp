#include "runtime/model.hpp"

#include "loaders/model_format.hpp"
#include "loaders/onnx/onnx_import.hpp"
#include "ops/registry.hpp"

namespace octet {
namespace detail {

namespace {

std::vector<TensorInfo> describe(const Graph& g, const std::vector<int>& ids) {
  std::vector<TensorInfo> out;
  for (int id : ids) {
    const Value& v = g.values[id];
    out.push_back({v.name, v.dtype, v.shape.value_or(std::vector<Dim>{})});
  }
  return out;
}

}  // namespace

std::shared_ptr<const ModelData> build_model(Graph graph, std::string source,
                                             std::vector<std::string> import_log) {
  auto data = std::make_shared<ModelData>();
  data->source = std::move(source);
  data->import_log = std::move(import_log);
  data->graph = std::move(graph);
  const Graph& g = data->graph;
  try {
    for (int id : g.inputs) {
      if (!g.values.at(id).shape) {
        throw Error(ErrorCode::invalid_model,
                    "graph input '" + g.values[id].name + "' has no declared shape");
      }
    }
    // Ops keep a pointer to their node: the graph must not move from here on.
    data->ops.reserve(g.nodes.size());
    for (const Node& node : g.nodes) data->ops.push_back(create_op(node));
  } catch (const Error& e) {
    throw Error(e.code(), data->source + ": " + e.what());
  }
  data->inputs = describe(g, g.inputs);
  data->outputs = describe(g, g.outputs);
  return data;
}

}  // namespace detail

Model::Model(std::shared_ptr<const detail::ModelData> data) : data_(std::move(data)) {}

Model Model::load(const std::string& path) {
  const ModelPaths paths = model_paths(path);
  return Model(detail::build_model(read_model(path), paths.json));
}

Model Model::import_onnx(const std::string& onnx_path) {
  ImportResult imported = import_onnx_file(onnx_path);
  fold_constants(imported.graph, imported.log);
  return Model(detail::build_model(std::move(imported.graph), onnx_path, std::move(imported.log)));
}

void Model::save(const std::string& path) const {
  write_model(data_->graph, path);
}

const std::vector<TensorInfo>& Model::inputs() const {
  return data_->inputs;
}
const std::vector<TensorInfo>& Model::outputs() const {
  return data_->outputs;
}
size_t Model::node_count() const {
  return data_->graph.nodes.size();
}
const std::string& Model::metadata_json() const {
  return data_->graph.metadata_json;
}
const std::vector<std::string>& Model::import_log() const {
  return data_->import_log;
}

size_t Model::activation_range_count() const {
  size_t n = 0;
  for (const Value& v : data_->graph.values) n += v.quant.has_value();
  return n;
}

}  // namespace octet
