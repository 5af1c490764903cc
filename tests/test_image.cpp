// loaders/image: decoding, every preprocessing step against a hand
// computation, the "preprocess" JSON, and every rejection.
#include <doctest/doctest.h>

#include <cstring>
#include <initializer_list>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "loaders/data/image.hpp"
#include "tests/image_fixtures.hpp"
#include "tests/temp_dir.hpp"

using namespace octet;
using octet::test::check_error;
using octet::test::Format;
using octet::test::Pixels;

namespace {

float at(const Tensor& t, std::initializer_list<int64_t> index) {
  int64_t offset = 0;
  size_t d = 0;
  for (int64_t i : index) offset = offset * t.dim(d++) + i;
  return t.data<float>()[offset];
}

// 4 wide, 3 high; every byte distinct.
Pixels small() {
  return test::make_pixels(4, 3, [](int y, int x, int c) { return 10 * y + 2 * x + 50 * c + 1; });
}

Image decode(const std::string& bytes, const std::string& name = "mem.png") {
  return decode_image(bytes.data(), bytes.size(), name);
}

Tensor run(const Pixels& p, const ImagePreprocess& pp) {
  return preprocess(decode(test::encode(p, Format::png)), pp, "mem.png");
}

}  // namespace

TEST_CASE("image: PNG and BMP decode exactly, JPEG closely, gray and alpha become RGB") {
  const Pixels p = small();
  for (Format f : {Format::png, Format::bmp}) {
    const Image img = decode(test::encode(p, f));
    REQUIRE(img.width == 4);
    REQUIRE(img.height == 3);
    for (size_t i = 0; i < p.rgb.size(); ++i) CHECK(img.pixels.get()[i] == p.rgb[i]);
  }
  // A top-down BMP (negative height): the same rows, in the other order.
  std::string bmp = test::encode(p, Format::bmp);
  const int32_t height = -3;
  std::memcpy(&bmp[22], &height, 4);  // biHeight, little-endian
  const Image flipped = decode(bmp);
  REQUIRE((flipped.width == 4 && flipped.height == 3));
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x)
      for (int c = 0; c < 3; ++c)
        CHECK(flipped.pixels.get()[(y * 4 + x) * 3 + c] == p.at(2 - y, x, c));
  const Image jpg = decode(test::encode(test::solid(16, 8, 200, 100, 30), Format::jpg, 100));
  REQUIRE((jpg.width == 16 && jpg.height == 8));
  for (int i = 0; i < 16 * 8 * 3; ++i) {
    const int want = i % 3 == 0 ? 200 : i % 3 == 1 ? 100 : 30;
    CHECK(std::abs(jpg.pixels.get()[i] - want) <= 3);
  }
  // A 1-channel and a 4-channel PNG: gray replicated, alpha dropped.
  const uint8_t gray[2] = {7, 250};
  std::string bytes;
  stbi_write_png_to_func(test::append_bytes, &bytes, 2, 1, 1, gray, 0);
  Image g = decode(bytes);
  CHECK((g.pixels.get()[0] == 7 && g.pixels.get()[2] == 7 && g.pixels.get()[3] == 250));
  const uint8_t rgba[4] = {1, 2, 3, 4};
  bytes.clear();
  stbi_write_png_to_func(test::append_bytes, &bytes, 1, 1, 4, rgba, 0);
  g = decode(bytes);
  CHECK((g.pixels.get()[0] == 1 && g.pixels.get()[1] == 2 && g.pixels.get()[2] == 3));
}

TEST_CASE("image: channels, value scale, mean/std and layout, value by value") {
  const Pixels p = small();
  ImagePreprocess pp;
  Tensor t = run(p, pp);
  REQUIRE(t.shape() == Shape{1, 3, 3, 4});
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x)
      for (int c = 0; c < 3; ++c) CHECK(at(t, {0, c, y, x}) == p.at(y, x, c) / 255.f);

  pp.channels = ImageChannels::bgr;
  pp.scale = 255;
  t = run(p, pp);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x)
      for (int c = 0; c < 3; ++c) CHECK(at(t, {0, c, y, x}) == p.at(y, x, 2 - c));

  pp = {};
  pp.channels = ImageChannels::gray;
  pp.layout = ImageLayout::nhwc;
  t = run(p, pp);
  REQUIRE(t.shape() == Shape{1, 3, 4, 1});
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x) {
      const double luma = 0.299 * p.at(y, x, 0) + 0.587 * p.at(y, x, 1) + 0.114 * p.at(y, x, 2);
      CHECK(at(t, {0, y, x, 0}) == doctest::Approx(luma / 255).epsilon(1e-6));
    }

  pp = {};
  pp.mean = {0.5f, 0.4f, 0.3f};
  pp.std = {0.2f, 0.25f, 0.5f};
  pp.layout = ImageLayout::nhwc;
  t = run(p, pp);
  REQUIRE(t.shape() == Shape{1, 3, 4, 3});
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x)
      for (int c = 0; c < 3; ++c) {
        const double want = (p.at(y, x, c) / 255.0 - pp.mean[c]) / pp.std[c];
        CHECK(at(t, {0, y, x, c}) == doctest::Approx(want).epsilon(1e-5));
      }
}

TEST_CASE("image: center crop offsets round as torchvision's (half to even)") {
  // 8 wide, 5 high.
  const Pixels p = test::make_pixels(8, 5, [](int y, int x, int c) { return 10 * y + x + 60 * c; });
  struct Case {
    int h, w, top, left;
  };
  // Differences: 5-3=2 -> 1, 8-3=5 -> round(2.5)=2, 5-2=3 -> round(1.5)=2,
  // 8-5=3 -> 2, 5-1=4 -> 2, 8-1=7 -> round(3.5)=4.
  for (const Case& k : {Case{3, 3, 1, 2}, Case{2, 5, 2, 2}, Case{1, 1, 2, 4}, Case{5, 8, 0, 0}}) {
    CAPTURE(k.h);
    CAPTURE(k.w);
    ImagePreprocess pp;
    pp.crop_height = k.h;
    pp.crop_width = k.w;
    pp.scale = 255;
    const Tensor t = run(p, pp);
    REQUIRE(t.shape() == Shape{1, 3, k.h, k.w});
    for (int y = 0; y < k.h; ++y)
      for (int x = 0; x < k.w; ++x)
        for (int c = 0; c < 3; ++c) CHECK(at(t, {0, c, y, x}) == p.at(y + k.top, x + k.left, c));
  }
}

TEST_CASE("image: bilinear resize with half-pixel centers") {
  // Upscaling 2 -> 4: source positions -0.25 (clamped), 0.25, 0.75, 1.25
  // (clamped), so the weights of the two source pixels are these rows.
  const double up[4][2] = {{1, 0}, {0.75, 0.25}, {0.25, 0.75}, {0, 1}};
  const Pixels two =
      test::make_pixels(2, 2, [](int y, int x, int c) { return 40 * y + 100 * x + c; });
  ImagePreprocess pp;
  pp.resize_height = pp.resize_width = 4;
  pp.scale = 255;
  Tensor t = run(two, pp);
  REQUIRE(t.shape() == Shape{1, 3, 4, 4});
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x)
      for (int c = 0; c < 3; ++c) {
        double want = 0;
        for (int i = 0; i < 2; ++i)
          for (int j = 0; j < 2; ++j) want += up[y][i] * up[x][j] * two.at(i, j, c);
        CHECK(at(t, {0, c, y, x}) == doctest::Approx(want).epsilon(1e-6));
      }

  // Downscaling 4 -> 2 samples at 0.5 and 2.5: the mean of each 2x2 block.
  const Pixels four =
      test::make_pixels(4, 4, [](int y, int x, int c) { return 13 * y + 7 * x + c; });
  pp.resize_height = pp.resize_width = 2;
  t = run(four, pp);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 2; ++x)
      for (int c = 0; c < 3; ++c) {
        const double want = (four.at(2 * y, 2 * x, c) + four.at(2 * y, 2 * x + 1, c) +
                             four.at(2 * y + 1, 2 * x, c) + four.at(2 * y + 1, 2 * x + 1, c)) /
                            4.0;
        CHECK(at(t, {0, c, y, x}) == doctest::Approx(want).epsilon(1e-6));
      }

  // Shorter side to N: the longer side is floor(N * long / short).
  auto shape_of = [](int w, int h, int n) {
    ImagePreprocess q;
    q.resize = n;
    return preprocessed_shape(Image{w, h, nullptr}, q, "x");
  };
  CHECK(shape_of(6, 3, 2) == Shape{3, 2, 4});
  CHECK(shape_of(5, 3, 2) == Shape{3, 2, 3});  // 10 / 3
  CHECK(shape_of(3, 7, 2) == Shape{3, 4, 2});  // 14 / 3
  CHECK(shape_of(500, 375, 256) == Shape{3, 256, 341});

  // A resize to the image's own size changes nothing, to the bit.
  const Pixels p = small();
  pp = {};
  const Tensor plain = run(p, pp);
  pp.resize = 3;
  const Tensor same = run(p, pp);
  REQUIRE(same.shape() == plain.shape());
  for (int64_t i = 0; i < plain.numel(); ++i)
    CHECK(same.data<float>()[i] == plain.data<float>()[i]);

  // Resize then crop: 8x4 -> 4x2, crop 2x2 at left 1: 2x2 block means of columns 2..5.
  const Pixels wide =
      test::make_pixels(8, 4, [](int y, int x, int c) { return 9 * y + 5 * x + c; });
  pp = {};
  pp.resize = 2;
  pp.crop_height = pp.crop_width = 2;
  pp.scale = 255;
  t = run(wide, pp);
  REQUIRE(t.shape() == Shape{1, 3, 2, 2});
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 2; ++x) {
      const int sx = 2 * (x + 1), sy = 2 * y;
      const double want = (wide.at(sy, sx, 1) + wide.at(sy, sx + 1, 1) + wide.at(sy + 1, sx, 1) +
                           wide.at(sy + 1, sx + 1, 1)) /
                          4.0;
      CHECK(at(t, {0, 1, y, x}) == doctest::Approx(want).epsilon(1e-6));
    }
}

TEST_CASE("image: files, and load_image end to end") {
  test::TempDir dir;
  test::write_image(dir.file("a.png"), small());
  ImagePreprocess pp;
  pp.crop_height = pp.crop_width = 2;
  const Tensor t = load_image(dir.file("a.png"), pp);
  REQUIRE(t.shape() == Shape{1, 3, 2, 2});
  // Height 3 -> 2: top round(0.5) = 0; width 4 -> 2: left 1.
  CHECK(at(t, {0, 2, 1, 1}) == small().at(1, 1 + 1, 2) / 255.f);
}

TEST_CASE(
    "image: missing, unreadable, corrupt, empty and absurd files are errors naming the file") {
  test::TempDir dir;
  check_error([&] { read_image(dir.file("none.jpg")); }, ErrorCode::io,
              {dir.file("none.jpg"), "no such file"});
  check_error([&] { read_image(dir.path()); }, ErrorCode::io, {dir.path(), "directory"});

  const std::string jpg = test::encode(
      test::make_pixels(16, 16, [](int y, int x, int c) { return 16 * y + x + c; }), Format::jpg);
  // Truncated in the entropy-coded data, in the tables, and in the frame header.
  for (size_t cut : {jpg.size() / 2, size_t(200), size_t(20)}) {
    CAPTURE(cut);
    test::write_file(dir.file("cut.jpg"), jpg.substr(0, cut));
    check_error([&] { read_image(dir.file("cut.jpg")); }, ErrorCode::invalid_model,
                {dir.file("cut.jpg"), "corrupt JPEG: "});
  }
  std::mt19937 rng(7);
  std::string noise(300, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  test::write_file(dir.file("noise.jpg"), "\xff\xd8\xff" + noise);
  check_error([&] { read_image(dir.file("noise.jpg")); }, ErrorCode::invalid_model,
              {dir.file("noise.jpg"), "corrupt JPEG"});
  noise[0] = 'x';
  test::write_file(dir.file("noise.png"), noise);
  check_error([&] { read_image(dir.file("noise.png")); }, ErrorCode::invalid_model,
              {dir.file("noise.png"), "not a JPEG, PNG or BMP image (first bytes 78 "});
  test::write_file(dir.file("empty.png"), "");
  check_error([&] { read_image(dir.file("empty.png")); }, ErrorCode::invalid_model,
              {dir.file("empty.png"), "an empty file"});

  // 0 pixels wide: a BMP header says so (stb_image accepts it), a PNG one too
  // (stb_image refuses it itself).
  std::string bmp = test::encode(test::solid(1, 1, 1, 2, 3), Format::bmp);
  bmp[18] = 0;  // biWidth, little-endian at offset 18
  test::write_file(dir.file("zero.bmp"), bmp);
  check_error([&] { read_image(dir.file("zero.bmp")); }, ErrorCode::invalid_model,
              {dir.file("zero.bmp"), "the image is 0x1 (WxH)"});
  std::string png = test::encode(test::solid(1, 1, 1, 2, 3), Format::png);
  png[19] = 0;  // IHDR width, big-endian at offset 16
  test::write_file(dir.file("zero.png"), png);
  check_error([&] { read_image(dir.file("zero.png")); }, ErrorCode::invalid_model,
              {dir.file("zero.png"), "corrupt PNG"});

  // 20001 pixels wide: refused from the header, before stb_image allocates.
  png[16] = 0;
  png[17] = 0;
  png[18] = 0x4e;
  png[19] = 0x21;
  test::write_file(dir.file("wide.png"), png);
  check_error([&] { read_image(dir.file("wide.png")); }, ErrorCode::invalid_model,
              {dir.file("wide.png"), "20001x1 (WxH), more than 16384 pixels a side"});
  const std::string ok = test::encode(small(), Format::png);
  check_error([&] { decode_image(ok.data(), ok.size(), "m.png", 3); }, ErrorCode::invalid_model,
              {"m.png: ", "more than 3 pixels a side"});

  // A chunk length larger than the file: stb_image would allocate it (2 GiB
  // here) before noticing the data is missing. Found by fuzz_image.
  std::string huge = ok;
  REQUIRE(huge.compare(37, 4, "IDAT") == 0);  // after the 8-byte signature and 25-byte IHDR
  huge[33] = '\x7f';
  huge[34] = huge[35] = huge[36] = '\xff';
  check_error([&] { decode_image(huge.data(), huge.size(), "h.png"); }, ErrorCode::invalid_model,
              {"h.png: ", "chunk 'IDAT' at byte 33 declares 2147483647 bytes of data"});
  const std::string cut = ok.substr(0, 39);
  check_error([&] { decode_image(cut.data(), cut.size(), "c.png"); }, ErrorCode::invalid_model,
              {"c.png: ", "truncated PNG: a chunk header at byte 33 is cut off"});
}

TEST_CASE("image: preprocessing that does not fit is invalid_argument naming the file or field") {
  const Image img = decode(test::encode(small(), Format::png));
  ImagePreprocess pp;
  pp.crop_height = 3;
  pp.crop_width = 5;
  check_error([&] { preprocess(img, pp, "cat.png"); }, ErrorCode::invalid_argument,
              {"cat.png: ", "crop 3x5 (HxW) is larger than the image, 3x4"});
  pp.resize = 2;
  pp.crop_height = 3;
  pp.crop_width = 3;
  check_error([&] { preprocess(img, pp, "cat.png"); }, ErrorCode::invalid_argument,
              {"cat.png: ", "larger than the image, 2x2 after resizing"});

  pp = {};
  pp.mean = {0.5f, 0.5f};
  pp.std = {1, 1};
  check_error([&] { preprocess(img, pp, "cat.png"); }, ErrorCode::invalid_argument,
              {"mean has 2 values, but the image has 3 channels"});
  pp.channels = ImageChannels::gray;
  check_error([&] { validate(pp); }, ErrorCode::invalid_argument,
              {"mean has 2 values, but the image has 1 channel"});
  pp.mean = {0.5f};
  pp.std = {0};
  check_error([&] { validate(pp); }, ErrorCode::invalid_argument, {"std holds 0"});
  pp.std = {};
  check_error([&] { validate(pp); }, ErrorCode::invalid_argument, {"mean without std"});
  pp = {};
  pp.scale = 2;
  check_error([&] { validate(pp); }, ErrorCode::invalid_argument, {"scale is 2"});
  pp = {};
  pp.resize = 10;
  pp.resize_height = pp.resize_width = 5;
  check_error([&] { validate(pp); }, ErrorCode::invalid_argument, {"not both"});
  pp = {};
  pp.crop_height = 20000;
  pp.crop_width = 1;
  check_error([&] { validate(pp); }, ErrorCode::invalid_argument, {"[0, 16384]"});
}

TEST_CASE("image: the metadata \"preprocess\" object") {
  const auto j = nlohmann::json::parse(R"({"resize": 256, "crop": [224, 200], "channels": "bgr",
      "scale": 255, "mean": [103.9, 116.8, 123.7], "std": [1, 1, 1], "layout": "nhwc"})");
  const ImagePreprocess p = preprocess_from_json(j);
  CHECK(p.resize == 256);
  CHECK((p.crop_height == 224 && p.crop_width == 200));
  CHECK(p.channels == ImageChannels::bgr);
  CHECK(p.scale == 255);
  CHECK(p.mean == std::vector<float>{103.9f, 116.8f, 123.7f});
  CHECK(p.layout == ImageLayout::nhwc);
  CHECK(preprocess_from_json(preprocess_to_json(p)) == p);
  CHECK(describe(p) ==
        "resize 256, crop 224x200, bgr, [0,255], mean 103.9,116.8,123.7, std 1,1,1, NHWC");

  const ImagePreprocess q = preprocess_from_json(
      nlohmann::json::parse(R"({"resize": [32, 48], "crop": 32, "channels": "gray"})"));
  CHECK((q.resize == 0 && q.resize_height == 32 && q.resize_width == 48));
  CHECK((q.crop_height == 32 && q.crop_width == 32));
  CHECK(preprocess_from_json(preprocess_to_json(q)) == q);
  CHECK(preprocess_from_json(nlohmann::json::object()) == ImagePreprocess{});

  auto bad = [](const char* text, std::initializer_list<std::string> needles) {
    check_error([&] { preprocess_from_json(nlohmann::json::parse(text)); },
                ErrorCode::invalid_argument, needles);
  };
  bad(R"({"scale": 0.00392156862745098})", {"preprocess.scale", "not 1"});
  bad(R"({"stdev": [1, 1, 1]})", {"preprocess.stdev: unknown key"});
  bad(R"({"crop": "224"})", {"preprocess.crop", "integer"});
  bad(R"({"crop": [1, 2, 3]})", {"preprocess.crop", "[H, W]"});
  bad(R"({"resize": -3})", {"preprocess.resize", "out of range"});
  bad(R"({"channels": "rgba"})", {"preprocess.channels", "rgba"});
  bad(R"({"mean": [0.5, "a", 0.5], "std": [1, 1, 1]})", {"preprocess.mean"});
  bad(R"({"mean": [0.5, 0.5], "std": [1, 1]})", {"mean has 2 values"});
  bad(R"([1, 2])", {"expected an object"});
}
