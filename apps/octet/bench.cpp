// octet bench NAME: latency and throughput on synthetic inputs.
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "apps/octet/commands.hpp"
#include "apps/octet/common.hpp"
#include "apps/octet/stats.hpp"

namespace octet::cli {
namespace {

constexpr uint64_t kSeed = 20240501;

struct BenchArgs {
  std::string model;
  int64_t batch = 1;
  int64_t seq = 128;
  int iterations = 100;
  int warmup = 10;
  bool fp32 = false;
  bool int8 = false;
  bool json = false;
  bool profile = false;
  bool compare = false;
  std::vector<std::string> shapes;
  SessionFlags session;
};

// How many layers the session really runs in each precision.
std::map<std::string, int> layer_precisions(const Session& session) {
  std::map<std::string, int> counts;
  for (const LayerInfo& layer : session.layers()) ++counts[layer.precision];
  return counts;
}

std::string threads_text(int threads) {
  if (threads > 0) return std::to_string(threads);
  return "all cores (" + std::to_string(std::thread::hardware_concurrency()) + " hardware threads)";
}

// A separate profiling run (per-layer timing adds a clock read and a stream
// wait per layer, so it is kept out of the latency figures): prints the
// slowest layers and compares the sum of all layer times with the end-to-end
// median, which shows what the executor itself costs.
void print_profile(const Model& model, SessionOptions options,
                   const std::map<std::string, Shape>& shapes, const BenchArgs& args,
                   double median_ms) {
  options.profile = true;
  Session session(model, options);
  session.prepare(shapes);
  for (size_t i = 0; i < model.inputs().size(); ++i) {
    fill_synthetic(session.input(i), model.inputs()[i].name, kSeed + i);
  }
  for (int i = 0; i < args.warmup; ++i) session.run();
  session.reset_profile();
  for (int i = 0; i < args.iterations; ++i) session.run();
  const std::vector<LayerInfo> layers = session.layers();
  const std::vector<LayerTime> times = session.profile();
  double sum = 0;
  std::vector<size_t> order(times.size());
  for (size_t i = 0; i < times.size(); ++i) {
    order[i] = i;
    sum += times[i].total_ms / std::max<int64_t>(1, times[i].count);
  }
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return times[a].total_ms > times[b].total_ms; });
  std::cout << "profile     " << args.iterations << " runs; slowest layers (avg ms, % of sum):\n";
  for (size_t k = 0; k < std::min<size_t>(order.size(), 15); ++k) {
    const size_t i = order[k];
    const double avg = times[i].total_ms / std::max<int64_t>(1, times[i].count);
    std::cout << "  " << format_ms(avg) << "  " << format_ms(100 * avg / sum, 1) << "%  "
              << layers[i].name << " (" << layers[i].op << ", " << layers[i].precision << ", "
              << layers[i].kernel << ")\n";
  }
  std::cout << "  sum of " << times.size() << " layers " << format_ms(sum)
            << " ms; end-to-end median " << format_ms(median_ms) << " ms ("
            << format_ms(median_ms / sum, 3) << "x)\n";
}

// Like trtexec with placeholder scales: a model without activation ranges
// gets them from a max pass over random inputs, so its int8 speed can be
// measured. The accuracy of such ranges means nothing.
Model calibrate_on_the_fly(const Model& model, const std::map<std::string, Shape>& shapes,
                           int threads) {
  constexpr int kBatches = 2;
  CalibrationOptions options;
  options.threads = threads;
  Calibrator calibrator(model, options);
  for (int b = 0; b < kBatches; ++b) {
    std::vector<Tensor> inputs;
    for (size_t i = 0; i < model.inputs().size(); ++i) {
      const TensorInfo& info = model.inputs()[i];
      inputs.emplace_back(info.dtype, shapes.at(info.name));
      fill_synthetic(inputs.back(), info.name, kSeed + 1000 * (b + 1) + i);
    }
    calibrator.add(inputs);
  }
  std::cerr << "note: the model has no activation ranges; calibrated them on the fly (max over "
            << kBatches << " random batches) to measure int8 speed. Accuracy needs "
            << "`octet calibrate` on real data.\n";
  return calibrator.quantized_model();
}

// fp32 and int8 sessions of the same model, timed alternately in one loop so
// that both see the same machine load: on a shared machine the ratio of the
// medians is far steadier than either median.
void compare(const BenchArgs& args, const Model& loaded, const SessionOptions& base) {
  const auto shapes =
      resolve_input_shapes(loaded.inputs(), args.batch, args.seq, parse_shape_specs(args.shapes));
  const Model model = loaded.activation_range_count() == 0
                          ? calibrate_on_the_fly(loaded, shapes, base.threads)
                          : loaded;
  std::vector<std::unique_ptr<Session>> sessions;
  for (Precision p : {Precision::fp32, Precision::int8}) {
    SessionOptions options = base;
    options.precision = p;
    sessions.push_back(std::make_unique<Session>(model, options));
    sessions.back()->prepare(shapes);
    for (size_t i = 0; i < model.inputs().size(); ++i) {
      fill_synthetic(sessions.back()->input(i), model.inputs()[i].name, kSeed + i);
    }
  }
  for (int i = 0; i < args.warmup; ++i) {
    for (auto& s : sessions) s->run();
  }
  std::vector<double> samples[2];
  for (int i = 0; i < args.iterations; ++i) {
    for (size_t k = 0; k < 2; ++k) {
      const auto start = Clock::now();
      sessions[k]->run();
      samples[k].push_back(ms_since(start));
    }
  }
  const LatencyStats fp32 = compute_latency_stats(samples[0]);
  const LatencyStats int8 = compute_latency_stats(samples[1]);
  const double speedup = fp32.median_ms / int8.median_ms;
  if (args.json) {
    nlohmann::ordered_json j;
    j["model"] = args.model;
    j["batch"] = args.batch;
    j["seq"] = args.seq;
    j["threads"] = base.threads;
    j["iterations"] = args.iterations;
    j["fp32_median_ms"] = fp32.median_ms;
    j["int8_median_ms"] = int8.median_ms;
    j["int8_layers"] = layer_precisions(*sessions[1]);
    j["speedup"] = speedup;
    j["cpu_isa"] = cpu_isa();
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::string layers;
  for (const auto& [name, n] : layer_precisions(*sessions[1])) {
    layers += (layers.empty() ? "" : ", ") + std::to_string(n) + " " + name;
  }
  std::cout << "model       " << args.model << " (batch " << args.batch << ")\n"
            << "threads     " << threads_text(base.threads) << "\n"
            << "int8 layers " << layers << "\n"
            << "fp32        median " << format_ms(fp32.median_ms) << " ms  (min "
            << format_ms(fp32.min_ms) << ", p90 " << format_ms(fp32.p90_ms) << ")\n"
            << "int8        median " << format_ms(int8.median_ms) << " ms  (min "
            << format_ms(int8.min_ms) << ", p90 " << format_ms(int8.p90_ms) << ")\n"
            << "speedup     " << format_ms(speedup, 2) << "x (fp32 median / int8 median, "
            << args.iterations << " alternating runs each)\n"
            << "CPU ISA     " << cpu_isa() << (cpu_has_vnni() ? " (VNNI)" : " (no VNNI)") << "\n";
}

void bench(const BenchArgs& args) {
  auto start = Clock::now();
  Model model = load_model(args.model);
  const double load_ms = ms_since(start);

  SessionOptions options = session_options(args.session);
  if (args.fp32) options.precision = Precision::fp32;
  if (args.int8) options.precision = Precision::int8;
  if (args.compare) return compare(args, model, options);
  const auto shapes =
      resolve_input_shapes(model.inputs(), args.batch, args.seq, parse_shape_specs(args.shapes));
  if (args.int8 && model.activation_range_count() == 0) {
    model = calibrate_on_the_fly(model, shapes, options.threads);
  }
  Session session(model, options);
  session.prepare(shapes);
  for (size_t i = 0; i < model.inputs().size(); ++i) {
    fill_synthetic(session.input(i), model.inputs()[i].name, kSeed + i);
  }

  start = Clock::now();
  session.run();
  const double first_ms = ms_since(start);
  for (int i = 0; i < args.warmup; ++i) session.run();
  std::vector<double> samples;
  samples.reserve(args.iterations);
  for (int i = 0; i < args.iterations; ++i) {
    start = Clock::now();
    session.run();
    samples.push_back(ms_since(start));
  }
  const LatencyStats stats = compute_latency_stats(samples);
  const double throughput = throughput_per_s(args.batch, stats.mean_ms);
  const char* requested = options.precision == Precision::fp32 ? "fp32" : "int8";
  const auto precisions = layer_precisions(session);

  if (args.json) {
    nlohmann::ordered_json j;
    j["model"] = args.model;
    j["load_ms"] = load_ms;
    j["prepare_ms"] = session.prepare_ms();
    j["first_run_ms"] = first_ms;
    for (const TensorInfo& in : model.inputs()) j["inputs"][in.name] = shapes.at(in.name);
    j["batch"] = args.batch;
    j["seq"] = args.seq;
    j["precision"] = requested;
    j["layer_precisions"] = precisions;
    j["threads"] = options.threads;
    j["hardware_threads"] = std::thread::hardware_concurrency();
    j["warmup"] = args.warmup;
    j["iterations"] = args.iterations;
    j["latency_ms"] = {{"min", stats.min_ms}, {"median", stats.median_ms}, {"mean", stats.mean_ms},
                       {"p90", stats.p90_ms}, {"p99", stats.p99_ms},       {"max", stats.max_ms}};
    j["throughput_per_s"] = throughput;
    j["octet_version"] = version();
    j["onednn_version"] = onednn_version();
    j["cpu_isa"] = cpu_isa();
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::string precision = std::string(requested) + " requested; layers:";
  for (const auto& [name, n] : precisions) precision += " " + std::to_string(n) + " " + name + ",";
  precision.pop_back();
  std::string inputs;
  for (const TensorInfo& in : model.inputs()) {
    inputs += (inputs.empty() ? "" : ", ") + in.name + " " + to_string(shapes.at(in.name));
  }
  std::cout << "model       " << args.model << "\n"
            << "load        " << format_ms(load_ms, 1) << " ms\n"
            << "inputs      " << inputs << "\n"
            << "precision   " << precision << "\n"
            << "threads     " << threads_text(options.threads) << "\n"
            << "prepare     " << format_ms(session.prepare_ms(), 1) << " ms\n"
            << "first run   " << format_ms(first_ms) << " ms\n"
            << "latency     " << stats.count << " runs after " << args.warmup << " warmup: min "
            << format_ms(stats.min_ms) << "  median " << format_ms(stats.median_ms) << "  mean "
            << format_ms(stats.mean_ms) << "  p90 " << format_ms(stats.p90_ms) << "  p99 "
            << format_ms(stats.p99_ms) << " ms\n"
            << "throughput  " << format_ms(throughput, 1) << " items/s (batch " << args.batch
            << ")\n"
            << "octet " << version() << ", oneDNN " << onednn_version() << ", CPU ISA " << cpu_isa()
            << "\n";
  if (args.profile) print_profile(model, options, shapes, args, stats.median_ms);
}

}  // namespace

Command add_bench(CLI::App& root) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* app = root.add_subcommand("bench", "Measure latency and throughput");
  app->add_option("model", args->model, "Model NAME (NAME.octet.json) or a .onnx file")->required();
  app->add_option("--batch", args->batch, "Value of each input's first symbolic dimension")
      ->check(CLI::Range(1, 1 << 20));
  app->add_option("--seq", args->seq, "Value of each input's second symbolic dimension")
      ->check(CLI::Range(1, 1 << 20));
  app->add_option("--shapes", args->shapes, "Explicit shapes: input=1x3x224x224,...")
      ->delimiter(',');
  app->add_option("--iterations", args->iterations, "Timed runs")->check(CLI::Range(1, 1000000));
  app->add_option("--warmup", args->warmup, "Untimed runs before timing")
      ->check(CLI::Range(0, 1000000));
  CLI::Option* fp32 = app->add_flag("--fp32", args->fp32, "Run every layer in fp32");
  CLI::Option* int8 = app->add_flag("--int8", args->int8, "Run in int8 where there are scales");
  CLI::Option* both = app->add_flag(
      "--compare", args->compare,
      "Time fp32 and int8 alternately in one run and print both medians and their ratio");
  fp32->excludes(int8);
  int8->excludes(fp32);
  both->excludes(fp32)->excludes(int8);
  app->add_flag("--json", args->json, "Print the results as JSON");
  app->add_flag("--profile", args->profile,
                "Then time every layer in a separate run and print the slowest");
  add_session_flags(*app, args->session);
  return {app, [args] { bench(*args); }};
}

}  // namespace octet::cli
