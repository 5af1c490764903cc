#include "runtime/calibration/method_scores.hpp"

#include <algorithm>
#include <cmath>

namespace octet {

void OutputNoise::add(const Tensor& ref, const Tensor& got) {
  const float* r = ref.data<float>();
  const float* g = got.data<float>();
  const int64_t n = ref.numel();
  double s = 0, e = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(r[i]) - g[i];
    s += static_cast<double>(r[i]) * r[i];
    e += d * d;
  }
  signal += s;
  noise += e;
}

double OutputNoise::sqnr_db() const {
  if (noise == 0) return kScoreLimitDb;
  if (signal == 0) return -kScoreLimitDb;
  return std::clamp(10 * std::log10(signal / noise), -kScoreLimitDb, kScoreLimitDb);
}

namespace {

SessionOptions session_options(Precision precision, int threads) {
  SessionOptions o;
  o.precision = precision;
  o.threads = threads;
  return o;
}

}  // namespace

MethodScorer::MethodScorer(const Model& model, const CalibrationTable& table, int threads)
    : methods_(table.methods), reference_(model, session_options(Precision::fp32, threads)) {
  for (size_t k = 0; k < model.outputs().size(); ++k) {
    if (model.outputs()[k].dtype == DataType::f32) float_outputs_.push_back(k);
  }
  if (float_outputs_.empty()) {
    throw Error(ErrorCode::invalid_argument,
                "choosing the calibration method automatically compares the model's f32 "
                "outputs with fp32's, and this model has none");
  }
  for (const std::string& m : methods_) {
    int8_.emplace_back(quantize(model, table, m), session_options(Precision::int8, threads));
  }
  noise_.assign(methods_.size(), std::vector<OutputNoise>(float_outputs_.size()));
}

void MethodScorer::add(const std::vector<Tensor>& inputs) {
  const std::vector<Tensor>& ref = reference_.run(inputs);
  for (size_t m = 0; m < int8_.size(); ++m) {
    const std::vector<Tensor>& got = int8_[m].run(inputs);
    for (size_t k = 0; k < float_outputs_.size(); ++k) {
      noise_[m][k].add(ref[float_outputs_[k]], got[float_outputs_[k]]);
    }
  }
  ++samples_;
}

std::map<std::string, double> MethodScorer::scores() const {
  std::map<std::string, double> out;
  for (size_t m = 0; m < methods_.size(); ++m) {
    double worst = kScoreLimitDb;
    for (const OutputNoise& n : noise_[m]) worst = std::min(worst, n.sqnr_db());
    out[methods_[m]] = worst;
  }
  return out;
}

std::string best_method(const std::map<std::string, double>& scores,
                        const std::vector<std::string>& order) {
  std::string best;
  for (const std::string& m : order) {
    const auto it = scores.find(m);
    if (it != scores.end() && (best.empty() || it->second > scores.at(best))) best = m;
  }
  return best;
}

}  // namespace octet
