// octet report NAME --table TABLE.json [--sensitivity S.json] [--study S.json]
// -o report.html:
// one self-contained HTML page on how a model quantizes (docs/report.md).
// This file gathers the facts; report_html.cpp lays them out.
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

#include "apps/octet/commands/commands.hpp"
#include "apps/octet/common/common.hpp"
#include "apps/octet/common/stats.hpp"
#include "apps/octet/report/report_html.hpp"
#include "runtime/ir/file_io.hpp"

namespace octet::cli {
namespace {

// `octet bench`'s seed, so both commands time the same input.
constexpr uint64_t kSeed = 20240501;
constexpr int kWarmup = 3;

struct ReportArgs {
  std::string model;
  std::string table;
  std::string sensitivity;
  std::string study;
  std::string method;
  std::string output = "report.html";
  int threads = 0;
  int runs = 20;
  bool no_bench = false;
  int64_t seq = 128;
  std::vector<std::string> shapes;
};

// fp32, int8 and (when the sensitivity file has one) int8 with its fallback,
// timed alternately in one loop as `octet bench --compare` does, so that all
// see the same machine load.
std::vector<Latency> measure(const Model& model, const std::map<std::string, Shape>& shapes,
                             const SessionOptions& base, const std::vector<std::string>& fallback,
                             int runs) {
  struct Timed {
    std::string label;
    std::unique_ptr<Session> session;
    std::vector<double> ms;
  };
  std::vector<Timed> timed;
  auto add = [&](const std::string& label, Precision precision,
                 const std::vector<std::string>& fp32_layers) {
    SessionOptions options = base;
    options.precision = precision;
    options.fp32_layers = fp32_layers;
    auto session = std::make_unique<Session>(model, options);
    session->prepare(shapes);
    for (size_t i = 0; i < model.inputs().size(); ++i) {
      fill_synthetic(session->input(i), model.inputs()[i].name, kSeed + i);
    }
    timed.push_back({label, std::move(session), {}});
  };
  add("fp32", Precision::fp32, {});
  add("int8", Precision::int8, {});
  if (!fallback.empty()) add("int8 + fallback", Precision::int8, fallback);
  for (int i = 0; i < kWarmup; ++i) {
    for (Timed& t : timed) t.session->run();
  }
  for (int i = 0; i < runs; ++i) {
    for (Timed& t : timed) {
      const auto start = Clock::now();
      t.session->run();
      t.ms.push_back(ms_since(start));
    }
  }
  std::vector<Latency> out;
  for (Timed& t : timed) out.push_back({t.label, compute_latency_stats(t.ms).median_ms});
  return out;
}

void report_command(const ReportArgs& args) {
  const Model model = load_model(args.model);
  const std::string hash = model.content_hash();
  ReportData data;
  data.model_name = args.model;
  data.model_hash = hash;
  data.table_file = args.table;
  data.table = CalibrationTable::load(args.table);
  // The same check, and the same words, as quantize() has for tables.
  auto check_hash = [&](const std::string& file, const std::string& what,
                        const std::string& file_hash) {
    if (!file_hash.empty() && file_hash != hash) {
      throw Error(ErrorCode::invalid_argument,
                  file + ": the " + what + " was made for a different model: its model_hash is " +
                      file_hash + ", this model's is " + hash + " (" + args.model + ")");
    }
  };
  if (!args.study.empty()) {
    data.study_file = args.study;
    data.study = load_study(args.study);
    check_hash(args.study, "study file", data.study->model_hash);
  }
  if (!args.sensitivity.empty()) {
    data.sensitivity_file = args.sensitivity;
    data.sensitivity = load_sensitivity(args.sensitivity);
    check_hash(args.sensitivity, "sensitivity file", data.sensitivity->model_hash);
  } else if (data.study && data.study->sensitivity) {
    // The study's own ablation, when no separate sensitivity file is given.
    data.sensitivity_file = args.study + " (its per-layer ablation)";
    data.sensitivity = data.study->sensitivity;
  }
  if (data.sensitivity && data.sensitivity->fallback) {
    data.fp32_layers = data.sensitivity->fallback->fp32_layers;
  }
  // The sensitivity file's numbers hold for the method it measured with.
  const std::string measured = data.sensitivity ? data.sensitivity->method : "";
  data.method = args.method.empty() ? measured : args.method;
  if (!args.method.empty() && !measured.empty() && args.method != measured) {
    std::cerr << "note: " << data.sensitivity_file << " was measured with method " << measured
              << "; the report shows --method " << args.method << "\n";
  }
  const Model quantized = [&] {
    try {
      return quantize(model, data.table, data.method);
    } catch (const Error& e) {
      throw Error(e.code(), args.table + ": " + e.what());
    }
  }();

  const auto shapes =
      resolve_input_shapes(model.inputs(), 1, args.seq, parse_shape_specs(args.shapes));
  for (const TensorInfo& in : model.inputs()) {
    data.input_shapes +=
        (data.input_shapes.empty() ? "" : ", ") + in.name + "=" + to_string(shapes.at(in.name));
  }
  SessionOptions options;
  options.threads = args.threads;
  options.fp32_layers = data.fp32_layers;
  Session session(quantized, options);
  session.prepare(shapes);
  data.layers = session.layers();
  // A stale fallback list (made for another version of the model) would
  // silently keep nothing in fp32.
  for (const std::string& name : data.fp32_layers) {
    bool found = false;
    for (const LayerInfo& l : data.layers) found = found || l.name == name;
    if (!found) {
      std::cerr << "warning: " << data.sensitivity_file << ": fallback layer '" << name
                << "' is not an executed layer of " << args.model << "\n";
    }
  }

  if (!args.no_bench) {
    options.fp32_layers.clear();
    data.latency = measure(quantized, shapes, options, data.fp32_layers, args.runs);
  }
  data.runs = args.runs;
  data.threads = args.threads;
  data.octet_version = version();
  data.onednn_version = onednn_version();
  data.cpu_isa = cpu_isa() + (cpu_has_vnni() ? " (VNNI)" : " (no VNNI)");

  const std::filesystem::path parent = std::filesystem::path(args.output).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  write_file_atomically(args.output, render_report_html(data));

  std::map<std::string, int> counts;
  for (const LayerInfo& l : data.layers) ++counts[layer_category(l)];
  std::cout << "wrote " << args.output << ": " << data.layers.size() << " layers ("
            << counts["int8"] << " int8, " << counts["fp32"] << " fp32, " << counts["reorder"]
            << " reorders), " << data.table.tensors.size() << " histograms";
  if (data.sensitivity) std::cout << ", " << data.sensitivity->layers.size() << " sensitivities";
  if (data.study) std::cout << ", " << data.study->rows.size() << " study rows";
  std::cout << "\n";
  for (const Latency& l : data.latency) {
    std::cout << "  " << l.label << " median " << format_ms(l.median_ms) << " ms\n";
  }
}

}  // namespace

Command add_report(CLI::App& root) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* app = root.add_subcommand(
      "report", "Write a self-contained HTML report: precision map, sensitivity, histograms");
  app->add_option("model", args->model, "Model NAME or .onnx file (the fp32 model calibrated)")
      ->required();
  app->add_option("--table", args->table, "Calibration table from `octet calibrate`")->required();
  app->add_option("--sensitivity", args->sensitivity,
                  "Sensitivity file from `octet sensitivity`: accuracy, the ranking and the "
                  "fp32 fallback the int8 session then keeps");
  app->add_option("--study", args->study,
                  "Study file from `octet study -o`: its table (and its per-layer ablation, "
                  "unless --sensitivity is given)");
  app->add_option("--method", args->method,
                  "Quantize every tensor with this method (default: the sensitivity file's, "
                  "else each tensor's choice in the table)");
  app->add_option("-o,--output", args->output, "The HTML file to write")->capture_default_str();
  app->add_option("--threads", args->threads, "Threads to run on (0: every core)")
      ->check(CLI::Range(0, 4096));
  app->add_option("--runs", args->runs, "Timed runs of each session (the median is shown)")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app->add_flag("--no-bench", args->no_bench, "Do not measure latency");
  app->add_option("--seq", args->seq, "Value of each input's second symbolic dimension")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  app->add_option("--shapes", args->shapes, "Explicit shapes: input=1x3x224x224,...")
      ->delimiter(',');
  return {app, [args] { report_command(*args); }};
}

}  // namespace octet::cli
