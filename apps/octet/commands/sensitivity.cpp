// octet sensitivity NAME --table T --data D --metric top1: which layers lose
// accuracy in int8 (the paper's one-layer-at-a-time ablation, both ways
// round), how far each layer's output drifts in the fully int8 model, and,
// with a target, the fewest fp32 layers that bring the metric back.
//
// Every configuration is a fresh Session over the same quantized Model and
// the same in-memory samples; the fp32 reference outputs are computed once.
// Sessions of one model share its weights (memory-mapped) and oneDNN's
// primitive cache, so preparing one costs little next to running the samples.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
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
#include "apps/octet/sensitivity/sensitivity.hpp"
#include "runtime/ir/file_io.hpp"

namespace octet::cli {
namespace {

using json = nlohmann::ordered_json;

constexpr size_t kMaxSampleBytes = size_t{4} << 30;

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
  int bench_runs = 20;
  int suggest = 3;
  bool quiet = false;
  bool verbose = false;
};

struct LayerRow {
  LayerInfo info;
  bool measured = false;
  TrialResult only_this;  // this layer int8, every other fp32
  TrialResult all_but;    // every layer int8 but this one
  OutputError error;      // its output in the fully int8 model
  double sensitivity = 0;
};

class Analysis {
 public:
  explicit Analysis(const SensitivityArgs& args)
      : args_(args), metric_(parse_metric(args.metric)) {}
  void run();

 private:
  bool out_of_time() const {
    return args_.max_seconds > 0 && ms_since(start_) / 1000 > args_.max_seconds;
  }
  void note(const std::string& line) const {
    if (!args_.quiet) std::cerr << line << "\n";
  }
  // `report`: print the session's precision report first (--verbose).
  TrialResult trial(const std::vector<std::string>& fp32_layers, Precision precision,
                    bool report = false);
  void load();
  void measure_layers();
  void rank();
  void search();
  void bench();
  Model with_blacklist(const std::vector<std::string>& layers) const;
  double drop(const TrialResult& r) const { return fp32_value() - r.value(metric_); }
  double fp32_value() const { return evaluator_->fp32().value(metric_); }
  json result_json(const TrialResult& r) const;
  json to_json() const;
  void print() const;

  const SensitivityArgs& args_;
  const Metric metric_;
  const Clock::time_point start_ = Clock::now();
  std::optional<Model> quantized_;  // set by load()
  std::string model_hash_, method_;
  std::string data_description_;
  size_t samples_ = 0;
  int64_t batch_ = 0;
  std::map<std::string, Shape> shapes_;
  std::unique_ptr<Evaluator> evaluator_;
  TrialResult int8_;
  std::vector<LayerRow> rows_;  // execution order, then ranked
  std::vector<std::string> all_names_;
  int trials_ = 0, sweep_trials_ = 0;
  double prepare_ms_ = 0, sweep_s_ = 0;
  // The greedy fallback.
  Target target_;
  bool searched_ = false, reached_ = false;
  std::vector<std::pair<std::vector<std::string>, TrialResult>> steps_;
  std::vector<std::string> fallback_;
  TrialResult fallback_result_;
  LatencyStats fp32_ms_, int8_ms_, fallback_ms_;
};

TrialResult Analysis::trial(const std::vector<std::string>& fp32_layers, Precision precision,
                            bool report) {
  SessionOptions o;
  o.threads = args_.threads;
  o.precision = precision;
  o.fp32_layers = fp32_layers;
  Session session(*quantized_, o);
  session.prepare(shapes_);
  prepare_ms_ += session.prepare_ms();
  if (report) print_precision_report(args_.model + " quantized with " + args_.table, session);
  ++trials_;
  return evaluator_->run(session);
}

void Analysis::load() {
  const Model model = load_model(args_.model);
  const CalibrationTable table = CalibrationTable::load(args_.table);
  try {
    quantized_.emplace(quantize(model, table, args_.method));
  } catch (const Error& e) {
    throw Error(e.code(), args_.table + ": " + e.what());
  }
  model_hash_ = model.content_hash();
  method_ = args_.method.empty() ? table.method : args_.method;
  const Source source = open_source(*quantized_, args_.model, args_.data, "sensitivity");
  if (metric_ == Metric::top1 && source.labels.empty()) {
    throw Error(ErrorCode::invalid_argument,
                args_.data.data +
                    ": --metric top1 needs labeled samples (class folders or a "
                    "list with labels); --metric sqnr or cosine needs none");
  }
  batch_ = source.fixed_batch > 0
               ? source.fixed_batch
               : std::min<int64_t>(args_.batch, static_cast<int64_t>(source.count));
  std::vector<Batch> batches;
  size_t bytes = 0;
  for (size_t first = 0; first < source.count; first += static_cast<size_t>(batch_)) {
    Batch b;
    b.rows = std::min<int64_t>(batch_, static_cast<int64_t>(source.count - first));
    b.inputs = source.batch(first, static_cast<size_t>(b.rows));
    if (b.rows < batch_) {  // zero-pad to the session's batch; the padding is not scored
      for (Tensor& t : b.inputs) {
        Shape shape = t.shape();
        shape[0] = batch_;
        Tensor padded(t.dtype(), shape);
        std::memset(padded.raw(), 0, padded.nbytes());
        std::memcpy(padded.raw(), t.raw(), t.nbytes());
        t = padded;
      }
    }
    // Every configuration runs every sample, so they are decoded once and
    // kept; past a few GiB that is the wrong tool for the data.
    for (const Tensor& t : b.inputs) bytes += t.nbytes();
    if (bytes > kMaxSampleBytes) {
      throw Error(ErrorCode::invalid_argument,
                  args_.data.data + ": the selected samples take more than " +
                      std::to_string(kMaxSampleBytes >> 30) +
                      " GiB as tensors; select fewer with --samples or --per-class-samples");
    }
    if (!source.labels.empty()) {
      b.labels.assign(source.labels.begin() + static_cast<std::ptrdiff_t>(first),
                      source.labels.begin() + static_cast<std::ptrdiff_t>(first + b.rows));
    }
    batches.push_back(std::move(b));
  }
  for (size_t k = 0; k < quantized_->inputs().size(); ++k) {
    shapes_[quantized_->inputs()[k].name] = batches[0].inputs[k].shape();
  }
  samples_ = source.count;
  data_description_ = source.description;

  SessionOptions o;
  o.threads = args_.threads;
  o.precision = Precision::fp32;
  Session fp32(*quantized_, o);
  evaluator_ = std::make_unique<Evaluator>(std::move(batches), fp32);
  for (LayerInfo& l : quantizable_layers(*quantized_, o, shapes_)) {
    all_names_.push_back(l.name);
    rows_.push_back({std::move(l), false, {}, {}, {}, 0});
  }
  if (rows_.empty()) {
    throw Error(ErrorCode::invalid_argument,
                args_.model + ": no layer runs in int8 with this table; nothing to analyse");
  }
  int8_ = trial({}, Precision::int8, args_.verbose);
}

// The fully int8 model with every layer's output observed: the error each
// layer's output carries, on the same fused kernels the model runs.
void Analysis::measure_layers() {
  std::vector<std::string> outputs;
  for (const LayerRow& r : rows_) outputs.push_back(r.info.output);
  const Model observed = quantized_->with_outputs(outputs);
  SessionOptions o;
  o.threads = args_.threads;
  o.precision = Precision::fp32;
  Session fp32(observed, o);
  o.precision = Precision::int8;
  Session int8(observed, o);
  // Every output is compared (the last layer's may be a model output
  // already, which with_outputs() does not repeat); layers find theirs by name.
  const std::vector<OutputError> errors = evaluator_->output_errors(fp32, int8);
  for (LayerRow& r : rows_) {
    for (size_t k = 0; k < observed.outputs().size(); ++k) {
      if (observed.outputs()[k].name == r.info.output) r.error = errors[k];
    }
  }

  const auto sweep_start = Clock::now();
  for (size_t i = 0; i < rows_.size() && !out_of_time(); ++i) {
    LayerRow& r = rows_[i];
    std::vector<std::string> others;
    for (const std::string& n : all_names_) {
      if (n != r.info.name) others.push_back(n);
    }
    r.only_this = trial(others, Precision::int8);
    r.all_but = trial({r.info.name}, Precision::int8);
    r.measured = true;
    const double elapsed = ms_since(sweep_start) / 1000;
    char line[256];
    std::snprintf(
        line, sizeof line, "sweep %zu/%zu %s: only int8 %.4g, all but %.4g (%.0f s, ETA %.0f s)",
        i + 1, rows_.size(), r.info.name.c_str(), r.only_this.value(metric_),
        r.all_but.value(metric_), elapsed, elapsed / double(i + 1) * double(rows_.size() - i - 1));
    note(line);
  }
  sweep_s_ = ms_since(sweep_start) / 1000;
  sweep_trials_ = trials_ - 1;  // all but the all-int8 run of load()
}

// Most sensitive first: the drop with only this layer in int8, then (the
// metric is often coarse: 1 sample in N for top-1) the output SQNR of that
// configuration. Layers the time budget left unmeasured follow, ranked by
// the error of their own output.
void Analysis::rank() {
  for (LayerRow& r : rows_) {
    const OutputError& e = r.measured ? r.only_this.output : r.error;
    switch (metric_) {
      case Metric::top1:
        r.sensitivity = r.measured ? drop(r.only_this) : 0;
        break;
      case Metric::cosine:
        r.sensitivity = 1 - e.cosine();
        break;
      // The noise energy relative to the signal's, in %: 20 dB is 1%.
      case Metric::sqnr:
        r.sensitivity = 100 * std::pow(10.0, -e.sqnr_db() / 10);
        break;
    }
  }
  std::stable_sort(rows_.begin(), rows_.end(), [](const LayerRow& a, const LayerRow& b) {
    if (a.measured != b.measured) return a.measured;
    if (a.sensitivity != b.sensitivity) return a.sensitivity > b.sensitivity;
    const OutputError& ea = a.measured ? a.only_this.output : a.error;
    const OutputError& eb = b.measured ? b.only_this.output : b.error;
    return ea.sqnr_db() < eb.sqnr_db();
  });
}

Model Analysis::with_blacklist(const std::vector<std::string>& layers) const {
  return quantized_->with_fp32_layers(layers);
}

// Layers go to fp32 in rank order until the metric reaches the target. The
// best configuration so far is saved after every improvement, so an
// interrupted or timed-out search still leaves a usable model behind.
void Analysis::search() {
  target_ = args_.target_drop.empty() ? Target{} : parse_target_drop(args_.target_drop);
  if (!std::isnan(args_.target)) target_ = {Target::absolute, args_.target};
  if (target_.kind == Target::none) return;
  if (metric_ == Metric::sqnr && target_.kind != Target::absolute) {
    throw Error(ErrorCode::invalid_argument,
                "--metric sqnr has no fp32 value to drop from; give --target DB instead");
  }
  searched_ = true;
  const double threshold = target_.threshold(fp32_value());
  fallback_result_ = int8_;
  reached_ = int8_.value(metric_) >= threshold;
  std::vector<std::string> fp32;
  for (size_t i = 0; i < rows_.size() && !reached_ && !out_of_time(); ++i) {
    fp32.push_back(rows_[i].info.name);
    const TrialResult r = trial(fp32, Precision::int8);
    steps_.push_back({fp32, r});
    char line[256];
    std::snprintf(line, sizeof line, "fallback %zu layer%s in fp32: %s %.4g (target %.4g)",
                  fp32.size(), fp32.size() == 1 ? "" : "s", metric_name(metric_), r.value(metric_),
                  threshold);
    note(line);
    reached_ = r.value(metric_) >= threshold;
    if (r.value(metric_) > fallback_result_.value(metric_) || reached_) {
      fallback_ = fp32;
      fallback_result_ = r;
      if (!args_.save_model.empty()) with_blacklist(fallback_).save(args_.save_model);
    }
  }
  if (!reached_ && out_of_time()) note("--max-seconds reached: the search stopped early");
}

// fp32, all-int8 and the fallback on the same batch, runs interleaved so
// that the machine's drift hits them alike.
void Analysis::bench() {
  if (args_.bench_runs <= 0) return;
  std::vector<std::unique_ptr<Session>> sessions;
  for (int k = 0; k < (searched_ ? 3 : 2); ++k) {
    SessionOptions o;
    o.threads = args_.threads;
    o.precision = k == 0 ? Precision::fp32 : Precision::int8;
    if (k == 2) o.fp32_layers = fallback_;
    sessions.push_back(std::make_unique<Session>(*quantized_, o));
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
  if (searched_) fallback_ms_ = compute_latency_stats(ms[2]);
}

void Analysis::run() {
  load();
  note("fp32 " + std::string(metric_name(metric_)) + " " + format_ms(fp32_value(), 4) + ", int8 " +
       format_ms(int8_.value(metric_), 4) + "; " + std::to_string(rows_.size()) + " int8 layers, " +
       std::to_string(samples_) + " samples");
  measure_layers();
  rank();
  search();
  bench();
  if (searched_ && !args_.save_model.empty()) with_blacklist(fallback_).save(args_.save_model);
  if (!args_.output.empty()) write_file_atomically(args_.output, to_json().dump(1) + "\n");
  print();
}

// A metric value that may be infinite (SQNR of identical outputs): null.
json number(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

json Analysis::result_json(const TrialResult& r) const {
  json j;
  j["metric"] = number(r.value(metric_));
  j["drop"] = metric_ == Metric::sqnr ? json(nullptr) : number(drop(r));
  j["output_sqnr_db"] = number(r.output.sqnr_db());
  j["output_cosine"] = r.output.cosine();
  return j;
}

json latency_json(const LatencyStats& s) {
  return s.count ? json(s.median_ms) : json(nullptr);
}

json Analysis::to_json() const {
  json j;
  j["format"] = "octet-sensitivity";
  j["version"] = 1;
  j["model"] = args_.model;
  j["model_hash"] = model_hash_;
  j["table"] = args_.table;
  j["method"] = method_;
  j["metric"] = metric_name(metric_);
  j["metric_unit"] = metric_unit(metric_);
  j["higher_is_better"] = true;
  j["data"] = data_description_;
  j["samples"] = samples_;
  j["batch"] = batch_;
  j["seconds"] = ms_since(start_) / 1000;
  j["sweep_seconds"] = sweep_s_;
  j["trials"] = trials_;
  j["sweep_trials"] = sweep_trials_;
  j["prepare_ms"] = prepare_ms_;
  j["sensitivity_unit"] =
      metric_ == Metric::top1     ? "points of top-1 lost with only this layer in int8"
      : metric_ == Metric::cosine ? "1 - cosine of the output with only this layer in int8"
                                  : "output noise energy, % of the signal's, with only this "
                                    "layer in int8";
  j["fp32"] = {{"metric", number(fp32_value())}};
  j["int8"] = result_json(int8_);
  json layers = json::array();
  for (size_t i = 0; i < rows_.size(); ++i) {
    const LayerRow& r = rows_[i];
    json l;
    l["rank"] = i + 1;
    l["name"] = r.info.name;
    l["op"] = r.info.op;
    l["output"] = r.info.output;
    l["measured"] = r.measured;
    l["sensitivity"] = number(r.sensitivity);
    l["only_this_int8"] = r.measured ? result_json(r.only_this) : json(nullptr);
    l["all_but_this_int8"] = r.measured ? result_json(r.all_but) : json(nullptr);
    l["output_error"] = {{"sqnr_db", number(r.error.sqnr_db())}, {"cosine", r.error.cosine()}};
    layers.push_back(l);
  }
  j["layers"] = layers;
  if (searched_) {
    json f;
    f["target"] = target_.threshold(fp32_value());
    f["reached"] = reached_;
    json steps = json::array();
    for (const auto& [names, r] : steps_) {
      json step = result_json(r);
      step["fp32_layers"] = names;
      steps.push_back(step);
    }
    f["steps"] = steps;
    f["fp32_layers"] = fallback_;
    f["result"] = result_json(fallback_result_);
    f["int8_layers"] = rows_.size() - fallback_.size();
    f["layers"] = rows_.size();
    f["latency_ms"] = {{"fp32", latency_json(fp32_ms_)},
                       {"int8", latency_json(int8_ms_)},
                       {"fallback", latency_json(fallback_ms_)}};
    f["batch"] = batch_;
    j["fallback"] = f;
  } else if (fp32_ms_.count) {
    j["latency_ms"] = {{"fp32", latency_json(fp32_ms_)}, {"int8", latency_json(int8_ms_)}};
  }
  return j;
}

std::string value_text(double v, Metric m) {
  if (!std::isfinite(v)) return "inf";
  const std::string s = format_ms(v, m == Metric::cosine ? 5 : 2);
  return s.find_first_not_of("-0.") == std::string::npos && s[0] == '-' ? s.substr(1) : s;
}

void Analysis::print() const {
  const Metric m = metric_;
  const std::string unit = metric_unit(m);
  auto with_drop = [&](const TrialResult& r) {
    std::string s = value_text(r.value(m), m) + unit;
    if (m != Metric::sqnr) {
      const std::string d = value_text(-drop(r), m);
      const bool sign = d[0] != '-' && d.find_first_not_of("0.") != std::string::npos;
      s += " (" + std::string(sign ? "+" : "") + d + ")";
    }
    return s;
  };
  std::vector<std::vector<std::string>> table = {{"rank", "layer", "op", "only this int8",
                                                  "all but this int8", "output SQNR dB",
                                                  "output cosine"}};
  for (size_t i = 0; i < rows_.size(); ++i) {
    const LayerRow& r = rows_[i];
    table.push_back({std::to_string(i + 1), r.info.name, r.info.op,
                     r.measured ? with_drop(r.only_this) : "-",
                     r.measured ? with_drop(r.all_but) : "-",
                     value_text(r.error.sqnr_db(), Metric::sqnr), format_ms(r.error.cosine(), 5)});
  }
  std::cout << format_table(table) << "\n"
            << metric_name(m) << ": fp32 " << value_text(fp32_value(), m) << unit << ", int8 "
            << with_drop(int8_) << ", " << samples_ << " samples\n"
            << "sweep: " << rows_.size() << " layers, " << sweep_trials_ << " configurations in "
            << format_ms(sweep_s_, 1) << " s (sessions prepared in "
            << format_ms(prepare_ms_ / 1000, 2) << " s for all " << trials_ << ")\n";
  std::vector<std::string> suggestion;
  if (searched_) {
    std::cout << "fallback: " << fallback_.size() << " layer" << (fallback_.size() == 1 ? "" : "s")
              << " in fp32, " << rows_.size() - fallback_.size() << " of " << rows_.size()
              << " int8: " << metric_name(m) << " " << with_drop(fallback_result_) << ", target "
              << value_text(target_.threshold(fp32_value()), m) << unit
              << (reached_ ? " reached" : " NOT reached") << "\n";
    suggestion = fallback_;
  } else {
    for (size_t i = 0; i < rows_.size() && i < static_cast<size_t>(args_.suggest); ++i) {
      suggestion.push_back(rows_[i].info.name);
    }
  }
  if (fp32_ms_.count) {
    std::cout << "latency (batch " << batch_ << ", median of " << fp32_ms_.count << " runs): fp32 "
              << format_ms(fp32_ms_.median_ms) << " ms, int8 " << format_ms(int8_ms_.median_ms)
              << " ms";
    if (searched_)
      std::cout << ", int8 with fallback " << format_ms(fallback_ms_.median_ms) << " ms";
    std::cout << "\n";
  }
  std::string list;
  for (const std::string& n : suggestion) list += (list.empty() ? "" : ",") + n;
  if (!list.empty()) {
    std::cout << (searched_ ? "the fallback's"
                            : "the " + std::to_string(suggestion.size()) +
                                  " most sensitive layers in fp32:")
              << " --fp32-layers " << list << "\n";
  }
  if (!args_.save_model.empty() && searched_) std::cout << "wrote " << args_.save_model << "\n";
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
