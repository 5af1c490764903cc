// octet export NAME -o model.qdq.onnx [--trt-calib-cache FILE]: the model
// with octet's scales as ONNX QuantizeLinear / DequantizeLinear pairs
// (loaders/onnx/onnx_export.hpp), so that another runtime runs octet's
// calibration; and/or TensorRT's calibration cache of its activation ranges.
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "apps/octet/commands/commands.hpp"
#include "apps/octet/common/common.hpp"
#include "loaders/formats/model_format.hpp"
#include "loaders/formats/trt_calibration_cache.hpp"
#include "loaders/onnx/onnx_export.hpp"
#include "runtime/ir/file_io.hpp"

namespace octet::cli {
namespace {

struct ExportArgs {
  std::string model;
  std::string output;
  std::string table;
  std::string method;
  std::string trt_cache;
  std::string trt_header = kTrtCalibrationHeader;
  int64_t batch = 1;
  int64_t seq = 128;
  bool seven_bit = false;
  bool verbose = false;
};

// The graph of `model` as octet holds it: read from its files when it is one
// as given, else saved to a temporary folder and read back (the apps see
// graphs only through the model format).
Graph graph_of(const Model& model, const std::string& name, bool as_given) {
  if (as_given) return read_model(name);
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("octet-export-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  struct Cleanup {
    std::filesystem::path dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir};
  model.save((dir / "model").string());
  return read_model((dir / "model").string());
}

void export_command(const ExportArgs& args) {
  if (args.output.empty() && args.trt_cache.empty()) {
    throw Error(ErrorCode::invalid_argument, "nothing to write: give -o and/or --trt-calib-cache");
  }
  Model model = load_model(args.model);
  const bool is_onnx = std::filesystem::path(args.model).extension() == ".onnx";
  if (!args.table.empty()) {
    const CalibrationTable table = CalibrationTable::load(args.table);
    try {
      model = quantize(model, table, args.method);
    } catch (const Error& e) {
      throw Error(e.code(), args.table + ": " + e.what());
    }
  }
  if (model.activation_range_count() == 0) {
    throw Error(ErrorCode::invalid_argument,
                args.model +
                    " has no activation ranges: quantize it first (octet quantize), or "
                    "give --table");
  }
  if (!args.output.empty()) {
    // Which layers octet runs in int8, from a session prepared on this CPU.
    Session session(model);
    session.prepare(resolve_input_shapes(model.inputs(), args.batch, args.seq, {}));
    const Graph graph = graph_of(model, args.model, args.table.empty() && !is_onnx);
    QdqExportOptions options;
    options.int8_nodes = int8_node_names(session.layers());
    options.seven_bit_weights = args.seven_bit;
    const QdqExport out = write_qdq_onnx(graph, options, args.output);
    if (args.verbose) {
      for (const std::string& line : out.log) std::cerr << "  " << line << "\n";
    }
    std::cout << "wrote " << args.output << " (opset " << out.opset << "): " << out.quantized_values
              << " activation QuantizeLinear/DequantizeLinear pairs, " << out.quantized_weights
              << " int8 weights, " << out.bytes.size() << " bytes\n";
  }
  if (!args.trt_cache.empty()) {
    std::vector<std::pair<std::string, float>> amax;
    for (const ActivationRange& r : model.activation_ranges()) amax.emplace_back(r.name, r.amax);
    write_file_atomically(args.trt_cache, trt_calibration_cache(amax, args.trt_header));
    std::cout << "wrote " << args.trt_cache << ": " << amax.size()
              << " tensor scales (amax / 127) for TensorRT\n";
  }
}

}  // namespace

Command add_export(CLI::App& root) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* app = root.add_subcommand(
      "export",
      "Write a quantized model as ONNX with QuantizeLinear/DequantizeLinear pairs, "
      "and/or TensorRT's calibration cache");
  app->add_option("model", args->model, "Model NAME (quantized) or .onnx file")->required();
  app->add_option("-o,--output", args->output, "The QDQ .onnx file to write");
  app->add_option("--table", args->table,
                  "Take the activation ranges from this calibration table (octet calibrate)");
  app->add_option("--method", args->method,
                  "With --table: this method's ranges for every tensor; default: the table's "
                  "choice");
  app->add_option("--trt-calib-cache", args->trt_cache,
                  "Also write the activation ranges as a TensorRT calibration cache");
  app->add_option("--trt-header", args->trt_header,
                  "The cache's first line (default " + std::string(kTrtCalibrationHeader) + ")");
  app->add_option("--batch", args->batch,
                  "Batch size the int8 plan is prepared for (first symbolic dimension)")
      ->check(CLI::Range(1, 1 << 20));
  app->add_option("--seq", args->seq, "Default for each input's second symbolic dimension")
      ->check(CLI::Range(1, 1 << 20));
  app->add_flag("--weights-7bit", args->seven_bit,
                "Every weight on 7 bits, for runtimes whose AVX2 int8 kernels saturate on 8-bit "
                "weights (ONNX Runtime's; default: the model's 8-bit weights)");
  app->add_flag("--verbose", args->verbose, "List each quantized value and weight on stderr");
  return {app, [args] { export_command(*args); }};
}

}  // namespace octet::cli
