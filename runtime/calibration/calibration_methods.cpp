#include "runtime/calibration/calibration_methods.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <numeric>

#include "octet/octet.hpp"

namespace octet {

double AbsHistogram::edge(size_t i) const {
  if (i >= counts.size()) return range;
  return static_cast<double>(i) * (range / static_cast<double>(counts.size()));
}

size_t AbsHistogram::bin_of(float a) const {
  const size_t n = counts.size();
  const double x = a;
  if (!(x < range)) return n - 1;  // the last bin is closed on the right
  size_t i = static_cast<size_t>(x * (static_cast<double>(n) / range));
  i = std::min(i, n - 1);
  // The division may land one bin off; the edges decide, as numpy's do.
  if (i > 0 && x < edge(i)) --i;
  if (i + 1 < n && x >= edge(i + 1)) ++i;
  return i;
}

double compute_amax(const AbsHistogram& h, const std::string& method, bool is_unsigned) {
  if (method == "max") return h.range;
  if (method == "entropy") return amax_entropy(h, is_unsigned);
  if (method == "mse") return amax_mse(h, is_unsigned);
  const std::string canonical = canonical_method(method);  // throws for unknown names
  return amax_percentile(h, std::strtod(canonical.c_str() + 11, nullptr));
}

double amax_percentile(const AbsHistogram& h, double percentile) {
  const int64_t total = std::accumulate(h.counts.begin(), h.counts.end(), int64_t{0});
  if (total == 0) return h.range;
  const double target = percentile / 100.0;
  int64_t cumulative = 0;
  for (size_t i = 0; i < h.bins(); ++i) {
    cumulative += h.counts[i];
    // The bin holding the percentile is kept whole: its right edge.
    if (static_cast<double>(cumulative) / static_cast<double>(total) >= target) {
      return h.edge(i + 1);
    }
  }
  return h.range;
}

namespace {

// numpy.digitize(j, numpy.linspace(0, i, levels + 1)) - 1: the largest k < levels
// with k * (i / levels) <= j, reproduced with the same float arithmetic so that
// bins on a level boundary land where the reference puts them.
size_t level_of(size_t j, double step, size_t levels) {
  size_t k = std::min(static_cast<size_t>(static_cast<double>(j) / step), levels - 1);
  while (k > 0 && static_cast<double>(k) * step > static_cast<double>(j)) --k;
  while (k + 1 < levels && static_cast<double>(k + 1) * step <= static_cast<double>(j)) ++k;
  return k;
}

}  // namespace

double amax_entropy(const AbsHistogram& h, bool is_unsigned, size_t start_bin) {
  const size_t n = h.bins();
  if (n < 2 || start_bin >= n) return h.range;
  std::vector<double> bins(h.counts.begin(), h.counts.end());
  // The zero bin of a ReLU output holds most of the mass and says nothing
  // about the threshold; TensorRT replaces it by its neighbour.
  bins[0] = bins[1];
  std::vector<double> outliers(n + 1, 0.0);  // outliers[i] = sum(bins[i:])
  for (size_t i = n; i-- > 0;) outliers[i] = outliers[i + 1] + bins[i];
  const double total = outliers[0];
  if (total == 0) return h.range;

  const size_t levels = is_unsigned ? 256 : 128;
  std::vector<size_t> level(n);
  std::vector<double> level_sum(levels), level_nonempty(levels);
  double best = std::numeric_limits<double>::infinity();
  size_t best_i = n;
  for (size_t i = start_bin; i <= n; ++i) {
    const double step = static_cast<double>(i) / static_cast<double>(levels);
    std::fill(level_sum.begin(), level_sum.end(), 0.0);
    std::fill(level_nonempty.begin(), level_nonempty.end(), 0.0);
    for (size_t j = 0; j < i; ++j) {
      level[j] = level_of(j, step, levels);
      if (bins[j] != 0) {
        level_sum[level[j]] += bins[j];
        level_nonempty[level[j]] += 1;
      }
    }
    // P: the kept bins with the clipped mass in the last one (sum: total).
    // Q: each level's mass spread over its non-empty bins (sum: total - clipped).
    const double q_total = total - outliers[i];
    double divergence = 0;
    for (size_t j = 0; j < i && std::isfinite(divergence); ++j) {
      const double p = (j + 1 == i) ? bins[j] + outliers[i] : bins[j];
      if (p == 0) continue;
      const double q = bins[j] != 0 ? level_sum[level[j]] / level_nonempty[level[j]] : 0.0;
      if (q == 0) {
        divergence = std::numeric_limits<double>::infinity();
        break;
      }
      const double pn = p / total, qn = q / q_total;
      divergence += pn * std::log(pn / qn);
    }
    if (divergence <= best) {  // the last of equal minima, as TensorRT picks
      best = divergence;
      best_i = i;
    }
  }
  return h.edge(best_i);
}

double amax_mse(const AbsHistogram& h, bool is_unsigned, size_t start_bin) {
  const size_t n = h.bins();
  if (start_bin >= n) return h.range;
  std::vector<double> centers(n);
  for (size_t k = 0; k < n; ++k) centers[k] = (h.edge(k) + h.edge(k + 1)) / 2;
  const double max_bound = is_unsigned ? 255.0 : 127.0;
  double best = std::numeric_limits<double>::infinity();
  size_t best_i = start_bin;
  for (size_t i = start_bin; i < n; ++i) {
    const double amax = centers[i];
    const double scale = max_bound / amax;
    double error = 0;
    for (size_t k = 0; k < n; ++k) {
      if (h.counts[k] == 0) continue;
      // Round half to even, as torch.round and the int8 kernels do.
      const double q = std::min(std::nearbyint(centers[k] * scale), max_bound) / scale;
      error += (q - centers[k]) * (q - centers[k]) * static_cast<double>(h.counts[k]);
    }
    if (error < best) {
      best = error;
      best_i = i;
    }
  }
  return centers[best_i];
}

}  // namespace octet
