// What the parts of `octet bench` share: its arguments, the inputs, the timed
// loop and the model preparation. commands/bench.cpp parses the flags and
// runs one session; bench_modes.cpp holds --compare and --sweep,
// bench_sessions.cpp --sessions, bench_streams.cpp --streams.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "apps/octet/bench/bench_report.hpp"
#include "apps/octet/common/common.hpp"
#include "apps/octet/common/session_flags.hpp"

namespace octet::cli {

struct BenchArgs {
  std::string model;
  int64_t batch = 1;
  int64_t seq = 128;
  int iterations = 100;   // at least this many timed runs
  double duration_s = 0;  // and at least this long
  int warmup_runs = 10;   // at least this many untimed runs first
  double warmup_ms = 0;   // and at least this long
  std::string percentiles = "90,95,99";
  bool fp32 = false;
  bool int8 = false;
  bool json = false;
  bool compare = false;
  bool dump_profile = false;
  bool separate_profile_run = false;
  bool old_profile = false;  // --profile: --dumpProfile --separateProfileRun
  bool dump_layer_info = false;
  std::string export_times, export_profile, export_layer_info;
  std::vector<std::string> shapes;       // NAME=DIMS or NAME:DIMS
  std::vector<std::string> load_inputs;  // NAME:FILE.npy
  std::vector<std::string> sweep;        // threads=1,2 batch=1,8
  int sessions = 0;                      // --sessions N: memory of N sessions (0: off)
  int streams = 0;                       // --streams N: N sessions run at once (0: off)
  SessionFlags session;
};

// Inputs given as files (--loadInputs), by input name.
using LoadedInputs = std::map<std::string, Tensor>;
LoadedInputs load_inputs(const std::vector<std::string>& specs);

// Input shapes for `batch` and `seq`: --shapes first, then the loaded files'
// shapes, then the model's declared dims.
std::map<std::string, Shape> bench_shapes(const Model& model, const BenchArgs& args,
                                          const LoadedInputs& loaded, int64_t batch, int64_t seq);

// Copies the loaded inputs into the session (same dtype and shape, else
// Error naming --loadInputs) and fills the others with synthetic data.
void fill_inputs(Session& session, const LoadedInputs& loaded);

// A model that can run in int8: `model` itself when it has activation
// ranges, otherwise ranges from a max pass over random inputs (like trtexec
// without a calibration cache: speed is real, accuracy meaningless).
Model with_ranges(const Model& model, const std::map<std::string, Shape>& shapes, int threads);

// One timed run of each `runs` entry per iteration (several entries are
// timed alternately, so all see the same machine load), after the warm-up.
struct Timings {
  std::vector<std::vector<double>> ms;  // per entry, per iteration
  std::vector<double> start_ms;         // first entry's start, from the first timed start
  double walltime_ms = 0;               // first timed start to last end
  int warmup_runs = 0;
  double warmup_ms = 0;
};
Timings time_runs(const std::vector<std::function<void()>>& runs, const BenchArgs& args);

// "CPU: ...", "ISA: ...", "Threads: ...", "Versions: ..." lines.
std::string bench_header(int threads);
nlohmann::ordered_json bench_header_json(int threads);

// The summary object of --json for one set of timings.
nlohmann::ordered_json summary_json(const TimingSummary& s);

void bench_compare(const BenchArgs& args, const Model& model, const SessionOptions& base);
void bench_sweep(const BenchArgs& args, const Model& model, const SessionOptions& base);
// --sessions N (bench_sessions.cpp): prepare times and resident memory of N
// sessions of one Model.
void bench_sessions(const BenchArgs& args, const Model& model, const SessionOptions& options);

// --streams (bench_streams.cpp): `streams` sessions of `model` serving
// requests concurrently, each on its own thread, the threads split between
// them (threads_per_stream); timed like time_runs, over all streams.
struct StreamTimings {
  std::vector<std::vector<double>> ms;  // per stream, per request
  std::vector<double> all_ms;           // every stream's, pooled
  double walltime_ms = 0;               // the common start to the last request's end
  int threads_per_stream = 1;
  std::vector<LayerInfo> layers;  // the first stream's (all are alike)
};
// `total_threads` (0: every core) split between `streams`, at least 1 each.
int threads_per_stream(int total_threads, int streams);
StreamTimings time_streams(const Model& model, const SessionOptions& base,
                           const std::map<std::string, Shape>& shapes, const LoadedInputs& files,
                           int streams, const BenchArgs& args);
void bench_streams(const BenchArgs& args, const Model& model, const SessionOptions& options);

}  // namespace octet::cli
