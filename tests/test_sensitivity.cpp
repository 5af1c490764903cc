// Partial quantization: the measurements behind `octet sensitivity`
// (apps/octet/sensitivity/sensitivity.hpp) on a two-layer model, then the command end to
// end on a model whose second layer is given a deliberately bad input range,
// which the analysis must rank first and the fallback must send to fp32.
#include <doctest/doctest.h>

#ifdef OCTET_HAVE_CLI_LIB

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include <nlohmann/json.hpp>

#include "apps/octet/sensitivity/sensitivity.hpp"
#include "loaders/data/npy.hpp"
#include "tests/cli_runner.hpp"
#include "tests/image_fixtures.hpp"
#include "tests/onnx_builder.hpp"
#include "tests/temp_dir.hpp"
#include "tests/test_graph.hpp"

using namespace octet;
using namespace octet::cli;
using namespace octet::test;

namespace {

std::vector<float> normal(size_t n, uint32_t seed, float stddev = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0, stddev);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

SessionOptions opts(Precision p) {
  SessionOptions o;
  o.threads = 1;
  o.precision = p;
  return o;
}

Tensor tensor(Shape shape, const std::vector<float>& v) {
  Tensor t(DataType::f32, std::move(shape));
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

// x [8, 16] -> fc1 (MatMul 16x32) -> h -> fc2 (MatMul 32x4) -> y, with max
// ranges measured on the samples, except h's, which is scaled by `h_range`.
Model two_layers(float h_range, const std::vector<Tensor>& samples) {
  TestGraph t;
  const int x = t.input("x", {8, 16});
  const int w1 = t.constant("w1", tensor({16, 32}, normal(16 * 32, 1, 0.25f)));
  const int w2 = t.constant("w2", tensor({32, 4}, normal(32 * 4, 2, 0.25f)));
  const int h = t.node("MatMul", "fc1", {x, w1});
  const int y = t.node("MatMul", "fc2", {h, w2});
  t.output(y);
  const Model plain = t.model();
  float amax_x = 0, amax_h = 0;
  Session s(plain.with_outputs({"fc1.out"}), opts(Precision::fp32));
  for (const Tensor& in : samples) {
    const std::vector<Tensor>& out = s.run({in});
    for (int64_t i = 0; i < in.numel(); ++i)
      amax_x = std::max(amax_x, std::fabs(in.data<float>()[i]));
    for (int64_t i = 0; i < out[1].numel(); ++i) {
      amax_h = std::max(amax_h, std::fabs(out[1].data<float>()[i]));
    }
  }
  t.range(x, amax_x, DataType::s8);
  t.range(h, amax_h * h_range, DataType::s8);
  return t.model();
}

std::vector<Batch> batches(const std::vector<Tensor>& samples, const std::vector<int>& labels) {
  std::vector<Batch> out;
  for (size_t i = 0; i < samples.size(); ++i) {
    Batch b;
    b.inputs = {samples[i]};
    b.rows = i + 1 < samples.size() ? 8 : 5;  // the last batch: 3 padding rows
    b.labels.assign(labels.begin() + static_cast<std::ptrdiff_t>(8 * i),
                    labels.begin() + static_cast<std::ptrdiff_t>(8 * i + b.rows));
    out.push_back(b);
  }
  return out;
}

}  // namespace

TEST_CASE("sensitivity: output error sums, metrics and targets") {
  OutputError same;
  const float a[4] = {1, -2, 3, 0.5f};
  same.add(a, a, 4);
  CHECK(std::isinf(same.sqnr_db()));
  CHECK(same.cosine() == doctest::Approx(1));
  // Noise 0.1 on every element of a signal of energy 4: 10 log10(4 / 0.04) = 20 dB.
  const float ref[4] = {1, 1, 1, 1}, got[4] = {1.1f, 0.9f, 1.1f, 0.9f};
  OutputError e, halves;
  e.add(ref, got, 4);
  halves.add(ref + 2, got + 2, 2);  // chunks in any order sum to the same
  halves.add(ref, got, 2);
  CHECK(e.sqnr_db() == doctest::Approx(20).epsilon(1e-6));
  CHECK(halves.sqnr_db() == doctest::Approx(e.sqnr_db()));
  CHECK(e.cosine() == doctest::Approx(4 / std::sqrt(4 * (4 * 1.01))).epsilon(1e-6));
  OutputError zeros;
  const float z[2] = {0, 0};
  zeros.add(z, z, 2);
  CHECK(zeros.cosine() == 1);

  CHECK(parse_metric("accuracy") == Metric::top1);
  CHECK(parse_metric("cosine") == Metric::cosine);
  check_error([] { parse_metric("f1"); }, ErrorCode::invalid_argument, {"question-answering"});
  check_error([] { parse_metric("mAP"); }, ErrorCode::invalid_argument, {"'mAP'", "top1"});

  CHECK(parse_target_drop("0.5").threshold(80) == doctest::Approx(79.5));
  CHECK(parse_target_drop("1%").threshold(80) == doctest::Approx(79.2));
  CHECK(Target{Target::absolute, 30}.threshold(80) == 30);
  CHECK(std::isinf(Target{}.threshold(80)));
  for (const char* bad : {"", "%", "-1", "x", "0.5pt", "nan"}) {
    check_error([&] { parse_target_drop(bad); }, ErrorCode::invalid_argument,
                {"--target-drop", "points"});
  }
}

TEST_CASE("sensitivity: evaluator, quantizable layers and per-layer errors on the fused kernels") {
  std::vector<Tensor> samples;
  for (uint32_t i = 0; i < 4; ++i) samples.push_back(tensor({8, 16}, normal(8 * 16, 10 + i)));
  const Model good = two_layers(1, samples), bad = two_layers(0.05f, samples);

  const SessionOptions options = opts(Precision::fp32);
  const std::vector<LayerInfo> layers = quantizable_layers(good, options, {});
  REQUIRE(layers.size() == 2);
  CHECK(layers[0].name == "fc1");
  CHECK(layers[0].output == "fc1.out");
  CHECK(layers[1].name == "fc2");

  // Labels: the fp32 argmax for even samples, another class for odd ones, so
  // fp32 scores exactly 50% on the 29 scored rows (15 even).
  Session fp32(good, options);
  std::vector<int> labels;
  for (const Tensor& in : samples) {
    const Tensor& y = fp32.run({in})[0];
    for (int r = 0; r < 8; ++r) {
      const float* row = y.data<float>() + 4 * r;
      const int best = static_cast<int>(std::max_element(row, row + 4) - row);
      labels.push_back(labels.size() % 2 == 0 ? best : (best + 1) % 4);
    }
  }
  const Evaluator ev(batches(samples, labels), fp32);
  CHECK(ev.labeled());
  CHECK(ev.fp32().top1 == doctest::Approx(100.0 * 15 / 29));
  CHECK(std::isinf(ev.fp32().output.sqnr_db()));

  // The whole model in int8 with good ranges stays close (thresholds: 30 dB,
  // cosine 0.999); the bad range on h costs more than 20 dB.
  Session int8_good(good, opts(Precision::int8)), int8_bad(bad, opts(Precision::int8));
  const TrialResult g = ev.run(int8_good), b = ev.run(int8_bad);
  MESSAGE("int8 output SQNR: good ranges " << g.output.sqnr_db() << " dB, bad h range "
                                           << b.output.sqnr_db() << " dB");
  CHECK(g.output.sqnr_db() > 30);
  CHECK(g.output.cosine() > 0.999);
  CHECK(b.output.sqnr_db() < g.output.sqnr_db() - 20);

  // Per-layer: with every layer's output observed, fc1's output (h, produced
  // in s8 for fc2) carries the bad range; observing does not change the
  // model's own output.
  const Model observed = bad.with_outputs({"fc1.out", "fc2.out"});
  REQUIRE(observed.outputs().size() == 2);  // fc2.out is already the output
  Session f(observed, opts(Precision::fp32)), q(observed, opts(Precision::int8));
  const std::vector<OutputError> errors = ev.output_errors(f, q);
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].sqnr_db() == doctest::Approx(b.output.sqnr_db()).epsilon(1e-9));
  CHECK(errors[1].sqnr_db() < 15);
  std::vector<std::string> steps;
  for (const LayerInfo& l : q.layers()) steps.push_back(l.name + ":" + l.precision);
  CHECK(std::count(steps.begin(), steps.end(), "fc1:int8") == 1);
  CHECK(std::count(steps.begin(), steps.end(), "fc2:int8") == 1);

  check_error([&] { good.with_outputs({"nope"}); }, ErrorCode::invalid_argument,
              {"no value named 'nope'"});
}

TEST_CASE(
    "sensitivity: octet sensitivity ranks the badly calibrated layer first and falls it back") {
  OCTET_REQUIRE_CLI();
  TempDir dir;
  OnnxBuilder b;
  b.input("x", {"batch", 16});
  b.weight("w1", {16, 32}, normal(16 * 32, 1, 0.25f));
  b.weight("w2", {32, 32}, normal(32 * 32, 2, 0.25f));
  b.weight("w3", {32, 4}, normal(32 * 4, 3, 0.25f));
  b.node("MatMul", {"x", "w1"}, {"h1"}, "fc1");
  b.node("MatMul", {"h1", "w2"}, {"h2"}, "fc2");
  b.node("MatMul", {"h2", "w3"}, {"y"}, "fc3");
  b.output("y", {"batch", 4});
  std::ofstream(dir.file("m.onnx"), std::ios::binary) << b.bytes();
  write_npy(dir.file("x.npy"), tensor({40, 16}, normal(40 * 16, 7)));
  CliResult r = octet_cli(dir, "convert " + dir.file("m.onnx") + " -o " + dir.file("m"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  r = octet_cli(dir, "calibrate " + dir.file("m") + " --data x=" + dir.file("x.npy") +
                         " --method max --quiet -o " + dir.file("t.json"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  // fc2's input range cut to 5%: everything above it clips.
  nlohmann::json t = nlohmann::json::parse(slurp(dir.file("t.json")));
  t["tensors"]["h1"]["amax"] = t["tensors"]["h1"]["amax"].get<double>() * 0.05;
  t["tensors"]["h1"]["amax_by_method"]["max"] = t["tensors"]["h1"]["amax"];
  std::ofstream(dir.file("bad.json")) << t.dump();

  const std::string common = "sensitivity " + dir.file("m") + " --table " + dir.file("bad.json") +
                             " --data x=" + dir.file("x.npy") + " --batch 16 --threads 1";
  r = octet_cli(dir, common + " --metric cosine --target 0.999 --bench-runs 2 -o " +
                         dir.file("s.json") + " --save-model " + dir.file("fb"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(has(r.err, "sweep 3/3"));
  CHECK(has(r.out, "fallback: 1 layer in fp32, 2 of 3 int8"));
  CHECK(has(r.out, "--fp32-layers fc2"));
  const nlohmann::json s = nlohmann::json::parse(slurp(dir.file("s.json")));
  CHECK(s["format"] == "octet-sensitivity");
  CHECK(s["samples"] == 40);
  CHECK(s["sweep_trials"] == 6);  // two per layer
  CHECK(s["trials"] == 8);        // + all-int8 + one fallback step
  REQUIRE(s["layers"].size() == 3);
  CHECK(s["layers"][0]["name"] == "fc2");
  CHECK(s["layers"][0]["only_this_int8"]["metric"].get<double>() < 0.999);
  CHECK(s["int8"]["metric"].get<double>() < 0.999);
  CHECK(s["fallback"]["reached"] == true);
  CHECK(s["fallback"]["fp32_layers"] == nlohmann::json::array({"fc2"}));
  CHECK(s["fallback"]["result"]["metric"].get<double>() >= 0.999);
  CHECK(s["fallback"]["latency_ms"]["fallback"].is_number());

  // The saved model keeps fc2 in fp32 by itself.
  Session saved(Model::load(dir.file("fb")), opts(Precision::int8));
  saved.prepare({{"x", {16, 16}}});
  std::vector<std::string> precisions;
  for (const LayerInfo& l : saved.layers()) {
    if (l.name.rfind("fc", 0) == 0) precisions.push_back(l.name + ":" + l.precision);
  }
  CHECK(precisions == std::vector<std::string>{"fc1:int8", "fc2:fp32", "fc3:int8"});

  // A budget spent before the first layer: nothing measured, layers ranked by
  // their own output error in the int8 model, the search stopped at once.
  r = octet_cli(dir, common +
                         " --metric cosine --target 0.999 --bench-runs 0 --max-seconds 1e-9 -o " +
                         dir.file("t.json"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(has(r.err, "--max-seconds reached"));
  CHECK(has(r.out, "NOT reached"));
  const nlohmann::json cut = nlohmann::json::parse(slurp(dir.file("t.json")));
  double previous = 2;
  for (const auto& l : cut["layers"]) {
    CHECK(l["measured"] == false);
    const double cosine = l["output_error"]["cosine"].get<double>();
    CHECK(l["sensitivity"].get<double>() == doctest::Approx(1 - cosine));
    CHECK(l["sensitivity"].get<double>() <= previous);
    previous = l["sensitivity"].get<double>();
  }
  CHECK(cut["fallback"]["reached"] == false);

  // The zoo's cheap form (tests/python/zoo_check.py): one trial per layer,
  // and a search that gives up at a bound instead of trying every layer.
  r = octet_cli(dir, common +
                         " --metric cosine --target 1.5 --only-this --max-fp32-layers 1"
                         " --bench-runs 0 -o " +
                         dir.file("b.json"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(has(r.err, "--max-fp32-layers reached"));
  const nlohmann::json bounded = nlohmann::json::parse(slurp(dir.file("b.json")));
  CHECK(bounded["sweep_trials"] == 3);  // one per layer
  CHECK(bounded["trials"] == 5);        // + all-int8 + one fallback step
  CHECK(bounded["layers"][0]["name"] == "fc2");
  CHECK(bounded["layers"][0]["all_but_this_int8"].is_null());
  CHECK(bounded["fallback"]["reached"] == false);
  CHECK(bounded["fallback"]["fp32_layers"] == nlohmann::json::array({"fc2"}));

  r = octet_cli(dir, common + " --metric top1");
  CHECK(r.code == 1);
  CHECK(has(r.err, "--metric top1 needs labeled samples"));
  r = octet_cli(dir, common + " --metric sqnr --target-drop 1");
  CHECK(r.code == 1);
  CHECK(has(r.err, "give --target DB instead"));
}

#endif  // OCTET_HAVE_CLI_LIB
