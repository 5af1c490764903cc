// The importer's entry points: read, parse, check the opset (7..17), convert, rewrite.
#include "loaders/onnx/onnx_import.hpp"

#include <algorithm>
#include <climits>
#include <filesystem>
#include <fstream>
#include <new>

#include <nlohmann/json.hpp>

#include "loaders/onnx/onnx_internal.hpp"

namespace octet {

namespace {

// Ops whose meaning changed within this range are handled by pass_opset_forms.
constexpr int64_t kMinOpset = 7;
constexpr int64_t kMaxOpset = 17;

std::string quoted(const std::string& file) {
  return "'" + file + "'";
}

// Runs `body`, making sure that whatever escapes is an octet::Error whose
// message starts with the file name (inner code does not know the file).
template <class Body>
ImportResult with_file_context(const std::string& file, Body&& body) {
  const std::string prefix = quoted(file);
  try {
    return body();
  } catch (const Error& e) {
    if (std::string(e.what()).rfind(prefix, 0) == 0) throw;
    throw Error(e.code(), prefix + ": " + e.what());
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::out_of_memory, prefix + ": out of memory while importing");
  } catch (const std::exception& e) {
    throw Error(ErrorCode::internal, prefix + ": " + e.what());
  }
}

// Returns the opset of the default domain.
int64_t check_opset(const onnx::ModelProto& model) {
  int64_t found = 0;
  for (const onnx::OperatorSetIdProto& opset : model.opset_import()) {
    if (!opset.domain().empty() && opset.domain() != "ai.onnx") continue;
    found = std::max(found, opset.version());
    if (opset.version() < kMinOpset || opset.version() > kMaxOpset) {
      throw Error(ErrorCode::unsupported,
                  "the model uses opset " + std::to_string(opset.version()) +
                      " of the default ONNX domain; octet supports opsets " +
                      std::to_string(kMinOpset) + " to " + std::to_string(kMaxOpset));
    }
  }
  if (!found) {
    throw Error(ErrorCode::invalid_model,
                "the model has no opset import for the default ONNX domain");
  }
  return found;
}

std::string producer_of(const onnx::ModelProto& model) {
  std::string producer = model.producer_name();
  if (!model.producer_version().empty()) producer += " " + model.producer_version();
  return producer;
}

// ONNX metadata_props become the model's metadata: "octet.KEY" entries hold
// JSON (the preprocessing and labels the demos read) and land under KEY;
// anything else is kept as text under "onnx".
std::string metadata_of(const onnx::ModelProto& model, const std::string& file) {
  nlohmann::json metadata = nlohmann::json::object();
  for (const onnx::StringStringEntryProto& entry : model.metadata_props()) {
    const std::string& key = entry.key();
    if (key.rfind("octet.", 0) == 0 && key.size() > 6) {
      try {
        metadata[key.substr(6)] = nlohmann::json::parse(entry.value());
      } catch (const nlohmann::json::exception& e) {
        throw Error(ErrorCode::invalid_model,
                    quoted(file) + ": metadata_props '" + key + "' is not valid JSON: " + e.what());
      }
    } else {
      metadata["onnx"][key] = entry.value();
    }
  }
  return metadata.dump();
}

ImportResult import_model(const void* data, size_t size, const std::string& file,
                          const std::string& base_dir, const ImportOptions& options) {
  if (size > static_cast<size_t>(INT_MAX)) {
    throw Error(ErrorCode::unsupported,
                "the model is larger than 2 GB; store its weights as external data");
  }
  if (!data && size) throw Error(ErrorCode::invalid_argument, "null model data");
  onnx::ModelProto model;
  if (!model.ParseFromArray(data, static_cast<int>(size))) {
    throw Error(ErrorCode::invalid_model,
                quoted(file) + " is not an ONNX model: protobuf parse failed");
  }
  if (!model.has_graph()) {
    throw Error(ErrorCode::invalid_model, quoted(file) + " is not an ONNX model: it has no graph");
  }
  const int64_t opset = check_opset(model);
  ConvertedGraph converted = graph_from_onnx(model.graph(), base_dir);
  ImportResult result{std::move(converted.graph), std::move(converted.log)};
  Graph& graph = result.graph;
  graph.producer = producer_of(model);
  graph.metadata_json = metadata_of(model, file);
  graph.sort_topologically();  // rejects cycles before any pass looks at the graph
  pass_opset_forms(graph, result.log, opset);
  pass_remove_identity(graph, result.log);
  pass_fold_qdq(graph, result.log, opset);
  pass_fuse_pad(graph, result.log);
  if (options.fold_batchnorm) pass_fold_batchnorm(graph, result.log);
  pass_fuse_conv(graph, result.log);
  pass_fuse_layernorm(graph, result.log);
  pass_fuse_gelu(graph, result.log);
  pass_fuse_matmul(graph, result.log);
  // Fusions add inputs (a Conv's residual) that may be produced later in node order.
  graph.sort_topologically();
  graph.remove_dead();
  return result;
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  const bool regular = std::filesystem::is_regular_file(path, ec);
  const auto size = regular ? std::filesystem::file_size(path, ec) : 0;
  if (!regular || ec) {
    throw Error(ErrorCode::io, quoted(path) + " does not exist or is not a regular file");
  }
  std::string bytes(size, '\0');
  std::ifstream in(path, std::ios::binary);
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (!in) throw Error(ErrorCode::io, quoted(path) + " cannot be read");
  return bytes;
}

}  // namespace

ImportResult import_onnx_file(const std::string& path, const ImportOptions& options) {
  return with_file_context(path, [&] {
    const std::string bytes = read_file(path);
    std::string base_dir = std::filesystem::path(path).parent_path().string();
    if (base_dir.empty()) base_dir = ".";
    return import_model(bytes.data(), bytes.size(), path, base_dir, options);
  });
}

ImportResult import_onnx_bytes(const void* data, size_t size, const std::string& name_for_errors,
                               const std::string& base_dir, const ImportOptions& options) {
  return with_file_context(name_for_errors, [&] {
    return import_model(data, size, name_for_errors, base_dir, options);
  });
}

}  // namespace octet
