// octet convert model.onnx -o NAME: import an ONNX model and save it in the
// octet format (NAME.octet.json + NAME.octet.bin).
#include <filesystem>
#include <iostream>
#include <memory>

#include "apps/octet/commands/commands.hpp"
#include "apps/octet/common/common.hpp"
#include "loaders/formats/model_format.hpp"

namespace octet::cli {
namespace {

struct ConvertArgs {
  std::string onnx;
  std::string output;
};

void convert(const ConvertArgs& args) {
  const auto start = Clock::now();
  const Model model = Model::import_onnx(args.onnx);
  const double import_ms = ms_since(start);
  for (const std::string& line : model.import_log()) std::cout << "  " << line << "\n";
  std::cout << "imported " << args.onnx << ": " << model.node_count() << " nodes in "
            << format_ms(import_ms, 1) << " ms\n";

  const std::filesystem::path parent = std::filesystem::path(args.output).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec)
    throw Error(ErrorCode::io, parent.string() + ": cannot create directory: " + ec.message());
  model.save(args.output);
  // The same naming rule as Model::save, so "-o foo.octet.json" reports the
  // files it really wrote.
  const ModelPaths paths = model_paths(args.output);
  for (const std::string& file : {paths.json, paths.bin}) {
    const auto size = std::filesystem::file_size(file, ec);
    std::cout << "wrote " << file;
    if (!ec) std::cout << " (" << size << " bytes)";
    std::cout << "\n";
  }
}

}  // namespace

Command add_convert(CLI::App& root) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* app =
      root.add_subcommand("convert", "Import an ONNX model and save it as NAME.octet.*");
  app->add_option("model", args->onnx, "The .onnx file")->required();
  app->add_option("-o,--output", args->output, "Output NAME: writes NAME.octet.json and .bin")
      ->required();
  return {app, [args] { convert(*args); }};
}

}  // namespace octet::cli
