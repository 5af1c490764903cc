// Choosing the calibration method without labels (CalibrationOptions::method
// "auto", `octet calibrate --choose auto`): every method's int8 model is
// scored by the SQNR of its outputs against fp32, the best is the table's
// default, and the scores travel in the table's JSON.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "loaders/data/npy.hpp"
#include "runtime/ir/file_io.hpp"
#include "tests/cli_runner.hpp"
#include "tests/onnx_builder.hpp"
#include "tests/op_harness.hpp"
#include "tests/temp_dir.hpp"
#include "tests/test_graph.hpp"
#ifdef OCTET_HAVE_CLI_LIB
#include "apps/octet/common/data_source.hpp"
#endif

using namespace octet;

namespace {

constexpr int kFeatures = 16;

// y = x W^T + b with a symbolic batch. Feature 0 of x carries a rare, huge
// outlier, but its weight is tiny: clipping it costs the output almost
// nothing, while a range stretched to cover it (max) leaves the other
// features a few quantization levels.
Model outlier_model() {
  test::TestGraph t;
  const int x = t.input("x", {1, kFeatures});
  t.g.values[x].shape = std::vector<Dim>{{-1, "batch"}, {kFeatures, ""}};
  Tensor w = test::random_tensor(DataType::f32, {4, kFeatures}, 7, -0.5f, 0.5f);
  for (int o = 0; o < 4; ++o) w.data<float>()[o * kFeatures] = 1e-4f;
  const int wv = t.constant("w", std::move(w));
  const int b = t.constant("b", test::random_tensor(DataType::f32, {4}, 8));
  t.output(t.node("Gemm", "fc", {x, wv, b}, {{"transB", int64_t{1}}}));
  return t.model();
}

// `n` samples in [-1, 1], one of which has x[0] = 60 (1 value in n * 16).
Tensor outlier_samples(int n) {
  Tensor x = test::random_tensor(DataType::f32, {n, kFeatures}, 11, -1.f, 1.f);
  x.data<float>()[(n / 2) * kFeatures] = 60.f;
  return x;
}

Tensor rows(const Tensor& x, int64_t first, int64_t count) {
  Tensor out(DataType::f32, {count, x.dim(1)});
  const float* src = x.data<float>() + first * x.dim(1);
  std::copy(src, src + out.numel(), out.data<float>());
  return out;
}

// Every pass over `x` in batches of `batch`.
CalibrationTable calibrate_auto(const Model& model, const Tensor& x, int64_t batch,
                                const std::vector<std::string>& methods = {"all"}) {
  CalibrationOptions options;
  options.methods = methods;
  options.method = "auto";
  options.threads = 1;
  Calibrator calibrator(model, options);
  REQUIRE(calibrator.needs_scoring());
  const auto feed = [&] {
    for (int64_t i = 0; i < x.dim(0); i += batch) {
      calibrator.add({rows(x, i, std::min(batch, x.dim(0) - i))});
    }
  };
  feed();
  if (calibrator.needs_histograms()) {
    calibrator.start_histograms();
    feed();
  }
  calibrator.start_scoring();
  CHECK(calibrator.pass() == 3);
  feed();
  CHECK(calibrator.samples() == x.dim(0));
  return calibrator.table();
}

// The SQNR of `method`'s int8 output against fp32 over the samples of `x`,
// computed here independently of the scorer: energy summed over samples.
double output_sqnr_db(const Model& model, const CalibrationTable& table, const std::string& method,
                      const Tensor& x) {
  SessionOptions fp32_options, int8_options;
  fp32_options.precision = Precision::fp32;
  fp32_options.threads = int8_options.threads = 1;
  Session fp32(model, fp32_options), int8(quantize(model, table, method), int8_options);
  double signal = 0, noise = 0;
  for (int64_t i = 0; i < x.dim(0); ++i) {
    const Tensor sample = rows(x, i, 1);
    const Tensor ref = fp32.run({sample})[0].clone();
    const Tensor& got = int8.run({sample})[0];
    for (int64_t k = 0; k < ref.numel(); ++k) {
      const double r = ref.data<float>()[k], g = got.data<float>()[k];
      signal += r * r;
      noise += (r - g) * (r - g);
    }
  }
  return 10 * std::log10(signal / noise);
}

}  // namespace

TEST_CASE("calibration choice: auto avoids max's stretched range and writes every score") {
  const Model model = outlier_model();
  const Tensor x = outlier_samples(300);
  const CalibrationTable table = calibrate_auto(model, x, 32);

  REQUIRE(table.score_by_method.size() == 7);
  CHECK(table.scored_samples == 300);
  for (const std::string& m : table.methods) CHECK(table.score_by_method.count(m) == 1);
  const double max_db = table.score_by_method.at("max");
  const double chosen_db = table.score_by_method.at(table.method);
  CAPTURE(table.method);
  CAPTURE(max_db);
  CAPTURE(chosen_db);
  CHECK(table.method != "max");
  for (const auto& [m, db] : table.score_by_method) CHECK(chosen_db >= db);
  // Max spends the input's 127 levels on [0, 60]: the other features get
  // about two levels each. A clipping method keeps them: far more than a
  // rounding difference apart.
  CHECK(chosen_db > max_db + 15);
  // The scores are what they say: the output SQNR recomputed here.
  CHECK(max_db == doctest::Approx(output_sqnr_db(model, table, "max", x)).epsilon(1e-9));
  CHECK(chosen_db == doctest::Approx(output_sqnr_db(model, table, table.method, x)).epsilon(1e-9));

  // The choice is every tensor's, and quantize() applies it.
  for (const TensorCalibration& t : table.tensors) {
    CHECK(t.method == table.method);
    CHECK(t.amax == t.amax_by_method.at(table.method));
  }
  const TensorCalibration& input = table.tensors.back();
  REQUIRE(input.name == "x");
  CHECK(input.amax < 10.f);
  const Model int8 = quantize(model, table);
  for (const ActivationRange& r : int8.activation_ranges()) {
    CHECK(r.source == "calibration:" + table.method);
  }

  // The JSON holds every score and reads back to the same table.
  test::TempDir dir;
  table.save(dir.file("t.json"));
  const nlohmann::json j = nlohmann::json::parse(read_text_file(dir.file("t.json")));
  CHECK(j.at("method") == table.method);
  CHECK(j.at("scores").at("metric") == "output_sqnr_db");
  CHECK(j.at("scores").at("samples") == 300);
  CHECK(j.at("scores").at("by_method").size() == 7);
  CHECK(j.at("scores").at("by_method").at("max").get<double>() ==
        doctest::Approx(max_db).epsilon(1e-6));
  const CalibrationTable loaded = CalibrationTable::load(dir.file("t.json"));
  CHECK(loaded.score_by_method.size() == 7);
  CHECK(loaded.scored_samples == 300);
  CHECK(loaded.to_json() == table.to_json());
}

TEST_CASE("calibration choice: scores do not depend on the batch size") {
  const Model model = outlier_model();
  const Tensor x = outlier_samples(40);
  const CalibrationTable one = calibrate_auto(model, x, 1);
  const CalibrationTable many = calibrate_auto(model, x, 16);
  CHECK(one.score_by_method == many.score_by_method);  // sample by sample: exactly
  CHECK(one.method == many.method);
  // max alone: pass 1, then scoring; the only method is the choice.
  const CalibrationTable max_only = calibrate_auto(model, x, 8, {"max"});
  CHECK(max_only.method == "max");
  REQUIRE(max_only.score_by_method.size() == 1);
  CHECK(max_only.score_by_method.at("max") == one.score_by_method.at("max"));
}

TEST_CASE("calibration choice: misuse and bad choices are clear errors") {
  const Model model = outlier_model();
  const Tensor x = outlier_samples(20);
  const auto error_of = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::invalid_argument);
      return e.what();
    }
    FAIL("no octet::Error");
    return "";
  };
  CalibrationOptions options;
  options.methods = {"all"};
  options.method = "best";
  std::string what = error_of([&] { Calibrator c(model, options); });
  CHECK(test::has(what, "'best'"));
  CHECK(test::has(what, "expected auto or one of the methods computed (entropy, max, mse"));
  options.methods = {"max", "entropy"};
  options.method = "mse";
  what = error_of([&] { Calibrator c(model, options); });
  CHECK(test::has(what, "'mse' is not among those computed (entropy, max)"));

  options.method = "auto";
  Calibrator calibrator(model, options);
  calibrator.add({x});
  what = error_of([&] { calibrator.start_scoring(); });  // pass 2 first
  CHECK(test::has(what, "need pass 2"));
  calibrator.start_histograms();
  calibrator.add({x});
  what = error_of([&] { calibrator.table(); });  // scoring first
  CHECK(test::has(what, "call start_scoring()"));
  calibrator.start_scoring();
  what = error_of([&] { calibrator.table(); });  // no sample scored yet
  CHECK(test::has(what, "feed samples to pass 3"));
  what = error_of([&] { calibrator.start_scoring(); });
  CHECK(test::has(what, "already in pass 3"));
  calibrator.add({x});
  CHECK(calibrator.table().score_by_method.size() == 2);

  options.method = "max";
  Calibrator not_auto(model, options);
  what = error_of([&] { not_auto.start_scoring(); });
  CHECK(test::has(what, "\"auto\" only"));
}

TEST_CASE("calibration choice: malformed scores in a table name the field") {
  const Model model = outlier_model();
  const CalibrationTable table = calibrate_auto(model, outlier_samples(20), 20);
  const std::string good = table.to_json();
  const auto error_of = [&](const std::string& from, const std::string& to) -> std::string {
    std::string text = good;
    const size_t at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
    try {
      CalibrationTable::parse(text, "t.json");
    } catch (const Error& e) {
      return e.what();
    }
    FAIL("parsed: " << text.substr(0, 600));
    return "";
  };
  CHECK(test::has(error_of("\"output_sqnr_db\"", "\"top1\""), "t.json: scores: 'metric' must be"));
  CHECK(test::has(error_of("\"by_method\": {", "\"by_method\": {\"percentile=50\": 1, "),
                  "t.json: scores: 'percentile=50' is not among 'methods'"));
  CHECK(test::has(error_of("\"by_method\": {", "\"by_method\": {\"bogus\": 1, "),
                  "unknown calibration method 'bogus'"));
  CHECK(test::has(error_of("\"samples\": 20,\n    \"by", "\"samples\": -1,\n    \"by"),
                  "scores: 'samples' must be a non-negative integer"));
}

TEST_CASE(
    "cli: octet calibrate --choose auto prints and writes the scores, and a bad choice fails") {
  OCTET_REQUIRE_CLI();
  test::TempDir dir;
  outlier_model().save(dir.file("m"));
  write_npy(dir.file("x.npy"), outlier_samples(300));
  test::CliResult r = test::octet_cli(
      dir, "calibrate " + dir.file("m") + " --data " + dir.file("x.npy") +
               " --choose auto --score-samples 0 --threads 1 -o " + dir.file("t.json"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(test::has(r.err, "pass 3/3 (scoring): 300/300 samples"));
  CHECK(test::has(r.out, "int8 output SQNR vs fp32 on 300 samples"));
  const CalibrationTable table = CalibrationTable::load(dir.file("t.json"));
  CHECK(table.score_by_method.size() == 7);
  CHECK(table.method != "max");
  CHECK(test::has(r.out, "chosen: " + table.method + " (auto)"));
  CHECK(test::has(r.out, table.method + " "));

  r = test::octet_cli(dir, "calibrate " + dir.file("m") + " --data " + dir.file("x.npy") +
                               " --choose best -o " + dir.file("u.json"));
  CHECK(r.code == 1);
  CHECK(test::has(r.err, "unknown choice of calibration method 'best'"));
  CHECK_FALSE(std::filesystem::exists(dir.file("u.json")));
}

TEST_CASE("cli: octet calibrate --method all chooses auto by default, on a bounded subset") {
  OCTET_REQUIRE_CLI();
  test::TempDir dir;
  outlier_model().save(dir.file("m"));
  write_npy(dir.file("x.npy"), outlier_samples(300));
  const std::string base =
      "calibrate " + dir.file("m") + " --data " + dir.file("x.npy") + " --threads 1 --batch 10 ";

  // 30 batches of 10; 50 samples are 5 whole batches, spread over the 300.
  test::CliResult r = test::octet_cli(dir, base + "--score-samples 50 -o " + dir.file("t.json"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(test::has(r.err, "pass 3/3 (scoring): 50/50 samples"));
  CHECK(test::has(r.out, "int8 output SQNR vs fp32 on 50 samples"));
  CalibrationTable table = CalibrationTable::load(dir.file("t.json"));
  CHECK(table.score_by_method.size() == 7);
  CHECK(table.scored_samples == 50);
  CHECK(table.samples == 300);  // every sample still measures the ranges
  CHECK(test::has(r.out, "chosen: " + table.method + " (auto)"));

  // A bound above the selection scores all of it, in whole batches.
  r = test::octet_cli(dir, base + "--score-samples 1000 -o " + dir.file("t.json"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(CalibrationTable::load(dir.file("t.json")).scored_samples == 300);
  r = test::octet_cli(dir, base + "--score-samples 15 -o " + dir.file("t.json"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(CalibrationTable::load(dir.file("t.json")).scored_samples == 20);

  // A named choice, or a list without "all", runs no scoring pass.
  r = test::octet_cli(dir, base + "--choose entropy -o " + dir.file("t.json"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  table = CalibrationTable::load(dir.file("t.json"));
  CHECK(table.method == "entropy");
  CHECK(table.score_by_method.empty());
  CHECK_FALSE(test::has(r.err, "scoring"));
  r = test::octet_cli(dir, base + "--method max,entropy -o " + dir.file("t.json"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  table = CalibrationTable::load(dir.file("t.json"));
  CHECK(table.method == "max");
  CHECK(table.score_by_method.empty());
}

TEST_CASE("cli: a model without an f32 output keeps entropy: nothing to score") {
  OCTET_REQUIRE_CLI();
  test::TempDir dir;
  // A MatMul, then its output cast to int64: calibrated as any model, but
  // auto has no f32 output to score.
  test::OnnxBuilder b;
  b.input("x", {"batch", kFeatures});
  std::vector<float> w(kFeatures * 4);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 7) - 3.f;
  b.weight("w", {kFeatures, 4}, w);
  b.node("MatMul", {"x", "w"}, {"y"}, "fc");
  test::OnnxBuilder::attr_int(b.node("Cast", {"y"}, {"z"}, "to_int"), "to",
                              onnx::TensorProto::INT64);
  b.output("z", {"batch", 4}, onnx::TensorProto::INT64);
  std::ofstream(dir.file("m.onnx"), std::ios::binary) << b.bytes();
  write_npy(dir.file("x.npy"), outlier_samples(40));
  test::CliResult r =
      test::octet_cli(dir, "convert " + dir.file("m.onnx") + " -o " + dir.file("m"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  r = test::octet_cli(dir, "calibrate " + dir.file("m") + " --data " + dir.file("x.npy") +
                               " --threads 1 -o " + dir.file("t.json"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const CalibrationTable table = CalibrationTable::load(dir.file("t.json"));
  CHECK(table.method == "entropy");
  CHECK(table.score_by_method.empty());
  CHECK(table.methods.size() == 7);  // --method all still measured every method
  CHECK_FALSE(test::has(r.err, "scoring"));
  CHECK(test::has(r.out, "chosen: entropy\n"));
}

#ifdef OCTET_HAVE_CLI_LIB
TEST_CASE("cli: the scored batches are whole, bounded and spread over the selection") {
  using octet::cli::scored_batch_starts;
  // 30 batches of 10, 50 samples wanted: 5 batches, one in each sixth.
  CHECK(scored_batch_starts(300, 10, 50) == std::vector<size_t>{0, 60, 120, 180, 240});
  CHECK(scored_batch_starts(300, 10, 0).size() == 30);     // 0: all
  CHECK(scored_batch_starts(300, 10, 1000).size() == 30);  // more than there are: all
  CHECK(scored_batch_starts(300, 10, 15).size() == 2);     // rounded up to whole batches
  CHECK(scored_batch_starts(300, 10, 1) == std::vector<size_t>{0});
  CHECK(scored_batch_starts(7, 10, 5) == std::vector<size_t>{0});  // one short batch
  // Class-sorted data, 10 classes of 100 samples, batches of 8, 80 scored:
  // 10 whole batches, and every class has scored samples.
  const std::vector<size_t> starts = scored_batch_starts(1000, 8, 80);
  REQUIRE(starts.size() == 10);
  for (size_t c = 0; c < 10; ++c) {
    CAPTURE(c);
    CHECK(starts[c] % 8 == 0);
    CHECK(std::any_of(starts.begin(), starts.end(),
                      [&](size_t s) { return s < (c + 1) * 100 && s + 8 > c * 100; }));
  }
}
#endif
