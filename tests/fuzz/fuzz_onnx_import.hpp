// fuzz_onnx_import: the ONNX importer (import_onnx_bytes, no base_dir, so any
// external data is rejected), the op check and constant folding as
// Model::import_onnx does them, then the Model build and, for small graphs, a
// Session run (fuzz_common.hpp).
// The input is the serialized ModelProto.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "loaders/onnx/onnx_import.hpp"
#include "ops/registry.hpp"
#include "tests/fuzz/fuzz_common.hpp"

namespace octet::fuzz::onnx_import {

inline void run(const uint8_t* data, size_t size, Stage& reached) {
  ImportResult imported = import_onnx_bytes(data, size, "fuzz.onnx");
  reached = Stage::parsed;
  check_supported_ops(imported.graph, "fuzz.onnx");
  fold_constants(imported.graph, imported.log);
  build_and_run(std::move(imported.graph), "fuzz.onnx", reached);
}

}  // namespace octet::fuzz::onnx_import
