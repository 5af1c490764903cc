// octet bench NAME --streams N: throughput mode, as OpenVINO's benchmark_app
// and trtexec's --streams run it: N sessions of one Model serve requests at
// the same time, each on its own thread with its share of the cores. Small
// batches leave cores idle inside one request (the layers' parallel loops
// are short); several streams fill them, at the price of each request's
// latency. The sessions share the model's reordered weights, so a stream
// costs activations only (--sessions measures that).
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "apps/octet/bench/bench.hpp"
#include "apps/octet/common/common.hpp"

namespace octet::cli {

int threads_per_stream(int total_threads, int streams) {
  const int total = total_threads > 0
                        ? total_threads
                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, total / std::max(1, streams));
}

StreamTimings time_streams(const Model& model, const SessionOptions& base,
                           const std::map<std::string, Shape>& shapes, const LoadedInputs& files,
                           int streams, const BenchArgs& args) {
  StreamTimings t;
  t.threads_per_stream = threads_per_stream(base.threads, streams);
  SessionOptions options = base;
  options.threads = t.threads_per_stream;
  std::vector<std::unique_ptr<Session>> sessions;
  for (int i = 0; i < streams; ++i) {
    sessions.push_back(std::make_unique<Session>(model, options));
    sessions.back()->prepare(shapes);
    fill_inputs(*sessions.back(), files);
  }
  t.ms.resize(streams);

  // Every stream warms up, then all start timing together. Timing stops once
  // every stream has served its share of --iterations and --duration has
  // passed (a stream that the OS scheduled late still contributes; the others
  // keep serving meanwhile, so the load stays N requests at once), and each
  // stream finishes the request it is on.
  std::mutex mutex;
  std::condition_variable ready_cv;
  int warmed = 0;
  Clock::time_point first;
  const int64_t share = (args.iterations + streams - 1) / streams;
  std::vector<std::atomic<int64_t>> served(streams);
  for (std::atomic<int64_t>& n : served) n = 0;
  std::atomic<bool> stop{false};
  std::vector<std::exception_ptr> errors(streams);
  std::vector<Clock::time_point> last_end(streams);
  const double duration_ms = args.duration_s * 1000;
  auto serve = [&](int k) {
    try {
      Session& session = *sessions[k];
      const auto warm_start = Clock::now();
      for (int i = 0; i < args.warmup_runs || ms_since(warm_start) < args.warmup_ms; ++i) {
        session.run();
      }
      {
        std::unique_lock<std::mutex> lock(mutex);
        if (++warmed >= streams) {  // > after a failed stream released them
          first = Clock::now();
          ready_cv.notify_all();
        } else {
          ready_cv.wait(lock, [&] { return warmed >= streams; });
        }
      }
      while (!stop.load()) {
        const auto start = Clock::now();
        session.run();
        last_end[k] = Clock::now();
        t.ms[k].push_back(std::chrono::duration<double, std::milli>(last_end[k] - start).count());
        served[k].fetch_add(1);
        const bool all_served =
            std::all_of(served.begin(), served.end(),
                        [&](const std::atomic<int64_t>& n) { return n >= share; });
        if (all_served && ms_since(first) >= duration_ms) stop = true;
      }
    } catch (...) {
      errors[k] = std::current_exception();
      stop = true;
      // A stream that fails before the start must not leave the others waiting.
      std::lock_guard<std::mutex> lock(mutex);
      if (warmed < streams) {
        warmed = streams;
        first = Clock::now();
        ready_cv.notify_all();
      }
    }
  };
  // Stream 0 runs on this thread. libgomp keeps an OpenMP pool per thread
  // that starts parallel regions, and this one has its pool already (the
  // sessions were prepared here); once its pools hold more threads than the
  // CPU has, libgomp stops spinning between parallel regions, and every
  // layer pays for waking its threads: --streams 1 on a thread of its own
  // ran ResNet-50 int8 20-25% slower than plain `octet bench` (2-core Zen 4).
  std::vector<std::thread> threads;
  for (int k = 1; k < streams; ++k) threads.emplace_back(serve, k);
  serve(0);
  for (std::thread& thread : threads) thread.join();
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  const Clock::time_point end = *std::max_element(last_end.begin(), last_end.end());
  t.walltime_ms = std::chrono::duration<double, std::milli>(end - first).count();
  for (const auto& stream : t.ms) t.all_ms.insert(t.all_ms.end(), stream.begin(), stream.end());
  t.layers = sessions.front()->layers();
  return t;
}

void bench_streams(const BenchArgs& args, const Model& loaded, const SessionOptions& options) {
  const LoadedInputs files = load_inputs(args.load_inputs);
  const auto shapes = bench_shapes(loaded, args, files, args.batch, args.seq);
  const Model model = args.int8 ? with_ranges(loaded, shapes, options.threads) : loaded;
  const StreamTimings t = time_streams(model, options, shapes, files, args.streams, args);
  const TimingSummary s =
      summarize_timings(t.all_ms, parse_percentiles(args.percentiles), t.walltime_ms, args.batch);
  const int total_threads = t.threads_per_stream * args.streams;
  if (args.json) {
    nlohmann::ordered_json j;
    j["model"] = args.model;
    for (const TensorInfo& in : model.inputs()) j["inputs"][in.name] = shapes.at(in.name);
    j["batch"] = args.batch;
    j["precision"] = options.precision == Precision::fp32 ? "fp32" : "int8";
    j["device"] = bench_header_json(options.threads);
    j["streams"] = args.streams;
    j["threads_per_stream"] = t.threads_per_stream;
    j["requests"] = s.count;
    nlohmann::ordered_json per_stream = nlohmann::ordered_json::array();
    for (const auto& stream : t.ms) per_stream.push_back(stream.size());
    j["requests_per_stream"] = per_stream;
    j["walltime_s"] = t.walltime_ms / 1000;
    j["throughput_qps"] = s.qps();
    j["throughput_per_s"] = s.items_per_s();
    j["latency_ms"] = summary_json(s);
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << bench_header(options.threads) << "=== Streams ===\nModel: " << args.model
            << " (batch " << args.batch << ")\nStreams: " << args.streams
            << (args.streams == 1 ? " session" : " sessions") << " serving requests at once, "
            << t.threads_per_stream << " thread" << (t.threads_per_stream == 1 ? "" : "s")
            << " each\n";
  const unsigned hw = std::thread::hardware_concurrency();
  if (hw > 0 && static_cast<unsigned>(total_threads) > hw) {
    std::cout << "Warning: " << total_threads << " threads on " << hw
              << " hardware threads: the streams take turns on the cores\n";
  }
  std::cout << "Requests: " << s.count << " in " << format_ms(t.walltime_ms / 1000, 2) << " s (";
  for (size_t k = 0; k < t.ms.size(); ++k) {
    std::cout << (k ? ", " : "") << "stream " << k << ": " << t.ms[k].size();
  }
  std::cout << ")\nThroughput: " << format_ms(s.qps(), 2) << " requests/s, "
            << format_ms(s.items_per_s(), 1) << " items/s\nLatency per request: median "
            << format_ms(s.median_ms) << " ms, mean " << format_ms(s.mean_ms) << " ms, min "
            << format_ms(s.min_ms) << " ms, max " << format_ms(s.max_ms) << " ms";
  for (const auto& [p, ms] : s.percentiles) {
    std::cout << ", p" << p << " " << format_ms(ms) << " ms";
  }
  std::cout << "\n";
}

}  // namespace octet::cli
