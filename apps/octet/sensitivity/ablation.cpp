#include "apps/octet/sensitivity/ablation.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace octet::cli {

using json = nlohmann::ordered_json;

namespace {
constexpr size_t kMaxSampleBytes = size_t{4} << 30;
}  // namespace

std::vector<Batch> load_batches(const Source& source, int64_t batch, const std::string& data_name) {
  std::vector<Batch> batches;
  size_t bytes = 0;
  for (size_t first = 0; first < source.count; first += static_cast<size_t>(batch)) {
    Batch b;
    b.rows = std::min<int64_t>(batch, static_cast<int64_t>(source.count - first));
    b.inputs = source.batch(first, static_cast<size_t>(b.rows));
    if (b.rows < batch) {  // zero-pad to the session's batch; the padding is not scored
      for (Tensor& t : b.inputs) {
        Shape shape = t.shape();
        shape[0] = batch;
        Tensor padded(t.dtype(), shape);
        std::memset(padded.raw(), 0, padded.nbytes());
        std::memcpy(padded.raw(), t.raw(), t.nbytes());
        t = padded;
      }
    }
    for (const Tensor& t : b.inputs) bytes += t.nbytes();
    if (bytes > kMaxSampleBytes) {
      throw Error(ErrorCode::invalid_argument,
                  data_name + ": the selected samples take more than " +
                      std::to_string(kMaxSampleBytes >> 30) +
                      " GiB as tensors; select fewer with --samples or --per-class-samples");
    }
    if (!source.labels.empty()) {
      b.labels.assign(source.labels.begin() + static_cast<std::ptrdiff_t>(first),
                      source.labels.begin() + static_cast<std::ptrdiff_t>(first + b.rows));
    }
    batches.push_back(std::move(b));
  }
  return batches;
}

HeldSamples hold_samples(const Model& model, const Source& source, int64_t batch, int threads,
                         const std::string& data_name) {
  HeldSamples h;
  h.batch = source.fixed_batch > 0 ? source.fixed_batch
                                   : std::min<int64_t>(batch, static_cast<int64_t>(source.count));
  std::vector<Batch> batches = load_batches(source, h.batch, data_name);
  for (size_t k = 0; k < model.inputs().size(); ++k) {
    h.shapes[model.inputs()[k].name] = batches[0].inputs[k].shape();
  }
  SessionOptions o;
  o.threads = threads;
  o.precision = Precision::fp32;
  Session fp32(model, o);
  h.evaluator = std::make_unique<Evaluator>(std::move(batches), fp32);
  return h;
}

std::vector<Tensor> unpadded(const std::vector<Tensor>& inputs, int64_t rows) {
  std::vector<Tensor> out;
  for (const Tensor& t : inputs) {
    Shape shape = t.shape();
    shape[0] = rows;
    // A view: `inputs` outlive it (the tensors are read before they change).
    out.push_back(Tensor::wrap(t.dtype(), shape, const_cast<void*>(t.raw())));
  }
  return out;
}

Ablation::Ablation(Model quantized, const Evaluator& evaluator, std::map<std::string, Shape> shapes,
                   AblationOptions options, const std::string& model_name)
    : quantized_(std::move(quantized)),
      evaluator_(evaluator),
      shapes_(std::move(shapes)),
      options_(std::move(options)) {
  SessionOptions o;
  o.threads = options_.threads;
  for (LayerInfo& l : quantizable_layers(quantized_, o, shapes_)) {
    all_names_.push_back(l.name);
    rows_.push_back({std::move(l), false, {}, {}, {}, 0});
  }
  if (rows_.empty()) {
    throw Error(ErrorCode::invalid_argument,
                model_name + ": no layer runs in int8 with this table; nothing to analyse");
  }
  int8_ = trial({}, Precision::int8, options_.report_title);
}

bool Ablation::out_of_time() const {
  return options_.max_seconds > 0 && ms_since(start_) / 1000 > options_.max_seconds;
}

TrialResult Ablation::trial(const std::vector<std::string>& fp32_layers, Precision precision,
                            const std::string& report_title) {
  SessionOptions o;
  o.threads = options_.threads;
  o.precision = precision;
  o.fp32_layers = fp32_layers;
  Session session(quantized_, o);
  session.prepare(shapes_);
  prepare_ms_ += session.prepare_ms();
  if (!report_title.empty()) print_precision_report(report_title, session);
  ++trials_;
  return evaluator_.run(session);
}

// The fully int8 model with every layer's output observed: the error each
// layer's output carries, on the same fused kernels the model runs.
void Ablation::measure_layers() {
  std::vector<std::string> outputs;
  for (const LayerRow& r : rows_) outputs.push_back(r.info.output);
  const Model observed = quantized_.with_outputs(outputs);
  SessionOptions o;
  o.threads = options_.threads;
  o.precision = Precision::fp32;
  Session fp32(observed, o);
  o.precision = Precision::int8;
  Session int8(observed, o);
  // Every output is compared (the last layer's may be a model output
  // already, which with_outputs() does not repeat); layers find theirs by name.
  const std::vector<OutputError> errors = evaluator_.output_errors(fp32, int8);
  for (LayerRow& r : rows_) {
    for (size_t k = 0; k < observed.outputs().size(); ++k) {
      if (observed.outputs()[k].name == r.info.output) r.error = errors[k];
    }
  }

  const int before = trials_;
  const auto sweep_start = Clock::now();
  for (size_t i = 0; i < rows_.size() && !out_of_time(); ++i) {
    LayerRow& r = rows_[i];
    std::vector<std::string> others;
    for (const std::string& n : all_names_) {
      if (n != r.info.name) others.push_back(n);
    }
    r.only_this = trial(others, Precision::int8);
    if (options_.all_but) r.all_but = trial({r.info.name}, Precision::int8);
    r.measured = true;
    const double elapsed = ms_since(sweep_start) / 1000;
    char line[256];
    std::snprintf(line, sizeof line, "sweep %zu/%zu %s: only int8 %.4g", i + 1, rows_.size(),
                  r.info.name.c_str(), r.only_this.value(options_.metric));
    std::string text = line;
    if (options_.all_but) {
      std::snprintf(line, sizeof line, ", all but %.4g", r.all_but.value(options_.metric));
      text += line;
    }
    std::snprintf(line, sizeof line, " (%.0f s, ETA %.0f s)", elapsed,
                  elapsed / double(i + 1) * double(rows_.size() - i - 1));
    note(text + line);
  }
  sweep_s_ = ms_since(sweep_start) / 1000;
  sweep_trials_ = trials_ - before;
}

// Most sensitive first: the drop with only this layer in int8, then (the
// metric is often coarse: 1 sample in N for top-1) the output SQNR of that
// configuration. Layers the time budget left unmeasured follow, ranked by
// the error of their own output.
void Ablation::rank() {
  for (LayerRow& r : rows_) {
    const OutputError& e = r.measured ? r.only_this.output : r.error;
    switch (options_.metric) {
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

// Layers go to fp32 in rank order until the metric reaches the target.
void Ablation::search(const Target& target,
                      const std::function<void(const std::vector<std::string>&)>& on_better) {
  target_ = target;
  if (target_.kind == Target::none) return;
  if (options_.metric == Metric::sqnr && target_.kind != Target::absolute) {
    throw Error(ErrorCode::invalid_argument,
                "--metric sqnr has no fp32 value to drop from; give --target DB instead");
  }
  searched_ = true;
  const Metric m = options_.metric;
  fallback_result_ = int8_;
  reached_ = int8_.value(m) >= threshold();
  std::vector<std::string> fp32;
  const size_t most = options_.max_fp32_layers ? options_.max_fp32_layers : rows_.size();
  for (size_t i = 0; i < std::min(rows_.size(), most) && !reached_ && !out_of_time(); ++i) {
    fp32.push_back(rows_[i].info.name);
    const TrialResult r = trial(fp32, Precision::int8);
    steps_.push_back({fp32, r});
    char line[256];
    std::snprintf(line, sizeof line, "fallback %zu layer%s in fp32: %s %.4g (target %.4g)",
                  fp32.size(), fp32.size() == 1 ? "" : "s", metric_name(m), r.value(m),
                  threshold());
    note(line);
    reached_ = r.value(m) >= threshold();
    if (r.value(m) > fallback_result_.value(m) || reached_) {
      fallback_ = fp32;
      fallback_result_ = r;
      if (on_better) on_better(fallback_);
    }
  }
  if (!reached_ && out_of_time()) note("--max-seconds reached: the search stopped early");
  if (!reached_ && fp32.size() == most && most < rows_.size())
    note("--max-fp32-layers reached: the search stopped early");
}

json json_number(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

json Ablation::result_json(const TrialResult& r) const {
  json j;
  j["metric"] = json_number(r.value(options_.metric));
  j["drop"] = options_.metric == Metric::sqnr ? json(nullptr) : json_number(drop(r));
  j["output_sqnr_db"] = json_number(r.output.sqnr_db());
  j["output_cosine"] = r.output.cosine();
  return j;
}

json Ablation::to_json() const {
  const Metric m = options_.metric;
  json j;
  j["metric"] = metric_name(m);
  j["metric_unit"] = metric_unit(m);
  j["higher_is_better"] = true;
  j["sensitivity_unit"] = m == Metric::top1 ? "points of top-1 lost with only this layer in int8"
                          : m == Metric::cosine
                              ? "1 - cosine of the output with only this layer in int8"
                              : "output noise energy, % of the signal's, with only this "
                                "layer in int8";
  j["fp32"] = {{"metric", json_number(fp32_value())}};
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
    l["sensitivity"] = json_number(r.sensitivity);
    l["only_this_int8"] = r.measured ? result_json(r.only_this) : json(nullptr);
    l["all_but_this_int8"] =
        r.measured && options_.all_but ? result_json(r.all_but) : json(nullptr);
    l["output_error"] = {{"sqnr_db", json_number(r.error.sqnr_db())}, {"cosine", r.error.cosine()}};
    layers.push_back(l);
  }
  j["layers"] = layers;
  if (searched_) {
    json f;
    f["target"] = threshold();
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
    j["fallback"] = f;
  }
  return j;
}

std::string metric_text(double v, Metric m) {
  if (!std::isfinite(v)) return "inf";
  const std::string s = format_ms(v, m == Metric::cosine ? 5 : 2);
  return s.find_first_not_of("-0.") == std::string::npos && s[0] == '-' ? s.substr(1) : s;
}

}  // namespace octet::cli
