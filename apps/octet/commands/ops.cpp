// octet ops [--markdown]: the ONNX op types octet runs, from the op registry
// itself (octet::supported_op_types(), ops/registry.cpp), so that README's
// list cannot drift from the code (tools/readme_lists.py checks it in CTest).
#include <iostream>
#include <memory>

#include "octet/octet.hpp"

#include "apps/octet/commands/commands.hpp"

namespace octet::cli {
namespace {

void ops_main(bool markdown) {
  const std::vector<std::string> types = supported_op_types();
  if (!markdown) {
    for (const std::string& t : types) std::cout << t << "\n";
    return;
  }
  std::string line = std::to_string(types.size()) + " ONNX op types:";
  for (size_t i = 0; i < types.size(); ++i) {
    line += (i == 0 ? " `" : ", `") + types[i] + "`";
  }
  std::cout << line << ".\n";
}

}  // namespace

Command add_ops(CLI::App& root) {
  auto markdown = std::make_shared<bool>(false);
  CLI::App* app = root.add_subcommand("ops", "List the ONNX op types octet runs");
  app->add_flag("--markdown", *markdown, "One Markdown paragraph (README's list)");
  return {app, [markdown] { ops_main(*markdown); }};
}

}  // namespace octet::cli
