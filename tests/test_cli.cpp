// The octet CLI: its statistics and argument helpers (octet_cli_lib), then the
// executable itself end to end on a tiny ONNX model.
#include <doctest/doctest.h>

// Compiled only when apps/ is built: octet_cli_lib defines this for its users.
#ifdef OCTET_HAVE_CLI_LIB

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/octet/common/common.hpp"
#include "apps/octet/common/stats.hpp"
#include "loaders/data/npy.hpp"
#include "runtime/ir/file_io.hpp"
#include "tests/cli_runner.hpp"
#include "tests/onnx_builder.hpp"
#include "tests/temp_dir.hpp"

using namespace octet;
using namespace octet::cli;
using namespace octet::test;

TEST_CASE("cli stats: nearest-rank percentiles") {
  // The worked example of the nearest-rank method: 5th 15, 30th 20, 40th 20,
  // 50th 35, 100th 50.
  const std::vector<double> v = {15, 20, 35, 40, 50};
  CHECK(percentile_nearest_rank(v, 5) == 15);
  CHECK(percentile_nearest_rank(v, 30) == 20);
  CHECK(percentile_nearest_rank(v, 40) == 20);
  CHECK(percentile_nearest_rank(v, 50) == 35);
  CHECK(percentile_nearest_rank(v, 100) == 50);
  CHECK(percentile_nearest_rank(v, 0) == 15);
  CHECK(percentile_nearest_rank(v, 250) == 50);
  // Exact ranks are not rounded up: 25% of 4 samples is rank 1, 26% rank 2.
  const std::vector<double> four = {10, 20, 30, 40};
  CHECK(percentile_nearest_rank(four, 25) == 10);
  CHECK(percentile_nearest_rank(four, 26) == 20);
  CHECK(percentile_nearest_rank(four, 75) == 30);
  CHECK(percentile_nearest_rank({}, 50) == 0);
}

TEST_CASE("cli stats: latency summary") {
  LatencyStats s = compute_latency_stats({5, 1, 4, 2, 3});
  CHECK(s.count == 5);
  CHECK(s.min_ms == 1);
  CHECK(s.max_ms == 5);
  CHECK(s.mean_ms == 3);
  CHECK(s.median_ms == 3);  // rank ceil(2.5) = 3
  CHECK(s.p90_ms == 5);     // rank ceil(4.5) = 5
  CHECK(s.p99_ms == 5);

  s = compute_latency_stats({10, 9, 8, 7, 6, 5, 4, 3, 2, 1});
  CHECK(s.median_ms == 5);  // rank 5: the lower middle
  CHECK(s.mean_ms == doctest::Approx(5.5));
  CHECK(s.p90_ms == 9);   // rank 9
  CHECK(s.p99_ms == 10);  // rank ceil(9.9) = 10

  std::vector<double> hundred;
  for (int i = 1; i <= 100; ++i) hundred.push_back(i);
  std::shuffle(hundred.begin(), hundred.end(), std::mt19937(3));
  s = compute_latency_stats(hundred);
  CHECK(s.median_ms == 50);
  CHECK(s.p90_ms == 90);
  CHECK(s.p99_ms == 99);
  CHECK(s.mean_ms == doctest::Approx(50.5));

  s = compute_latency_stats({7});
  CHECK((s.min_ms == 7 && s.median_ms == 7 && s.p99_ms == 7 && s.max_ms == 7));
  CHECK(compute_latency_stats({}).count == 0);

  CHECK(throughput_per_s(8, 4.0) == doctest::Approx(2000));
  CHECK(throughput_per_s(1, 0.5) == doctest::Approx(2000));
  CHECK(throughput_per_s(1, 0) == 0);
}

TEST_CASE("cli: --shapes arguments") {
  CHECK(parse_shape_spec("input=1x3x224x224") ==
        std::pair<std::string, Shape>{"input", {1, 3, 224, 224}});
  CHECK(parse_shape_spec("ids=7") == std::pair<std::string, Shape>{"ids", {7}});
  CHECK(parse_shape_spec("a=b=2x3").first == "a=b");
  for (const char* bad :
       {"x", "=1", "x=", "x=1x", "x=1xx2", "x=0", "x=-1", "x=2x0", "x=1234567890123", "x=3 "}) {
    CAPTURE(bad);
    try {
      parse_shape_spec(bad);
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::invalid_argument);
      CHECK(std::string(e.what()).find(bad) != std::string::npos);
    }
  }
  CHECK(parse_shape_specs({"a=1", "b=2x2"}).size() == 2);
  CHECK_THROWS_AS(parse_shape_specs({"a=1", "a=2"}), Error);
}

TEST_CASE("cli: default input shapes") {
  const std::vector<TensorInfo> inputs = {
      {"input_ids", DataType::s64, {{-1, "batch"}, {-1, "sequence"}}},
      {"scale", DataType::f32, {{4, ""}}},
      {"image", DataType::f32, {{-1, "N"}, {3, ""}, {-1, ""}, {-1, "W"}}},
  };
  const auto shapes = resolve_input_shapes(inputs, 2, 16, {{"image", {2, 3, 8, 8}}});
  CHECK(shapes.at("input_ids") == Shape{2, 16});
  CHECK(shapes.at("scale") == Shape{4});
  CHECK(shapes.at("image") == Shape{2, 3, 8, 8});
  // A third symbolic dim has no default.
  try {
    resolve_input_shapes(inputs, 1, 128, {});
    FAIL("resolved three symbolic dims");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("'image'") != std::string::npos);
    CHECK(std::string(e.what()).find("N x 3 x ? x W") != std::string::npos);
  }
  CHECK_THROWS_AS(resolve_input_shapes(inputs, 1, 1, {{"nope", {1}}}), Error);
  // Symbols fixed by an override carry over to the other inputs.
  const TensorInfo ids = {"input_ids", DataType::s64, {{-1, "batch"}, {-1, "sequence"}}};
  const TensorInfo mask = {"attention_mask", DataType::s64, {{-1, "batch"}, {-1, "sequence"}}};
  const TensorInfo image = {"image", DataType::f32, {{-1, "batch"}, {-1, "h"}, {-1, "w"}}};
  CHECK(resolve_input_shapes({ids, mask}, 1, 128, {{"input_ids", {2, 8}}}).at("attention_mask") ==
        Shape{2, 8});
  // batch comes from the override and h is the second symbolic dim (seq), but
  // w has no default.
  CHECK_THROWS_AS(resolve_input_shapes({ids, image}, 1, 128, {{"input_ids", {2, 8}}}), Error);
  CHECK(resolve_input_shapes({ids, image}, 1, 128, {{"image", {3, 5, 6}}}).at("input_ids") ==
        Shape{3, 128});
  CHECK(format_dims({}) == "scalar");
}

TEST_CASE("cli: synthetic inputs are deterministic and follow the names") {
  Tensor a(DataType::f32, {10001}), b(DataType::f32, {10001}), c(DataType::f32, {10001});
  fill_synthetic(a, "x", 1);
  fill_synthetic(b, "x", 1);
  fill_synthetic(c, "x", 2);
  CHECK(std::equal(a.data<float>(), a.data<float>() + a.numel(), b.data<float>()));
  CHECK(!std::equal(a.data<float>(), a.data<float>() + a.numel(), c.data<float>()));
  double sum = 0, sum2 = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    sum += a.data<float>()[i];
    sum2 += a.data<float>()[i] * a.data<float>()[i];
  }
  const double mean = sum / a.numel();
  CHECK(std::abs(mean) < 0.05);
  CHECK(std::sqrt(sum2 / a.numel() - mean * mean) == doctest::Approx(1.0).epsilon(0.05));

  Tensor ids(DataType::s64, {1, 256}), mask(DataType::s64, {1, 256}),
      types(DataType::s64, {1, 256}), ids32(DataType::s32, {64}), bmask(DataType::boolean, {4});
  fill_synthetic(ids, "input_ids", 5);
  fill_synthetic(mask, "attention_mask", 5);
  fill_synthetic(types, "token_type_ids", 5);
  fill_synthetic(ids32, "Input_IDs", 5);
  fill_synthetic(bmask, "mask", 5);
  const int64_t* p = ids.data<int64_t>();
  CHECK(std::all_of(p, p + 256, [](int64_t v) { return v >= 0 && v < 100; }));
  CHECK(*std::max_element(p, p + 256) != *std::min_element(p, p + 256));
  CHECK(std::all_of(mask.data<int64_t>(), mask.data<int64_t>() + 256,
                    [](int64_t v) { return v == 1; }));
  CHECK(std::all_of(types.data<int64_t>(), types.data<int64_t>() + 256,
                    [](int64_t v) { return v == 0; }));
  CHECK(std::all_of(ids32.data<int32_t>(), ids32.data<int32_t>() + 64,
                    [](int32_t v) { return v >= 0 && v < 100; }));
  CHECK(std::all_of(bmask.data<bool>(), bmask.data<bool>() + 4, [](bool v) { return v; }));
}

TEST_CASE("cli: output file names and tables") {
  CHECK(output_file_name("logits") == "logits.npy");
  CHECK(output_file_name("out/0:1") == "out_0_1.npy");
  CHECK(output_file_name("../x") == ".._x.npy");
  CHECK(output_file_name("..") == "_...npy");
  CHECK(output_file_name("") == "_.npy");
  CHECK(format_table({{"a", "bb"}, {"ccc", "d"}}) == "a    bb\n-------\nccc  d\n");
}

// ---------------------------------------------------------------- the executable

namespace {}  // namespace

TEST_CASE("cli: octet convert, run, bench and inspect on a tiny model") {
  OCTET_REQUIRE_CLI();
  test::TempDir dir;
  // y = x + w for x of shape [batch, 4]; the output name needs sanitizing.
  test::OnnxBuilder b;
  b.input("x", {"batch", 4});
  b.weight("w", {4}, {1, 2, 3, 4});
  b.node("Add", {"x", "w"}, {"y/out:0"}, "add");
  b.output("y/out:0", {"batch", 4});
  std::ofstream(dir.file("tiny.onnx"), std::ios::binary) << b.bytes();
  Tensor x(DataType::f32, {2, 4});
  for (int i = 0; i < 8; ++i) x.data<float>()[i] = static_cast<float>(i);
  write_npy(dir.file("x.npy"), x);

  CliResult r = octet_cli(dir, "convert " + dir.file("tiny.onnx") + " -o " + dir.file("tiny"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(has(r.out, "1 nodes"));
  CHECK(has(r.out, "tiny.octet.json ("));
  CHECK(std::filesystem::exists(dir.file("tiny.octet.bin")));

  // Both spellings of the model name, and the .onnx file directly.
  for (const char* name : {"tiny", "tiny.octet.json", "tiny.onnx"}) {
    CAPTURE(name);
    r = octet_cli(dir, "run " + dir.file(name) + " --input x=" + dir.file("x.npy") +
                           " --output-dir " + dir.file("out") + " --threads 1");
    REQUIRE_MESSAGE(r.code == 0, r.err);
    CHECK(has(r.out, "y/out:0: f32 2x4"));
    const Tensor y = read_npy(dir.file("out/y_out_0.npy"));
    REQUIRE(y.shape() == Shape{2, 4});
    for (int i = 0; i < 8; ++i) CHECK(y.data<float>()[i] == static_cast<float>(i + 1 + i % 4));
  }

  r = octet_cli(dir, "run " + dir.file("tiny") + " --output-dir " + dir.file("out"));
  CHECK(r.code == 1);
  CHECK(has(r.err, "octet run: error: missing input 'x'"));
  r = octet_cli(dir, "run " + dir.file("tiny") + " -i x=" + dir.file("x.npy") +
                         " -i z=" + dir.file("x.npy") + " -o " + dir.file("out"));
  CHECK(r.code == 1);
  CHECK(has(r.err, "no input 'z'"));
  r = octet_cli(dir, "run " + dir.file("nonexistent") + " -o " + dir.file("out"));
  CHECK(r.code == 1);
  CHECK(has(r.err, "octet run: error: "));

  r = octet_cli(dir, "bench " + dir.file("tiny") + " --batch 3 --iterations 5 --warmup 1 --json");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["inputs"]["x"] == std::vector<int64_t>{3, 4});
  CHECK(j["iterations"] == 5);
  CHECK(j["latency_ms"]["min"].get<double>() <= j["latency_ms"]["p99"].get<double>());
  r = octet_cli(dir, "bench " + dir.file("tiny") + " --iterations 3 --fp32");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(has(r.out, "median"));
  CHECK(has(r.out, "items/s"));

  r = octet_cli(dir, "inspect " + dir.file("tiny") + " --shapes x=5x4");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(has(r.out, "batch x 4"));
  CHECK(has(r.out, "x=5x4"));
  CHECK(has(r.out, "Add"));
}

TEST_CASE("cli: usage errors exit 2 and name the flag") {
  OCTET_REQUIRE_CLI();
  test::TempDir dir;
  CliResult r = octet_cli(dir, "run model --output-dir o --bogus");
  CHECK(r.code == 2);
  CHECK(has(r.err, "--bogus"));
  r = octet_cli(dir, "bench model --threads");
  CHECK(r.code == 2);
  CHECK(has(r.err, "--threads"));
  r = octet_cli(dir, "bench model --fp32 --int8");
  CHECK(r.code == 2);
  r = octet_cli(dir, "run model");
  CHECK(r.code == 2);
  CHECK(has(r.err, "--output-dir"));
  r = octet_cli(dir, "");
  CHECK(r.code == 2);
  r = octet_cli(dir, "--version");
  CHECK(r.code == 0);
  CHECK(has(r.out, "octet "));
  CHECK(has(r.out, "oneDNN "));
  CHECK(has(r.out, "CPU ISA "));
}

#endif  // OCTET_HAVE_CLI_LIB

TEST_CASE("cli: octet calibrate on an image folder and a list file: one table, exact scales") {
  OCTET_REQUIRE_CLI();
  // The demo's Fashion-MNIST ResNet-20 and its 10 bundled images, read as a
  // folder and as a list file in reverse order, in batches of 3 and 4.
  test::TempDir dir;
  const std::string models = std::string(OCTET_SOURCE_DIR) + "/apps/models";
  std::vector<std::string> images;
  for (const auto& e : std::filesystem::directory_iterator(models + "/images")) {
    images.push_back(e.path().string());
  }
  REQUIRE(images.size() == 10);
  std::sort(images.rbegin(), images.rend());
  {
    std::ofstream list(dir.file("list.txt"));
    for (const std::string& i : images) list << i << "\n";
  }
  const auto calibrate = [&](const std::string& data, const std::string& batch,
                             const std::string& table) {
    const CliResult r =
        octet_cli(dir, "calibrate " + models + "/fashion-resnet20 --data " + data + " --batch " +
                           batch + " --quiet --threads 1 -o " + dir.file(table));
    REQUIRE_MESSAGE(r.code == 0, r.err);
    nlohmann::json j = nlohmann::json::parse(slurp(dir.file(table)));
    j["data"].erase("source");                            // names the folder or the list
    CHECK(j.at("date").get<std::string>().size() == 20);  // 2026-11-26T07:00:00Z
    j.erase("date");
    return j;
  };
  const nlohmann::json folder = calibrate(models + "/images", "3", "folder.json");
  const nlohmann::json list = calibrate(dir.file("list.txt"), "4", "list.json");
  CHECK(folder == list);
  CHECK(folder.at("data").at("samples") == 10);
  CHECK(folder.at("octet_version").get<std::string>().size() > 0);
  int tensors = 0;
  for (const auto& [name, t] : folder.at("tensors").items()) {
    CAPTURE(name);
    // The scale is the float amax / 127 (s8) or / 255 (u8), written exactly.
    const float levels = t.at("dtype") == "u8" ? 255.f : 127.f;
    CHECK(t.at("scale").get<float>() == t.at("amax").get<float>() / levels);
    CHECK(t.at("amax") == t.at("amax_by_method").at(t.at("method").get<std::string>()));
    ++tensors;
  }
  CHECK(tensors > 10);
}

TEST_CASE("cli: octet calibrate and quantize, from .npy samples and from named arrays") {
  OCTET_REQUIRE_CLI();
  test::TempDir dir;
  // Two inputs (x f32, ids s64 via a Gather of an embedding) and one with one input.
  test::OnnxBuilder two;
  two.input("x", {"batch", 4});
  two.input("ids", {"batch", 4}, onnx::TensorProto::INT64);
  two.weight("table", {10, 1}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  two.node("Gather", {"table", "ids"}, {"emb"}, "gather");
  two.weight_s64("shape", {2}, {-1, 4});
  two.node("Reshape", {"emb", "shape"}, {"e"}, "reshape");
  two.node("Add", {"x", "e"}, {"y"}, "add");
  two.node("Relu", {"y"}, {"z"}, "relu");
  two.output("z", {"batch", 4});
  std::ofstream(dir.file("two.onnx"), std::ios::binary) << two.bytes();
  Tensor x(DataType::f32, {6, 4});
  Tensor ids(DataType::s64, {6, 4});
  for (int i = 0; i < 24; ++i) {
    x.data<float>()[i] = static_cast<float>(i % 7) - 3.f;
    ids.data<int64_t>()[i] = i % 10;
  }
  write_npy(dir.file("x.npy"), x);
  write_npy(dir.file("ids.npy"), ids);
  CliResult r = octet_cli(dir, "convert " + dir.file("two.onnx") + " -o " + dir.file("two"));
  REQUIRE_MESSAGE(r.code == 0, r.err);

  r = octet_cli(dir, "calibrate " + dir.file("two") + " --data x=" + dir.file("x.npy") +
                         ",ids=" + dir.file("ids.npy") + " --method all --batch 4 -o " +
                         dir.file("two.table.json"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(has(r.out, "from 6 samples"));
  CHECK(has(r.err, "pass 3/3 (scoring): 6/6 samples"));  // auto, --method all's default
  const CalibrationTable table = CalibrationTable::load(dir.file("two.table.json"));
  CHECK(table.samples == 6);
  bool relu_unsigned = false;
  for (const TensorCalibration& t : table.tensors) {
    if (t.name == "z") relu_unsigned = t.dtype == DataType::u8;
    if (t.name == "x") CHECK(t.min == -3.f);
  }
  CHECK(relu_unsigned);

  r = octet_cli(dir, "quantize " + dir.file("two") + " --table " + dir.file("two.table.json") +
                         " --method percentile=99.99 -o " + dir.file("two-int8"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(Model::load(dir.file("two-int8")).activation_range_count() == table.tensors.size());

  // A missing input, an unknown one, and a table applied to another model.
  r = octet_cli(dir, "calibrate " + dir.file("two") + " --data x=" + dir.file("x.npy") + " -o " +
                         dir.file("t.json"));
  CHECK(r.code == 1);
  CHECK(has(r.err, "no array for input 'ids'"));
  r = octet_cli(dir, "calibrate " + dir.file("two") + " --data x=" + dir.file("x.npy") +
                         ",idz=" + dir.file("ids.npy") + " -o " + dir.file("t.json"));
  CHECK(has(r.err, "the model has no input 'idz'"));

  test::OnnxBuilder one;
  one.input("x", {"batch", 4});
  one.node("Relu", {"x"}, {"z"}, "relu");
  one.output("z", {"batch", 4});
  std::ofstream(dir.file("one.onnx"), std::ios::binary) << one.bytes();
  r = octet_cli(dir, "calibrate " + dir.file("one.onnx") + " --data " + dir.file("x.npy") +
                         " --method max --quiet -o " + dir.file("one.table.json"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.err.empty());  // --quiet
  r = octet_cli(dir, "quantize " + dir.file("two") + " --table " + dir.file("one.table.json") +
                         " -o " + dir.file("bad"));
  CHECK(r.code == 1);
  CHECK(has(r.err, "made for a different model"));
  CHECK_FALSE(std::filesystem::exists(dir.file("bad.octet.json")));
}

TEST_CASE("cli: octet export writes a QDQ model and a TensorRT cache, and refuses a float model") {
  OCTET_REQUIRE_CLI();
  test::TempDir dir;
  test::OnnxBuilder b;
  b.input("x", {"batch", 4});
  b.weight("w", {4, 3}, {1, -2, 3, 0.5f, -1, 2, 0.25f, 1, -3, 2, 2, -1});
  b.node("MatMul", {"x", "w"}, {"y"}, "matmul");
  b.node("Relu", {"y"}, {"z"}, "relu");
  b.output("z", {"batch", 3});
  std::ofstream(dir.file("m.onnx"), std::ios::binary) << b.bytes();
  Tensor x(DataType::f32, {8, 4});
  for (int i = 0; i < 32; ++i) x.data<float>()[i] = static_cast<float>(i % 9) - 4.f;
  write_npy(dir.file("x.npy"), x);
  CliResult r = octet_cli(dir, "convert " + dir.file("m.onnx") + " -o " + dir.file("m"));
  REQUIRE_MESSAGE(r.code == 0, r.err);

  // A float model has no ranges to export: exit 1, naming the model and the fix.
  r = octet_cli(dir, "export " + dir.file("m") + " -o " + dir.file("f.qdq.onnx"));
  CHECK(r.code == 1);
  CHECK(has(r.err, "has no activation ranges"));
  CHECK_FALSE(std::filesystem::exists(dir.file("f.qdq.onnx")));
  r = octet_cli(dir, "export " + dir.file("m"));
  CHECK(r.code == 1);
  CHECK(has(r.err, "nothing to write"));

  r = octet_cli(dir, "calibrate " + dir.file("m") + " --data " + dir.file("x.npy") +
                         " --method max --quiet -o " + dir.file("m.table.json"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  r = octet_cli(dir, "quantize " + dir.file("m") + " --table " + dir.file("m.table.json") + " -o " +
                         dir.file("m-int8"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  // quantize stores the MatMul's weights as s8 unless --fp32-weights; both
  // compute the same bits.
  r = octet_cli(dir, "quantize " + dir.file("m") + " --table " + dir.file("m.table.json") +
                         " --fp32-weights -o " + dir.file("m-f32w"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(has(read_text_file(dir.file("m-int8.octet.json")), "\"stored\": \"s8\""));
  CHECK_FALSE(has(read_text_file(dir.file("m-f32w.octet.json")), "\"stored\""));
  {
    Session stored(Model::load(dir.file("m-int8"))), f32w(Model::load(dir.file("m-f32w")));
    const Tensor a = stored.run({x})[0].clone(), b2 = f32w.run({x})[0].clone();
    CHECK(std::memcmp(a.raw(), b2.raw(), a.nbytes()) == 0);
  }
  r = octet_cli(dir, "export " + dir.file("m-int8") + " -o " + dir.file("m.qdq.onnx") +
                         " --trt-calib-cache " + dir.file("m.calib"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(has(r.out, "1 int8 weights"));
  CHECK(std::filesystem::file_size(dir.file("m.qdq.onnx")) > 0);

  // The cache: the header, then one "name: 8 hex digits" line per range.
  std::ifstream cache(dir.file("m.calib"));
  std::string line;
  std::getline(cache, line);
  CHECK(line == "TRT-8601-EntropyCalibration2");
  size_t ranges = 0;
  while (std::getline(cache, line)) {
    const size_t colon = line.find(": ");
    REQUIRE(colon != std::string::npos);
    CHECK(line.size() == colon + 2 + 8);
    ++ranges;
  }
  CHECK(ranges == Model::load(dir.file("m-int8")).activation_range_count());

  // The export imports again and keeps the int8 layer.
  r = octet_cli(dir, "convert " + dir.file("m.qdq.onnx") + " -o " + dir.file("back"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(Model::load(dir.file("back")).activation_range_count() > 0);
}
