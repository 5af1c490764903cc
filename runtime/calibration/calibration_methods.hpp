// Activation calibration methods, all computed from one histogram of |x| over
// the fixed range [0, max|x|] (docs/calibration-table.md). They follow NVIDIA's
// pytorch-quantization HistogramCalibrator (the calibrators TensorRT users
// know), reimplemented here; tests/python/calib_reference.py is an independent
// NumPy version the tests compare against.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/ir/calibration_method.hpp"

namespace octet {

struct AbsHistogram {
  double range = 0;             // the right edge of the last bin: max|x|
  std::vector<int64_t> counts;  // bin i covers [i, i+1) * range / bins (the last one is closed)

  size_t bins() const { return counts.size(); }
  // Edge i of numpy.histogram(|x|, bins, range=(0, range)): i * (range / bins),
  // the last one exactly `range`.
  double edge(size_t i) const;
  // The bin of |x| = a (0 <= a <= range); the same arithmetic everywhere, so
  // that two runs over the same data fill identical histograms.
  size_t bin_of(float a) const;
};

// amax by `method` (canonical). `is_unsigned`: the tensor is calibrated as u8
// (256 quantization levels instead of 128 for entropy, 255 for mse).
double compute_amax(const AbsHistogram& h, const std::string& method, bool is_unsigned);

double amax_percentile(const AbsHistogram& h, double percentile);
// TensorRT's KL-divergence search: candidate thresholds from bin `start_bin`
// up to the last edge; the last of equal minima wins.
double amax_entropy(const AbsHistogram& h, bool is_unsigned, size_t start_bin = 128);
// The bin centre whose fake quantization of the histogram has the smallest
// count-weighted squared error; the first of equal minima wins.
double amax_mse(const AbsHistogram& h, bool is_unsigned, size_t start_bin = 128);

}  // namespace octet
