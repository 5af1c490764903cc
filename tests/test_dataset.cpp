// loaders/dataset: folders with and without classes, list files, .npy data,
// sample selection, loading into batches, the fingerprint, and every error.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "loaders/data/dataset.hpp"
#include "loaders/data/npy.hpp"
#include "tests/idx_fixtures.hpp"
#include "tests/image_fixtures.hpp"
#include "tests/skip.hpp"
#include "tests/temp_dir.hpp"

using namespace octet;
using octet::test::check_error;
namespace fs = std::filesystem;

namespace {

// Writes a solid w x h PNG at dir/rel, creating folders; the color encodes `id`.
void image(const test::TempDir& dir, const std::string& rel, int id, int w = 4, int h = 4) {
  const fs::path path = fs::path(dir.path()) / rel;
  fs::create_directories(path.parent_path());
  test::write_image(path.string(), test::solid(w, h, uint8_t(id), uint8_t(2 * id), 7));
}

void text(const std::string& path, const std::string& content) {
  std::ofstream(path) << content;
}

std::vector<std::string> names(const Dataset& d) {
  std::vector<std::string> out;
  for (size_t i = 0; i < d.size(); ++i) out.push_back(d.sample_name(i));
  return out;
}

std::vector<int> labels(const Dataset& d) {
  std::vector<int> out;
  for (size_t i = 0; i < d.size(); ++i) out.push_back(d.label(i));
  return out;
}

Tensor f32(Shape shape, float start) {
  Tensor t(DataType::f32, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = start + float(i);
  return t;
}

}  // namespace

TEST_CASE("dataset: class folders are labelled in sorted name order, samples sorted by path") {
  test::TempDir dir;
  // Created out of order; "a-b" sorts after "a" as a name, though "a-b/" < "a/" as a path.
  image(dir, "dog/2.png", 1);
  image(dir, "a-b/x.jpg", 2);
  image(dir, "a/z.png", 3);
  image(dir, "a/sub/b.png", 4);
  image(dir, "a/c.BMP", 5);
  image(dir, "dog/10.png", 6);
  text(dir.file("dog/notes.txt"), "ignored");
  image(dir, "dog/.hidden.png", 7);
  image(dir, ".cache/y.png", 8);  // a hidden folder is not a class
  const Dataset d = Dataset::open(dir.path());
  CHECK(d.class_names() == std::vector<std::string>{"a", "a-b", "dog"});
  CHECK(d.class_count() == 3);
  CHECK(names(d) == std::vector<std::string>{"a/c.BMP", "a/sub/b.png", "a/z.png", "a-b/x.jpg",
                                             "dog/10.png", "dog/2.png"});
  CHECK(labels(d) == std::vector<int>{0, 0, 0, 1, 2, 2});
  CHECK(d.labeled());
  CHECK(!d.is_npy());
  CHECK(d.sample_path(3) == (fs::path(dir.path()) / "a-b/x.jpg").string());
}

TEST_CASE("dataset: a folder with files of its own is one unlabelled, recursive list") {
  test::TempDir dir;
  image(dir, "b.png", 1);
  image(dir, "sub/a.png", 2);
  image(dir, "a.png", 3);
  const Dataset d = Dataset::open(dir.path());
  CHECK(names(d) == std::vector<std::string>{"a.png", "b.png", "sub/a.png"});
  CHECK(labels(d) == std::vector<int>{-1, -1, -1});
  CHECK(!d.labeled());
  CHECK(d.class_count() == 0);
  check_error([&] { d.select_per_class(0, 1); }, ErrorCode::invalid_argument, {"no labels"});
}

TEST_CASE("dataset: per-class and flat selection") {
  test::TempDir dir;
  for (int i = 0; i < 3; ++i) image(dir, "c0/" + std::to_string(i) + ".png", i);
  for (int i = 0; i < 2; ++i) image(dir, "c1/" + std::to_string(i) + ".png", i);
  for (int i = 0; i < 4; ++i) image(dir, "c2/" + std::to_string(i) + ".png", i);
  const Dataset d = Dataset::open(dir.path());
  REQUIRE(d.size() == 9);
  // Indices: c0 0-2, c1 3-4, c2 5-8. Samples [1, 3) of each class; c1 has one.
  CHECK(d.select_per_class(1, 2) == std::vector<size_t>{1, 2, 4, 6, 7});
  CHECK(d.select_per_class(0, 1) == std::vector<size_t>{0, 3, 5});
  CHECK(d.select_per_class(3, 10) == std::vector<size_t>{8});
  CHECK(d.select_per_class(0, size_t(-1)).size() == 9);
  CHECK(d.select(2, 3) == std::vector<size_t>{2, 3, 4});
  CHECK(d.select(7, 100) == std::vector<size_t>{7, 8});
  CHECK(d.select(9, 1).empty());
}

TEST_CASE("dataset: list files") {
  test::TempDir dir;
  image(dir, "img/a.png", 1);
  image(dir, "img/b c.png", 2);  // a space in the name
  image(dir, "other/d.png", 3);
  text(dir.file("list.txt"),
       "# a comment\n\nimg/b c.png 2\n  img/a.png\t0\r\n" + dir.file("other/d.png") + " 11\n");
  Dataset d = Dataset::open(dir.file("list.txt"));
  CHECK(names(d) == std::vector<std::string>{"img/b c.png", "img/a.png", dir.file("other/d.png")});
  CHECK(labels(d) == std::vector<int>{2, 0, 11});
  CHECK(d.class_count() == 12);
  CHECK(d.class_names().empty());
  CHECK(d.select_per_class(0, 1) == std::vector<size_t>{1, 0, 2});  // labels 0, 2, 11

  text(dir.file("plain.txt"), "img/a.png\nimg/b c.png\n");
  d = Dataset::open(dir.file("plain.txt"));
  CHECK(labels(d) == std::vector<int>{-1, -1});

  text(dir.file("missing.txt"), "img/a.png 0\n# x\nimg/nope.png 1\n");
  check_error([&] { Dataset::open(dir.file("missing.txt")); }, ErrorCode::io,
              {dir.file("missing.txt") + ":3: ", "img/nope.png", "no such file"});
  text(dir.file("mixed.txt"), "img/a.png 0\nimg/b c.png\n");
  check_error([&] { Dataset::open(dir.file("mixed.txt")); }, ErrorCode::invalid_argument,
              {dir.file("mixed.txt"), "line 1 has a label and line 2 has none"});
  text(dir.file("notes.txt"), "list.txt\n");
  check_error([&] { Dataset::open(dir.file("notes.txt")); }, ErrorCode::invalid_argument,
              {dir.file("notes.txt") + ":1: ", "not an image"});
  text(dir.file("empty.txt"), "# nothing\n");
  check_error([&] { Dataset::open(dir.file("empty.txt")); }, ErrorCode::invalid_argument,
              {dir.file("empty.txt"), "names no files"});
}

TEST_CASE("dataset: missing paths, empty folders and empty classes are errors naming them") {
  test::TempDir dir;
  check_error([&] { Dataset::open(dir.file("nope")); }, ErrorCode::io,
              {dir.file("nope"), "no such file or directory"});
  check_error([&] { Dataset::open(dir.path()); }, ErrorCode::invalid_argument,
              {dir.path() + ": no images (.jpg, .jpeg, .png, .bmp) or .npy files"});
  text(dir.file("README"), "x");
  fs::create_directories(dir.file("sub/deeper"));
  check_error([&] { Dataset::open(dir.path()); }, ErrorCode::invalid_argument,
              {"class folder holds no images"});
  image(dir, "sub/deeper/a.png", 1);
  fs::create_directories(dir.file("zzz"));
  check_error([&] { Dataset::open(dir.path()); }, ErrorCode::invalid_argument,
              {dir.file("zzz") + ": class folder holds no images or .npy files"});
  fs::remove(dir.file("zzz"));
  CHECK(Dataset::open(dir.path()).size() == 1);
  write_npy(dir.file("sub/x.npy"), f32({2}, 0));
  check_error([&] { Dataset::open(dir.path()); }, ErrorCode::invalid_argument,
              {"mixes images and .npy files"});
}

TEST_CASE("dataset: images load into a batch, and a sample of another shape names the file") {
  test::TempDir dir;
  image(dir, "c/a.png", 10, 6, 4);
  image(dir, "c/b.png", 20, 4, 5);
  const Dataset d = Dataset::open(dir.path());
  ImagePreprocess pp;
  pp.crop_height = pp.crop_width = 3;
  pp.scale = 255;
  CHECK(d.sample_shape(0, pp) == Shape{3, 3, 3});
  Tensor batch(DataType::f32, {2, 3, 3, 3});
  d.load({1, 0}, pp, batch);
  // Solid colors (id, 2 id, 7): sample 0 of the batch is b.png.
  CHECK(batch.data<float>()[0] == 20);
  CHECK(batch.data<float>()[9] == 40);
  CHECK(batch.data<float>()[26] == 7);
  CHECK(batch.data<float>()[27] == 10);

  pp.crop_height = pp.crop_width = 0;
  Tensor one(DataType::f32, {1, 3, 4, 6});
  d.load({0}, pp, one);
  check_error([&] { d.load({1}, pp, one); }, ErrorCode::invalid_argument,
              {dir.file("c/b.png"), "4x5 (WxH) image is 3x5x4 after preprocessing",
               "expects 3x4x6 per sample"});
  check_error(
      [&] {
        d.load({0, 1}, pp, one);
      },
      ErrorCode::invalid_argument, {"2 samples in its first dimension"});
}

TEST_CASE("dataset: a .npy file's rows and a folder of .npy files") {
  test::TempDir dir;
  write_npy(dir.file("x.npy"), f32({5, 2, 3}, 0));
  Dataset d = Dataset::open(dir.file("x.npy"));
  REQUIRE(d.size() == 5);
  CHECK(d.is_npy());
  CHECK(d.sample_name(4) == "x.npy[4]");
  CHECK(d.sample_shape(0, {}) == Shape{2, 3});
  Tensor batch(DataType::f32, {2, 2, 3});
  d.load({4, 0}, {}, batch);
  CHECK(batch.data<float>()[0] == 24);
  CHECK(batch.data<float>()[6] == 0);
  Tensor wrong(DataType::f32, {1, 3, 2});
  check_error([&] { d.load({0}, {}, wrong); }, ErrorCode::invalid_argument,
              {dir.file("x.npy"), "samples are 2x3, but the input expects 3x2 per sample"});
  write_npy(dir.file("ids.npy"), Tensor(DataType::s64, {3, 2}));
  check_error([&] { Dataset::open(dir.file("ids.npy")); }, ErrorCode::invalid_argument,
              {dir.file("ids.npy"), "holds s64 data"});
  write_npy(dir.file("none.npy"), Tensor(DataType::f32, {0, 2}));
  check_error([&] { Dataset::open(dir.file("none.npy")); }, ErrorCode::invalid_argument,
              {dir.file("none.npy"), "holds no samples"});

  // A folder of .npy files, each one sample, with or without a leading 1.
  test::TempDir folder;
  write_npy(folder.file("a.npy"), f32({2, 3}, 100));
  write_npy(folder.file("b.npy"), f32({1, 2, 3}, 200));
  write_npy(folder.file("c.npy"), f32({3, 3}, 300));
  d = Dataset::open(folder.path());
  REQUIRE(d.size() == 3);
  CHECK(d.sample_shape(1, {}) == Shape{2, 3});
  d.load({1, 0}, {}, batch);
  CHECK(batch.data<float>()[0] == 200);
  CHECK(batch.data<float>()[11] == 105);
  check_error(
      [&] {
        d.load({2, 0}, {}, batch);
      },
      ErrorCode::invalid_argument,
      {folder.file("c.npy"), "holds 3x3, but the input expects 2x3 per sample"});
}

TEST_CASE("dataset: IDX images, gzipped, labelled by the labels file next to them") {
  test::TempDir dir;
  const std::string images_path = dir.file("train-images-idx3-ubyte.gz");
  const std::string labels_path = dir.file("train-labels-idx1-ubyte.gz");
  test::write_file(images_path,
                   test::gzip(test::idx_images(5, 2, 3, [](uint32_t i) { return 40 * i + 1; })));
  Dataset d = Dataset::open(images_path);
  CHECK(d.size() == 5);
  CHECK(!d.labeled());
  CHECK(d.grayscale());
  CHECK(!d.is_npy());
  CHECK(d.sample_name(4) == "train-images-idx3-ubyte.gz[4]");
  const std::string unlabeled = d.fingerprint();

  test::write_file(labels_path, test::gzip(test::idx_labels({3, 1, 3, 0, 1})));
  d = Dataset::open(images_path);
  CHECK(labels(d) == std::vector<int>{3, 1, 3, 0, 1});
  CHECK(d.class_count() == 4);
  CHECK(d.select_per_class(0, 1) == std::vector<size_t>{3, 1, 0});
  CHECK(d.fingerprint() != unlabeled);

  // One gray channel, the pixels exactly; or the image pipeline's RGB.
  ImagePreprocess gray;
  gray.channels = ImageChannels::gray;
  gray.scale = 255;
  CHECK(d.sample_shape(0, gray) == Shape{1, 2, 3});
  Tensor batch(DataType::f32, {2, 1, 2, 3});
  d.load({4, 1}, gray, batch);
  CHECK(batch.data<float>()[0] == 161);
  CHECK(batch.data<float>()[5] == 161);
  CHECK(batch.data<float>()[6] == 41);
  CHECK(d.sample_shape(0, {}) == Shape{3, 2, 3});
  gray.resize_height = 4;
  gray.resize_width = 6;
  CHECK(d.sample_shape(0, gray) == Shape{1, 4, 6});
  Tensor wrong(DataType::f32, {1, 1, 3, 3});
  check_error([&] { d.load({2}, gray, wrong); }, ErrorCode::invalid_argument,
              {images_path + "[2]: the 3x2 (WxH) image is 1x4x6 after preprocessing",
               "expects 1x3x3 per sample"});

  // Labels that do not match, images that are not images, no images.
  test::write_file(labels_path, test::gzip(test::idx_labels({1, 2})));
  check_error([&] { Dataset::open(images_path); }, ErrorCode::invalid_argument,
              {labels_path + ": holds 2 labels, but " + images_path + " holds 5 images"});
  check_error([&] { Dataset::open(labels_path); }, ErrorCode::invalid_argument,
              {labels_path + ": holds u8 2; IDX images are u8 [N, height, width]"});
  test::write_file(dir.file("none-images-idx3-ubyte"),
                   test::idx_images(0, 2, 2, [](uint32_t) { return 0; }));
  check_error([&] { Dataset::open(dir.file("none-images-idx3-ubyte")); },
              ErrorCode::invalid_argument, {"holds no images"});
  test::write_file(dir.file("bad-images-idx3-ubyte"), "\x1f\x8b junk");
  check_error([&] { Dataset::open(dir.file("bad-images-idx3-ubyte")); }, ErrorCode::invalid_model,
              {dir.file("bad-images-idx3-ubyte") + ": "});
}

TEST_CASE("dataset: Fashion-MNIST's test set, 10 classes of 1000 gray 28x28 images") {
  const std::string path = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  if (!fs::exists(path)) OCTET_SKIP(path << " is missing (apt-get install dataset-fashion-mnist)");
  const Dataset d = Dataset::open(path);
  CHECK(d.size() == 10000);
  CHECK(d.class_count() == 10);
  CHECK(d.select_per_class(0, 100).size() == 1000);
  ImagePreprocess gray;
  gray.channels = ImageChannels::gray;
  Tensor batch(DataType::f32, {4, 1, 28, 28});
  d.load({0, 1, 2, 9999}, gray, batch);
  float hi = 0;
  for (int64_t i = 0; i < batch.numel(); ++i) hi = std::max(hi, batch.data<float>()[i]);
  CHECK(hi <= 1);
  CHECK(hi > 0.5f);
  MESSAGE("fashion-mnist t10k fingerprint " << d.fingerprint());
}

TEST_CASE("dataset: the fingerprint ignores order and location, not names or sizes") {
  test::TempDir a, b;
  image(a, "x/1.png", 1);
  image(a, "y/2.png", 2);
  image(a, "y/3.png", 3);
  image(b, "y/3.png", 3);  // the same files, created in another order elsewhere
  image(b, "x/1.png", 1);
  image(b, "y/2.png", 2);
  const std::string fa = Dataset::open(a.path()).fingerprint();
  CHECK(fa.size() == 16);
  CHECK(Dataset::open(b.path()).fingerprint() == fa);
  text(a.file("l1.txt"), "x/1.png 0\ny/2.png 1\ny/3.png 1\n");
  text(a.file("l2.txt"), "y/3.png 1\nx/1.png 0\ny/2.png 1\n");
  CHECK(Dataset::open(a.file("l1.txt")).fingerprint() == fa);
  CHECK(Dataset::open(a.file("l2.txt")).fingerprint() == fa);

  fs::rename(b.file("y/3.png"), b.file("y/4.png"));
  const std::string renamed = Dataset::open(b.path()).fingerprint();
  CHECK(renamed != fa);
  image(b, "y/5.png", 5);
  CHECK(Dataset::open(b.path()).fingerprint() != renamed);
  image(a, "y/3.png", 3, 8, 8);  // same name, another size
  CHECK(Dataset::open(a.path()).fingerprint() != fa);
}

TEST_CASE("dataset: CIFAR-10 test-a, 10 class folders of 500 JPEGs") {
  const std::string path = std::string(OCTET_SOURCE_DIR) + "/../shared/data/cifar10/test-a";
  if (!fs::is_directory(path)) OCTET_SKIP(path << " is missing");
  const Dataset d = Dataset::open(path);
  CHECK(d.size() == 5000);
  CHECK(d.class_names() == std::vector<std::string>{"airplane", "automobile", "bird", "cat", "deer",
                                                    "dog", "frog", "horse", "ship", "truck"});
  CHECK(d.sample_name(0) == "airplane/0000.jpg");
  CHECK(d.label(4999) == 9);
  const std::vector<size_t> calibration = d.select_per_class(0, 100);
  const std::vector<size_t> evaluation = d.select_per_class(100, 400);
  CHECK(calibration.size() == 1000);
  REQUIRE(evaluation.size() == 4000);
  CHECK(d.sample_name(evaluation[0]) == "airplane/0100.jpg");
  CHECK(d.sample_name(evaluation[400]) == "automobile/0100.jpg");
  Tensor batch(DataType::f32, {4, 3, 32, 32});
  d.load({0, 1, 2, 4999}, {}, batch);
  float lo = 1, hi = 0;
  for (int64_t i = 0; i < batch.numel(); ++i) {
    lo = std::min(lo, batch.data<float>()[i]);
    hi = std::max(hi, batch.data<float>()[i]);
  }
  CHECK(lo >= 0);
  CHECK(hi <= 1);
  CHECK(hi > lo);
  MESSAGE("cifar10 test-a fingerprint " << d.fingerprint());
}
