// octet: convert, run, benchmark and inspect models from the command line.
//
// Exit codes: 0 success, 1 the command failed (an octet::Error, printed as
// "octet <command>: error: <message>"), 2 the command line was wrong. A
// verdict command (compare) exits 1 when its check fails and 2 on an error,
// so that CI tells a regression from a broken invocation.
#include <iostream>
#include <new>

#include "apps/octet/commands/commands.hpp"
#include "apps/octet/common/common.hpp"

namespace {

int execute(const octet::cli::Command& command) {
  const std::string prefix = "octet " + command.app->get_name() + ": error: ";
  const int error_code = command.check ? 2 : 1;
  try {
    if (command.check) return command.check();
    command.run();
    return 0;
  } catch (const octet::Error& e) {
    std::cerr << prefix << e.what() << "\n";
  } catch (const std::bad_alloc&) {
    std::cerr << prefix << "out of memory\n";
  } catch (const std::exception& e) {
    // Not octet's own failure mode, but still one line and exit code 1.
    std::cerr << prefix << "internal error: " << e.what() << "\n";
  }
  return error_code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"octet: int8 inference for x86 CPUs", "octet"};
  app.set_version_flag("--version", std::function<std::string()>(octet::cli::version_text),
                       "Print the octet and oneDNN versions and the CPU ISA, then exit");
  app.require_subcommand(0, 1);
#define OCTET_ADD_COMMAND(name) octet::cli::add_##name(app),
  const std::vector<octet::cli::Command> commands = {OCTET_COMMANDS(OCTET_ADD_COMMAND)};
#undef OCTET_ADD_COMMAND
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::string where = "octet";
    for (const CLI::App* sub : app.get_subcommands()) where += " " + sub->get_name();
    std::cerr << where << ": error: " << e.what() << "\nRun '" << where
              << " --help' for more information.\n";
    return 2;
  }
  for (const octet::cli::Command& command : commands) {
    if (command.app->parsed()) return execute(command);
  }
  std::cerr << app.help();
  return 2;
}
