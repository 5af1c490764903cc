// octet bench: trtexec's percentile and median against a reference, the
// summary and profile text against golden patterns, the flag parsers, then
// the executable on a tiny conv model: its text, its --json against a
// hand-written schema, the exported files, --sweep, and usage errors.
#include <doctest/doctest.h>

#ifdef OCTET_HAVE_CLI_LIB

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
// GCC 12 at -O1 with the sanitizers warns inside libstdc++'s regex automaton
// (-Wmaybe-uninitialized on a moved std::function): a false positive in the
// header, silenced for it alone.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/octet/bench/bench.hpp"
#include "apps/octet/bench/bench_report.hpp"
#include "loaders/data/npy.hpp"
#include "tests/cli_runner.hpp"
#include "tests/onnx_builder.hpp"
#include "tests/temp_dir.hpp"

using namespace octet;
using namespace octet::cli;
using namespace octet::test;

namespace {

// trtexec's percentile restated: remove the `exclude` largest samples one at
// a time from the unsorted samples, then the largest left is the answer.
// `exclude` is trtexec's int((1 - p/100) * n), evaluated in float as its
// code does; volatile keeps the compiler from widening the float steps.
double reference_percentile(std::vector<double> samples, double p) {
  volatile float hundred = 100.f, pf = static_cast<float>(p);
  volatile float keep = 1.f - pf / hundred;
  volatile float product = keep * static_cast<float>(samples.size());
  int exclude = static_cast<int>(product);
  while (exclude-- > 0 && samples.size() > 1) {
    samples.erase(std::max_element(samples.begin(), samples.end()));
  }
  return *std::max_element(samples.begin(), samples.end());
}

std::vector<double> one_to(int n) {
  std::vector<double> v;
  for (int i = 1; i <= n; ++i) v.push_back(i);
  return v;
}

// What log parsers of trtexec match (the numbers as a std::ostream prints a
// float: digits, '.', exponent).
const char* kNumber = R"(-?[0-9]+(\.[0-9]+)?(e[-+][0-9]+)?)";

std::regex latency_pattern() {
  const std::string n = kNumber;
  return std::regex("Latency: min = " + n + " ms, max = " + n + " ms, mean = " + n +
                    " ms, median = " + n + " ms(, percentile\\(" + n + "%\\) = " + n + " ms)+");
}

// y = relu(conv(x)) for x [batch, 3, 8, 8], so that int8 has a layer to run.
void write_tiny_conv(const std::string& path) {
  OnnxBuilder b;
  b.input("x", {{"batch"}, {3}, {8}, {8}});
  std::vector<float> w(4 * 3 * 3 * 3);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 7) / 7.f - 0.4f;
  b.weight("w", {4, 3, 3, 3}, w);
  b.weight("b", {4}, {0.1f, -0.1f, 0.2f, 0.f});
  OnnxBuilder::attr_ints(b.node("Conv", {"x", "w", "b"}, {"c"}, "conv"), "pads", {1, 1, 1, 1});
  b.node("Relu", {"c"}, {"y"}, "relu");
  b.output("y", {{"batch"}, {4}, {8}, {8}});
  std::ofstream(path, std::ios::binary) << b.bytes();
}

// The --json schema: every key, its type, and the relations between values.
void check_bench_json(const nlohmann::json& j, int64_t batch) {
  for (const char* key : {"model", "precision"}) CHECK_MESSAGE(j[key].is_string(), key);
  for (const char* key : {"batch", "seq", "threads", "warmup", "iterations"}) {
    CHECK_MESSAGE(j[key].is_number_integer(), key);
  }
  CHECK(j["batch"] == batch);
  CHECK(j["inputs"].is_object());
  CHECK(j["layer_precisions"].is_object());
  const auto& device = j["device"];
  for (const char* key : {"cpu", "cpu_isa", "octet_version", "onednn_version"}) {
    CHECK_MESSAGE(device[key].is_string(), key);
  }
  CHECK(device["vnni"].is_boolean());
  CHECK(device["load_average"].is_number());
  CHECK(device["hardware_threads"].is_number_integer());
  for (const char* key : {"load_ms", "prepare_ms", "first_run_ms", "peak_rss_mib"}) {
    CHECK_MESSAGE(j["cold_start"][key].is_number(), key);
    CHECK_MESSAGE(j["cold_start"][key].get<double>() >= 0, key);
  }
  CHECK(j["cold_start"]["peak_rss_mib"].get<double>() > 1);
  const auto& l = j["latency_ms"];
  for (const char* key : {"min", "max", "mean", "median", "p90", "p99"}) {
    CHECK_MESSAGE(l[key].is_number(), key);
  }
  CHECK(l["min"].get<double>() <= l["median"].get<double>());
  CHECK(l["median"].get<double>() <= l["p99"].get<double>());
  CHECK(l["p99"].get<double>() <= l["max"].get<double>());
  CHECK(l["min"].get<double>() <= l["mean"].get<double>());
  CHECK(l["mean"].get<double>() <= l["max"].get<double>());
  CHECK(l["percentiles"].is_object());
  for (const char* key : {"throughput_qps", "throughput_per_s", "walltime_s", "peak_rss_mib"}) {
    CHECK_MESSAGE(j[key].is_number(), key);
  }
  CHECK(j["throughput_per_s"].get<double>() ==
        doctest::Approx(j["throughput_qps"].get<double>() * batch));
  // qps over the wall time is at most 1000 / min latency.
  CHECK(j["throughput_qps"].get<double>() <= 1000.0 / l["min"].get<double>() * 1.0001);
}

}  // namespace

TEST_CASE("bench: trtexec percentile and median against a reference") {
  const std::vector<double> hundred = one_to(100);
  CHECK(trtexec_percentile(hundred, 50) == 50);
  CHECK(trtexec_percentile(hundred, 90) == 90);
  CHECK(trtexec_percentile(hundred, 95) == 95);
  // trtexec's float arithmetic: (1 - 0.99f) * 100 = 0.99999905, nothing is
  // excluded, p99 of 100 samples is the maximum.
  CHECK(trtexec_percentile(hundred, 99) == 100);
  CHECK(trtexec_percentile(hundred, 0) == 1);
  CHECK(trtexec_percentile(hundred, 100) == 100);
  CHECK(trtexec_percentile(one_to(10), 90) == 9);
  CHECK(trtexec_percentile(one_to(10), 50) == 5);
  CHECK(trtexec_percentile({7}, 99) == 7);
  CHECK(trtexec_median({3, 5}) == 4);
  CHECK(trtexec_median({1, 2, 9}) == 2);
  CHECK(trtexec_median(one_to(100)) == 50.5);

  std::mt19937 rng(7);
  std::uniform_real_distribution<double> ms(1, 50);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<double> v(1 + rng() % 300);
    for (double& x : v) x = ms(rng);
    std::vector<double> sorted = v;
    std::sort(sorted.begin(), sorted.end());
    for (double p : {0.0, 1.0, 10.0, 50.0, 90.0, 95.0, 99.0, 99.9, 100.0}) {
      CAPTURE(v.size());
      CAPTURE(p);
      CHECK(trtexec_percentile(sorted, p) == reference_percentile(v, p));
    }
  }
}

TEST_CASE("bench: performance summary is trtexec's text") {
  TimingSummary s = summarize_timings({4, 1, 3, 2}, {99}, 10, 8);
  CHECK(s.qps() == 400);
  CHECK(s.items_per_s() == 3200);
  CHECK(format_performance_summary(s) ==
        "=== Performance summary ===\n"
        "Throughput: 400 qps\n"
        "Latency: min = 1 ms, max = 4 ms, mean = 2.5 ms, median = 2.5 ms, percentile(99%) = 4 "
        "ms\n"
        "Total Host Walltime: 0.01 s\n");

  // Real timings: the default percentiles, six significant digits.
  std::vector<double> samples;
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> ms(9, 12);
  for (int i = 0; i < 137; ++i) samples.push_back(ms(rng));
  s = summarize_timings(samples, {90, 95, 99}, 1234.5678, 1);
  const std::string text = format_performance_summary(s);
  const std::string n = kNumber;
  const std::regex golden("=== Performance summary ===\nThroughput: " + n +
                          " qps\nLatency: min = " + n + " ms, max = " + n + " ms, mean = " + n +
                          " ms, median = " + n + " ms, percentile\\(90%\\) = " + n +
                          " ms, percentile\\(95%\\) = " + n + " ms, percentile\\(99%\\) = " + n +
                          " ms\nTotal Host Walltime: " + n + " s\n");
  CHECK_MESSAGE(std::regex_match(text, golden), text);
  CHECK(text.find("Throughput: 110.97 qps") != std::string::npos);  // 137 / 1.2345678 s
  CHECK(text.find("Total Host Walltime: 1.23457 s") != std::string::npos);

  // The same pattern matches a line trtexec printed (TensorRT 8.6, after its
  // "[date] [I] " prefix), so one parser reads both.
  const std::string trtexec_line =
      "Latency: min = 9.11414 ms, max = 11.7442 ms, mean = 9.81005 ms, median = 9.76404 ms, "
      "percentile(90%) = 10.1075 ms, percentile(95%) = 10.1624 ms, percentile(99%) = 11.4742 ms";
  CHECK(std::regex_match(trtexec_line, latency_pattern()));
  const std::string ours = text.substr(text.find("Latency: "));
  CHECK(std::regex_match(ours.substr(0, ours.find('\n')), latency_pattern()));
  CHECK(s.percentile(95) == trtexec_percentile(
                                [&] {
                                  std::sort(samples.begin(), samples.end());
                                  return samples;
                                }(),
                                95));
  CHECK(std::isnan(s.percentile(50)));
}

TEST_CASE("bench: the profile table has trtexec's columns") {
  const std::vector<ProfileRow> rows = {{"conv1", "int8", "brgconv:avx2", 30},
                                        {"layer1.0.relu", "fp32", "jit:avx2", 10}};
  const std::string table = format_profile_table(rows, 20);
  std::istringstream in(table);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() == 5);
  CHECK(lines[0] == "=== Profile (20 iterations ) ===");
  // Names right-aligned to the longest name + 1, then trtexec's fixed widths.
  CHECK(lines[1] ==
        "         Layer   Time (ms)   Avg. Time (ms)   Time %   Precision         Kernel");
  CHECK(lines[2] ==
        "         conv1       30.00           1.5000     75.0        int8   brgconv:avx2");
  CHECK(lines[3] ==
        " layer1.0.relu       10.00           0.5000     25.0        fp32       jit:avx2");
  CHECK(lines[4] == "         Total       40.00           2.0000    100.0");
  const auto j = profile_json(rows, 20);
  CHECK(j[0]["count"] == 20);
  CHECK(j[1]["name"] == "conv1");
  CHECK(j[1]["averageMs"] == 1.5);
  CHECK(j[1]["percentage"] == 75.0);
  CHECK(j[2]["kernel"] == "jit:avx2");
}

TEST_CASE("bench: flag parsers name the flag") {
  CHECK(parse_percentiles("90,95,99") == std::vector<double>{90, 95, 99});
  CHECK(parse_percentiles("99.9") == std::vector<double>{99.9});
  for (const char* bad : {"", "abc", "101", "-1", "90,", "9 0", "nan"}) {
    CAPTURE(bad);
    try {
      parse_percentiles(bad);
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::invalid_argument);
      CHECK(std::string(e.what()).find("--percentile") != std::string::npos);
    }
  }
  const auto axes = parse_sweep({"threads=1,2", "batch=1,8,32"});
  REQUIRE(axes.size() == 2);
  CHECK(axes[1].values == std::vector<int64_t>{1, 8, 32});
  const auto points = sweep_points(axes);
  REQUIRE(points.size() == 6);
  CHECK(points[0] == std::map<std::string, int64_t>{{"threads", 1}, {"batch", 1}});
  CHECK(points[5] == std::map<std::string, int64_t>{{"threads", 2}, {"batch", 32}});
  CHECK(sweep_points({}).size() == 1);
  for (const char* bad : {"threads", "cores=1", "batch=0", "batch=1,,2", "seq=x"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(parse_sweep({bad}), doctest::Contains("--sweep"), Error);
  }
  CHECK_THROWS_WITH_AS(parse_sweep({"batch=1", "batch=2"}), doctest::Contains("twice"), Error);

  CHECK(normalize_shape_spec("input_ids:1x128") == "input_ids=1x128");
  CHECK(normalize_shape_spec("y:0:2x3") == "y:0=2x3");
  CHECK(normalize_shape_spec("a=1x2") == "a=1x2");
  CHECK(parse_load_input("x:/tmp/x.npy") == std::pair<std::string, std::string>{"x", "/tmp/x.npy"});
  CHECK(parse_load_input("y:0=a.npy") == std::pair<std::string, std::string>{"y:0", "a.npy"});
  for (const char* bad : {"x", ":x.npy", "x:"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(parse_load_input(bad), doctest::Contains("--loadInputs"), Error);
  }
  CHECK(peak_rss_mib() > 1);
  CHECK(!cpu_model_name().empty());
}

TEST_CASE("bench: octet bench end to end on a tiny conv model") {
  OCTET_REQUIRE_CLI();
  TempDir dir;
  write_tiny_conv(dir.file("conv.onnx"));
  const std::string model = dir.file("conv.onnx");

  CliResult r = octet_cli(dir, "bench " + model +
                                   " --fp32 --batch=2 --iterations=7 --warmup 1 --threads=1"
                                   " --dumpProfile --separateProfileRun --dumpLayerInfo");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  for (const char* line :
       {"=== Device Information ===\nCPU: ", "\nISA: ", "\nThreads: 1\n", "\nVersions: octet ",
        "=== Cold start ===\nModel load: ", "\nSession preparation: ", "\nFirst inference: ",
        "\nPeak RSS: ", "Timing trace has 7 queries over ", "\n=== Performance summary ===\n",
        "=== Profile (7 iterations ) ===", "=== Layer Information ===", "items/s (batch 2)",
        "Precision: fp32 requested; layers:"}) {
    CHECK_MESSAGE(has(r.out, line), line << "\n" << r.out);
  }
  const size_t at = r.out.find("Latency: ");
  REQUIRE(at != std::string::npos);
  const std::string latency = r.out.substr(at, r.out.find('\n', at) - at);
  CHECK_MESSAGE(std::regex_match(latency, latency_pattern()), latency);
  CHECK(std::regex_search(r.out, std::regex(std::string("\nThroughput: ") + kNumber + " qps\n")));
  CHECK(std::regex_search(r.out, std::regex("\n +conv +[0-9.]+ +[0-9.]+ +[0-9.]+ +fp32 +\\S+\n")));
  CHECK(std::regex_search(r.out, std::regex("\n +Total +[0-9.]+ +[0-9.]+ +100.0")));

  // --json: one object, the schema above; exported files.
  r = octet_cli(dir, "bench " + model + " --int8 --shapes=x:3x3x8x8 --iterations=5 --warmup=0" +
                         " --percentile=50,99.9 --json --exportTimes=" + dir.file("times.json") +
                         " --exportProfile=" + dir.file("profile.json") +
                         " --exportLayerInfo=" + dir.file("layers.json"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const auto j = nlohmann::json::parse(r.out);
  check_bench_json(j, 1);
  CHECK(j["inputs"]["x"] == std::vector<int64_t>{3, 3, 8, 8});
  CHECK(j["precision"] == "int8");
  CHECK(j["iterations"] == 5);
  CHECK(j["latency_ms"]["percentiles"].size() == 2);
  CHECK(j["latency_ms"]["percentiles"].contains("99.9"));
  CHECK(j["profile"][0]["count"] == 5);  // profiled while timed
  // tools/demo.sh reads these three with `sed -n 's/.*"KEY": \([0-9.]*\).*/\1/p'`,
  // which prints every line that has the key: each must occur once.
  for (const char* key : {"\"median\": ", "\"p99\": ", "\"throughput_per_s\": "}) {
    const std::regex line(std::string(".*") + key + "[0-9.]+.*");
    std::istringstream lines(r.out);
    int found = 0;
    for (std::string l; std::getline(lines, l);) found += std::regex_match(l, line);
    CHECK_MESSAGE(found == 1, key);
  }
  const auto times = nlohmann::json::parse(slurp(dir.file("times.json")));
  REQUIRE(times.size() == 5);
  CHECK(times[4]["latencyMs"].get<double>() >= 0);
  CHECK(times[4]["startComputeMs"].get<double>() >= times[3]["endComputeMs"].get<double>());
  const auto profile = nlohmann::json::parse(slurp(dir.file("profile.json")));
  CHECK(profile[0]["count"] == 5);
  CHECK(profile.size() >= 2);
  const auto layers = nlohmann::json::parse(slurp(dir.file("layers.json")));
  CHECK(std::any_of(layers.begin(), layers.end(),
                    [](const auto& l) { return l["name"] == "conv" && l["precision"] == "int8"; }));

  // --loadInputs: the file's shape sets the input's.
  Tensor x(DataType::f32, {4, 3, 8, 8});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(i % 5);
  write_npy(dir.file("x.npy"), x);
  r = octet_cli(
      dir, "bench " + model + " --fp32 --iterations=2 --json --loadInputs=x:" + dir.file("x.npy"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(nlohmann::json::parse(r.out)["inputs"]["x"] == std::vector<int64_t>{4, 3, 8, 8});
  r = octet_cli(dir, "bench " + model +
                         " --shapes=x:1x3x8x8 --iterations=2 --loadInputs=x:" + dir.file("x.npy"));
  CHECK(r.code == 1);
  CHECK(has(r.err, "--loadInputs"));

  // --duration: keeps timing past --iterations.
  r = octet_cli(dir, "bench " + model + " --fp32 --iterations=1 --duration=0.2 --json");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(nlohmann::json::parse(r.out)["walltime_s"].get<double>() >= 0.2);

  // --sweep: one row per combination.
  r = octet_cli(dir, "bench " + model + " --fp32 --iterations=2 --warmup=0 --sweep threads=1,2" +
                         " batch=1,3");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(has(r.out, "=== Sweep (fp32"));
  CHECK(std::regex_search(r.out, std::regex("\n2 +3 +128 +[0-9]+ fp32")));
  r = octet_cli(dir, "bench " + model + " --iterations=2 --warmup=0 --sweep batch=1,2 --json");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const auto sweep = nlohmann::json::parse(r.out)["sweep"];
  REQUIRE(sweep.size() == 2);
  CHECK(sweep[1]["inputs"]["x"] == std::vector<int64_t>{2, 3, 8, 8});
  CHECK(sweep[1]["latency_ms"]["median"].is_number());

  // The flags tools/demo.sh and users already use.
  r = octet_cli(dir, "bench " + model + " --compare --iterations 3 --warmup 1 --json");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(nlohmann::json::parse(r.out)["speedup"].get<double>() > 0);
  r = octet_cli(dir, "bench " + model + " --iterations 3 --warmup 1 --profile");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(has(r.out, "profiled in a separate run"));
}

TEST_CASE("bench: --sessions N prints each session's prepare time and the resident memory") {
  OCTET_REQUIRE_CLI();
  TempDir dir;
  write_tiny_conv(dir.file("conv.onnx"));
  const std::string model = dir.file("conv.onnx");
  CliResult r = octet_cli(dir, "bench " + model + " --int8 --batch=2 --sessions 3 --threads=1");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  for (const char* line : {"=== Sessions ===\n", "Sessions: 3 of one Model", "Prepare: first ",
                           ", second ", "RSS before the first session: ", "RSS with all sessions: ",
                           "Peak RSS: ", "calibrating the ranges"}) {
    CHECK_MESSAGE(has(r.out, line), line << "\n" << r.out);
  }
  r = octet_cli(dir, "bench " + model + " --fp32 --sessions 2 --json");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["sessions"] == 2);
  CHECK(j["precision"] == "fp32");
  CHECK(j["calibrated_on_the_fly"] == false);
  REQUIRE(j["prepare_ms"].size() == 2);
  for (const auto& ms : j["prepare_ms"]) CHECK(ms.get<double>() > 0);
  const double before = j["rss_before_sessions_mib"], after = j["rss_after_sessions_mib"],
               peak = j["peak_rss_mib"];
  CHECK(before > 1);
  CHECK(after > 1);
  CHECK(peak >= after);
  CHECK(peak >= before);
}

TEST_CASE("bench: threads are split between streams, at least one each") {
  CHECK(threads_per_stream(4, 2) == 2);
  CHECK(threads_per_stream(5, 2) == 2);
  CHECK(threads_per_stream(2, 4) == 1);
  CHECK(threads_per_stream(1, 1) == 1);
  const int all = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  CHECK(threads_per_stream(0, 1) == all);
}

TEST_CASE("bench: --streams N serves requests from N sessions at once") {
  OCTET_REQUIRE_CLI();
  TempDir dir;
  write_tiny_conv(dir.file("conv.onnx"));
  const std::string model = dir.file("conv.onnx");
  CliResult r = octet_cli(
      dir, "bench " + model + " --int8 --streams 2 --threads 2 --iterations 30 --warmup 2");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  for (const char* line :
       {"=== Streams ===\n",
        "Streams: 2 sessions serving requests at once, 1 "
        "thread each\n",
        "stream 0: ", "stream 1: ", "Throughput: ", "Latency per request: ", ", p99 "}) {
    CHECK_MESSAGE(has(r.out, line), line << "\n" << r.out);
  }

  r = octet_cli(dir, "bench " + model +
                         " --fp32 --streams 3 --threads 3 --iterations 40 --warmup 1 --batch 2 "
                         "--json");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["streams"] == 3);
  CHECK(j["threads_per_stream"] == 1);
  CHECK(j["precision"] == "fp32");
  REQUIRE(j["requests_per_stream"].size() == 3);
  int64_t sum = 0;
  for (const auto& n : j["requests_per_stream"]) {
    CHECK(n.get<int64_t>() >= 14);  // every stream serves its share, ceil(40 / 3)
    sum += n.get<int64_t>();
  }
  CHECK(sum == j["requests"].get<int64_t>());
  const double walltime_s = j["walltime_s"], qps = j["throughput_qps"];
  CHECK(qps == doctest::Approx(sum / walltime_s).epsilon(1e-6));
  CHECK(j["throughput_per_s"].get<double>() == doctest::Approx(2 * qps).epsilon(1e-6));
  CHECK(j["latency_ms"]["median"].get<double>() > 0);

  // A streams axis of --sweep: a first column, and the total threads split.
  r = octet_cli(dir, "bench " + model + " --fp32 --iterations=4 --warmup=0 --threads 2 --sweep " +
                         "streams=1,2 batch=1");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(std::regex_search(r.out, std::regex("\nstreams +threads +batch")));
  CHECK(std::regex_search(r.out, std::regex("\n2 +2 +1 +128 +[0-9]+ fp32")));
  r = octet_cli(dir, "bench " + model + " --iterations=4 --warmup=0 --sweep streams=2 --json");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(nlohmann::json::parse(r.out)["sweep"][0]["streams"] == 2);
}

TEST_CASE("bench: bad flags are usage errors naming the flag") {
  OCTET_REQUIRE_CLI();
  TempDir dir;
  const std::pair<const char*, const char*> cases[] = {
      {"--percentile=abc", "--percentile"},
      {"--percentile=101", "--percentile"},
      {"--sweep cores=1", "--sweep"},
      {"--sweep batch=0", "--sweep"},
      {"--loadInputs=x", "--loadInputs"},
      {"--shapes=x:0x3", "--shapes"},
      {"--iterations=0", "--iterations"},
      {"--warmUp=-5", "--warmUp"},
      {"--duration=x", "--duration"},
      {"--bogus", "--bogus"},
      {"--compare --sweep batch=1", "--sweep"},
      {"--compare --dumpProfile", "--dumpProfile"},
      {"--sessions 0", "--sessions"},
      {"--compare --sessions 2", "--sessions"},
      {"--streams 0", "--streams"},
      {"--compare --streams 2", "--streams"},
      {"--sessions 2 --streams 2", "--streams"},
      {"--streams 2 --dumpProfile", "--dumpProfile"},
      {"--sweep streams=0", "--sweep"}};
  for (const auto& [flags, flag] : cases) {
    CAPTURE(flags);
    const CliResult r = octet_cli(dir, std::string("bench model ") + flags);
    CHECK(r.code == 2);
    CHECK_MESSAGE(has(r.err, flag), r.err);
    CHECK(has(r.err, "octet bench: error: "));
  }
}

#endif  // OCTET_HAVE_CLI_LIB
