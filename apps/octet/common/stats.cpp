#include "apps/octet/common/stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace octet::cli {

double percentile_nearest_rank(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double n = static_cast<double>(sorted.size());
  // For integer p and n, p * n / 100 is exact whenever it is an integer, so
  // ceil() does not round a whole rank up; the epsilon covers fractional p.
  const double rank = std::ceil(std::clamp(p, 0.0, 100.0) * n / 100.0 - 1e-9);
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

LatencyStats compute_latency_stats(std::vector<double> samples_ms) {
  LatencyStats s;
  if (samples_ms.empty()) return s;
  std::sort(samples_ms.begin(), samples_ms.end());
  s.count = samples_ms.size();
  s.min_ms = samples_ms.front();
  s.max_ms = samples_ms.back();
  s.mean_ms = std::accumulate(samples_ms.begin(), samples_ms.end(), 0.0) / s.count;
  s.median_ms = percentile_nearest_rank(samples_ms, 50);
  s.p90_ms = percentile_nearest_rank(samples_ms, 90);
  s.p99_ms = percentile_nearest_rank(samples_ms, 99);
  return s;
}

double throughput_per_s(int64_t batch, double mean_ms) {
  return mean_ms > 0 ? static_cast<double>(batch) * 1000.0 / mean_ms : 0;
}

}  // namespace octet::cli
