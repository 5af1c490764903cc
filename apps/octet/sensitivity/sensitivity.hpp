// The measurements behind `octet sensitivity`: a metric of a model's output
// on a fixed set of samples held in memory, compared with the fp32 model's,
// and the error of every layer's output in an int8 session. The command
// (commands/sensitivity.cpp) runs these for many precision configurations;
// everything here is deterministic and independent of the command line so
// that tests/test_sensitivity.cpp can check it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "octet/octet.hpp"

namespace octet::cli {

// top1: % of samples whose argmax is the label (needs labels). sqnr: signal
// to quantization noise of the first output against fp32, in dB. cosine:
// cosine similarity of the first output with fp32's. Higher is better for all.
enum class Metric { top1, sqnr, cosine };
Metric parse_metric(const std::string& name);  // also "accuracy" (= top1)
const char* metric_name(Metric m);
const char* metric_unit(Metric m);  // "%", "dB", ""

// Running comparison of a tensor with its fp32 reference, over any number of
// chunks: sums in double, so the order of the chunks does not matter beyond
// rounding.
struct OutputError {
  double ref_energy = 0, noise_energy = 0, dot = 0, got_energy = 0;
  void add(const float* ref, const float* got, size_t n);
  // 10 log10(sum ref^2 / sum (ref - got)^2); +inf when identical.
  double sqnr_db() const;
  double cosine() const;  // 1 when both are all zeros
};

// A metric's value for one precision configuration, with the output error
// that every metric can afford to record.
struct TrialResult {
  double top1 = 0;  // % (0 when there are no labels)
  OutputError output;
  double value(Metric m) const;
};

// What counts as "close enough to fp32" for the greedy fallback: an absolute
// value of the metric (--target), or a drop from fp32 in points of the
// metric ("0.5") or relative to it ("1%", --target-drop).
struct Target {
  enum Kind { none, absolute, drop_points, drop_relative } kind = none;
  double value = 0;
  // The metric value a configuration must reach, given fp32's.
  double threshold(double fp32_value) const;
};
Target parse_target_drop(const std::string& text);  // "0.5" or "1%"

// The samples, split into batches of the session's batch size once: the last
// batch is zero-padded and only its first `rows` rows are scored.
struct Batch {
  std::vector<Tensor> inputs;
  int64_t rows = 0;
  std::vector<int> labels;  // `rows` labels, or empty
};

class Evaluator {
 public:
  // Runs `fp32` on every batch and keeps its first output as the reference.
  Evaluator(std::vector<Batch> batches, Session& fp32);

  const std::vector<Batch>& batches() const { return batches_; }
  bool labeled() const { return !batches_.empty() && !batches_[0].labels.empty(); }
  const TrialResult& fp32() const { return fp32_; }

  // The metric of `session`'s first output over every batch.
  TrialResult run(Session& session) const;

  // The error of each f32 output of `int8` against `fp32`'s, two sessions of
  // one model (e.g. from Model::with_outputs); non-f32 outputs stay empty.
  std::vector<OutputError> output_errors(Session& fp32, Session& int8) const;

 private:
  std::vector<Batch> batches_;
  std::vector<std::vector<float>> reference_;  // first output per batch, scored rows only
  TrialResult fp32_;
};

// The layers a sensitivity analysis can send to fp32: those an int8 session
// of `model` runs in int8 on an int8 kernel (Conv, Gemm, MatMul), in
// execution order.
std::vector<LayerInfo> quantizable_layers(const Model& model, const SessionOptions& options,
                                          const std::map<std::string, Shape>& shapes);

}  // namespace octet::cli
