// `octet compare`: the tensor differences behind it
// (apps/octet/compare/compare.hpp) on hand-made numbers, then the command on
// the demo's Fashion-MNIST ResNet-20 and its 10 bundled images: fp32 against
// itself, fp32 against int8, --per-layer, the exit codes of the thresholds,
// the JSON, and models that cannot be compared.
#include <doctest/doctest.h>

#ifdef OCTET_HAVE_CLI_LIB

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "apps/octet/compare/compare.hpp"
#include "tests/cli_runner.hpp"
#include "tests/image_fixtures.hpp"
#include "tests/onnx_builder.hpp"
#include "tests/temp_dir.hpp"

using namespace octet;
using namespace octet::cli;
using namespace octet::test;

namespace {

Tensor floats(Shape shape, const std::vector<float>& v) {
  Tensor t(DataType::f32, std::move(shape));
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

std::string demo_resnet() {
  return std::string(OCTET_SOURCE_DIR) + "/apps/models/fashion-resnet20";
}

// `octet compare` of the demo ResNet on its 10 bundled images, one thread.
std::string resnet_compare(const std::string& flags) {
  const std::string models = std::string(OCTET_SOURCE_DIR) + "/apps/models";
  return "compare " + demo_resnet() + " --data " + models + "/images --threads 1 " + flags;
}

nlohmann::json parse_json(const CliResult& r) {
  REQUIRE_MESSAGE(r.code == 0, r.err);
  return nlohmann::json::parse(r.out);
}

// A one-layer model x [batch, 4] -> MatMul (4 x `cols`) -> `output`.
std::string matmul_model(const TempDir& dir, const std::string& file, const std::string& input,
                         const std::string& output, int cols) {
  OnnxBuilder b;
  b.input(input, {"batch", 4});
  b.weight("w", {4, cols}, std::vector<float>(static_cast<size_t>(4 * cols), 0.5f));
  b.node("MatMul", {input, "w"}, {output}, "fc");
  b.output(output, {"batch", cols});
  std::ofstream(dir.file(file), std::ios::binary) << b.bytes();
  return dir.file(file);
}

}  // namespace

TEST_CASE("compare: tensor differences, thresholds and shared values") {
  TensorDiff d;
  // Run 0 is exact; run 1 has noise 0.1 on a signal of energy 4: 20 dB.
  d.add(floats({4}, {1, -2, 3, 0.5f}), floats({4}, {1, -2, 3, 0.5f}), 4, "x");
  d.add(floats({4}, {1, 1, 1, 1}), floats({4}, {1.1f, 0.9f, 1.1f, 0.9f}), 4, "x");
  CHECK(d.runs == 2);
  CHECK(d.elements == 8);
  CHECK(d.shape == Shape{4});
  CHECK(d.worst_sqnr_run == 1);
  CHECK(d.worst_sqnr_db == doctest::Approx(20).epsilon(1e-5));
  CHECK(d.worst_cosine_run == 1);
  CHECK(d.worst_cosine == doctest::Approx(4 / std::sqrt(4 * 4 * 1.01)).epsilon(1e-6));
  // Pooled: signal 1 + 4 + 9 + 0.25 + 4, noise 0.04.
  CHECK(d.all.sqnr_db() == doctest::Approx(10 * std::log10(18.25 / 0.04)).epsilon(1e-5));
  CHECK(d.all.cosine() > d.worst_cosine);
  CHECK(d.max_abs_error == doctest::Approx(0.1).epsilon(1e-6));
  CHECK(d.mean_abs_error() == doctest::Approx(0.4 / 8).epsilon(1e-6));
  CHECK(d.max_abs_ref == 3);
  CHECK_FALSE(d.exact());

  // Only the scored prefix counts (a padded batch's rows).
  TensorDiff prefix;
  prefix.add(floats({2, 2}, {1, 2, 3, 4}), floats({2, 2}, {1, 2, 9, 9}), 2, "y");
  CHECK(prefix.exact());
  CHECK(prefix.elements == 2);
  // Integer outputs compare as numbers; NaN fails every threshold.
  Tensor ids(DataType::s64, {2});
  ids.data<int64_t>()[0] = 3;
  ids.data<int64_t>()[1] = 4;
  TensorDiff ints;
  ints.add(ids, ids, 2, "ids");
  CHECK(ints.exact());
  TensorDiff nan;
  nan.add(floats({2}, {1, 2}), floats({2}, {1, std::numeric_limits<float>::quiet_NaN()}), 2, "z");
  CHECK(nan.non_finite == 1);
  CHECK(std::isnan(nan.worst_cosine));
  CHECK(std::isnan(nan.max_abs_error));
  CHECK_FALSE(threshold_failure(nan, {-1.0, std::nullopt}).empty());
  CHECK_FALSE(threshold_failure(nan, {std::nullopt, 1e9}).empty());
  CHECK(threshold_failure(nan, {}).empty());

  CHECK(threshold_failure(d, {0.99, 0.11}).empty());
  CHECK(threshold_failure(d, {0.999, std::nullopt}).find("--min-cosine") != std::string::npos);
  CHECK(threshold_failure(d, {std::nullopt, 0.05}).find("--atol") != std::string::npos);
  CHECK(format_cosine(1) == "1");
  CHECK(format_cosine(1 - 3e-8) == "1 - 3e-08");
  CHECK(format_cosine(0.5) == "0.500000");
  CHECK(format_db(std::numeric_limits<double>::infinity()) == "inf");
  CHECK(format_threshold(0.9999999) == "0.9999999");

  check_error(
      [&] {
        d.add(floats({4}, {1, 2, 3, 4}), floats({2, 2}, {1, 2, 3, 4}), 4, "out");
      },
      ErrorCode::invalid_argument, {"out", "A gives f32 4", "B gives f32 2x2"});

  // Shared values: by value name, in A's order, without reorders or
  // integer shape arithmetic, each once.
  const auto layer = [](std::string name, std::string op, std::string precision,
                        std::string output) {
    LayerInfo l;
    l.name = std::move(name);
    l.op = std::move(op);
    l.precision = std::move(precision);
    l.output = std::move(output);
    return l;
  };
  const std::vector<LayerInfo> a = {
      layer("conv1", "Conv", "fp32", "c1"), layer("shape", "Shape", "s64", "s"),
      layer("conv2", "Conv", "fp32", "c2"), layer("only_a", "Relu", "fp32", "r"),
      layer("fc", "Gemm", "fp32", "y")};
  const std::vector<LayerInfo> b = {
      layer("conv2", "Conv", "int8", "c2"), layer("quantize:c1", "Quantize", "int8", "c1"),
      layer("conv1", "Conv", "int8", "c1"), layer("shape", "Shape", "s64", "s"),
      layer("fc", "Gemm", "fp32", "y")};
  const std::vector<SharedValue> shared = shared_values(a, b);
  REQUIRE(shared.size() == 3);
  CHECK(shared[0].layer == "conv1");
  CHECK(shared[0].b_precision == "int8");
  CHECK(shared[1].value == "c2");
  CHECK(shared[2].value == "y");
  CHECK(shared[2].a_precision == "fp32");

  // Layer marks: the first below the bar, the lowest worst-run cosine, the
  // lowest pooled SQNR; NaN is below anything.
  std::vector<TensorDiff> rows(4);
  rows[0].add(floats({2}, {1, 1}), floats({2}, {1, 1}), 2, "r0");        // exact
  rows[1].add(floats({2}, {1, 1}), floats({2}, {1, 0.9f}), 2, "r1");     // cosine 0.9986, 23 dB
  rows[2].add(floats({2}, {10, 1}), floats({2}, {10, 0.2f}), 2, "r2");   // cosine 0.9968, 22 dB
  rows[3].add(floats({2}, {1, 0}), floats({2}, {0.7f, 0.7f}), 2, "r3");  // cosine 0.707, 0.4 dB
  LayerMarks m = mark_layers(rows, 0.999);
  CHECK(m.first_below == 1);
  CHECK(m.lowest_cosine == 3);
  CHECK(m.lowest_sqnr == 3);
  m = mark_layers({rows[0], rows[1], rows[2]}, 0.5);
  CHECK(m.first_below == 3);  // none
  CHECK(m.lowest_cosine == 2);
  CHECK(m.lowest_sqnr == 2);
  rows[0] = nan;
  CHECK(mark_layers(rows, 0.5).first_below == 0);
}

TEST_CASE("compare: models with other inputs or outputs are refused naming both") {
  TempDir dir;
  const Model xy = Model::import_onnx(matmul_model(dir, "xy.onnx", "x", "y", 3));
  const Model xz = Model::import_onnx(matmul_model(dir, "xz.onnx", "x", "z", 3));
  const Model qy = Model::import_onnx(matmul_model(dir, "qy.onnx", "q", "y", 3));
  check_same_interface(xy, "xy", xy, "xy");
  check_error([&] { check_same_interface(xy, "xy.onnx", xz, "xz.onnx"); },
              ErrorCode::invalid_argument,
              {"different outputs", "A (xy.onnx) gives y", "B (xz.onnx) gives z", "by name"});
  check_error([&] { check_same_interface(xy, "xy.onnx", qy, "qy.onnx"); },
              ErrorCode::invalid_argument,
              {"different inputs", "A (xy.onnx) takes x (f32)", "B (qy.onnx) takes q (f32)"});
}

TEST_CASE("cli compare: fp32 against itself is exact, fp32 against int8 is close and thresholds") {
  OCTET_REQUIRE_CLI();
  TempDir dir;
  // fp32 against fp32: bit-identical, so the strictest thresholds pass.
  const nlohmann::json same = parse_json(octet_cli(
      dir, resnet_compare("--a-precision fp32 --b-precision fp32 --min-cosine 1 --atol 0 --json")));
  REQUIRE(same.at("outputs").size() == 1);
  const nlohmann::json& s = same.at("outputs")[0];
  CHECK(s.at("name") == "logits");
  CHECK(s.at("cosine") == 1.0);
  CHECK(s.at("cosine_worst") == 1.0);
  CHECK(s.at("sqnr_db").is_null());  // infinite
  CHECK(s.at("max_abs_error") == 0.0);
  CHECK(s.at("exact") == true);
  CHECK(s.at("passed") == true);
  CHECK(same.at("passed") == true);
  CHECK(same.at("inputs").at("samples") == 10);
  CHECK(same.at("inputs").at("runs") == 10);

  // fp32 against int8 (the model's own ranges): close, not identical. On
  // AMD EPYC Zen 3 (AVX2, 7-bit weights) the 10 images give cosine 0.99982,
  // worst image 0.99951, 34.3 dB; 8-bit weights on VNNI should only be closer.
  const nlohmann::json q = parse_json(
      octet_cli(dir, resnet_compare("--a-precision fp32 --json -o " + dir.file("q.json"))));
  const nlohmann::json& o = q.at("outputs")[0];
  MESSAGE("fp32 vs int8 logits: cosine " << o.at("cosine") << ", worst " << o.at("cosine_worst")
                                         << ", SQNR " << o.at("sqnr_db") << " dB");
  CHECK(o.at("cosine").get<double>() > 0.999);
  CHECK(o.at("cosine").get<double>() < 1);
  CHECK(o.at("cosine_worst").get<double>() > 0.995);
  CHECK(o.at("cosine_worst").get<double>() <= o.at("cosine").get<double>());
  CHECK(o.at("sqnr_db").get<double>() > 25);
  CHECK(o.at("max_abs_error").get<double>() > 0);
  CHECK(o.at("exact") == false);
  CHECK(q.at("b").at("layers").get<std::string>().find("int8") != std::string::npos);
  CHECK(nlohmann::json::parse(slurp(dir.file("q.json"))).at("outputs") == q.at("outputs"));

  // The exit code: 1 naming the output when a threshold fails, 0 when the
  // lenient ones hold; the table says which.
  CliResult r = octet_cli(dir, resnet_compare("--a-precision fp32 --min-cosine 0.9999999"));
  CHECK(r.code == 1);
  CHECK_MESSAGE(has(r.err, "FAILED: output 'logits': worst cosine"), r.err);
  CHECK(has(r.err, "< --min-cosine 0.9999999"));
  CHECK(has(r.out, "FAIL"));
  r = octet_cli(dir, resnet_compare("--a-precision fp32 --atol 1e-6"));
  CHECK(r.code == 1);
  CHECK(has(r.err, "--atol"));
  r = octet_cli(dir, resnet_compare("--a-precision fp32 --min-cosine 0.99 --atol 10"));
  CHECK_MESSAGE(r.code == 0, r.err);
  CHECK(has(r.out, "ok"));
  CHECK(has(r.out, "A (reference): "));
}

TEST_CASE("cli compare: --per-layer lists every value both sessions compute, in order") {
  OCTET_REQUIRE_CLI();
  TempDir dir;
  // The values a layer computes, counted independently of the command: the
  // fp32 session's steps that are neither reorders nor shape arithmetic.
  const Model model = Model::load(demo_resnet());
  SessionOptions o;
  o.threads = 1;
  o.precision = Precision::fp32;
  Session fp32(model, o);
  fp32.prepare({{"input", {1, 1, 28, 28}}});
  std::vector<std::string> expected;
  for (const LayerInfo& l : fp32.layers()) {
    if (l.precision == "fp32" && l.op != "Reorder") expected.push_back(l.name);
  }
  REQUIRE(expected.size() > 20);

  const nlohmann::json j = parse_json(
      octet_cli(dir, resnet_compare("--a-precision fp32 --per-layer --layer-min-cosine 0.9999 "
                                    "--json")));
  const nlohmann::json& p = j.at("per_layer");
  REQUIRE(p.at("layers").size() == expected.size());
  CHECK(p.at("shared") == expected.size());
  size_t int8 = 0;
  for (size_t k = 0; k < expected.size(); ++k) {
    const nlohmann::json& l = p.at("layers")[k];
    CAPTURE(k);
    CHECK(l.at("layer") == expected[k]);
    CHECK(l.at("a_precision") == "fp32");
    int8 += l.at("b_precision") == "int8";
    CHECK(l.at("cosine").get<double>() < 1);  // every int8 value carries some noise
    CHECK(l.at("cosine").get<double>() > 0.95);
  }
  CHECK(int8 == expected.size());
  // Observing the intermediate values leaves the outputs as they were.
  const nlohmann::json plain =
      parse_json(octet_cli(dir, resnet_compare("--a-precision fp32 --json")));
  CHECK(plain.at("outputs") == j.at("outputs"));
  CHECK(plain.count("per_layer") == 0);
  // The last layer's value is the model's output.
  CHECK(p.at("layers").back().at("value") == "logits");
  CHECK(p.at("layers").back().at("cosine") == j.at("outputs")[0].at("cosine"));
  // A strict per-layer bar flags a layer, the first at or before the worst; it
  // leaves the exit code alone.
  REQUIRE(p.at("first_below").is_string());
  size_t first = 0, worst = 0;
  for (size_t k = 0; k < expected.size(); ++k) {
    if (expected[k] == p.at("first_below")) first = k + 1;
    if (expected[k] == p.at("lowest_cosine")) worst = k + 1;
  }
  CHECK(first >= 1);
  CHECK(worst >= first);

  // The table: one row a shared value, the flag on the first below the bar.
  CliResult r = octet_cli(dir, resnet_compare("--a-precision fp32 --per-layer "
                                              "--layer-min-cosine 0.9999"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(has(r.out, std::to_string(expected.size()) + " values shared"));
  CHECK(has(r.out, "<- first below 0.9999"));
  CHECK(has(r.out, "first layer whose worst cosine is below 0.9999: #" + std::to_string(first)));
  size_t rows = 0;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    for (const std::string& name : expected)
      rows += line.find("  " + name + "  ") != std::string::npos;
  }
  CHECK(rows == expected.size());
  // fp32 against fp32: every shared value identical, none flagged.
  r = octet_cli(dir, resnet_compare("--a-precision fp32 --b-precision fp32 --per-layer --json"));
  const nlohmann::json exact = parse_json(r);
  for (const nlohmann::json& l : exact.at("per_layer").at("layers")) CHECK(l.at("exact") == true);
  CHECK(exact.at("per_layer").at("first_below").is_null());
}

TEST_CASE("cli compare: JSON fields, random inputs, and what cannot be compared") {
  OCTET_REQUIRE_CLI();
  TempDir dir;
  // Without --data: seeded random inputs, said so; the seed decides them.
  const auto random = [&](const std::string& seed) {
    return parse_json(octet_cli(dir, "compare " + demo_resnet() +
                                         " --a-precision fp32 --threads 1 --samples 3 --json "
                                         "--seed " +
                                         seed));
  };
  const nlohmann::json r1 = random("1"), r1again = random("1"), r2 = random("2");
  CHECK(r1.at("inputs").at("random") == true);
  CHECK(r1.at("inputs").at("source").get<std::string>().find("seeded random") == 0);
  CHECK(r1.at("inputs").at("runs") == 3);
  CHECK(r1.at("outputs") == r1again.at("outputs"));
  CHECK(r1.at("outputs") != r2.at("outputs"));
  for (const char* key : {"a", "b", "inputs", "aggregation", "thresholds", "outputs", "passed",
                          "run_ms", "threads", "octet_version", "cpu_isa"}) {
    CHECK_MESSAGE(r1.contains(key), key);
  }
  for (const char* key : {"model", "precision", "fp32_layers", "fp32_ops", "layers"}) {
    CHECK_MESSAGE(r1.at("a").contains(key), key);
  }
  for (const char* key :
       {"name", "shape", "elements", "cosine", "cosine_worst", "cosine_worst_run", "sqnr_db",
        "sqnr_db_worst", "sqnr_db_worst_run", "max_abs_error", "mean_abs_error", "max_abs_ref",
        "exact", "non_finite", "passed", "failure"}) {
    CHECK_MESSAGE(r1.at("outputs")[0].contains(key), key);
  }
  CHECK(r1.at("outputs")[0].at("shape") == std::vector<int64_t>{1, 10});
  CHECK(r1.at("outputs")[0].at("elements") == 30);
  CHECK(r1.at("a").at("precision") == "fp32");
  CHECK(r1.at("b").at("precision") == "int8");
  CHECK(r1.at("b").at("model") == demo_resnet());  // B defaults to A

  // Models that do not match: exit 2 (an error, not a failed check), naming both.
  const std::string xy = matmul_model(dir, "xy.onnx", "x", "y", 3);
  const std::string xz = matmul_model(dir, "xz.onnx", "x", "z", 3);
  const std::string wide = matmul_model(dir, "wide.onnx", "x", "y", 5);
  CliResult r = octet_cli(dir, "compare " + xy + " " + xz);
  CHECK(r.code == 2);
  CHECK_MESSAGE(has(r.err, "octet compare: error: the models give different outputs"), r.err);
  CHECK(has(r.err, "gives y"));
  CHECK(has(r.err, "gives z"));
  r = octet_cli(dir, "compare " + xy + " " + wide);
  CHECK(r.code == 2);
  CHECK_MESSAGE(has(r.err, "output 'y': A gives f32 1x3, B gives f32 1x5"), r.err);
  r = octet_cli(dir, "compare " + xy + " " + xy + " --min-cosine 1 --atol 0");
  CHECK_MESSAGE(r.code == 0, r.err);
  r = octet_cli(dir, "compare " + dir.file("missing"));
  CHECK(r.code == 2);
  CHECK(has(r.err, "missing"));
  r = octet_cli(dir, "compare " + xy + " --a-precision int4");
  CHECK(r.code == 2);
  r = octet_cli(dir, "compare " + xy + " --data x.npy --seed 3");
  CHECK(r.code == 2);
  CHECK(has(r.err, "excludes"));
}

#endif  // OCTET_HAVE_CLI_LIB
