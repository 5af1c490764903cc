// Latency statistics for `octet bench`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace octet::cli {

struct LatencyStats {
  size_t count = 0;
  double min_ms = 0;
  double median_ms = 0;  // the nearest-rank 50th percentile (the lower middle for even counts)
  double mean_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};

// Nearest-rank percentile: the smallest sample such that at least p% of the
// samples are <= it, i.e. sorted[ceil(p/100 * n) - 1]. `sorted` must be sorted
// ascending and non-empty; p is clamped to [0, 100] (p = 0 gives the minimum).
double percentile_nearest_rank(const std::vector<double>& sorted, double p);

// All zero for no samples.
LatencyStats compute_latency_stats(std::vector<double> samples_ms);

// Items per second for `batch` items per run taking `mean_ms`; 0 when mean_ms <= 0.
double throughput_per_s(int64_t batch, double mean_ms);

}  // namespace octet::cli
