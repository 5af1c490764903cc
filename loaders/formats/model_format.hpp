// The octet model format, v2 (docs/model-format.md): NAME.octet.json holds the
// graph, attributes and quantization parameters; NAME.octet.bin holds the
// initializers, each at a 64-byte aligned offset. The .bin is memory-mapped.
#pragma once

#include <string>

#include "runtime/ir/graph.hpp"

namespace octet {

constexpr const char* kModelFormatName = "octet-model";
// The newest version read and written. Version 2 added weights stored as s8
// (quantization.weights[...].stored); a model without them is written as
// version 1, which older octet builds read.
constexpr int kModelFormatVersion = 2;
constexpr size_t kInitializerAlignment = 64;

struct ModelPaths {
  std::string json;
  std::string bin;
};

// "foo", "foo.octet.json" and "foo.octet.bin" all name the same model.
ModelPaths model_paths(const std::string& path);

// Reads and validates a model; every problem is an Error naming the file and
// the node / value / field. Nodes come back topologically sorted.
Graph read_model(const std::string& path);

// Parses a model from memory (`bin` may be null when there are no
// initializers); the initializers are copied. For tests and fuzzing.
Graph parse_model(const std::string& json_text, const void* bin, size_t bin_size,
                  const std::string& name_for_errors);

// Writes NAME.octet.json and NAME.octet.bin, each through a temporary file and
// a rename, so an interrupted write never leaves a half-written model.
void write_model(const Graph& graph, const std::string& path);

}  // namespace octet
