// octet bench NAME --sessions N: the memory and preparation cost of N
// sessions of one Model, as a server with one session per thread has them.
// The sessions share their Model's reordered weights (ops/constant_cache.hpp),
// so the second prepare reorders nothing and the peak resident set grows by
// activations only. Run it once with --sessions 1 and once with N: the peak
// is per process.
#include <algorithm>
#include <iostream>
#include <memory>

#include "apps/octet/bench/bench.hpp"
#include "apps/octet/common/common.hpp"

namespace octet::cli {

void bench_sessions(const BenchArgs& args, const Model& loaded, const SessionOptions& options) {
  const LoadedInputs files = load_inputs(args.load_inputs);
  const auto shapes = bench_shapes(loaded, args, files, args.batch, args.seq);
  // --int8 on a model without ranges calibrates them first, as bench does.
  const bool calibrated = args.int8 && loaded.activation_range_count() == 0;
  const Model model = args.int8 ? with_ranges(loaded, shapes, options.threads) : loaded;
  const double rss_before = proc_status_mib("VmRSS");
  // Each session is prepared, then run once (so that its activations are
  // resident, as in a server), and all stay alive until the peak is read.
  std::vector<std::unique_ptr<Session>> sessions;
  std::vector<double> prepare_ms;
  for (int i = 0; i < args.sessions; ++i) {
    sessions.push_back(std::make_unique<Session>(model, options));
    const auto start = Clock::now();
    sessions.back()->prepare(shapes);
    prepare_ms.push_back(ms_since(start));
    fill_inputs(*sessions.back(), files);
    sessions.back()->run();
  }
  const double rss_after = proc_status_mib("VmRSS"), peak = proc_status_mib("VmHWM");
  std::vector<double> later(prepare_ms.begin() + 1, prepare_ms.end());
  std::sort(later.begin(), later.end());
  const double later_median = later.empty() ? 0 : later[later.size() / 2];

  if (args.json) {
    nlohmann::ordered_json j;
    j["model"] = args.model;
    for (const TensorInfo& in : model.inputs()) j["inputs"][in.name] = shapes.at(in.name);
    j["precision"] = options.precision == Precision::fp32 ? "fp32" : "int8";
    j["calibrated_on_the_fly"] = calibrated;
    j["device"] = bench_header_json(options.threads);
    j["threads"] = options.threads;
    j["sessions"] = args.sessions;
    j["prepare_ms"] = prepare_ms;
    j["rss_before_sessions_mib"] = rss_before;
    j["rss_after_sessions_mib"] = rss_after;
    j["peak_rss_mib"] = peak;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << bench_header(options.threads) << "=== Sessions ===\nModel: " << args.model
            << "\nSessions: " << args.sessions
            << " of one Model, each prepared and run once, all kept alive\n"
            << "Prepare: first " << format_ms(prepare_ms[0], 1) << " ms";
  if (!later.empty()) {
    std::cout << ", second " << format_ms(prepare_ms[1], 1) << " ms";
    if (later.size() > 1)
      std::cout << ", median of the later ones " << format_ms(later_median, 1) << " ms";
  }
  std::cout << "\nRSS before the first session: " << format_ms(rss_before, 1)
            << " MiB\nRSS with all sessions: " << format_ms(rss_after, 1)
            << " MiB\nPeak RSS: " << format_ms(peak, 1) << " MiB\n";
  if (calibrated) {
    std::cout << "(the peak includes calibrating the ranges on the fly: for a memory figure, "
                 "bench a model saved by `octet quantize`)\n";
  }
}

}  // namespace octet::cli
