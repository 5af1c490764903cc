// octet ops [--markdown]: the ONNX op types octet runs, from the op registry
// (ops/registry.cpp) itself, so that README's list cannot drift from the code
// (tools/readme_lists.py checks it in CTest).
#include <algorithm>
#include <iostream>
#include <memory>

#include "apps/octet/commands.hpp"
#include "ops/registry.hpp"

namespace octet::cli {
namespace {

void ops_main(bool markdown) {
  std::vector<std::string> types;
  for (const OpEntry& e : op_registry()) types.push_back(e.type);
  std::sort(types.begin(), types.end());
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
