// The subcommands of the `octet` executable, one file each in this folder.
// Each add_<name>() registers a CLI11 subcommand and returns the function to
// run once the command line has parsed; it reports failures by throwing
// octet::Error, which main() prints as "octet <name>: error: <message>".
// A new subcommand is its file here (defining add_<name>) and its name in
// OCTET_COMMANDS.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace octet::cli {

struct Command {
  CLI::App* app = nullptr;
  std::function<void()> run;
};

// Every subcommand, in the order `octet --help` lists them.
#define OCTET_COMMANDS(X) \
  X(convert)              \
  X(run)                  \
  X(bench)                \
  X(inspect)              \
  X(zoo)                  \
  X(eval)                 \
  X(calibrate)            \
  X(quantize)             \
  X(sensitivity)          \
  X(report)               \
  X(tokenize)             \
  /* end */

#define OCTET_DECLARE_COMMAND(name) Command add_##name(CLI::App& root);
OCTET_COMMANDS(OCTET_DECLARE_COMMAND)
#undef OCTET_DECLARE_COMMAND

}  // namespace octet::cli
