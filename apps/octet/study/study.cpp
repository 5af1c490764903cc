// Runs the study's rows (study.hpp); study_output.cpp writes them out.
#include "apps/octet/study/study.hpp"

#include <algorithm>
#include <memory>

#include "apps/octet/common/common.hpp"
#include "apps/octet/common/data_source.hpp"
#include "apps/octet/sensitivity/ablation.hpp"

namespace octet::cli {
namespace {

using json = nlohmann::ordered_json;

const char* granularity_name(WeightGranularity g) {
  return g == WeightGranularity::per_channel ? "int8 per channel" : "int8 per tensor";
}

class Study {
 public:
  explicit Study(const StudyOptions& o) : o_(o) {}
  StudyResult run();

 private:
  void note(const std::string& line) const {
    if (o_.note) o_.note(line);
  }
  TrialResult measure(const Model& model, Precision precision) const;
  void load();
  void weight_rows();
  void calibrate();
  void ptq_rows();
  void partial_rows();
  void qat_rows();
  std::string unfolded_unavailable(bool has_conv) const;

  const StudyOptions& o_;
  const Clock::time_point start_ = Clock::now();
  StudyResult r_;
  std::optional<Model> model_;
  std::unique_ptr<Evaluator> evaluator_;
  std::map<std::string, Shape> shapes_;
  int64_t batch_ = 0, fixed_batch_ = 0;
  std::string data_description_;
  std::optional<CalibrationTable> table_;
};

TrialResult Study::measure(const Model& model, Precision precision) const {
  SessionOptions o;
  o.threads = o_.threads;
  o.precision = precision;
  Session session(model, o);
  session.prepare(shapes_);
  return evaluator_->run(session);
}

void Study::load() {
  model_.emplace(load_model(o_.model));
  const Source source = open_source(*model_, o_.model, o_.data, "study");
  r_.labeled = !source.labels.empty();
  r_.metric =
      o_.metric.empty() ? (r_.labeled ? Metric::top1 : Metric::cosine) : parse_metric(o_.metric);
  if (r_.metric == Metric::top1 && !r_.labeled) {
    throw Error(ErrorCode::invalid_argument,
                o_.data.data +
                    ": --metric top1 needs labeled samples (class folders, a list with labels, "
                    "IDX labels or a .tsv); --metric cosine or sqnr needs none");
  }
  fixed_batch_ = source.fixed_batch;
  HeldSamples held = hold_samples(*model_, source, o_.batch, o_.threads, o_.data.data);
  batch_ = held.batch;
  shapes_ = std::move(held.shapes);
  evaluator_ = std::move(held.evaluator);
  data_description_ = source.description;
  r_.fp32 = evaluator_->fp32();
  r_.rows.push_back({"fp32", "fp32", "fp32", "", "fp32", "", r_.fp32, ""});

  json& h = r_.header;
  h["model"] = o_.model;
  h["model_hash"] = model_->content_hash();
  h["data"] = data_description_;
  h["samples"] = source.count;
  h["batch"] = batch_;
}

std::string Study::unfolded_unavailable(bool has_conv) const {
  if (!has_conv) return "not available: the model has no Conv, so no BatchNorm to fold";
  if (!ends_with(o_.model, ".onnx")) {
    return "not available: " + o_.model +
           " is a converted octet model; its Conv weights are those after any BatchNorm "
           "folding. Give the .onnx to measure the weights before folding";
  }
  for (const std::string& line : model_->import_log()) {
    if (line.rfind("folded BatchNormalization", 0) == 0) return "";
  }
  return "not available: no BatchNormalization follows a Conv in " + o_.model +
         ", so folding changes no weight (the rows above hold)";
}

// Weight-only int8: fp32 sessions of models whose weights were quantized and
// dequantized (Model::with_fake_quantized_weights), before and after folding.
void Study::weight_rows() {
  SessionOptions o;
  o.threads = o_.threads;
  o.precision = Precision::fp32;
  Session session(*model_, o);
  session.prepare(shapes_);
  bool has_conv = false;
  for (const LayerInfo& l : session.layers()) has_conv = has_conv || l.op == "Conv";
  const std::string unavailable = unfolded_unavailable(has_conv);
  std::optional<Model> unfolded;
  if (unavailable.empty()) {
    ImportOptions keep;
    keep.fold_batchnorm = false;
    unfolded.emplace(Model::import_onnx(o_.model, keep));
    // The same function before quantization (only rounding differs).
    const TrialResult same = measure(*unfolded, Precision::fp32);
    r_.header["batchnorm_not_folded_fp32"] = {
        {"output_sqnr_db", json_number(same.output.sqnr_db())},
        {"output_cosine", same.output.cosine()}};
  }
  for (const bool folded : {true, false}) {
    for (const WeightGranularity g :
         {WeightGranularity::per_channel, WeightGranularity::per_tensor}) {
      StudyRow row{"weights",
                   std::string("weight-only int8, BatchNorm ") + (folded ? "folded" : "not folded"),
                   granularity_name(g),
                   folded ? "folded" : "not folded",
                   "fp32",
                   "",
                   std::nullopt,
                   ""};
      note("measuring " + row.name + ", weights " + row.weights);
      if (folded) {
        row.result = measure(model_->with_fake_quantized_weights(g), Precision::fp32);
      } else if (unfolded) {
        row.result = measure(unfolded->with_fake_quantized_weights(g), Precision::fp32);
      } else {
        row.note = unavailable;
      }
      r_.rows.push_back(std::move(row));
    }
  }
}

// One table for every PTQ row: the given one, or every method measured on the
// study's own samples (two passes, as `octet calibrate --method all`).
void Study::calibrate() {
  json c;
  if (!o_.table.empty()) {
    table_.emplace(CalibrationTable::load(o_.table));
    c["table"] = o_.table;
    c["data"] = table_->data_source;
  } else {
    note("calibrating (max, entropy, mse, percentiles) on the samples");
    const auto start = Clock::now();
    CalibrationOptions options;
    options.methods = {"all"};
    options.threads = o_.threads;
    Calibrator calibrator(*model_, options);
    // A model with a fixed batch takes whole batches; the zero padding of a
    // partial one would enter the histograms.
    auto feed = [&] {
      for (const Batch& b : evaluator_->batches()) {
        if (fixed_batch_ > 0 && b.rows < fixed_batch_) continue;
        calibrator.add(fixed_batch_ > 0 ? b.inputs : unpadded(b.inputs, b.rows));
      }
    };
    feed();
    if (calibrator.samples() == 0) {
      throw Error(ErrorCode::invalid_argument,
                  o_.model + ": the batch size is fixed at " + std::to_string(fixed_batch_) +
                      "; select at least that many samples to calibrate on");
    }
    calibrator.start_histograms();
    feed();
    table_.emplace(calibrator.table());
    table_->data_source = data_description_;
    c["table"] = nullptr;
    c["data"] = "the study's samples";
    c["seconds"] = ms_since(start) / 1000;
  }
  c["samples"] = table_->samples;
  c["methods"] = table_->methods;
  c["default"] = table_->method;
  r_.header["calibration"] = c;
  r_.table_scores = table_->score_by_method;
}

void Study::ptq_rows() {
  const Metric m = r_.metric;
  const TrialResult* best = nullptr;
  const TrialResult* closest = nullptr;
  for (const std::string& method : table_->methods) {
    const Model quantized = [&] {
      try {
        return quantize(*model_, *table_, method);
      } catch (const Error& e) {
        throw Error(e.code(), (o_.table.empty() ? "calibration" : o_.table) + ": " + e.what());
      }
    }();
    note("measuring PTQ " + method);
    r_.rows.push_back({"ptq", "PTQ " + method, "int8 per channel", "", "int8 " + method, method,
                       measure(quantized, Precision::int8), ""});
  }
  // Ties go to the earlier method, in the table's order.
  for (const StudyRow& row : r_.rows) {
    if (row.group != "ptq") continue;
    const TrialResult& t = *row.result;
    if (!closest || t.output.sqnr_db() > closest->output.sqnr_db()) {
      closest = &t;
      r_.auto_method = row.method;
    }
    if (!best || t.value(m) > best->value(m) ||
        (t.value(m) == best->value(m) && t.output.sqnr_db() > best->output.sqnr_db())) {
      best = &t;
      r_.best_method = row.method;
    }
  }
}

void Study::partial_rows() {
  const std::string method = o_.method.empty() ? r_.best_method : o_.method;
  if (!o_.sensitivity) {
    r_.rows.push_back({"partial", "partial: no ablation", "int8 per channel", "", "int8 " + method,
                       method, std::nullopt, "not measured: --no-sensitivity"});
    return;
  }
  if (std::find(table_->methods.begin(), table_->methods.end(), method) == table_->methods.end()) {
    throw Error(ErrorCode::invalid_argument,
                "--method " + method + ": the calibration has no such method");
  }
  AblationOptions a;
  a.metric = r_.metric;
  a.threads = o_.threads;
  a.all_but = false;  // the ranking needs "only this layer int8" alone
  a.max_seconds = o_.max_seconds;
  a.note = o_.note;
  note("per-layer ablation with PTQ " + method);
  Ablation ablation(quantize(*model_, *table_, method), *evaluator_, shapes_, a, o_.model);
  ablation.measure_layers();
  ablation.rank();
  const bool searching = !o_.target_drop.empty() && o_.target_drop != "none";
  if (searching) ablation.search(parse_target_drop(o_.target_drop));

  json s;
  s["format"] = "octet-sensitivity";
  s["version"] = 1;
  s["model"] = o_.model;
  s["model_hash"] = r_.header["model_hash"];
  s["table"] = o_.table.empty() ? "(calibrated by octet study)" : o_.table;
  s["method"] = method;
  s["data"] = data_description_;
  s["samples"] = r_.header["samples"];
  s["batch"] = batch_;
  s["sweep_seconds"] = ablation.sweep_seconds();
  s["trials"] = ablation.trials();
  s["sweep_trials"] = ablation.sweep_trials();
  s.update(ablation.to_json());
  r_.sensitivity = s;

  const size_t layers = ablation.rows().size();
  StudyRow row{"partial", "", "int8 per channel", "", "int8 " + method, method, std::nullopt, ""};
  if (!searching) {
    row.name = "partial: no --target-drop";
    row.note = "not measured: no --target-drop, so the ranking alone (below)";
  } else {
    const size_t n = ablation.fallback().size();
    row.name = "partial: " + std::to_string(n) + " of " + std::to_string(layers) + " layers fp32";
    row.result = ablation.fallback_result();
    row.note = std::string("target ") + metric_text(ablation.threshold(), r_.metric) +
               metric_unit(r_.metric) + (ablation.reached() ? " reached" : " NOT reached") +
               (n ? "" : ": PTQ " + method + " needs no fp32 layer");
  }
  r_.rows.push_back(std::move(row));
}

void Study::qat_rows() {
  if (o_.qat.empty()) return;
  const Model qat = load_model(o_.qat);
  const auto signature = [](const Model& m) {
    std::string s;
    for (const TensorInfo& in : m.inputs())
      s += (s.empty() ? "" : ", ") + in.name + " " + to_string(in.dtype) + " " +
           format_dims(in.dims);
    return s;
  };
  if (signature(qat) != signature(*model_)) {
    throw Error(ErrorCode::invalid_argument, o_.qat + ": its inputs (" + signature(qat) +
                                                 ") are not those of " + o_.model + " (" +
                                                 signature(*model_) + ")");
  }
  const std::vector<ActivationRange> ranges = qat.activation_ranges();
  if (ranges.empty()) {
    throw Error(ErrorCode::invalid_argument,
                o_.qat +
                    ": no activation ranges, so no int8 to measure; a QAT model is an ONNX "
                    "export with QuantizeLinear/DequantizeLinear pairs (tools/qat)");
  }
  std::map<std::string, int> sources;
  for (const ActivationRange& r : ranges) ++sources[r.source];
  std::string from;
  for (const auto& [source, count] : sources) {
    from += (from.empty() ? "" : ", ") + std::to_string(count) + " from " + source;
  }
  note("measuring the QAT model " + o_.qat);
  const bool qdq = sources.size() == 1 && sources.count("qdq");
  r_.rows.push_back({"qat", "QAT " + o_.qat, "int8 per channel", "",
                     qdq ? "int8 (QDQ)" : "int8 (its own ranges)", "",
                     measure(qat, Precision::int8), "activation ranges: " + from});
  r_.rows.push_back({"qat", "QAT " + o_.qat + ", in fp32", "fp32", "", "fp32", "",
                     measure(qat, Precision::fp32), "the fine-tuned weights without int8"});
}

StudyResult Study::run() {
  load();
  weight_rows();
  calibrate();
  ptq_rows();
  partial_rows();
  qat_rows();
  json& h = r_.header;
  h["threads"] = o_.threads;
  h["seconds"] = ms_since(start_) / 1000;
  h["octet_version"] = version();
  h["onednn_version"] = onednn_version();
  h["cpu_isa"] = cpu_isa() + (cpu_has_vnni() ? " (VNNI)" : " (no VNNI)");
  return std::move(r_);
}

}  // namespace

StudyResult run_study(const StudyOptions& options) {
  return Study(options).run();
}

}  // namespace octet::cli
