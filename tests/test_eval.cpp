// `octet eval` and the dataset flags it shares with `octet calibrate`: the
// flags against the model's metadata, then the command end to end on a tiny
// classifier whose correct answers are known.
#include <doctest/doctest.h>

// Compiled only when apps/ is built: octet_cli_lib defines this for its users.
#ifdef OCTET_HAVE_CLI_LIB

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/octet/common/data_flags.hpp"
#include "tests/cli_runner.hpp"
#include "tests/idx_fixtures.hpp"
#include "tests/image_fixtures.hpp"
#include "tests/temp_dir.hpp"
#include "tests/test_graph.hpp"

using namespace octet;
using namespace octet::cli;
using namespace octet::test;
namespace fs = std::filesystem;

namespace {

// Parses `args` (after the program name) into fresh flags.
DataFlags parse_flags(std::vector<std::string> args) {
  CLI::App app;
  DataFlags flags;
  add_data_flags(app, flags);
  std::vector<const char*> argv = {"test"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return flags;
}

// The classifier: logits = W . mean color over [batch, 3, 4, 4], 6 classes.
// Class 0 answers red, 1 green, 2 blue; 3 and 4 rank any color above 0, 5
// below, so that a green image labelled blue misses top-1 but not top-5.
Model classifier(bool with_ranges, const std::string& metadata) {
  test::TestGraph t;
  const int x = t.input("x", {1, 3, 4, 4});
  t.g.values[x].shape->at(0) = Dim{-1, "batch"};
  Tensor w(DataType::f32, {6, 3});
  const float rows[6][3] = {{1, 0, 0},       {0, 1, 0},       {0, 0, 1},
                            {.2f, .2f, .2f}, {.2f, .2f, .2f}, {-1, -1, -1}};
  for (int i = 0; i < 18; ++i) w.data<float>()[i] = rows[i / 3][i % 3];
  const int gap = t.node("GlobalAveragePool", "gap", {x});
  const int flat = t.node("Flatten", "flatten", {gap});
  const int logits = t.node("Gemm", "fc", {flat, t.constant("fc.w", w)}, {{"transB", int64_t(1)}});
  t.output(logits);
  if (with_ranges) {
    for (int v : {x, gap, flat}) t.range(v, 1.f, DataType::u8);
  }
  t.g.metadata_json = metadata;
  return t.model();
}

// A gray-image classifier over [batch, 1, side, side], 10 classes: logits
// k * 10.2 * mean - k^2 / 2, so an image of solid value 25 * label (mean
// 25 * label / 255 in [0, 1]) is classified as its label, by a margin of 0.5.
Model gray_classifier(int64_t side) {
  test::TestGraph t;
  const int x = t.input("x", {1, 1, side, side});
  t.g.values[x].shape->at(0) = Dim{-1, "batch"};
  Tensor w(DataType::f32, {10, 1}), b(DataType::f32, {10});
  for (int k = 0; k < 10; ++k) {
    w.data<float>()[k] = k * 255.f / 25;
    b.data<float>()[k] = -0.5f * k * k;
  }
  const int gap = t.node("GlobalAveragePool", "gap", {x});
  const int flat = t.node("Flatten", "flatten", {gap});
  t.output(t.node("Gemm", "fc", {flat, t.constant("fc.w", w), t.constant("fc.b", b)},
                  {{"transB", int64_t(1)}}));
  return t.model();
}

// 0-red, 1-green, 2-blue: solid images of assorted sizes (the model's
// metadata resizes and crops them to 4x4); 2-blue/b3.png is green.
void write_colors(const test::TempDir& dir) {
  const uint8_t colors[3][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}};
  const char* folders[3] = {"0-red", "1-green", "2-blue"};
  const int counts[3] = {4, 4, 5};
  for (int c = 0; c < 3; ++c) {
    fs::create_directories(dir.file(std::string("data/") + folders[c]));
    for (int i = 0; i < counts[c]; ++i) {
      const uint8_t* rgb = c == 2 && i == 3 ? colors[1] : colors[c];
      const std::string name = std::string("data/") + folders[c] + "/" + "rgb"[c] +
                               std::to_string(i) + (i % 2 ? ".png" : ".jpg");
      test::write_image(dir.file(name), test::solid(5 + i, 4 + 2 * i, rgb[0], rgb[1], rgb[2]),
                        i % 2 ? test::Format::png : test::Format::jpg);
    }
  }
}

}  // namespace

TEST_CASE("data flags: the model's metadata, overridden by the flags given") {
  const Model model =
      classifier(false, R"({"preprocess": {"resize": 36, "crop": 32, "mean": [0.5, 0.5, 0.5],
                 "std": [0.25, 0.25, 0.25]}, "other": 1})");
  ImagePreprocess p = resolve_preprocess(model, "m", parse_flags({"--data", "d"}).preprocess);
  CHECK(p.resize == 36);
  CHECK((p.crop_height == 32 && p.crop_width == 32));
  CHECK(p.mean == std::vector<float>{0.5f, 0.5f, 0.5f});

  p = resolve_preprocess(model, "m",
                         parse_flags({"--data", "d", "--resize", "40x50", "--crop", "24x30",
                                      "--bgr", "--scale", "255", "--nhwc", "--mean", "1,2,3"})
                             .preprocess);
  CHECK((p.resize == 0 && p.resize_height == 40 && p.resize_width == 50));
  CHECK((p.crop_height == 24 && p.crop_width == 30));
  CHECK(p.channels == ImageChannels::bgr);
  CHECK(p.scale == 255);
  CHECK(p.layout == ImageLayout::nhwc);
  CHECK(p.mean == std::vector<float>{1, 2, 3});
  CHECK(p.std == std::vector<float>{0.25f, 0.25f, 0.25f});  // from the metadata

  // --grayscale needs one mean/std value: the metadata's three no longer fit.
  CHECK_THROWS_WITH_AS(
      resolve_preprocess(model, "m", parse_flags({"--data", "d", "--grayscale"}).preprocess),
      doctest::Contains("mean has 3 values, but the image has 1 channel"), Error);
  p = resolve_preprocess(
      model, "m",
      parse_flags({"--data", "d", "--grayscale", "--mean", "0.5", "--std", "0.2"}).preprocess);
  CHECK(p.channel_count() == 1);

  // No metadata: the defaults; malformed metadata names the model.
  CHECK(resolve_preprocess(classifier(false, "{}"), "m", {}) == ImagePreprocess{});
  CHECK_THROWS_WITH_AS(
      resolve_preprocess(classifier(false, R"({"preprocess": {"scale": 0.5}})"), "net", {}),
      doctest::Contains("net: metadata preprocess.scale"), Error);

  // Malformed values are usage errors.
  for (const std::vector<std::string>& bad : {std::vector<std::string>{"--crop", "0x5"},
                                              {"--crop", "axb"},
                                              {"--resize", "99999"},
                                              {"--scale", "3"},
                                              {"--rgb", "--bgr"},
                                              {"--nchw", "--nhwc"},
                                              {"--samples", "3", "--per-class-samples", "2"},
                                              {"--skip", "1", "--per-class-skip", "1"}}) {
    std::vector<std::string> args = {"--data", "d"};
    args.insert(args.end(), bad.begin(), bad.end());
    CAPTURE(bad[0]);
    CHECK_THROWS_AS(parse_flags(args), CLI::ParseError);
  }
  CHECK_THROWS_AS(parse_flags({}), CLI::ParseError);  // --data is required
}

TEST_CASE("data flags: sample selection") {
  test::TempDir dir;
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < 3; ++i) {
      fs::create_directories(dir.file("c" + std::to_string(c)));
      test::write_image(dir.file("c" + std::to_string(c) + "/" + std::to_string(i) + ".png"),
                        test::solid(2, 2, 1, 2, 3));
    }
  const Dataset d = Dataset::open(dir.path());
  auto pick = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--data", "d"});
    return select_samples(d, parse_flags(args).selection);
  };
  CHECK(pick({}).size() == 6);
  CHECK(pick({"--skip", "4"}) == std::vector<size_t>{4, 5});
  CHECK(pick({"--samples", "2", "--skip", "1"}) == std::vector<size_t>{1, 2});
  CHECK(pick({"--per-class-samples", "1"}) == std::vector<size_t>{0, 3});
  CHECK(pick({"--per-class-skip", "2"}) == std::vector<size_t>{2, 5});
  CHECK(pick({"--per-class-skip", "1", "--per-class-samples", "1"}) == std::vector<size_t>{1, 4});
  CHECK(describe_selection(d, parse_flags({"--data", "d", "--per-class-skip", "1"}).selection) ==
        "samples [1, end) of each of 2 classes");
  CHECK(describe_selection(d, parse_flags({"--data", "d", "--samples", "3"}).selection) ==
        "samples [0, 3)");
}

TEST_CASE("cli: octet eval on a classifier of solid colors") {
  OCTET_REQUIRE_CLI();
  test::TempDir dir;
  write_colors(dir);
  const std::string metadata = R"({"preprocess": {"resize": 4, "crop": [4, 4]}})";
  classifier(false, metadata).save(dir.file("fp32"));
  classifier(true, metadata).save(dir.file("int8"));
  const std::string data = " --data " + dir.file("data") + " --threads 1";

  // 13 images, the impostor wrong at top-1 but within the top 5.
  CliResult r = octet_cli(dir, "eval " + dir.file("fp32") + data + " --json");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["samples"] == 13);
  CHECK(j["classes"] == 6);
  CHECK(j["fp32"]["correct_top1"] == 12);
  CHECK(j["fp32"]["correct_top5"] == 13);
  CHECK(j["fp32"]["top1"].get<double>() == doctest::Approx(12.0 / 13));
  CHECK(j["int8"].is_null());
  CHECK(has(j["int8_note"].get<std::string>(), "no activation ranges"));
  CHECK(j["agreement_top1"].is_null());
  CHECK(j["preprocess"]["resize"] == 4);

  // int8 too; batches of 5, the last one (3 samples) padded.
  r = octet_cli(dir, "eval " + dir.file("int8") + data + " --batch 5 --json");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  j = nlohmann::json::parse(r.out);
  CHECK(j["batch"] == 5);
  CHECK(j["input"] == std::vector<int64_t>{5, 3, 4, 4});
  CHECK(j["fp32"]["correct_top1"] == 12);
  CHECK(j["int8"]["correct_top1"] == 12);
  CHECK(j["int8"]["correct_top5"] == 13);
  CHECK(j["agreement_top1"] == 1.0);

  r = octet_cli(dir, "eval " + dir.file("int8") + data + " --batch 4");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(has(r.out, "fp32        top-1 92.31% (12/13)  top-5 100.00% (13/13)"));
  CHECK(has(r.out, "int8        top-1 92.31% (12/13)"));
  CHECK(has(r.out, "agreement   100.00% (13/13)"));
  CHECK(has(r.out, "3 classes"));
  CHECK(has(r.out, "images/s"));
  CHECK(has(r.out, "resize 4, crop 4x4, rgb, [0,1], NCHW"));

  // --verbose: each session's precision report on stderr, the results unchanged.
  CHECK_FALSE(has(r.err, "=== Precision report"));
  r = octet_cli(dir, "eval " + dir.file("int8") + data + " --batch 4 --verbose");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(has(r.out, "agreement   100.00% (13/13)"));
  const size_t fp32_report = r.err.find("=== Precision report: " + dir.file("int8") + ", fp32");
  const size_t int8_report = r.err.find("=== Precision report: " + dir.file("int8") + ", int8");
  REQUIRE(fp32_report != std::string::npos);
  REQUIRE(int8_report != std::string::npos);
  CHECK(has(r.err.substr(fp32_report, int8_report - fp32_report), "fp32 requested"));
  const size_t fc = r.err.find("\nfc ", int8_report);
  REQUIRE(fc != std::string::npos);
  const std::string fc_row = r.err.substr(fc + 1, r.err.find('\n', fc + 1) - fc - 1);
  CAPTURE(fc_row);
  CHECK(has(fc_row, " Gemm "));
  CHECK(has(fc_row, " int8 "));

  // Per class: samples [1, 3) of each leave the impostor (blue's 4th) out;
  // [3, end) has blue's 4th and 5th, red's and green's 4th.
  r = octet_cli(
      dir, "eval " + dir.file("int8") + data + " --per-class-skip 1 --per-class-samples 2 --json");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  j = nlohmann::json::parse(r.out);
  CHECK(j["samples"] == 6);
  CHECK(j["int8"]["correct_top1"] == 6);
  r = octet_cli(dir, "eval " + dir.file("int8") + data + " --per-class-skip 3 --json --fp32-only");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  j = nlohmann::json::parse(r.out);
  CHECK(j["samples"] == 4);
  CHECK(j["fp32"]["correct_top1"] == 3);
  CHECK(j["int8"].is_null());
  CHECK(has(j["int8_note"].get<std::string>(), "--fp32-only"));

  // Flags override the metadata: a 2x2 crop no longer fits the model's 4x4.
  r = octet_cli(dir, "eval " + dir.file("fp32") + data + " --crop 2");
  CHECK(r.code == 1);
  CHECK(has(r.err, "octet eval: error: " + dir.file("data/0-red/r0.jpg")));
  CHECK(has(r.err, "is 3x2x2 after preprocessing"));
  CHECK(has(r.err, "expects 3x4x4 per sample"));

  // Data without labels, an empty selection, a missing folder, usage errors.
  fs::create_directories(dir.file("flat"));
  test::write_image(dir.file("flat/a.png"), test::solid(4, 4, 1, 2, 3));
  r = octet_cli(dir, "eval " + dir.file("fp32") + " --data " + dir.file("flat"));
  CHECK(r.code == 1);
  CHECK(has(r.err, "no labels"));
  r = octet_cli(dir, "eval " + dir.file("fp32") + data + " --skip 13");
  CHECK(r.code == 1);
  CHECK(has(r.err, "is empty"));
  r = octet_cli(dir, "eval " + dir.file("fp32") + " --data " + dir.file("nope"));
  CHECK(r.code == 1);
  CHECK(has(r.err, dir.file("nope") + ": no such file or directory"));
  r = octet_cli(dir, "eval " + dir.file("fp32"));
  CHECK(r.code == 2);
  CHECK(has(r.err, "--data"));
  r = octet_cli(dir, "eval " + dir.file("fp32") + data + " --scale 3");
  CHECK(r.code == 2);
}

TEST_CASE("cli: octet eval on gzipped IDX images, gray by default") {
  OCTET_REQUIRE_CLI();
  test::TempDir dir;
  gray_classifier(4).save(dir.file("gray"));
  // 12 images of 4x4: labels 0..9, 3, 4; image 11 is drawn as a 5.
  const std::vector<uint8_t> labels = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 3, 4};
  test::write_file(dir.file("t-images-idx3-ubyte.gz"),
                   test::gzip(test::idx_images(
                       12, 4, 4, [&](uint32_t i) { return 25 * (i == 11 ? 5 : labels[i]); })));
  test::write_file(dir.file("t-labels-idx1-ubyte.gz"), test::gzip(test::idx_labels(labels)));
  const std::string data = " --data " + dir.file("t-images-idx3-ubyte.gz") + " --threads 1";
  CliResult r = octet_cli(dir, "eval " + dir.file("gray") + data + " --json --batch 5");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["samples"] == 12);
  CHECK(j["classes"] == 10);
  CHECK(j["input"] == std::vector<int64_t>{5, 1, 4, 4});
  CHECK(j["preprocess"]["channels"] == "gray");
  CHECK(j["fp32"]["correct_top1"] == 11);
  r = octet_cli(dir, "eval " + dir.file("gray") + data + " --per-class-samples 1");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(has(r.out, "12 samples, 10 classes"));
  CHECK(has(r.out, "top-1 100.00% (10/10)"));
  // --rgb overrides the gray default: three channels, which the model refuses.
  r = octet_cli(dir, "eval " + dir.file("gray") + data + " --rgb");
  CHECK(r.code == 1);
  CHECK(has(r.err, dir.file("t-images-idx3-ubyte.gz") + "[0]: the 4x4 (WxH) image is 3x4x4"));
}

TEST_CASE("cli: octet eval on Fashion-MNIST's gzipped IDX test set") {
  OCTET_REQUIRE_CLI();
  const std::string fashion = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  if (!fs::exists(fashion)) {
    OCTET_SKIP(fashion << " is missing (apt-get install dataset-fashion-mnist)");
  }
  test::TempDir dir;
  gray_classifier(28).save(dir.file("gray28"));
  CliResult r = octet_cli(dir, "eval " + dir.file("gray28") + " --data " + fashion +
                                   " --per-class-samples 20 --threads 1 --json");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["samples"] == 200);
  CHECK(j["classes"] == 10);
  CHECK(j["input"] == std::vector<int64_t>{32, 1, 28, 28});
}

#endif  // OCTET_HAVE_CLI_LIB
