// What `octet bench` computes and prints, kept apart from the runs so that
// tests/test_bench.cpp can check it: trtexec's statistics and summary lines,
// trtexec's per-layer profile table and JSON, the flag parsers, and the
// machine facts of the header (CPU model, peak resident memory).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "octet/octet.hpp"

namespace octet::cli {

// trtexec's definitions (TensorRT samples/common/sampleReporting.cpp), so that
// numbers agree with a trtexec run on the same timings:
// - percentile p of n sorted samples: drop the int((1 - p/100) * n) largest
//   and take the largest left, i.e. sorted[max(n - 1 - int((1 - p/100) n), 0)];
// - median: the middle sample, or the mean of the two middle ones for even n.
// `sorted` ascending and non-empty; p in [0, 100].
double trtexec_percentile(const std::vector<double>& sorted, double p);
double trtexec_median(const std::vector<double>& sorted);

struct TimingSummary {
  size_t count = 0;
  double min_ms = 0, max_ms = 0, mean_ms = 0, median_ms = 0;
  std::vector<std::pair<double, double>> percentiles;  // (p, ms), in the order asked
  double walltime_ms = 0;                              // first start to last end of the timed runs
  int64_t batch = 1;                                   // items per run

  // Runs per second over the wall time: trtexec's "qps" for explicit-batch
  // networks, where one query is one inference of the whole batch.
  double qps() const;
  double items_per_s() const { return qps() * static_cast<double>(batch); }
  // The value of `p`, one of `percentiles`; NaN for a p that was not asked for.
  double percentile(double p) const;
};

// All zero but `percentiles`' p for no samples.
TimingSummary summarize_timings(std::vector<double> samples_ms,
                                const std::vector<double>& percentiles, double walltime_ms,
                                int64_t batch);

// trtexec's text, byte for byte after trtexec's "[date] [I] " prefix (which
// octet does not print): numbers as a default std::ostream prints them (six
// significant digits).
//   === Performance summary ===
//   Throughput: 21.2 qps
//   Latency: min = ... ms, max = ... ms, mean = ... ms, median = ... ms, percentile(90%) = ... ms,
//   ... Total Host Walltime: 4.7 s
std::string format_performance_summary(const TimingSummary& s);

// "90,95,99" -> {90, 95, 99}; Error(invalid_argument) naming --percentile
// for anything but numbers in [0, 100].
std::vector<double> parse_percentiles(const std::string& text);

// --sweep: "threads=1,2", "batch=1,8,32", "seq=64,128" -> axis name and
// values; Error(invalid_argument) naming --sweep and the bad item. Every
// combination of the axes is one row; an axis not swept keeps its flag.
struct SweepAxis {
  std::string name;
  std::vector<int64_t> values;
};
std::vector<SweepAxis> parse_sweep(const std::vector<std::string>& items);
// The cartesian product, first axis slowest: {{"threads", 1}, {"batch", 8}}, ...
std::vector<std::map<std::string, int64_t>> sweep_points(const std::vector<SweepAxis>& axes);

// "input_ids:1x128" (trtexec) or "input_ids=1x128" (octet): both become
// "input_ids=1x128". The last ':' separates when there is no '=' at all, as
// trtexec does for names with ':' in them ("y:0:1x8").
std::string normalize_shape_spec(const std::string& spec);

// "--loadInputs=name:file.npy" -> {name, file}; Error(invalid_argument)
// naming --loadInputs when either part is empty.
std::pair<std::string, std::string> parse_load_input(const std::string& spec);

// One layer of a profile: the session's per-layer time over `iterations` runs.
struct ProfileRow {
  std::string name, precision, kernel;
  double total_ms = 0;
};
std::vector<ProfileRow> profile_rows(const std::vector<LayerInfo>& layers,
                                     const std::vector<LayerTime>& times);

// trtexec's "=== Profile (N iterations ) ===" table (right-aligned names,
// Time (ms) %.2f, Avg. Time (ms) %.4f, Time % %.1f, then a Total row) with
// two more columns: the precision the layer ran in and its oneDNN kernel.
std::string format_profile_table(const std::vector<ProfileRow>& rows, int64_t iterations);
// trtexec's --exportProfile file: [{"count": N}, {"name", "timeMs",
// "averageMs", "percentage", "precision", "kernel"}, ...].
nlohmann::ordered_json profile_json(const std::vector<ProfileRow>& rows, int64_t iterations);

// --exportLayerInfo: every executed step of the session (--dumpLayerInfo
// prints format_precision_report() of common.hpp).
nlohmann::ordered_json layer_info_json(const std::vector<LayerInfo>& layers);

// "AMD EPYC 7B13" from /proc/cpuinfo; "unknown CPU" elsewhere.
std::string cpu_model_name();
// The process's peak resident set (getrusage), in MiB.
double peak_rss_mib();
// A memory field of /proc/self/status in MiB ("VmRSS": resident now,
// "VmHWM": its peak, exact where getrusage's lags), 0 where unknown.
double proc_status_mib(const char* field);
// The 1-minute load average (/proc/loadavg); -1 where there is none.
double load_average();

}  // namespace octet::cli
