// octet calibrate NAME --data DIR --method all -o TABLE.json: measure every
// activation's range on real samples (docs/calibration-table.md).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>

#include "apps/octet/commands/commands.hpp"
#include "apps/octet/common/common.hpp"
#include "apps/octet/common/data_source.hpp"
#include "apps/octet/common/session_flags.hpp"

namespace octet::cli {
namespace {

struct CalibrateArgs {
  std::string model;
  DataFlags data;
  std::vector<std::string> methods = {"all"};
  std::string choose;
  int64_t batch = 16;
  int bins = 2048;
  int threads = 0;
  bool quiet = false;
  bool verbose = false;
  std::string output;
};

// Samples done, rate and ETA on stderr: in place on a terminal, otherwise a
// line every few seconds so that logs stay short.
class Progress {
 public:
  Progress(bool quiet, int passes, int64_t total)
      : quiet_(quiet), tty_(isatty(STDERR_FILENO)), passes_(passes), total_(total) {}

  void update(int pass, int64_t done) {
    if (quiet_) return;
    const double elapsed = ms_since(start_) / 1000;
    const bool last = pass == passes_ && done == total_;
    if (!last && elapsed - shown_ < (tty_ ? 0.25 : 5.0)) return;
    shown_ = elapsed;
    const int64_t all_done = (pass - 1) * total_ + done;
    const double rate = all_done / std::max(elapsed, 1e-9);
    const double eta = (passes_ * total_ - all_done) / std::max(rate, 1e-9);
    char line[160];
    std::snprintf(line, sizeof line,
                  "pass %d/%d (%s): %lld/%lld samples, %.1f samples/s, ETA %.0f s", pass, passes_,
                  pass == 1 ? "ranges" : "histograms", static_cast<long long>(done),
                  static_cast<long long>(total_), rate, eta);
    std::cerr << (tty_ ? "\r" : "") << line << (tty_ && !last ? "" : "\n") << std::flush;
  }

 private:
  bool quiet_, tty_;
  int passes_;
  int64_t total_;
  Clock::time_point start_ = Clock::now();
  double shown_ = -1e9;
};

void calibrate(const CalibrateArgs& args) {
  const Model model = load_model(args.model);
  const Source source = open_source(model, args.model, args.data, "calibrate");
  const size_t step = static_cast<size_t>(source.fixed_batch > 0 ? source.fixed_batch : args.batch);
  if (source.fixed_batch > 0 && source.count % step != 0) {
    throw Error(ErrorCode::invalid_argument,
                args.model + ": the model's batch size is fixed at " + std::to_string(step) +
                    "; select a multiple of it (" + std::to_string(source.count) +
                    " samples selected)");
  }

  CalibrationOptions options;
  options.methods = args.methods;
  options.method = args.choose;
  options.bins = args.bins;
  options.threads = args.threads;
  Calibrator calibrator(model, options);
  const int passes = calibrator.needs_histograms() ? 2 : 1;
  Progress progress(args.quiet, passes, static_cast<int64_t>(source.count));
  const auto start = Clock::now();
  for (int pass = 1; pass <= passes; ++pass) {
    if (pass == 2) calibrator.start_histograms();
    for (size_t first = 0; first < source.count; first += step) {
      const size_t n = std::min(source.count - first, step);
      calibrator.add(source.batch(first, n));
      progress.update(pass, static_cast<int64_t>(first + n));
    }
  }
  CalibrationTable table = calibrator.table();
  table.data_source = source.description;
  table.save(args.output);

  int u8 = 0;
  for (const TensorCalibration& t : table.tensors) u8 += t.dtype == DataType::u8;
  std::string methods;
  for (const std::string& m : table.methods) methods += (methods.empty() ? "" : ", ") + m;
  std::cout << "wrote " << args.output << ": " << table.tensors.size() << " tensors (" << u8
            << " u8, " << table.tensors.size() - u8 << " s8) from " << table.samples
            << " samples in " << format_ms(ms_since(start) / 1000, 1) << " s\n"
            << "methods: " << methods << "; chosen: " << table.method << "\n"
            << "next: octet quantize " << args.model << " --table " << args.output
            << " -o NAME-int8\n";
  if (args.verbose) {
    // What `octet quantize` makes of this table, for the shapes calibration ran.
    SessionOptions session_options;
    session_options.threads = args.threads;
    Session session(quantize(model, table), session_options);
    std::map<std::string, Shape> shapes;
    const std::vector<Tensor> first = source.batch(0, std::min(source.count, step));
    for (size_t k = 0; k < first.size(); ++k) shapes[model.inputs()[k].name] = first[k].shape();
    session.prepare(shapes);
    print_precision_report(args.model + " quantized with " + args.output, session);
  }
}

}  // namespace

Command add_calibrate(CLI::App& root) {
  auto args = std::make_shared<CalibrateArgs>();
  CLI::App* app = root.add_subcommand(
      "calibrate", "Measure activation ranges on real samples and write a calibration table");
  app->add_option("model", args->model, "Model NAME or .onnx file")->required();
  add_data_flags(*app, args->data);
  app->add_option("--method", args->methods,
                  "Comma-separated: max, entropy, mse, percentile[=P] or all (max, entropy, mse "
                  "and the 99.9/99.99/99.999/99.9999 percentiles)")
      ->delimiter(',')
      ->capture_default_str();
  app->add_option("--choose", args->choose,
                  "The table's default method (default: entropy with all, else the first)");
  app->add_option("--batch", args->batch, "Samples decoded per step (does not change the table)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}))
      ->capture_default_str();
  app->add_option("--bins", args->bins, "Histogram bins per tensor")
      ->check(CLI::Range(128, 1 << 20))
      ->capture_default_str();
  app->add_option("--threads", args->threads, "Threads to run on (0: every core)")
      ->check(CLI::Range(0, 4096));
  app->add_flag("--quiet", args->quiet, "No progress on stderr");
  add_verbose_flag(*app, args->verbose,
                   "Print the precision report of the model quantized with this table on stderr");
  app->add_option("-o,--output", args->output, "The table to write (JSON)")->required();
  return {app, [args] { calibrate(*args); }};
}

}  // namespace octet::cli
