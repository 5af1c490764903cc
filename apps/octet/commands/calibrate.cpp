// octet calibrate NAME --data DIR --method all -o TABLE.json: measure every
// activation's range on real samples (docs/calibration-table.md). With
// --choose auto (the default with --method all), a third pass over a bounded,
// evenly spread subset of the same samples scores each method's int8 model
// against fp32 and the best becomes the table's default.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <vector>

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
  std::string choose;  // empty: auto with "all", else the first method
  int64_t score_samples = 256;
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
  // `totals`: the samples of each pass.
  Progress(bool quiet, std::vector<int64_t> totals)
      : quiet_(quiet), tty_(isatty(STDERR_FILENO)), totals_(std::move(totals)) {}

  void update(int pass, int64_t done, const char* what) {
    if (quiet_) return;
    const double elapsed = ms_since(start_) / 1000;
    const int passes = static_cast<int>(totals_.size());
    const int64_t total = totals_[pass - 1];
    const bool last = pass == passes && done == total;
    if (!last && elapsed - shown_ < (tty_ ? 0.25 : 5.0)) return;
    shown_ = elapsed;
    int64_t all_done = done, all = 0;
    for (int p = 0; p < passes; ++p) {
      all += totals_[p];
      if (p < pass - 1) all_done += totals_[p];
    }
    // The scoring pass runs several models per sample: its ETA is an estimate
    // from the passes before it.
    const double rate = all_done / std::max(elapsed, 1e-9);
    const double eta = (all - all_done) / std::max(rate, 1e-9);
    char line[160];
    std::snprintf(line, sizeof line,
                  "pass %d/%d (%s): %lld/%lld samples, %.1f samples/s, ETA %.0f s", pass, passes,
                  what, static_cast<long long>(done), static_cast<long long>(total), rate, eta);
    std::cerr << (tty_ ? "\r" : "") << line << (tty_ && !last ? "" : "\n") << std::flush;
  }

 private:
  bool quiet_, tty_;
  std::vector<int64_t> totals_;
  Clock::time_point start_ = Clock::now();
  double shown_ = -1e9;
};

void calibrate(const CalibrateArgs& args) {
  const Model model = load_model(args.model);
  CalibrationOptions options;
  options.methods = args.methods;
  const bool all = std::find(args.methods.begin(), args.methods.end(), "all") != args.methods.end();
  // auto scores the f32 outputs; a model without one (ids, masks) keeps entropy.
  const bool scorable = std::any_of(model.outputs().begin(), model.outputs().end(),
                                    [](const TensorInfo& v) { return v.dtype == DataType::f32; });
  options.method = args.choose.empty() && all && scorable ? "auto" : args.choose;
  options.bins = args.bins;
  options.threads = args.threads;
  Calibrator calibrator(model, options);  // checks the options before the data is read
  const Source source = open_source(model, args.model, args.data, "calibrate");
  const size_t step = static_cast<size_t>(source.fixed_batch > 0 ? source.fixed_batch : args.batch);
  if (source.fixed_batch > 0 && source.count % step != 0) {
    throw Error(ErrorCode::invalid_argument,
                args.model + ": the model's batch size is fixed at " + std::to_string(step) +
                    "; select a multiple of it (" + std::to_string(source.count) +
                    " samples selected)");
  }

  // Pass 3 (--choose auto) scores on the calibration samples themselves: the
  // choice needs no other data, and every sample the user gave measures ranges.
  // It runs fp32 and every method's int8 model per sample, so it sees only
  // --score-samples of them, whole batches spread evenly over the selection
  // (the data may be sorted by class).
  std::vector<const char*> passes = {"ranges"};
  if (calibrator.needs_histograms()) passes.push_back("histograms");
  if (calibrator.needs_scoring()) passes.push_back("scoring");
  std::vector<size_t> firsts;  // of the scored batches
  std::vector<int64_t> totals(passes.size(), static_cast<int64_t>(source.count));
  if (calibrator.needs_scoring()) {
    firsts = scored_batch_starts(source.count, step, args.score_samples);
    totals.back() = 0;
    for (size_t first : firsts)
      totals.back() += static_cast<int64_t>(std::min(source.count - first, step));
  }
  Progress progress(args.quiet, totals);
  const auto start = Clock::now();
  for (size_t pass = 0; pass < passes.size(); ++pass) {
    if (pass > 0 && passes[pass] == std::string("histograms")) calibrator.start_histograms();
    const bool scoring = passes[pass] == std::string("scoring");
    if (scoring) calibrator.start_scoring();
    size_t done = 0, k = 0;
    for (size_t first = 0; first < source.count; first += step) {
      const size_t n = std::min(source.count - first, step);
      if (scoring) {
        if (k == firsts.size() || firsts[k] != first) continue;
        ++k;
      }
      calibrator.add(source.batch(first, n));
      done += n;
      progress.update(static_cast<int>(pass + 1), static_cast<int64_t>(done), passes[pass]);
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
            << "methods: " << methods << "; chosen: " << table.method
            << (table.score_by_method.empty() ? "" : " (auto)") << "\n";
  if (!table.score_by_method.empty()) {
    std::cout << "int8 output SQNR vs fp32 on " << table.scored_samples
              << " samples (dB, the worst output):\n";
    for (const auto& [m, db] : table.score_by_method) {
      char line[96];
      std::snprintf(line, sizeof line, "  %-20s %7.2f%s\n", m.c_str(), db,
                    m == table.method ? "  <- chosen" : "");
      std::cout << line;
    }
  }
  std::cout << "next: octet quantize " << args.model << " --table " << args.output
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
                  "The table's default method, or auto: the one whose int8 model's outputs are "
                  "closest to fp32's on the samples (SQNR; a third pass). Default: auto with "
                  "all, else the first method");
  app->add_option("--score-samples", args->score_samples,
                  "Samples the auto choice scores on, evenly spread over those selected (0: "
                  "all); each runs fp32 and every method's int8 model")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40))
      ->capture_default_str();
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
