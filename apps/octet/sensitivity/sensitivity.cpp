#include "apps/octet/sensitivity/sensitivity.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace octet::cli {

Metric parse_metric(const std::string& name) {
  if (name == "top1" || name == "accuracy") return Metric::top1;
  if (name == "sqnr") return Metric::sqnr;
  if (name == "cosine") return Metric::cosine;
  if (name == "f1") {
    throw Error(ErrorCode::invalid_argument,
                "--metric f1 needs a question-answering evaluation, which octet does not have "
                "yet; use top1, sqnr or cosine");
  }
  throw Error(ErrorCode::invalid_argument,
              "--metric '" + name + "': expected top1, accuracy, sqnr or cosine");
}

const char* metric_name(Metric m) {
  switch (m) {
    case Metric::top1:
      return "top1";
    case Metric::sqnr:
      return "sqnr";
    case Metric::cosine:
      return "cosine";
  }
  return "?";
}

const char* metric_unit(Metric m) {
  switch (m) {
    case Metric::top1:
      return "%";
    case Metric::sqnr:
      return "dB";
    case Metric::cosine:
      return "";
  }
  return "";
}

void OutputError::add(const float* ref, const float* got, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const double r = ref[i], g = got[i];
    ref_energy += r * r;
    got_energy += g * g;
    dot += r * g;
    noise_energy += (r - g) * (r - g);
  }
}

double OutputError::sqnr_db() const {
  if (noise_energy == 0) return std::numeric_limits<double>::infinity();
  return 10 * std::log10(ref_energy / noise_energy);
}

double OutputError::cosine() const {
  if (ref_energy == 0 && got_energy == 0) return 1;
  if (ref_energy == 0 || got_energy == 0) return 0;
  return dot / std::sqrt(ref_energy * got_energy);
}

double TrialResult::value(Metric m) const {
  switch (m) {
    case Metric::top1:
      return top1;
    case Metric::sqnr:
      return output.sqnr_db();
    case Metric::cosine:
      return output.cosine();
  }
  return 0;
}

double Target::threshold(double fp32_value) const {
  switch (kind) {
    case none:
      return -std::numeric_limits<double>::infinity();
    case absolute:
      return value;
    case drop_points:
      return fp32_value - value;
    case drop_relative:
      return fp32_value - std::fabs(fp32_value) * value / 100;
  }
  return 0;
}

Target parse_target_drop(const std::string& text) {
  Target t;
  std::string number = text;
  t.kind = Target::drop_points;
  if (!number.empty() && number.back() == '%') {
    number.pop_back();
    t.kind = Target::drop_relative;
  }
  size_t used = 0;
  try {
    t.value = std::stod(number, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (number.empty() || used != number.size() || !std::isfinite(t.value) || t.value < 0) {
    throw Error(ErrorCode::invalid_argument,
                "--target-drop '" + text +
                    "': expected a non-negative number of points (0.5) or "
                    "a percentage of the fp32 value (1%)");
  }
  return t;
}

namespace {

// The scored part of a batch's first output: its rows are the samples.
std::pair<const float*, size_t> scored(const Tensor& out, const Batch& b, int64_t batch_rows) {
  if (out.dtype() != DataType::f32 || out.rank() == 0 || out.dim(0) != batch_rows) {
    throw Error(ErrorCode::invalid_argument,
                "the model's first output is " + std::string(to_string(out.dtype())) + " " +
                    to_string(out.shape()) + "; sensitivity needs f32 [batch, ...]");
  }
  const size_t per_row = static_cast<size_t>(out.numel() / batch_rows);
  return {out.data<float>(), per_row * static_cast<size_t>(b.rows)};
}

int64_t batch_rows(const Batch& b) {
  return b.inputs.at(0).dim(0);
}

}  // namespace

Evaluator::Evaluator(std::vector<Batch> batches, Session& fp32) : batches_(std::move(batches)) {
  for (const Batch& b : batches_) {
    const std::vector<Tensor>& out = fp32.run(b.inputs);
    const auto [data, n] = scored(out.at(0), b, batch_rows(b));
    reference_.emplace_back(data, data + n);
  }
  fp32_ = run(fp32);
}

TrialResult Evaluator::run(Session& session) const {
  TrialResult r;
  int64_t correct = 0, total = 0;
  for (size_t i = 0; i < batches_.size(); ++i) {
    const Batch& b = batches_[i];
    const std::vector<Tensor>& out = session.run(b.inputs);
    const auto [data, n] = scored(out.at(0), b, batch_rows(b));
    r.output.add(reference_[i].data(), data, n);
    if (b.labels.empty()) continue;
    const size_t classes = n / static_cast<size_t>(b.rows);
    for (int64_t row = 0; row < b.rows; ++row) {
      const float* logits = data + static_cast<size_t>(row) * classes;
      const int64_t best = std::max_element(logits, logits + classes) - logits;
      correct += best == b.labels[static_cast<size_t>(row)];
      ++total;
    }
  }
  r.top1 = total ? 100.0 * static_cast<double>(correct) / static_cast<double>(total) : 0;
  return r;
}

std::vector<OutputError> Evaluator::output_errors(Session& fp32, Session& int8) const {
  std::vector<OutputError> errors;
  for (const Batch& b : batches_) {
    const std::vector<Tensor>& ref = fp32.run(b.inputs);
    std::vector<std::vector<float>> kept(ref.size());  // the next run() overwrites the outputs
    for (size_t k = 0; k < ref.size(); ++k) {
      if (ref[k].dtype() != DataType::f32) continue;
      const float* p = ref[k].data<float>();
      kept[k].assign(p, p + ref[k].numel());
    }
    const std::vector<Tensor>& got = int8.run(b.inputs);
    errors.resize(got.size());
    for (size_t k = 0; k < got.size(); ++k) {
      if (got[k].dtype() != DataType::f32) continue;
      // Values whose leading dimension is not the batch (a reshaped [B*S, H])
      // are still batch-major: the scored rows are a prefix.
      const size_t n = static_cast<size_t>(got[k].numel()) * static_cast<size_t>(b.rows) /
                       static_cast<size_t>(batch_rows(b));
      errors[k].add(kept[k].data(), got[k].data<float>(), n);
    }
  }
  return errors;
}

std::vector<LayerInfo> quantizable_layers(const Model& model, const SessionOptions& options,
                                          const std::map<std::string, Shape>& shapes) {
  SessionOptions o = options;
  o.precision = Precision::int8;
  Session session(model, o);
  session.prepare(shapes);
  std::vector<LayerInfo> out;
  for (LayerInfo& l : session.layers()) {
    if (l.has_int8_kernel && l.precision == "int8" && l.reason.empty()) {
      out.push_back(std::move(l));
    }
  }
  return out;
}

}  // namespace octet::cli
