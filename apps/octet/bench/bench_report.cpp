#include "apps/octet/bench/bench_report.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <limits>
#include <numeric>
#include <sstream>

#include "apps/octet/common/common.hpp"

namespace octet::cli {
namespace {

[[noreturn]] void bad_argument(const std::string& what) {
  throw Error(ErrorCode::invalid_argument, what);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (true) {
    const size_t next = s.find(sep, pos);
    parts.push_back(s.substr(pos, next - pos));
    if (next == std::string::npos) return parts;
    pos = next + 1;
  }
}

// A whole decimal number, nothing around it.
bool parse_double(const std::string& s, double& value) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  char* end = nullptr;
  value = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(value);
}

bool parse_int(const std::string& s, int64_t& value) {
  // At most 9 digits: no batch, sequence or thread count is larger.
  if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), ::isdigit)) return false;
  value = std::stoll(s);
  return true;
}

// A default std::ostream's rendering, which is what trtexec prints.
std::string stream_number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

double trtexec_percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  // In float, as trtexec computes it: for p = 99 and n = 100 the float
  // product is 0.99999905, so nothing is excluded and p99 is the maximum.
  const int n = static_cast<int>(sorted.size());
  const float keep = 1.f - static_cast<float>(std::clamp(p, 0.0, 100.0)) / 100.f;
  const int exclude = static_cast<int>(keep * static_cast<float>(n));
  return sorted[static_cast<size_t>(std::max(n - 1 - exclude, 0))];
}

double trtexec_median(const std::vector<double>& sorted) {
  if (sorted.empty()) return 0;
  const size_t m = sorted.size() / 2;
  return sorted.size() % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}

double TimingSummary::qps() const {
  return walltime_ms > 0 ? static_cast<double>(count) * 1000.0 / walltime_ms : 0;
}

double TimingSummary::percentile(double p) const {
  for (const auto& [q, ms] : percentiles) {
    if (q == p) return ms;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

TimingSummary summarize_timings(std::vector<double> samples_ms,
                                const std::vector<double>& percentiles, double walltime_ms,
                                int64_t batch) {
  TimingSummary s;
  s.batch = batch;
  s.walltime_ms = walltime_ms;
  s.count = samples_ms.size();
  for (double p : percentiles) s.percentiles.emplace_back(p, 0.0);
  if (samples_ms.empty()) return s;
  std::sort(samples_ms.begin(), samples_ms.end());
  s.min_ms = samples_ms.front();
  s.max_ms = samples_ms.back();
  s.mean_ms = std::accumulate(samples_ms.begin(), samples_ms.end(), 0.0) / s.count;
  s.median_ms = trtexec_median(samples_ms);
  for (auto& [p, ms] : s.percentiles) ms = trtexec_percentile(samples_ms, p);
  return s;
}

std::string format_performance_summary(const TimingSummary& s) {
  std::string latency = "min = " + stream_number(s.min_ms) +
                        " ms, max = " + stream_number(s.max_ms) +
                        " ms, mean = " + stream_number(s.mean_ms) +
                        " ms, median = " + stream_number(s.median_ms) + " ms";
  for (const auto& [p, ms] : s.percentiles) {
    latency += ", percentile(" + stream_number(p) + "%) = " + stream_number(ms) + " ms";
  }
  return "=== Performance summary ===\n"
         "Throughput: " +
         stream_number(s.qps()) +
         " qps\n"
         "Latency: " +
         latency + "\nTotal Host Walltime: " + stream_number(s.walltime_ms / 1000) + " s\n";
}

std::vector<double> parse_percentiles(const std::string& text) {
  std::vector<double> ps;
  for (const std::string& item : split(text, ',')) {
    double p = 0;
    if (!parse_double(item, p) || p < 0 || p > 100) {
      bad_argument("--percentile: '" + item + "' is not a percentile in [0, 100] (as in " +
                   "--percentile=90,95,99)");
    }
    ps.push_back(p);
  }
  return ps;
}

std::vector<SweepAxis> parse_sweep(const std::vector<std::string>& items) {
  std::vector<SweepAxis> axes;
  for (const std::string& item : items) {
    const size_t eq = item.find('=');
    const std::string name = item.substr(0, eq);
    if (eq == std::string::npos ||
        (name != "threads" && name != "batch" && name != "seq" && name != "streams")) {
      bad_argument("--sweep: '" + item +
                   "' is not threads=N,..., batch=N,..., seq=N,... or streams=N,... (as in "
                   "--sweep threads=1,2 batch=1,8)");
    }
    if (std::any_of(axes.begin(), axes.end(), [&](const SweepAxis& a) { return a.name == name; })) {
      bad_argument("--sweep: '" + name + "' is given twice");
    }
    SweepAxis axis{name, {}};
    for (const std::string& v : split(item.substr(eq + 1), ',')) {
      int64_t n = 0;
      if (!parse_int(v, n) || (n == 0 && name != "threads")) {
        bad_argument("--sweep: '" + v + "' in '" + item + "' is not a " +
                     (name == "threads" ? "thread count" : "positive " + name));
      }
      axis.values.push_back(n);
    }
    axes.push_back(axis);
  }
  return axes;
}

std::vector<std::map<std::string, int64_t>> sweep_points(const std::vector<SweepAxis>& axes) {
  std::vector<std::map<std::string, int64_t>> points = {{}};
  for (const SweepAxis& axis : axes) {
    std::vector<std::map<std::string, int64_t>> next;
    for (const auto& point : points) {
      for (int64_t v : axis.values) {
        next.push_back(point);
        next.back()[axis.name] = v;
      }
    }
    points = std::move(next);
  }
  return points;
}

std::string normalize_shape_spec(const std::string& spec) {
  if (spec.find('=') != std::string::npos) return spec;
  const size_t colon = spec.rfind(':');
  if (colon == std::string::npos) return spec;  // parse_shape_spec reports it
  return spec.substr(0, colon) + "=" + spec.substr(colon + 1);
}

std::pair<std::string, std::string> parse_load_input(const std::string& spec) {
  size_t sep = spec.find('=');
  if (sep == std::string::npos) sep = spec.rfind(':');
  if (sep == std::string::npos || sep == 0 || sep + 1 == spec.size()) {
    bad_argument("--loadInputs: '" + spec + "' is not NAME:FILE.npy");
  }
  return {spec.substr(0, sep), spec.substr(sep + 1)};
}

std::vector<ProfileRow> profile_rows(const std::vector<LayerInfo>& layers,
                                     const std::vector<LayerTime>& times) {
  std::vector<ProfileRow> rows;
  for (size_t i = 0; i < times.size(); ++i) {
    ProfileRow row{times[i].name, "", "", times[i].total_ms};
    // The session reports both lists in step order; the name check guards that.
    if (i < layers.size() && layers[i].name == times[i].name) {
      row.precision = layers[i].precision;
      row.kernel = layers[i].kernel;
    }
    rows.push_back(row);
  }
  return rows;
}

std::string format_profile_table(const std::vector<ProfileRow>& rows, int64_t iterations) {
  const std::string time_hdr = "   Time (ms)", avg_hdr = "   Avg. Time (ms)", pct_hdr = "   Time %",
                    prec_hdr = "   Precision", kernel_hdr = "   Kernel";
  size_t name_w = std::string("Layer").size(), kernel_w = kernel_hdr.size();
  double total = 0;
  for (const ProfileRow& r : rows) {
    name_w = std::max(name_w, r.name.size() + 1);
    kernel_w = std::max(kernel_w, r.kernel.size() + 3);
    total += r.total_ms;
  }
  const double runs = static_cast<double>(std::max<int64_t>(iterations, 1));
  std::ostringstream os;
  os << "=== Profile (" << iterations << " iterations ) ===\n"
     << std::setw(static_cast<int>(name_w)) << "Layer" << time_hdr << avg_hdr << pct_hdr << prec_hdr
     << std::setw(static_cast<int>(kernel_w)) << kernel_hdr << "\n";
  const auto line = [&](const std::string& name, double ms, const std::string& precision,
                        const std::string& kernel) {
    os << std::setw(static_cast<int>(name_w)) << name << std::fixed << std::setprecision(2)
       << std::setw(static_cast<int>(time_hdr.size())) << ms << std::setprecision(4)
       << std::setw(static_cast<int>(avg_hdr.size())) << ms / runs << std::setprecision(1)
       << std::setw(static_cast<int>(pct_hdr.size())) << (total > 0 ? 100 * ms / total : 0.0);
    if (!precision.empty() || !kernel.empty()) {
      os << std::setw(static_cast<int>(prec_hdr.size())) << precision
         << std::setw(static_cast<int>(kernel_w)) << kernel;
    }
    os << "\n";
  };
  for (const ProfileRow& r : rows) line(r.name, r.total_ms, r.precision, r.kernel);
  line("Total", total, "", "");
  return os.str();
}

nlohmann::ordered_json profile_json(const std::vector<ProfileRow>& rows, int64_t iterations) {
  double total = 0;
  for (const ProfileRow& r : rows) total += r.total_ms;
  const double runs = static_cast<double>(std::max<int64_t>(iterations, 1));
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  j.push_back({{"count", iterations}});
  for (const ProfileRow& r : rows) {
    j.push_back({{"name", r.name},
                 {"timeMs", r.total_ms},
                 {"averageMs", r.total_ms / runs},
                 {"percentage", total > 0 ? 100 * r.total_ms / total : 0.0},
                 {"precision", r.precision},
                 {"kernel", r.kernel}});
  }
  return j;
}

nlohmann::ordered_json layer_info_json(const std::vector<LayerInfo>& layers) {
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (const LayerInfo& l : layers) {
    j.push_back({{"name", l.name},
                 {"op", l.op},
                 {"precision", l.precision},
                 {"kernel", l.kernel},
                 {"shape", l.shape},
                 {"output", l.output},
                 {"reason", l.reason}});
  }
  return j;
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) break;
    const size_t start = line.find_first_not_of(' ', colon + 1);
    return start == std::string::npos ? "unknown CPU" : line.substr(start);
  }
  return "unknown CPU";
}

double load_average() {
  std::ifstream in("/proc/loadavg");
  double load = -1;
  return in >> load ? load : -1;
}

double peak_rss_mib() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

double proc_status_mib(const char* field) {
  std::ifstream in("/proc/self/status");
  const std::string prefix = std::string(field) + ":";
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    return std::strtod(line.c_str() + prefix.size(), nullptr) / 1024.0;  // "VmRSS:  123 kB"
  }
  return 0;
}

}  // namespace octet::cli
