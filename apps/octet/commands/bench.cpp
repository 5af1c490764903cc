// octet bench NAME: latency and throughput, with trtexec's flag names and
// summary lines (docs/bench.md).
#include <algorithm>
#include <fstream>
#include <iostream>
#include <memory>

#include "apps/octet/bench/bench.hpp"
#include "apps/octet/commands/commands.hpp"
#include "apps/octet/common/common.hpp"

namespace octet::cli {
namespace {

void write_json(const std::string& path, const nlohmann::ordered_json& j, const char* flag) {
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  out.close();
  if (!out) throw Error(ErrorCode::io, std::string(flag) + ": cannot write '" + path + "'");
}

std::string precision_line(const Session& session, Precision requested) {
  std::map<std::string, int> counts;
  for (const LayerInfo& layer : session.layers()) ++counts[layer.precision];
  std::string text =
      std::string(requested == Precision::fp32 ? "fp32" : "int8") + " requested; layers:";
  for (const auto& [name, n] : counts) text += " " + std::to_string(n) + " " + name + ",";
  text.pop_back();
  return text;
}

// Per-layer times over the timed runs of `session` (profiled while timed),
// or over as many runs of a separate profiling session, which keeps the
// clock read and stream wait per layer out of the latency figures.
std::vector<ProfileRow> measure_profile(Session& timed, const Model& model,
                                        const SessionOptions& options,
                                        const std::map<std::string, Shape>& shapes,
                                        const LoadedInputs& files, const BenchArgs& args,
                                        int64_t& iterations) {
  if (!args.separate_profile_run) {
    return profile_rows(timed.layers(), timed.profile());
  }
  SessionOptions profiled = options;
  profiled.profile = true;
  Session session(model, profiled);
  session.prepare(shapes);
  fill_inputs(session, files);
  for (int i = 0; i < args.warmup_runs; ++i) session.run();
  session.reset_profile();
  for (int64_t i = 0; i < iterations; ++i) session.run();
  return profile_rows(session.layers(), session.profile());
}

void bench(const BenchArgs& args) {
  auto start = Clock::now();
  Model model = load_model(args.model);
  const double load_ms = ms_since(start);

  SessionOptions options = session_options(args.session);
  if (args.fp32) options.precision = Precision::fp32;
  if (args.int8) options.precision = Precision::int8;
  if (args.compare) return bench_compare(args, model, options);
  if (!args.sweep.empty()) return bench_sweep(args, model, options);
  if (args.sessions > 0) return bench_sessions(args, model, options);
  if (args.streams > 0) return bench_streams(args, model, options);

  const LoadedInputs files = load_inputs(args.load_inputs);
  const auto shapes = bench_shapes(model, args, files, args.batch, args.seq);
  if (args.int8) model = with_ranges(model, shapes, options.threads);
  const bool profiling = args.dump_profile || !args.export_profile.empty();
  options.profile = profiling && !args.separate_profile_run;
  if (!args.json) std::cout << bench_header(options.threads) << std::flush;

  Session session(model, options);
  start = Clock::now();
  session.prepare(shapes);
  const double prepare_ms = ms_since(start);
  fill_inputs(session, files);
  start = Clock::now();
  session.run();
  const double first_ms = ms_since(start);
  const double cold_rss = peak_rss_mib();

  const Timings t = time_runs({[&] { session.run(); }}, args);
  const TimingSummary s =
      summarize_timings(t.ms[0], parse_percentiles(args.percentiles), t.walltime_ms, args.batch);
  std::vector<double> sorted = t.ms[0];
  std::sort(sorted.begin(), sorted.end());
  int64_t iterations = static_cast<int64_t>(s.count);
  std::vector<ProfileRow> profile;
  if (profiling) {
    profile = measure_profile(session, model, options, shapes, files, args, iterations);
  }
  const std::vector<LayerInfo> layers = session.layers();

  if (!args.export_times.empty()) {
    nlohmann::ordered_json times = nlohmann::ordered_json::array();
    for (size_t i = 0; i < t.ms[0].size(); ++i) {
      times.push_back({{"startComputeMs", t.start_ms[i]},
                       {"endComputeMs", t.start_ms[i] + t.ms[0][i]},
                       {"computeMs", t.ms[0][i]},
                       {"latencyMs", t.ms[0][i]}});
    }
    write_json(args.export_times, times, "--exportTimes");
  }
  if (!args.export_profile.empty()) {
    write_json(args.export_profile, profile_json(profile, iterations), "--exportProfile");
  }
  if (!args.export_layer_info.empty()) {
    write_json(args.export_layer_info, layer_info_json(layers), "--exportLayerInfo");
  }

  if (args.json) {
    nlohmann::ordered_json j;
    j["model"] = args.model;
    for (const TensorInfo& in : model.inputs()) j["inputs"][in.name] = shapes.at(in.name);
    j["batch"] = args.batch;
    j["seq"] = args.seq;
    j["precision"] = options.precision == Precision::fp32 ? "fp32" : "int8";
    std::map<std::string, int> counts;
    for (const LayerInfo& layer : layers) ++counts[layer.precision];
    j["layer_precisions"] = counts;
    j["device"] = bench_header_json(options.threads);
    j["threads"] = options.threads;
    j["cold_start"] = {{"load_ms", load_ms},
                       {"prepare_ms", prepare_ms},
                       {"first_run_ms", first_ms},
                       {"peak_rss_mib", cold_rss}};
    j["warmup"] = t.warmup_runs;
    j["warmup_ms"] = t.warmup_ms;
    j["iterations"] = s.count;
    nlohmann::ordered_json latency = summary_json(s);
    // Fixed keys that scripts (tools/demo.sh) read whatever --percentile says.
    latency["p90"] = trtexec_percentile(sorted, 90);
    latency["p99"] = trtexec_percentile(sorted, 99);
    j["latency_ms"] = latency;
    j["throughput_qps"] = s.qps();
    j["throughput_per_s"] = s.items_per_s();
    j["walltime_s"] = s.walltime_ms / 1000;
    j["peak_rss_mib"] = peak_rss_mib();
    if (profiling) j["profile"] = profile_json(profile, iterations);
    if (args.dump_layer_info || args.session.verbose) j["layers"] = layer_info_json(layers);
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::string inputs;
  for (const TensorInfo& in : model.inputs()) {
    inputs += (inputs.empty() ? "" : ", ") + in.name + " " + to_string(shapes.at(in.name));
  }
  std::cout << "=== Model ===\nModel: " << args.model << "\nInputs: " << inputs
            << "\nPrecision: " << precision_line(session, options.precision) << "\n"
            << "=== Cold start ===\nModel load: " << format_ms(load_ms, 1)
            << " ms\nSession preparation: " << format_ms(prepare_ms, 1)
            << " ms\nFirst inference: " << format_ms(first_ms)
            << " ms\nPeak RSS: " << format_ms(cold_rss, 1) << " MiB\n";
  if (args.dump_layer_info || args.session.verbose) {
    std::cout << "=== Layer Information ===\n" << format_precision_report(session);
  }
  std::cout << "Warmup completed " << t.warmup_runs << " queries over " << t.warmup_ms << " ms\n"
            << "Timing trace has " << s.count << " queries over " << s.walltime_ms / 1000 << " s\n";
  if (args.session.verbose) {
    std::cout << "=== Trace details ===\n";
    for (size_t i = 0; i < t.ms[0].size(); ++i) {
      std::cout << "Run " << i << ": start " << format_ms(t.start_ms[i]) << " ms, latency "
                << format_ms(t.ms[0][i]) << " ms\n";
    }
  }
  std::cout << "\n"
            << format_performance_summary(s) << "\nItems: " << format_ms(s.items_per_s(), 1)
            << " items/s (batch " << args.batch << "); median " << format_ms(s.median_ms)
            << " ms; peak RSS " << format_ms(peak_rss_mib(), 1) << " MiB\n";
  if (profiling && args.dump_profile) {
    double sum = 0;
    for (const ProfileRow& r : profile) sum += r.total_ms / std::max<int64_t>(iterations, 1);
    std::cout << "\n"
              << format_profile_table(profile, iterations) << "Sum of layer averages "
              << format_ms(sum) << " ms; end-to-end median " << format_ms(s.median_ms) << " ms ("
              << format_ms(sum > 0 ? s.median_ms / sum : 0, 3) << "x)"
              << (args.separate_profile_run ? "; profiled in a separate run\n"
                                            : "; profiled while timed (adds a clock read and a "
                                              "wait per layer to the latency above)\n");
  }
}

// CLI11 check that runs `parse` on each value, so that a bad value is a
// usage error (exit 2) naming the flag.
template <typename Parse>
CLI::Validator value_check(const char* description, Parse parse) {
  return CLI::Validator(
      [parse](std::string& value) {
        try {
          parse(value);
          return std::string();
        } catch (const Error& e) {
          return std::string(e.what());
        }
      },
      description);
}

}  // namespace

Command add_bench(CLI::App& root) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* app = root.add_subcommand("bench", "Measure latency and throughput (docs/bench.md)");
  app->add_option("model", args->model, "Model NAME (NAME.octet.json) or a .onnx file")->required();
  app->add_option("--batch", args->batch, "Value of each input's first symbolic dimension")
      ->check(CLI::Range(1, 1 << 20));
  app->add_option("--seq", args->seq, "Value of each input's second symbolic dimension")
      ->check(CLI::Range(1, 1 << 20));
  app->add_option("--shapes", args->shapes, "Explicit shapes: input_ids:1x128,... (or NAME=DIMS)")
      ->delimiter(',')
      ->check(value_check("NAME:DIMS",
                          [](const std::string& s) { parse_shape_spec(normalize_shape_spec(s)); }));
  app->add_option("--iterations", args->iterations, "At least this many timed runs (100)")
      ->check(CLI::Range(1, 100000000));
  app->add_option("--duration", args->duration_s, "And time for at least this many seconds (0)")
      ->check(CLI::Range(0.0, 86400.0));
  app->add_option("--warmup", args->warmup_runs, "At least this many untimed runs first (10)")
      ->check(CLI::Range(0, 1000000));
  app->add_option("--warmUp", args->warmup_ms, "And warm up for at least this many ms (0)")
      ->check(CLI::Range(0.0, 86400000.0));
  app->add_option("--percentile", args->percentiles, "Latency percentiles to print (90,95,99)")
      ->check(value_check("P[,P...]", [](const std::string& s) { parse_percentiles(s); }));
  CLI::Option* fp32 = app->add_flag("--fp32", args->fp32, "Run every layer in fp32");
  CLI::Option* int8 = app->add_flag("--int8", args->int8, "Run in int8 where there are scales");
  CLI::Option* both = app->add_flag(
      "--compare", args->compare,
      "Time fp32 and int8 alternately in one run and print both medians and their ratio");
  fp32->excludes(int8);
  int8->excludes(fp32);
  both->excludes(fp32)->excludes(int8);
  CLI::Option* sweep =
      app->add_option(
             "--sweep", args->sweep,
             "Time every combination: --sweep threads=1,2 batch=1,8,32 [seq=64,128] [streams=1,2]")
          ->expected(1, 4)
          ->check(value_check("KEY=V,V...", [](const std::string& s) { parse_sweep({s}); }))
          ->excludes(both);
  CLI::Option* sessions =
      app->add_option("--sessions", args->sessions,
                      "Prepare N sessions of the model, run each once, and print their prepare "
                      "times and the resident memory")
          ->check(CLI::Range(1, 1024))
          ->excludes(both)
          ->excludes(sweep);
  CLI::Option* streams =
      app->add_option("--streams", args->streams,
                      "Throughput mode: N sessions serve requests at once, the threads split "
                      "between them; total throughput and per-request latency")
          ->check(CLI::Range(1, 256))
          ->excludes(both)
          ->excludes(sweep)
          ->excludes(sessions);
  app->add_option("--loadInputs", args->load_inputs, "Inputs from files: NAME:FILE.npy,...")
      ->delimiter(',')
      ->check(value_check("NAME:FILE.npy", [](const std::string& s) { parse_load_input(s); }));
  // One session's reports: --compare and --sweep print their own tables.
  const std::vector<CLI::Option*> single_run = {
      app->add_option("--exportTimes", args->export_times, "Write every timed run to a JSON file"),
      app->add_option("--exportProfile", args->export_profile,
                      "Write the per-layer profile as JSON"),
      app->add_flag("--dumpProfile", args->dump_profile, "Print trtexec's per-layer profile table"),
      app->add_flag("--separateProfileRun", args->separate_profile_run,
                    "Profile in a separate run, not while timing"),
      app->add_flag("--profile", args->old_profile, "Same as --dumpProfile --separateProfileRun"),
      app->add_flag("--dumpLayerInfo", args->dump_layer_info,
                    "Print each layer's precision, kernel and shape"),
      app->add_option("--exportLayerInfo", args->export_layer_info,
                      "Write the layer info as JSON")};
  for (CLI::Option* option : single_run) {
    option->excludes(both)->excludes(sweep)->excludes(sessions)->excludes(streams);
  }
  app->add_flag("--json", args->json, "Print one JSON object instead of text");
  add_session_flags(*app, args->session,
                    "Also print the precision report (the layer info) and every run's latency");
  return {app, [args] {
            if (args->old_profile) args->dump_profile = args->separate_profile_run = true;
            bench(*args);
          }};
}

}  // namespace octet::cli
