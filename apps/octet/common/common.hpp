// Helpers shared by the subcommands that need nothing but the public header:
// shape arguments, default input shapes, synthetic inputs, tables. Built into
// octet_cli_lib so that tests/test_cli.cpp can check them.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "octet/octet.hpp"

namespace octet::cli {

// "input_ids=1x128" -> {"input_ids", {1, 128}}. The name is everything before
// the last '='. Throws Error(invalid_argument) naming the bad argument.
std::pair<std::string, Shape> parse_shape_spec(const std::string& spec);
std::map<std::string, Shape> parse_shape_specs(const std::vector<std::string>& specs);

// "batch x 3 x 224 x 224"; an unnamed symbolic dim prints as "?".
std::string format_dims(const std::vector<Dim>& dims);

// A concrete shape for every input: `overrides` where given, otherwise the
// declared dims, where a symbol that an override fixed takes that value, and
// otherwise the first symbolic dim of each input is `batch` and the second
// `seq`. A third unresolved symbolic dim needs an override.
std::map<std::string, Shape> resolve_input_shapes(const std::vector<TensorInfo>& inputs,
                                                  int64_t batch, int64_t seq,
                                                  const std::map<std::string, Shape>& overrides);

// Deterministic stand-in data for input `name`: f32 ~ N(0, 1); integer inputs
// by name: token types / segments 0, masks 1, ids uniform in [0, 100); any
// other integer or bool input 0. The same seed gives the same data everywhere.
void fill_synthetic(Tensor& t, const std::string& name, uint64_t seed);

// A file name for an output that may contain '/', ':' or other characters
// that do not belong in a path: anything but [A-Za-z0-9._-] becomes '_'.
std::string output_file_name(const std::string& output_name);

// Left-aligned columns separated by two spaces; the first row is the header
// and is followed by a rule.
std::string format_table(const std::vector<std::vector<std::string>>& rows);

bool ends_with(const std::string& s, const std::string& tail);

// The precision report of a prepared session, as `octet inspect` prints it:
// every layer with its op, precision, kernel, output shape and why it runs in
// that precision, a blank line, then "N layers, prepared in T ms: I int8, F fp32".
std::string format_precision_report(const Session& session);
// --verbose: that report on stderr, under a line naming what was prepared.
void print_precision_report(const std::string& title, const Session& session);

// "foo", "foo.octet.json" or "foo.octet.bin" load a saved model; "foo.onnx"
// is imported.
Model load_model(const std::string& name);

// "octet 0.1.0\noneDNN 2.6.3\nCPU ISA avx512_core_vnni"
std::string version_text();

using Clock = std::chrono::steady_clock;
inline double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Fixed-point milliseconds for reports: "12.345".
std::string format_ms(double ms, int decimals = 3);

}  // namespace octet::cli
