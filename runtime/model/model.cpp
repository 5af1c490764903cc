#include "runtime/model/model.hpp"

#include <algorithm>

#include <type_traits>
#include <variant>

#include "loaders/formats/model_format.hpp"
#include "loaders/onnx/onnx_import.hpp"
#include "ops/registry.hpp"
#include "runtime/ir/hash.hpp"

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

Model build_model(Graph graph, std::string source, std::vector<std::string> import_log) {
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
  return ModelAccess::make(std::move(data));
}

}  // namespace detail

Model::Model(std::shared_ptr<const ModelData> data) : data_(std::move(data)) {}

Model Model::load(const std::string& path) {
  const ModelPaths paths = model_paths(path);
  return detail::build_model(read_model(path), paths.json);
}

Model Model::import_onnx(const std::string& onnx_path) {
  return import_onnx(onnx_path, ImportOptions{});
}

Model Model::import_onnx(const std::string& onnx_path, const ImportOptions& options) {
  ImportResult imported = import_onnx_file(onnx_path, options);
  check_supported_ops(imported.graph, onnx_path);  // one error listing every op octet lacks
  fold_constants(imported.graph, imported.log);
  return detail::build_model(std::move(imported.graph), onnx_path, std::move(imported.log));
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

std::string Model::content_hash() const {
  const Graph& g = data_->graph;
  Hasher h;
  auto hash_dims = [&](const std::vector<Dim>& dims) {
    h.u64(dims.size());
    for (const Dim& d : dims) {
      h.u64(static_cast<uint64_t>(d.size));
      h.text(d.symbol);
    }
  };
  for (const TensorInfo& t : data_->inputs) {
    h.text(t.name);
    h.u64(static_cast<uint64_t>(t.dtype));
    hash_dims(t.dims);
  }
  for (const TensorInfo& t : data_->outputs) h.text(t.name);
  for (const Node& n : g.nodes) {
    h.text(n.op);
    h.text(n.name);
    for (int v : n.inputs) h.text(v == kNoValue ? std::string() : g.values[v].name);
    for (int v : n.outputs) h.text(g.values[v].name);
    for (const auto& [key, value] : n.attrs) {
      h.text(key);
      h.u64(value.index());
      std::visit(
          [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::string>) {
              h.text(x);
            } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
              for (const std::string& e : x) h.text(e);
            } else if constexpr (std::is_arithmetic_v<T>) {
              h.bytes(&x, sizeof x);
            } else {
              h.bytes(x.data(), x.size() * sizeof(x[0]));
            }
          },
          value);
    }
  }
  for (const Value& v : g.values) {
    if (!v.is_initializer()) continue;
    h.text(v.name);
    h.u64(static_cast<uint64_t>(v.data.dtype()));
    for (int64_t d : v.data.shape()) h.u64(static_cast<uint64_t>(d));
    h.bytes(v.data.raw(), v.data.nbytes());
  }
  return h.hex();
}

Model Model::with_outputs(const std::vector<std::string>& value_names) const {
  Graph g = data_->graph;
  for (const std::string& name : value_names) {
    const int id = g.find_value(name);
    if (id == kNoValue) {
      throw Error(ErrorCode::invalid_argument, data_->source + ": no value named '" + name + "'");
    }
    if (std::find(g.outputs.begin(), g.outputs.end(), id) == g.outputs.end()) {
      g.outputs.push_back(id);
    }
  }
  return detail::build_model(std::move(g), data_->source, data_->import_log);
}

Model Model::with_fp32_layers(const std::vector<std::string>& layers,
                              const std::vector<std::string>& ops) const {
  if (layers.empty() && ops.empty()) return *this;
  Graph g = data_->graph;
  for (const std::string& p : layers) g.quantization.fp32_layers.push_back(p);
  for (const std::string& p : ops) g.quantization.fp32_ops.push_back(p);
  return detail::build_model(std::move(g), data_->source, data_->import_log);
}

size_t Model::activation_range_count() const {
  size_t n = 0;
  for (const Value& v : data_->graph.values) n += v.quant.has_value();
  return n;
}

std::vector<ActivationRange> Model::activation_ranges() const {
  std::vector<ActivationRange> ranges;
  for (const Value& v : data_->graph.values) {
    if (v.quant) ranges.push_back({v.name, v.quant->dtype, v.quant->amax, v.quant->source});
  }
  return ranges;
}

}  // namespace octet
