// Scores of the calibration methods without labels, for
// CalibrationOptions::method "auto": each method's int8 model runs on the same
// samples as the fp32 model, and the method whose outputs are closest to
// fp32's wins (docs/calibration-table.md, "Choosing the method").
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "octet/octet.hpp"

namespace octet {

// Signal and quantization noise of one output, summed over samples in double.
struct OutputNoise {
  double signal = 0;  // sum ref^2
  double noise = 0;   // sum (ref - got)^2
  void add(const Tensor& ref, const Tensor& got);
  // 10 log10(signal / noise), within [-kScoreLimitDb, kScoreLimitDb]:
  // identical outputs (no noise) score the limit.
  double sqnr_db() const;
};

constexpr double kScoreLimitDb = 200;

class MethodScorer {
 public:
  // One int8 model per method of `table` (quantize(model, table, method)),
  // and the fp32 model as the reference. The model needs an f32 output.
  MethodScorer(const Model& model, const CalibrationTable& table, int threads);

  // One sample (inputs in Model::inputs() order) through fp32 and every method.
  void add(const std::vector<Tensor>& inputs);
  int64_t samples() const { return samples_; }
  // Per method: the worst f32 output's SQNR. The outputs have units of their
  // own (logits, boxes, embeddings), so their noise is not summed; a model is
  // as good as its worst output.
  std::map<std::string, double> scores() const;

 private:
  std::vector<std::string> methods_;
  Session reference_;
  std::vector<Session> int8_;
  std::vector<size_t> float_outputs_;            // indices of the f32 outputs
  std::vector<std::vector<OutputNoise>> noise_;  // [method][f32 output]
  int64_t samples_ = 0;
};

// The method with the highest score; ties go to the first in `order`.
std::string best_method(const std::map<std::string, double>& scores,
                        const std::vector<std::string>& order);

}  // namespace octet
