// Internals of the ONNX importer shared by its .cpp files: protobuf -> octet
// conversions. Errors thrown here do not name the file; import_onnx_* adds
// the file name to every message on the way out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>  // defines ONNX_API, then includes onnx-ml.pb.h

#include "runtime/ir/graph.hpp"

namespace octet {

// ONNX TensorProto.DataType -> octet dtype; nullopt for types octet lacks
// (f64, f16, strings, ...).
std::optional<DataType> dtype_from_onnx(int32_t onnx_type);
// "DOUBLE", "FLOAT16", or "unknown (99)" for values outside the enum.
std::string onnx_dtype_name(int32_t onnx_type);

// Copies a TensorProto (initializer or attribute) into a tensor octet owns.
// `what` names it in errors ("initializer 'w'"). External data is read from
// files under `base_dir` only; an empty base_dir rejects external data.
Tensor tensor_from_onnx(const onnx::TensorProto& proto, const std::string& base_dir,
                        const std::string& what);

struct ConvertedGraph {
  Graph graph;
  std::vector<std::string> log;  // Constant nodes turned into initializers
};

// Builds values and nodes, resolving every name; throws on dangling or
// duplicate definitions and on anything octet cannot represent.
ConvertedGraph graph_from_onnx(const onnx::GraphProto& proto, const std::string& base_dir);

// Turns the attributes of an ONNX node into octet attributes (the node's op
// and name must be set, for error messages).
void convert_attributes(const onnx::NodeProto& proto, const std::string& base_dir, Node& node);

// The value of a `Constant` node as a tensor.
Tensor constant_node_value(const onnx::NodeProto& proto, const std::string& base_dir,
                           const Node& node);

}  // namespace octet
