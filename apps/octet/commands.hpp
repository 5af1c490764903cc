// The subcommands of the `octet` executable and what they share. Each
// add_<name>() registers a CLI11 subcommand and returns the function to run
// once the command line has parsed; it reports failures by throwing
// octet::Error, which main() prints as "octet <name>: error: <message>".
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "apps/octet/common.hpp"
#include "octet/octet.hpp"

namespace octet::cli {

struct Command {
  CLI::App* app = nullptr;
  std::function<void()> run;
};

Command add_convert(CLI::App& root);
Command add_run(CLI::App& root);
Command add_bench(CLI::App& root);
Command add_inspect(CLI::App& root);
Command add_zoo(CLI::App& root);
Command add_eval(CLI::App& root);
Command add_calibrate(CLI::App& root);
Command add_quantize(CLI::App& root);
Command add_sensitivity(CLI::App& root);
Command add_report(CLI::App& root);
Command add_tokenize(CLI::App& root);
Command add_ops(CLI::App& root);

// --threads, --fp32-layers, --fp32-ops and --verbose, common to run, bench,
// eval and inspect. `verbose_help` describes --verbose where a command prints
// more than the precision report with it.
struct SessionFlags {
  int threads = 0;
  std::vector<std::string> fp32_layers;
  std::vector<std::string> fp32_ops;
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

// `model` with `layers` and `ops` added to the fp32 blacklist of its
// quantization section, so that they are saved with it.
Model with_fp32_layers(const Model& model, const std::vector<std::string>& layers,
                       const std::vector<std::string>& ops);

// "octet 0.1.0\noneDNN 2.6.3\nCPU ISA avx512_core_vnni"
std::string version_text();

using Clock = std::chrono::steady_clock;
inline double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Fixed-point milliseconds for reports: "12.345".
std::string format_ms(double ms, int decimals = 3);

}  // namespace octet::cli
