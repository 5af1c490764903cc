// octet compare A [B] --data D: the same inputs through two models, or one
// model at two precisions (fp32 vs int8, octet vs a QDQ export), and how far
// B's outputs are from A's, the reference: cosine, SQNR, max and mean
// absolute error, per output; with --per-layer, the same for every
// intermediate value the two sessions share. --min-cosine and --atol make
// it a CI check: exit 0 when every output meets them, 1 when one does not,
// 2 when the comparison could not run.
//
// The intermediate values are observed the way `octet sensitivity` observes
// them: Model::with_outputs() makes them graph outputs, which leaves the
// kernels (fusions included) as they are and gives int8 values dequantized.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>

#include <nlohmann/json.hpp>

#include "apps/octet/commands/commands.hpp"
#include "apps/octet/common/common.hpp"
#include "apps/octet/common/data_source.hpp"
#include "apps/octet/common/session_flags.hpp"
#include "apps/octet/compare/compare.hpp"

namespace octet::cli {
namespace {

using json = nlohmann::ordered_json;

constexpr double kDefaultLayerMinCosine = 0.99;
constexpr int64_t kRandomSamples = 8;  // without --data or --samples

struct Side {
  std::string model;
  std::string precision = "int8";
  std::vector<std::string> fp32_layers, fp32_ops;
};

struct CompareArgs {
  Side a, b;
  DataFlags data;
  int64_t batch = 1, seq = 128;
  std::vector<std::string> shapes;
  uint64_t seed = 0;
  int threads = 0;
  bool per_layer = false;
  double min_cosine = std::numeric_limits<double>::quiet_NaN();  // NaN: not given
  double atol = std::numeric_limits<double>::quiet_NaN();
  double layer_min_cosine = std::numeric_limits<double>::quiet_NaN();
  bool json = false;
  std::string output;
  bool verbose = false;
};

SessionOptions side_options(const Side& side, int threads) {
  SessionOptions o;
  o.threads = threads;
  o.precision = side.precision == "fp32" ? Precision::fp32 : Precision::int8;
  o.fp32_layers = side.fp32_layers;
  o.fp32_ops = side.fp32_ops;
  return o;
}

// What the runs are fed: samples of --data, or seeded random inputs.
struct Inputs {
  Source source;
  int64_t batch = 1;  // rows a run
  std::map<std::string, Shape> shapes;
  bool random = false;
};

Inputs open_inputs(const Model& a, const CompareArgs& args) {
  Inputs in;
  if (!args.data.data.empty()) {
    in.source = open_source(a, args.a.model, args.data, "compare");
    in.batch = in.source.fixed_batch > 0 ? in.source.fixed_batch : args.batch;
    const std::vector<Tensor> first = in.source.batch(0, 1);
    for (size_t k = 0; k < first.size(); ++k) {
      Shape s = first[k].shape();
      s[0] = in.batch;
      in.shapes[a.inputs()[k].name] = s;
    }
    return in;
  }
  if (args.data.selection.skip >= 0 || args.data.selection.per_class()) {
    throw Error(ErrorCode::invalid_argument,
                "--skip and --per-class-* select samples of --data; random inputs take "
                "--samples only");
  }
  in.random = true;
  in.shapes =
      resolve_input_shapes(a.inputs(), args.batch, args.seq, parse_shape_specs(args.shapes));
  const Shape& first = in.shapes.at(a.inputs().at(0).name);
  in.batch = first.empty() ? 1 : std::max<int64_t>(first[0], 1);
  const int64_t samples =
      args.data.selection.samples >= 0 ? args.data.selection.samples : kRandomSamples;
  if (samples == 0) throw Error(ErrorCode::invalid_argument, "--samples 0: nothing to compare");
  const int64_t runs = (samples + in.batch - 1) / in.batch;
  in.source.count = static_cast<size_t>(runs * in.batch);
  std::string shapes;
  for (const TensorInfo& i : a.inputs()) {
    shapes += (shapes.empty() ? "" : ", ") + i.name + "=" + to_string(in.shapes.at(i.name));
  }
  in.source.description = "seeded random inputs (--seed " + std::to_string(args.seed) + ", " +
                          shapes + "; f32 N(0,1), ids uniform in [0,100), masks 1, token types 0)";
  in.source.batch = [model = a, shapes = in.shapes, seed = args.seed, rows = in.batch](size_t first,
                                                                                       size_t) {
    std::vector<Tensor> batch;
    for (const TensorInfo& i : model.inputs()) {
      batch.emplace_back(i.dtype, shapes.at(i.name));
      fill_synthetic(batch.back(), i.name, seed + first / static_cast<size_t>(rows));
    }
    return batch;
  };
  return in;
}

// The inputs of samples [first, first + rows), zero-padded to the run's batch.
std::vector<Tensor> run_inputs(const Inputs& in, size_t first, size_t rows) {
  std::vector<Tensor> inputs = in.source.batch(first, rows);
  if (in.random || static_cast<int64_t>(rows) == in.batch) return inputs;
  for (Tensor& t : inputs) {
    Shape shape = t.shape();
    shape[0] = in.batch;
    Tensor padded(t.dtype(), shape);
    std::memset(padded.raw(), 0, padded.nbytes());
    std::memcpy(padded.raw(), t.raw(), t.nbytes());
    t = padded;
  }
  return inputs;
}

// "int8 (44 fp32, 14 int8, 2 s64 layers)": the precision asked for, and what
// the layers run in (reorders at precision borders not counted).
std::string precision_summary(const Side& side, const Session& s) {
  std::map<std::string, int> counts;
  for (const LayerInfo& l : s.layers()) {
    if (l.op != "Reorder" && l.op != "Quantize" && l.op != "Dequantize") ++counts[l.precision];
  }
  std::string text;
  for (const auto& [p, n] : counts) {
    text += (text.empty() ? "" : ", ") + std::to_string(n) + " " + p;
  }
  return side.precision + " (" + text + " layers)";
}

json number(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

json diff_json(const TensorDiff& d) {
  json j;
  j["shape"] = d.shape;
  j["elements"] = d.elements;
  j["cosine"] = number(d.all.cosine());
  j["cosine_worst"] = number(d.worst_cosine);
  j["cosine_worst_run"] = d.worst_cosine_run;
  j["sqnr_db"] = number(d.all.sqnr_db());
  j["sqnr_db_worst"] = number(d.worst_sqnr_db);
  j["sqnr_db_worst_run"] = d.worst_sqnr_run;
  j["max_abs_error"] = number(d.max_abs_error);
  j["mean_abs_error"] = number(d.mean_abs_error());
  j["max_abs_ref"] = number(d.max_abs_ref);
  j["exact"] = d.exact();
  j["non_finite"] = d.non_finite;
  return j;
}

std::vector<std::string> diff_cells(const TensorDiff& d) {
  return {to_string(d.shape),
          format_cosine(d.all.cosine()),
          format_cosine(d.worst_cosine),
          format_db(d.all.sqnr_db()),
          format_db(d.worst_sqnr_db),
          format_abs(d.max_abs_error),
          format_abs(d.mean_abs_error()),
          format_abs(d.max_abs_ref)};
}

class Comparison {
 public:
  explicit Comparison(const CompareArgs& args) : args_(args) {}
  int run();

 private:
  void load();
  void measure();
  json to_json() const;
  void print() const;

  const CompareArgs& args_;
  std::string b_name_;
  std::unique_ptr<Session> a_, b_;
  Inputs inputs_;
  std::vector<std::string> outputs_;  // A's output names, in its order
  std::vector<TensorDiff> output_diffs_;
  std::vector<std::string> failures_;  // one per output, "" when it passes
  std::vector<SharedValue> shared_;
  std::vector<TensorDiff> layer_diffs_;
  size_t a_layers_ = 0, b_layers_ = 0;
  std::string a_summary_, b_summary_;
  Thresholds thresholds_;
  double layer_min_cosine_ = kDefaultLayerMinCosine;
  size_t runs_ = 0;
  double ms_ = 0;
};

void Comparison::load() {
  b_name_ = args_.b.model.empty() ? args_.a.model : args_.b.model;
  const Model a = load_model(args_.a.model);
  const Model b = b_name_ == args_.a.model ? a : load_model(b_name_);
  check_same_interface(a, args_.a.model, b, b_name_);
  for (const TensorInfo& o : a.outputs()) outputs_.push_back(o.name);
  inputs_ = open_inputs(a, args_);
  const SessionOptions ao = side_options(args_.a, args_.threads);
  const SessionOptions bo = side_options(args_.b, args_.threads);
  Model observed_a = a, observed_b = b;
  if (args_.per_layer) {
    Session plain_a(a, ao), plain_b(b, bo);
    plain_a.prepare(inputs_.shapes);
    plain_b.prepare(inputs_.shapes);
    for (const LayerInfo& l : plain_a.layers()) a_layers_ += computes_value(l);
    for (const LayerInfo& l : plain_b.layers()) b_layers_ += computes_value(l);
    shared_ = shared_values(plain_a.layers(), plain_b.layers());
    std::vector<std::string> values;
    for (const SharedValue& v : shared_) values.push_back(v.value);
    observed_a = a.with_outputs(values);
    observed_b = b.with_outputs(values);
  }
  a_ = std::make_unique<Session>(observed_a, ao);
  b_ = std::make_unique<Session>(observed_b, bo);
  a_->prepare(inputs_.shapes);
  b_->prepare(inputs_.shapes);
  if (args_.verbose) {
    print_precision_report("A: " + args_.a.model + ", " + args_.a.precision, *a_);
    print_precision_report("B: " + b_name_ + ", " + args_.b.precision, *b_);
  }
  a_summary_ = precision_summary(args_.a, *a_);
  b_summary_ = precision_summary(args_.b, *b_);
  if (!std::isnan(args_.min_cosine)) thresholds_.min_cosine = args_.min_cosine;
  if (!std::isnan(args_.atol)) thresholds_.atol = args_.atol;
  if (!std::isnan(args_.layer_min_cosine)) {
    layer_min_cosine_ = args_.layer_min_cosine;
  } else if (thresholds_.min_cosine) {
    layer_min_cosine_ = *thresholds_.min_cosine;
  }
}

std::map<std::string, size_t> output_index(const Session& s) {
  std::map<std::string, size_t> index;
  const std::vector<TensorInfo>& outs = s.model().outputs();
  for (size_t k = 0; k < outs.size(); ++k) index.emplace(outs[k].name, k);
  return index;
}

void Comparison::measure() {
  const std::map<std::string, size_t> ia = output_index(*a_), ib = output_index(*b_);
  // B's inputs in B's order: the models may list them differently.
  std::vector<size_t> b_from_a;
  for (const TensorInfo& in : b_->model().inputs()) {
    for (size_t k = 0; k < a_->model().inputs().size(); ++k) {
      if (a_->model().inputs()[k].name == in.name) b_from_a.push_back(k);
    }
  }
  output_diffs_.resize(outputs_.size());
  layer_diffs_.resize(shared_.size());
  const auto start = Clock::now();
  for (size_t first = 0; first < inputs_.source.count; first += inputs_.batch) {
    const size_t rows = std::min<size_t>(inputs_.batch, inputs_.source.count - first);
    const std::vector<Tensor> in = run_inputs(inputs_, first, rows);
    std::vector<Tensor> in_b;
    for (size_t k : b_from_a) in_b.push_back(in[k]);
    const std::vector<Tensor>& ra = a_->run(in);
    const std::vector<Tensor>& rb = b_->run(in_b);
    // A padded run scores its first `rows` rows: values are batch-major.
    const auto scored = [&](const Tensor& t) {
      const size_t n = static_cast<size_t>(t.numel());
      const size_t batch = static_cast<size_t>(inputs_.batch);
      return (rows == batch || n % batch != 0) ? n : n / batch * rows;
    };
    for (size_t k = 0; k < outputs_.size(); ++k) {
      const Tensor& ta = ra[ia.at(outputs_[k])];
      output_diffs_[k].add(ta, rb[ib.at(outputs_[k])], scored(ta), "output '" + outputs_[k] + "'");
    }
    for (size_t k = 0; k < shared_.size(); ++k) {
      const Tensor& ta = ra[ia.at(shared_[k].value)];
      layer_diffs_[k].add(ta, rb[ib.at(shared_[k].value)], scored(ta),
                          "value '" + shared_[k].value + "' of layer '" + shared_[k].layer + "'");
    }
    ++runs_;
  }
  ms_ = ms_since(start);
  for (const TensorDiff& d : output_diffs_) failures_.push_back(threshold_failure(d, thresholds_));
}

json Comparison::to_json() const {
  json j;
  j["a"] = {{"model", args_.a.model},
            {"precision", args_.a.precision},
            {"fp32_layers", args_.a.fp32_layers},
            {"fp32_ops", args_.a.fp32_ops},
            {"layers", a_summary_}};
  j["b"] = {{"model", b_name_},
            {"precision", args_.b.precision},
            {"fp32_layers", args_.b.fp32_layers},
            {"fp32_ops", args_.b.fp32_ops},
            {"layers", b_summary_}};
  j["inputs"] = {{"source", inputs_.source.description},
                 {"random", inputs_.random},
                 {"samples", inputs_.source.count},
                 {"batch", inputs_.batch},
                 {"runs", runs_}};
  j["aggregation"] =
      "cosine, sqnr_db, max/mean_abs_error and max_abs_ref pool every element of every run; "
      "*_worst is the run with the lowest value (a sample with --batch 1), *_worst_run its index";
  j["thresholds"] = {
      {"min_cosine", thresholds_.min_cosine ? json(*thresholds_.min_cosine) : json()},
      {"atol", thresholds_.atol ? json(*thresholds_.atol) : json()},
      {"min_cosine_applies_to", "cosine_worst of each output"}};
  json outputs = json::array();
  for (size_t k = 0; k < outputs_.size(); ++k) {
    json o;
    o["name"] = outputs_[k];
    o.update(diff_json(output_diffs_[k]));
    o["passed"] = failures_[k].empty();
    o["failure"] = failures_[k].empty() ? json() : json(failures_[k]);
    outputs.push_back(o);
  }
  j["outputs"] = outputs;
  if (args_.per_layer) {
    json layers = json::array();
    for (size_t k = 0; k < shared_.size(); ++k) {
      json l;
      l["layer"] = shared_[k].layer;
      l["op"] = shared_[k].op;
      l["value"] = shared_[k].value;
      l["a_precision"] = shared_[k].a_precision;
      l["b_precision"] = shared_[k].b_precision;
      l.update(diff_json(layer_diffs_[k]));
      layers.push_back(l);
    }
    const LayerMarks m = mark_layers(layer_diffs_, layer_min_cosine_);
    const auto name = [&](size_t k) {
      return k < shared_.size() ? json(shared_[k].layer) : json();
    };
    j["per_layer"] = {{"shared", shared_.size()},
                      {"a_layers", a_layers_},
                      {"b_layers", b_layers_},
                      {"min_cosine", layer_min_cosine_},
                      {"first_below", name(m.first_below)},
                      {"lowest_cosine", name(m.lowest_cosine)},
                      {"lowest_sqnr", name(m.lowest_sqnr)},
                      {"layers", layers}};
  }
  j["passed"] = std::all_of(failures_.begin(), failures_.end(),
                            [](const std::string& f) { return f.empty(); });
  j["run_ms"] = ms_;
  j["threads"] = args_.threads;
  j["octet_version"] = version();
  j["cpu_isa"] = cpu_isa();
  return j;
}

void Comparison::print() const {
  std::cout << "A (reference): " << args_.a.model << ", " << a_summary_ << "\n"
            << "B:             " << b_name_ << ", " << b_summary_ << "\n"
            << "inputs: " << inputs_.source.description << "; " << runs_ << " runs of batch "
            << inputs_.batch << "\n"
            << "cosine, SQNR and errors pool every element of every run; \"worst\" is the run "
               "with the lowest value"
            << (inputs_.batch == 1 ? " (one sample each)" : "") << "\n\n";
  std::vector<std::vector<std::string>> table = {{"output", "shape", "cosine", "worst cosine",
                                                  "SQNR dB", "worst SQNR dB", "max abs err",
                                                  "mean abs err", "max |A|", "check"}};
  const bool checked = thresholds_.min_cosine || thresholds_.atol;
  for (size_t k = 0; k < outputs_.size(); ++k) {
    std::vector<std::string> row = {outputs_[k]};
    for (std::string& c : diff_cells(output_diffs_[k])) row.push_back(std::move(c));
    row.push_back(!checked ? "-" : failures_[k].empty() ? "ok" : "FAIL");
    table.push_back(row);
  }
  std::cout << format_table(table);
  if (args_.per_layer) {
    const LayerMarks m = mark_layers(layer_diffs_, layer_min_cosine_);
    const size_t first = m.first_below;
    std::vector<std::vector<std::string>> layers = {
        {"#", "layer", "op", "A/B", "value", "shape", "cosine", "worst cosine", "SQNR dB",
         "worst SQNR dB", "max abs err", "mean abs err", "max |A|", ""}};
    for (size_t k = 0; k < shared_.size(); ++k) {
      const SharedValue& v = shared_[k];
      std::vector<std::string> row = {std::to_string(k + 1), v.layer, v.op,
                                      v.a_precision + "/" + v.b_precision, v.value};
      for (std::string& c : diff_cells(layer_diffs_[k])) row.push_back(std::move(c));
      row.push_back(k == first ? "<- first below " + format_threshold(layer_min_cosine_) : "");
      layers.push_back(row);
    }
    std::cout << "\nper layer, in A's execution order: " << shared_.size()
              << " values shared (of A's " << a_layers_ << " and B's " << b_layers_
              << " computing layers)\n"
              << format_table(layers);
    if (first < shared_.size()) {
      std::cout << "first layer whose worst cosine is below " << format_threshold(layer_min_cosine_)
                << ": #" << first + 1 << " " << shared_[first].layer << " ("
                << format_cosine(layer_diffs_[first].worst_cosine) << ")\n";
    } else {
      std::cout << "no layer's worst cosine is below " << format_threshold(layer_min_cosine_)
                << "\n";
    }
    if (m.lowest_cosine < shared_.size()) {
      const size_t c = m.lowest_cosine, q = m.lowest_sqnr;
      std::cout << "lowest worst cosine: #" << c + 1 << " " << shared_[c].layer << " ("
                << format_cosine(layer_diffs_[c].worst_cosine) << ")\n"
                << "lowest SQNR: #" << q + 1 << " " << shared_[q].layer << " ("
                << format_db(layer_diffs_[q].all.sqnr_db()) << " dB)\n";
    }
  }
}

int Comparison::run() {
  load();
  measure();
  if (args_.json) {
    std::cout << to_json().dump(2) << "\n";
  } else {
    print();
  }
  if (!args_.output.empty()) {
    std::ofstream out(args_.output, std::ios::binary | std::ios::trunc);
    out << to_json().dump(2) << "\n";
    if (!out) throw Error(ErrorCode::io, args_.output + ": cannot write");
    if (!args_.json) std::cout << "wrote " << args_.output << "\n";
  }
  int failed = 0;
  for (size_t k = 0; k < outputs_.size(); ++k) {
    if (failures_[k].empty()) continue;
    std::cerr << "octet compare: FAILED: output '" << outputs_[k] << "': " << failures_[k] << "\n";
    ++failed;
  }
  return failed ? 1 : 0;
}

void add_side_flags(CLI::App& app, const std::string& side, Side& flags) {
  const std::string group = "Model " + std::string(side == "a" ? "A" : "B");
  app.add_option("--" + side + "-precision", flags.precision,
                 "fp32, or int8 where the model has scales (default)")
      ->check(CLI::IsMember({"fp32", "int8"}))
      ->group(group);
  app.add_option("--" + side + "-fp32-layers", flags.fp32_layers,
                 "Comma-separated node names or glob patterns to keep in fp32")
      ->delimiter(',')
      ->group(group);
  app.add_option("--" + side + "-fp32-ops", flags.fp32_ops,
                 "Comma-separated op types to keep in fp32")
      ->delimiter(',')
      ->group(group);
}

}  // namespace

Command add_compare(CLI::App& root) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* app = root.add_subcommand(
      "compare",
      "Run the same inputs through two models or precisions and compare their outputs "
      "(and, with --per-layer, every shared intermediate value); exit 1 if a threshold fails");
  app->add_option("a", args->a.model, "Model A, the reference: NAME or a .onnx file")->required();
  app->add_option("b", args->b.model, "Model B (default: A again, e.g. at another precision)");
  add_side_flags(*app, "a", args->a);
  add_side_flags(*app, "b", args->b);
  add_data_flags(*app, args->data);
  CLI::Option* data = app->get_option("--data");
  data->required(false)->description(data->get_description() +
                                     "; without --data, seeded random inputs (--samples, "
                                     "default 8)");
  const std::string random = "Random inputs (without --data)";
  app->add_option("--batch", args->batch, "Samples a run (default 1: worst = worst sample)")
      ->check(CLI::Range(1, 1 << 16));
  app->add_option("--seq", args->seq, "Random inputs: each input's second symbolic dimension")
      ->check(CLI::Range(1, 1 << 20))
      ->group(random)
      ->excludes(data);
  app->add_option("--shapes", args->shapes, "Random inputs: shapes, input=1x3x224x224,...")
      ->delimiter(',')
      ->group(random)
      ->excludes(data);
  app->add_option("--seed", args->seed, "Random inputs: the seed")->group(random)->excludes(data);
  app->add_option("--threads", args->threads, "Threads to run on (0: every core)")
      ->check(CLI::Range(0, 4096));
  app->add_flag("--per-layer", args->per_layer,
                "Also compare every intermediate value both sessions compute, in A's order");
  app->add_option("--min-cosine", args->min_cosine,
                  "Fail (exit 1) if an output's worst-run cosine is below this")
      ->check(CLI::Range(-1.0, 1.0));
  app->add_option("--atol", args->atol, "Fail (exit 1) if an output's max abs error exceeds this")
      ->check(CLI::NonNegativeNumber);
  app->add_option("--layer-min-cosine", args->layer_min_cosine,
                  "--per-layer: flag the first layer whose worst-run cosine is below this "
                  "(default: --min-cosine, else 0.99); never changes the exit code")
      ->check(CLI::Range(-1.0, 1.0));
  app->add_flag("--json", args->json, "Print the results as JSON instead of tables");
  app->add_option("-o,--output", args->output, "Also write the results as JSON here");
  add_verbose_flag(*app, args->verbose, "Print both sessions' precision reports on stderr");
  return {app, std::function<int()>([args] { return Comparison(*args).run(); })};
}

}  // namespace octet::cli
