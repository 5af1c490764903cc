// octet zoo NAME [--seed N] -o OUT: write a reference architecture (ResNet,
// BERT) with seeded random weights, so benchmarks need no download.
#include <filesystem>
#include <iostream>
#include <memory>

#include "apps/octet/commands/commands.hpp"
#include "apps/octet/common/common.hpp"
#include "apps/zoo/zoo.hpp"
#include "loaders/formats/model_format.hpp"

namespace octet::cli {
namespace {

struct ZooArgs {
  std::string name;
  uint32_t seed = 0;
  std::string output;
};

void zoo_main(const ZooArgs& args) {
  const auto start = Clock::now();
  Graph graph = zoo::build(args.name, args.seed);
  graph.producer =
      "octet " + version() + " zoo " + args.name + " --seed " + std::to_string(args.seed);
  const std::filesystem::path parent = std::filesystem::path(args.output).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  write_model(graph, args.output);
  const ModelPaths paths = model_paths(args.output);
  std::cout << "built " << args.name << " (seed " << args.seed << "): " << graph.nodes.size()
            << " nodes in " << format_ms(ms_since(start), 1) << " ms\nwrote " << paths.json
            << "\nwrote " << paths.bin << " (" << std::filesystem::file_size(paths.bin)
            << " bytes)\n";
}

}  // namespace

Command add_zoo(CLI::App& root) {
  auto args = std::make_shared<ZooArgs>();
  CLI::App* app = root.add_subcommand(
      "zoo", "Write a reference architecture with seeded random weights (no download)");
  app->add_option("name", args->name, "Architecture")
      ->required()
      ->check(CLI::IsMember(zoo::names()));
  app->add_option("--seed", args->seed, "Seed of the random weights")->capture_default_str();
  app->add_option("-o,--output", args->output, "Output NAME: writes NAME.octet.json and .bin")
      ->required();
  return {app, [args] { zoo_main(*args); }};
}

}  // namespace octet::cli
