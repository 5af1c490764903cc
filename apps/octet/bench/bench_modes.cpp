// The parts of `octet bench` that every mode uses (inputs, ranges, the timed
// loop, the header), then --compare and --sweep.
#include <algorithm>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "apps/octet/bench/bench.hpp"
#include "apps/octet/common/common.hpp"
#include "loaders/data/npy.hpp"

namespace octet::cli {
namespace {

constexpr uint64_t kSeed = 20240501;

[[noreturn]] void bad_argument(const std::string& what) {
  throw Error(ErrorCode::invalid_argument, what);
}

std::map<std::string, int> layer_precisions(const std::vector<LayerInfo>& layers) {
  std::map<std::string, int> counts;
  for (const LayerInfo& layer : layers) ++counts[layer.precision];
  return counts;
}

double sorted_percentile(std::vector<double> samples, double p) {
  std::sort(samples.begin(), samples.end());
  return trtexec_percentile(samples, p);
}

std::string precision_counts(const std::vector<LayerInfo>& layers) {
  std::string text;
  for (const auto& [name, n] : layer_precisions(layers)) {
    text += (text.empty() ? "" : ", ") + std::to_string(n) + " " + name;
  }
  return text;
}

}  // namespace

LoadedInputs load_inputs(const std::vector<std::string>& specs) {
  LoadedInputs loaded;
  for (const std::string& spec : specs) {
    auto [name, file] = parse_load_input(spec);
    if (loaded.count(name)) bad_argument("--loadInputs: input '" + name + "' is given twice");
    loaded.emplace(name, read_npy(file));
  }
  return loaded;
}

std::map<std::string, Shape> bench_shapes(const Model& model, const BenchArgs& args,
                                          const LoadedInputs& loaded, int64_t batch, int64_t seq) {
  std::vector<std::string> specs;
  for (const std::string& s : args.shapes) specs.push_back(normalize_shape_spec(s));
  std::map<std::string, Shape> overrides = parse_shape_specs(specs);
  for (const auto& [name, tensor] : loaded) overrides.emplace(name, tensor.shape());
  return resolve_input_shapes(model.inputs(), batch, seq, overrides);
}

void fill_inputs(Session& session, const LoadedInputs& loaded) {
  const Model& model = session.model();
  for (const auto& [name, tensor] : loaded) {
    const bool known = std::any_of(model.inputs().begin(), model.inputs().end(),
                                   [&](const TensorInfo& in) { return in.name == name; });
    if (!known) bad_argument("--loadInputs names '" + name + "', which is not an input");
  }
  for (size_t i = 0; i < model.inputs().size(); ++i) {
    Tensor& dst = session.input(i);
    const std::string& name = model.inputs()[i].name;
    const auto it = loaded.find(name);
    if (it == loaded.end()) {
      fill_synthetic(dst, name, kSeed + i);
      continue;
    }
    const Tensor& src = it->second;
    if (src.dtype() != dst.dtype() || src.shape() != dst.shape()) {
      bad_argument("--loadInputs: the file for '" + name + "' holds " + to_string(src.dtype()) +
                   " " + to_string(src.shape()) + ", the input is " + to_string(dst.dtype()) + " " +
                   to_string(dst.shape()));
    }
    std::memcpy(dst.raw(), src.raw(), src.nbytes());
  }
}

Model with_ranges(const Model& model, const std::map<std::string, Shape>& shapes, int threads) {
  if (model.activation_range_count() > 0) return model;
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

Timings time_runs(const std::vector<std::function<void()>>& runs, const BenchArgs& args) {
  Timings t;
  t.ms.resize(runs.size());
  auto start = Clock::now();
  while (t.warmup_runs < args.warmup_runs || ms_since(start) < args.warmup_ms) {
    for (const auto& run : runs) run();
    ++t.warmup_runs;
  }
  t.warmup_ms = ms_since(start);
  const auto first = Clock::now();
  const double duration_ms = args.duration_s * 1000;
  while (static_cast<int>(t.start_ms.size()) < args.iterations || ms_since(first) < duration_ms) {
    t.start_ms.push_back(ms_since(first));
    for (size_t k = 0; k < runs.size(); ++k) {
      start = Clock::now();
      runs[k]();
      t.ms[k].push_back(ms_since(start));
    }
  }
  t.walltime_ms = ms_since(first);
  return t;
}

std::string bench_header(int threads) {
  const unsigned hw = std::thread::hardware_concurrency();
  std::string text = "=== Device Information ===\nCPU: " + cpu_model_name() + " (" +
                     std::to_string(hw) + " hardware threads)\nISA: " + cpu_isa() +
                     (cpu_has_vnni() ? " (VNNI)" : " (no VNNI)") +
                     "\nThreads: " + (threads > 0 ? std::to_string(threads) : "all cores") +
                     "\nVersions: octet " + version() + ", oneDNN " + onednn_version() + "\n";
  const double load = load_average();
  if (load >= 0) text += "Load average: " + format_ms(load, 2) + " (1 minute)\n";
  // oneDNN's OpenMP threads spin at the barrier after each primitive; when
  // other processes hold the cores, a spinning thread takes the time slice
  // of the one with work, and latency grows several-fold.
  if (load > hw) {
    text +=
        "Warning: other processes keep the CPU busy; latencies will be high and noisy. "
        "If the machine cannot be freed, OMP_WAIT_POLICY=PASSIVE makes octet's threads "
        "sleep instead of spinning.\n";
  }
  return text;
}

nlohmann::ordered_json bench_header_json(int threads) {
  nlohmann::ordered_json j;
  j["cpu"] = cpu_model_name();
  j["cpu_isa"] = cpu_isa();
  j["vnni"] = cpu_has_vnni();
  j["threads"] = threads;
  j["hardware_threads"] = std::thread::hardware_concurrency();
  j["octet_version"] = version();
  j["onednn_version"] = onednn_version();
  j["load_average"] = load_average();
  return j;
}

nlohmann::ordered_json summary_json(const TimingSummary& s) {
  nlohmann::ordered_json latency = {
      {"min", s.min_ms}, {"max", s.max_ms}, {"mean", s.mean_ms}, {"median", s.median_ms}};
  nlohmann::ordered_json percentiles = nlohmann::ordered_json::object();
  for (const auto& [p, ms] : s.percentiles) {
    std::ostringstream key;
    key << p;
    percentiles[key.str()] = ms;
  }
  latency["percentiles"] = percentiles;
  return latency;
}

// fp32 and int8 sessions of the same model, timed alternately in one loop so
// that both see the same machine load: on a shared machine the ratio of the
// medians is far steadier than either median.
void bench_compare(const BenchArgs& args, const Model& loaded, const SessionOptions& base) {
  const LoadedInputs files = load_inputs(args.load_inputs);
  const auto shapes = bench_shapes(loaded, args, files, args.batch, args.seq);
  const Model model = with_ranges(loaded, shapes, base.threads);
  std::vector<std::unique_ptr<Session>> sessions;
  std::vector<std::function<void()>> runs;
  for (Precision p : {Precision::fp32, Precision::int8}) {
    SessionOptions options = base;
    options.precision = p;
    sessions.push_back(std::make_unique<Session>(model, options));
    sessions.back()->prepare(shapes);
    fill_inputs(*sessions.back(), files);
    runs.push_back([s = sessions.back().get()] { s->run(); });
  }
  const Timings t = time_runs(runs, args);
  const std::vector<double> ps = parse_percentiles(args.percentiles);
  const TimingSummary fp32 = summarize_timings(t.ms[0], ps, t.walltime_ms, args.batch);
  const TimingSummary int8 = summarize_timings(t.ms[1], ps, t.walltime_ms, args.batch);
  const double speedup = fp32.median_ms / int8.median_ms;
  if (args.json) {
    nlohmann::ordered_json j;
    j["model"] = args.model;
    j["batch"] = args.batch;
    j["seq"] = args.seq;
    j["threads"] = base.threads;
    j["iterations"] = t.ms[0].size();
    j["fp32_median_ms"] = fp32.median_ms;
    j["int8_median_ms"] = int8.median_ms;
    j["fp32_latency_ms"] = summary_json(fp32);
    j["int8_latency_ms"] = summary_json(int8);
    j["int8_layers"] = layer_precisions(sessions[1]->layers());
    j["speedup"] = speedup;
    j["cpu_isa"] = cpu_isa();
    j["device"] = bench_header_json(base.threads);
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << bench_header(base.threads) << "=== Compare (" << fp32.count
            << " alternating runs each) ===\n"
            << "model       " << args.model << " (batch " << args.batch << ")\n"
            << "int8 layers " << precision_counts(sessions[1]->layers()) << "\n";
  for (const auto* s : {&fp32, &int8}) {
    std::cout << (s == &fp32 ? "fp32" : "int8") << "        median " << format_ms(s->median_ms)
              << " ms  (min " << format_ms(s->min_ms) << ", p90 "
              << format_ms(sorted_percentile(t.ms[s == &fp32 ? 0 : 1], 90)) << ")\n";
  }
  std::cout << "speedup     " << format_ms(speedup, 2) << "x (fp32 median / int8 median)\n";
}

// One session per combination of the swept values; the table is printed
// once all are measured, so that its rows sit together.
void bench_sweep(const BenchArgs& args, const Model& loaded, const SessionOptions& base) {
  const LoadedInputs files = load_inputs(args.load_inputs);
  const std::vector<double> ps = parse_percentiles(args.percentiles);
  const auto points = sweep_points(parse_sweep(args.sweep));
  Model model = loaded;
  // A streams axis adds a first column: the threads are then the total, split
  // between the streams, and the latencies are per request.
  const bool streamed = std::any_of(points.front().begin(), points.front().end(),
                                    [](const auto& kv) { return kv.first == "streams"; });
  std::vector<std::vector<std::string>> rows = {{"threads", "batch", "seq", "layers", "median ms",
                                                 "mean ms", "p99 ms", "min ms", "qps", "items/s"}};
  if (streamed) rows[0].insert(rows[0].begin(), "streams");
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const auto& point : points) {
    const auto get = [&](const char* key, int64_t fallback) {
      const auto it = point.find(key);
      return it == point.end() ? fallback : it->second;
    };
    SessionOptions options = base;
    options.threads = static_cast<int>(get("threads", base.threads));
    const int64_t batch = get("batch", args.batch), seq = get("seq", args.seq);
    const auto shapes = bench_shapes(model, args, files, batch, seq);
    if (options.precision == Precision::int8) model = with_ranges(model, shapes, options.threads);
    const int streams = static_cast<int>(get("streams", 1));
    std::vector<double> ms;
    double walltime_ms = 0;
    std::vector<LayerInfo> layers;
    if (streamed) {
      StreamTimings t = time_streams(model, options, shapes, files, streams, args);
      ms = std::move(t.all_ms);
      walltime_ms = t.walltime_ms;
      layers = std::move(t.layers);
    } else {
      Session session(model, options);
      session.prepare(shapes);
      fill_inputs(session, files);
      Timings t = time_runs({[&] { session.run(); }}, args);
      ms = std::move(t.ms[0]);
      walltime_ms = t.walltime_ms;
      layers = session.layers();
    }
    const TimingSummary s = summarize_timings(ms, ps, walltime_ms, batch);
    const double p99 = sorted_percentile(ms, 99);
    rows.push_back({std::to_string(options.threads), std::to_string(batch), std::to_string(seq),
                    precision_counts(layers), format_ms(s.median_ms), format_ms(s.mean_ms),
                    format_ms(p99), format_ms(s.min_ms), format_ms(s.qps(), 2),
                    format_ms(s.items_per_s(), 1)});
    if (streamed) rows.back().insert(rows.back().begin(), std::to_string(streams));
    nlohmann::ordered_json r = {{"threads", options.threads}, {"batch", batch}, {"seq", seq}};
    if (streamed) r["streams"] = streams;
    r["inputs"] = shapes;
    r["iterations"] = s.count;
    r["latency_ms"] = summary_json(s);
    r["throughput_qps"] = s.qps();
    r["throughput_per_s"] = s.items_per_s();
    results.push_back(r);
    if (args.session.verbose) std::cerr << "sweep: " << r.dump() << "\n";
  }
  if (args.json) {
    nlohmann::ordered_json j;
    j["model"] = args.model;
    j["precision"] = base.precision == Precision::fp32 ? "fp32" : "int8";
    j["device"] = bench_header_json(base.threads);
    j["sweep"] = results;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << bench_header(base.threads) << "=== Sweep ("
            << (base.precision == Precision::fp32 ? "fp32" : "int8")
            << "; seq applies to inputs with a second symbolic dimension) ===\n"
            << format_table(rows);
}

}  // namespace octet::cli
