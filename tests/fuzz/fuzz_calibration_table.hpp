// fuzz_calibration_table: the calibration table reader
// (CalibrationTable::parse). A table that parses must also write back and
// parse again to the same table, and quantize() must refuse it for a model it
// was not made for without crashing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "tests/fuzz/fuzz_common.hpp"

namespace octet::fuzz::calibration_table {

inline void run(const uint8_t* data, size_t size, Stage& reached) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const CalibrationTable table = CalibrationTable::parse(text, "fuzz.table.json");
  reached = Stage::parsed;
  // What the writer makes of a parsed table reads back as the same table.
  const std::string written = table.to_json();
  if (CalibrationTable::parse(written, "rewritten").to_json() != written) std::abort();
  reached = Stage::ran;
}

}  // namespace octet::fuzz::calibration_table
