// octet quantize NAME --table TABLE.json -o NAME-int8: the table's activation
// ranges (and an optional fp32 blacklist) written into the model's
// quantization section, and the int8 layers' weights stored as s8
// (Model::with_int8_weights) unless --fp32-weights.
#include <filesystem>
#include <iostream>
#include <memory>

#include "apps/octet/commands/commands.hpp"
#include "apps/octet/common/common.hpp"
#include "apps/octet/common/session_flags.hpp"
#include "loaders/formats/model_format.hpp"

namespace octet::cli {
namespace {

struct QuantizeArgs {
  std::string model;
  std::string table;
  std::string method;
  std::string output;
  std::vector<std::string> fp32_layers;
  std::vector<std::string> fp32_ops;
  bool fp32_weights = false;
  bool verbose = false;
};

void quantize_command(const QuantizeArgs& args) {
  const Model model = load_model(args.model);
  const CalibrationTable table = CalibrationTable::load(args.table);
  Model quantized = [&] {
    try {
      return quantize(model, table, args.method);
    } catch (const Error& e) {
      throw Error(e.code(), args.table + ": " + e.what());
    }
  }();
  quantized = quantized.with_fp32_layers(args.fp32_layers, args.fp32_ops);
  if (!args.fp32_weights && quantized.activation_range_count() > 0) {
    quantized = quantized.with_int8_weights();
  }
  int u8 = 0, s8 = 0;
  for (const ActivationRange& r : quantized.activation_ranges()) {
    ++(r.dtype == DataType::u8 ? u8 : s8);
  }
  const std::filesystem::path parent = std::filesystem::path(args.output).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  quantized.save(args.output);
  const ModelPaths paths = model_paths(args.output);
  std::cout << "wrote " << paths.json << " and " << paths.bin << ": " << (u8 + s8)
            << " activation ranges (" << u8 << " u8, " << s8 << " s8), method "
            << (args.method.empty() ? table.method + " (the table's choice)" : args.method)
            << ", from " << table.samples << " samples\n";
  if (args.verbose) {
    // Prepared for the shapes `octet inspect` uses by default.
    Session session(quantized);
    session.prepare(resolve_input_shapes(quantized.inputs(), 1, 128, {}));
    print_precision_report(args.output, session);
  }
}

}  // namespace

Command add_quantize(CLI::App& root) {
  auto args = std::make_shared<QuantizeArgs>();
  CLI::App* app = root.add_subcommand(
      "quantize", "Write a calibration table's activation ranges into a model (NAME-int8)");
  app->add_option("model", args->model, "Model NAME or .onnx file")->required();
  app->add_option("--table", args->table, "Calibration table from `octet calibrate`")->required();
  app->add_option("--method", args->method,
                  "Use this method's ranges for every tensor (max, entropy, mse, "
                  "percentile=P); default: each tensor's choice in the table");
  app->add_option("--fp32-layers", args->fp32_layers,
                  "Comma-separated node names or glob patterns the model keeps in fp32")
      ->delimiter(',');
  app->add_option("--fp32-ops", args->fp32_ops, "Comma-separated op types kept in fp32")
      ->delimiter(',');
  app->add_option("-o,--output", args->output, "Output NAME: writes NAME.octet.json and .bin")
      ->required();
  app->add_flag("--fp32-weights", args->fp32_weights,
                "Keep the weights f32 (by default the int8 layers' weights are stored as s8, "
                "about 4x smaller, computing the same bits)");
  add_verbose_flag(*app, args->verbose,
                   "Print the quantized model's precision report (batch 1, seq 128) on stderr");
  return {app, [args] { quantize_command(*args); }};
}

}  // namespace octet::cli
