// octet sensitivity NAME --table T --data D --metric top1: which layers lose
// accuracy in int8 (the paper's one-layer-at-a-time ablation, both ways
// round), how far each layer's output drifts in the fully int8 model, and,
// with a target, the fewest fp32 layers that bring the metric back.
//
// The measurements are apps/octet/sensitivity/ablation.hpp's, on samples
// held in memory; the fp32 reference outputs are computed once.
#include <cmath>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "apps/octet/commands/commands.hpp"
#include "apps/octet/common/common.hpp"
#include "apps/octet/common/data_source.hpp"
#include "apps/octet/common/session_flags.hpp"
#include "apps/octet/common/stats.hpp"
#include "apps/octet/sensitivity/ablation.hpp"
#include "runtime/ir/file_io.hpp"

namespace octet::cli {
namespace {

using json = nlohmann::ordered_json;

struct SensitivityArgs {
  std::string model, table, method;
  DataFlags data;
  std::string metric = "top1";
  int64_t batch = 32;
  int threads = 0;
  std::string output;      // the JSON results
  std::string save_model;  // the quantized model with the fallback's blacklist
  std::string target_drop;
  double target = std::numeric_limits<double>::quiet_NaN();
  double max_seconds = 0;
  size_t max_fp32_layers = 0;
  bool only_this = false;
  int bench_runs = 20;
  int suggest = 3;
  bool quiet = false;
  bool verbose = false;
};

class Analysis {
 public:
  explicit Analysis(const SensitivityArgs& args)
      : args_(args), metric_(parse_metric(args.metric)) {}
  void run();

 private:
  void note(const std::string& line) const {
    if (!args_.quiet) std::cerr << line << "\n";
  }
  void load();
  void bench();
  json to_json() const;
  void print() const;

  const SensitivityArgs& args_;
  const Metric metric_;
  const Clock::time_point start_ = Clock::now();
  std::string model_hash_, method_;
  std::string data_description_;
  size_t samples_ = 0;
  int64_t batch_ = 0;
  std::unique_ptr<Evaluator> evaluator_;
  std::unique_ptr<Ablation> ablation_;
  LatencyStats fp32_ms_, int8_ms_, fallback_ms_;
};

void Analysis::load() {
  const Model model = load_model(args_.model);
  const CalibrationTable table = CalibrationTable::load(args_.table);
  std::optional<Model> quantized;
  try {
    quantized.emplace(quantize(model, table, args_.method));
  } catch (const Error& e) {
    throw Error(e.code(), args_.table + ": " + e.what());
  }
  model_hash_ = model.content_hash();
  method_ = args_.method.empty() ? table.method : args_.method;
  const Source source = open_source(*quantized, args_.model, args_.data, "sensitivity");
  if (metric_ == Metric::top1 && source.labels.empty()) {
    throw Error(ErrorCode::invalid_argument,
                args_.data.data +
                    ": --metric top1 needs labeled samples (class folders or a "
                    "list with labels); --metric sqnr or cosine needs none");
  }
  HeldSamples held = hold_samples(*quantized, source, args_.batch, args_.threads, args_.data.data);
  batch_ = held.batch;
  samples_ = source.count;
  data_description_ = source.description;
  evaluator_ = std::move(held.evaluator);
  AblationOptions a;
  a.metric = metric_;
  a.threads = args_.threads;
  a.max_seconds = args_.max_seconds;
  a.max_fp32_layers = args_.max_fp32_layers;
  a.all_but = !args_.only_this;
  a.note = [this](const std::string& line) { note(line); };
  if (args_.verbose) a.report_title = args_.model + " quantized with " + args_.table;
  ablation_ = std::make_unique<Ablation>(std::move(*quantized), *evaluator_, std::move(held.shapes),
                                         std::move(a), args_.model);
}

// fp32, all-int8 and the fallback on the same batch, runs interleaved so
// that the machine's drift hits them alike.
void Analysis::bench() {
  if (args_.bench_runs <= 0) return;
  const bool searched = ablation_->searched();
  std::vector<std::unique_ptr<Session>> sessions;
  for (int k = 0; k < (searched ? 3 : 2); ++k) {
    SessionOptions o;
    o.threads = args_.threads;
    o.precision = k == 0 ? Precision::fp32 : Precision::int8;
    if (k == 2) o.fp32_layers = ablation_->fallback();
    sessions.push_back(std::make_unique<Session>(ablation_->quantized(), o));
    sessions.back()->run(evaluator_->batches()[0].inputs);  // prepare and warm up
  }
  std::vector<std::vector<double>> ms(sessions.size());
  for (int run = 0; run < args_.bench_runs; ++run) {
    for (size_t k = 0; k < sessions.size(); ++k) {
      const auto t0 = Clock::now();
      sessions[k]->run();
      ms[k].push_back(ms_since(t0));
    }
  }
  fp32_ms_ = compute_latency_stats(ms[0]);
  int8_ms_ = compute_latency_stats(ms[1]);
  if (searched) fallback_ms_ = compute_latency_stats(ms[2]);
}

void Analysis::run() {
  load();
  Ablation& a = *ablation_;
  note("fp32 " + std::string(metric_name(metric_)) + " " + format_ms(a.fp32_value(), 4) +
       ", int8 " + format_ms(a.int8().value(metric_), 4) + "; " + std::to_string(a.rows().size()) +
       " int8 layers, " + std::to_string(samples_) + " samples");
  a.measure_layers();
  a.rank();
  Target target = args_.target_drop.empty() ? Target{} : parse_target_drop(args_.target_drop);
  if (!std::isnan(args_.target)) target = {Target::absolute, args_.target};
  // The best configuration so far is saved after every improvement, so an
  // interrupted or timed-out search still leaves a usable model behind.
  a.search(target, [&](const std::vector<std::string>& fp32_layers) {
    if (!args_.save_model.empty())
      a.quantized().with_fp32_layers(fp32_layers).save(args_.save_model);
  });
  bench();
  if (a.searched() && !args_.save_model.empty()) {
    a.quantized().with_fp32_layers(a.fallback()).save(args_.save_model);
  }
  if (!args_.output.empty()) write_file_atomically(args_.output, to_json().dump(1) + "\n");
  print();
}

json latency_json(const LatencyStats& s) {
  return s.count ? json(s.median_ms) : json(nullptr);
}

json Analysis::to_json() const {
  const Ablation& a = *ablation_;
  json j;
  j["format"] = "octet-sensitivity";
  j["version"] = 1;
  j["model"] = args_.model;
  j["model_hash"] = model_hash_;
  j["table"] = args_.table;
  j["method"] = method_;
  j["data"] = data_description_;
  j["samples"] = samples_;
  j["batch"] = batch_;
  j["seconds"] = ms_since(start_) / 1000;
  j["sweep_seconds"] = a.sweep_seconds();
  j["trials"] = a.trials();
  j["sweep_trials"] = a.sweep_trials();
  j["prepare_ms"] = a.prepare_ms();
  j.update(a.to_json());
  if (a.searched()) {
    j["fallback"]["latency_ms"] = {{"fp32", latency_json(fp32_ms_)},
                                   {"int8", latency_json(int8_ms_)},
                                   {"fallback", latency_json(fallback_ms_)}};
    j["fallback"]["batch"] = batch_;
  } else if (fp32_ms_.count) {
    j["latency_ms"] = {{"fp32", latency_json(fp32_ms_)}, {"int8", latency_json(int8_ms_)}};
  }
  return j;
}

void Analysis::print() const {
  const Ablation& a = *ablation_;
  const Metric m = metric_;
  const std::string unit = metric_unit(m);
  auto with_drop = [&](const TrialResult& r) {
    std::string s = metric_text(r.value(m), m) + unit;
    if (m != Metric::sqnr) {
      const std::string d = metric_text(-a.drop(r), m);
      const bool sign = d[0] != '-' && d.find_first_not_of("0.") != std::string::npos;
      s += " (" + std::string(sign ? "+" : "") + d + ")";
    }
    return s;
  };
  std::vector<std::vector<std::string>> table = {{"rank", "layer", "op", "only this int8",
                                                  "all but this int8", "output SQNR dB",
                                                  "output cosine"}};
  const std::vector<LayerRow>& rows = a.rows();
  for (size_t i = 0; i < rows.size(); ++i) {
    const LayerRow& r = rows[i];
    table.push_back({std::to_string(i + 1), r.info.name, r.info.op,
                     r.measured ? with_drop(r.only_this) : "-",
                     r.measured ? with_drop(r.all_but) : "-",
                     metric_text(r.error.sqnr_db(), Metric::sqnr), format_ms(r.error.cosine(), 5)});
  }
  std::cout << format_table(table) << "\n"
            << metric_name(m) << ": fp32 " << metric_text(a.fp32_value(), m) << unit << ", int8 "
            << with_drop(a.int8()) << ", " << samples_ << " samples\n"
            << "sweep: " << rows.size() << " layers, " << a.sweep_trials() << " configurations in "
            << format_ms(a.sweep_seconds(), 1) << " s (sessions prepared in "
            << format_ms(a.prepare_ms() / 1000, 2) << " s for all " << a.trials() << ")\n";
  std::vector<std::string> suggestion;
  if (a.searched()) {
    const size_t n = a.fallback().size();
    std::cout << "fallback: " << n << " layer" << (n == 1 ? "" : "s") << " in fp32, "
              << rows.size() - n << " of " << rows.size() << " int8: " << metric_name(m) << " "
              << with_drop(a.fallback_result()) << ", target " << metric_text(a.threshold(), m)
              << unit << (a.reached() ? " reached" : " NOT reached") << "\n";
    suggestion = a.fallback();
  } else {
    for (size_t i = 0; i < rows.size() && i < static_cast<size_t>(args_.suggest); ++i) {
      suggestion.push_back(rows[i].info.name);
    }
  }
  if (fp32_ms_.count) {
    std::cout << "latency (batch " << batch_ << ", median of " << fp32_ms_.count << " runs): fp32 "
              << format_ms(fp32_ms_.median_ms) << " ms, int8 " << format_ms(int8_ms_.median_ms)
              << " ms";
    if (a.searched())
      std::cout << ", int8 with fallback " << format_ms(fallback_ms_.median_ms) << " ms";
    std::cout << "\n";
  }
  std::string list;
  for (const std::string& n : suggestion) list += (list.empty() ? "" : ",") + n;
  if (!list.empty()) {
    std::cout << (a.searched() ? "the fallback's"
                               : "the " + std::to_string(suggestion.size()) +
                                     " most sensitive layers in fp32:")
              << " --fp32-layers " << list << "\n";
  }
  if (!args_.save_model.empty() && a.searched()) std::cout << "wrote " << args_.save_model << "\n";
  if (!args_.output.empty()) std::cout << "wrote " << args_.output << "\n";
}

}  // namespace

Command add_sensitivity(CLI::App& root) {
  auto args = std::make_shared<SensitivityArgs>();
  CLI::App* app = root.add_subcommand(
      "sensitivity",
      "Per-layer int8 sensitivity, and the fp32 layers that bring a metric back to target");
  app->add_option("model", args->model, "Model NAME or .onnx file")->required();
  app->add_option("--table", args->table, "Calibration table from `octet calibrate`")->required();
  app->add_option("--method", args->method,
                  "Ranges of this calibration method (default: the table's choice)");
  add_data_flags(*app, args->data);
  app->add_option("--metric", args->metric, "top1 (needs labels), sqnr or cosine")
      ->capture_default_str();
  app->add_option("--batch", args->batch, "Samples per run")->check(CLI::Range(1, 1 << 16));
  app->add_option("--threads", args->threads, "Threads to run on (0: every core)")
      ->check(CLI::Range(0, 4096));
  app->add_option("-o,--output", args->output, "Write the results as JSON here");
  app->add_option("--target-drop", args->target_drop,
                  "Greedy fallback until the metric is within this many points of fp32 (0.5) "
                  "or percent of it (1%)");
  app->add_option(
      "--target", args->target,
      "Greedy fallback until the metric reaches this value (e.g. 40 for --metric sqnr)");
  app->add_option("--save-model", args->save_model,
                  "Write the quantized model with the fallback's fp32 layers here (NAME)");
  app->add_option("--max-seconds", args->max_seconds,
                  "Stop the sweep and the search after this long (0: no limit)")
      ->check(CLI::NonNegativeNumber);
  app->add_option("--max-fp32-layers", args->max_fp32_layers,
                  "Stop the search with this many layers in fp32 (0: no limit)");
  app->add_flag("--only-this", args->only_this,
                "Measure each layer alone in int8 only, not every layer but it (half the "
                "sweep; the ranking needs only the former)");
  app->add_option("--bench-runs", args->bench_runs,
                  "Timed runs of fp32, int8 and the fallback (0: no latency)")
      ->check(CLI::Range(0, 100000));
  app->add_option("--suggest", args->suggest,
                  "Without a target, how many of the most sensitive layers to list")
      ->check(CLI::Range(0, 100000));
  app->add_flag("--quiet", args->quiet, "No progress on stderr");
  add_verbose_flag(*app, args->verbose,
                   "Print the precision report of the fully int8 model on stderr");
  return {app, [args] { Analysis(*args).run(); }};
}

}  // namespace octet::cli
