// The session flags the subcommands share, and the sessions `octet eval`
// compares.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "octet/octet.hpp"

namespace octet::cli {

// --threads, --fp32-layers, --fp32-ops, --no-winograd and --verbose, common to run, bench,
// eval and inspect. `verbose_help` describes --verbose where a command prints
// more than the precision report with it.
struct SessionFlags {
  int threads = 0;
  std::vector<std::string> fp32_layers;
  std::vector<std::string> fp32_ops;
  bool no_winograd = false;
  bool verbose = false;
};
void add_session_flags(CLI::App& app, SessionFlags& flags, const std::string& verbose_help = "");
SessionOptions session_options(const SessionFlags& flags);
// --verbose alone, for the commands with flags of their own (calibrate,
// quantize, sensitivity): print the precision report (print_precision_report)
// of what the command prepared, on stderr.
void add_verbose_flag(CLI::App& app, bool& verbose, const std::string& help = "");

// The sessions `octet eval` compares, by name: "fp32", then "int8" unless
// `fp32_only` or the model has no activation ranges, when `int8_note` says
// why int8 is skipped.
std::vector<std::pair<std::string, std::unique_ptr<Session>>> eval_sessions(
    const Model& model, const SessionFlags& flags, bool fp32_only, std::string& int8_note);

}  // namespace octet::cli
