// fuzz_model_format: the octet model format reader (parse_model), then the
// Model build and, for small graphs, a Session run (fuzz_common.hpp).
//
// Input layout: the JSON text, a 0 byte, then the .octet.bin bytes (without
// a 0 byte, all of it is JSON and there is no .bin). JSON text never holds a
// raw 0 byte, and the separator keeps the two parts apart under mutations
// that insert or erase bytes, which a length prefix would not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "loaders/formats/model_format.hpp"
#include "tests/fuzz/fuzz_common.hpp"

namespace octet::fuzz::model_format {

// The input for a model whose files hold `json` and `bin`.
inline std::string encode(const std::string& json, const std::string& bin) {
  return json + std::string(1, '\0') + bin;
}

inline void run(const uint8_t* data, size_t size, Stage& reached) {
  const auto* text = reinterpret_cast<const char*>(data);
  const auto* end = size ? static_cast<const char*>(std::memchr(text, 0, size)) : nullptr;
  const size_t json_size = end ? static_cast<size_t>(end - text) : size;
  const size_t bin_size = end ? size - json_size - 1 : 0;
  Graph graph = parse_model(std::string(text, json_size), bin_size ? end + 1 : nullptr, bin_size,
                            "fuzz.octet.json");
  reached = Stage::parsed;
  build_and_run(std::move(graph), "fuzz.octet.json", reached);
}

}  // namespace octet::fuzz::model_format
