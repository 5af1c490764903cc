// The subcommands of the `octet` executable, one file each in this folder.
// Each add_<name>() registers a CLI11 subcommand and returns the function to
// run once the command line has parsed; it reports failures by throwing
// octet::Error, which main() prints as "octet <name>: error: <message>".
// A command whose outcome is a verdict (compare) sets `check` instead of
// `run`: it returns the exit code (0 pass, 1 fail), and its errors exit 2.
// A new subcommand is its file here (defining add_<name>) and its name in
// OCTET_COMMANDS.
#pragma once

#include <functional>
#include <utility>

#include <CLI/CLI.hpp>

namespace octet::cli {

struct Command {
  Command(CLI::App* a, std::function<void()> r) : app(a), run(std::move(r)) {}
  Command(CLI::App* a, std::function<int()> c) : app(a), check(std::move(c)) {}
  CLI::App* app = nullptr;
  std::function<void()> run;
  std::function<int()> check;
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
  X(export)               \
  X(sensitivity)          \
  X(compare)              \
  X(study)                \
  X(report)               \
  X(tokenize)             \
  X(ops)                  \
  /* end */

#define OCTET_DECLARE_COMMAND(name) Command add_##name(CLI::App& root);
OCTET_COMMANDS(OCTET_DECLARE_COMMAND)
#undef OCTET_DECLARE_COMMAND

}  // namespace octet::cli
