// Whole-file reads and crash-safe writes, for every floor that reads or
// writes files (model format, calibration tables, the CLI's reports).
#pragma once

#include <string>

namespace octet {

// The whole file; Error(io) naming it if it cannot be read.
std::string read_text_file(const std::string& path);

// Writes `bytes` to `path` through a temporary file in the same folder,
// fsync and a rename: readers (and a crash) see the old file or the new one.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace octet
