// loaders/idx: every IDX type, plain and gzipped, the size checks that keep
// a small file from allocating much, pairing images with labels, the file
// naming, and the real Fashion-MNIST test set when Debian's package is there.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "loaders/data/idx.hpp"
#include "tests/idx_fixtures.hpp"
#include "tests/image_fixtures.hpp"
#include "tests/skip.hpp"
#include "tests/temp_dir.hpp"

using namespace octet;
using octet::test::check_error;
using octet::test::gzip;
using octet::test::idx_bytes;
namespace fs = std::filesystem;

namespace {

Tensor parse(const std::string& bytes) {
  return parse_idx(bytes.data(), bytes.size(), "t.idx");
}

void rejected(const std::string& bytes, ErrorCode code,
              std::initializer_list<std::string> needles) {
  check_error([&] { parse(bytes); }, code, needles);
}

// The gzip file with its trailer's ISIZE replaced, as a forger would.
std::string with_isize(std::string gz, uint32_t isize) {
  for (int i = 0; i < 4; ++i) gz[gz.size() - 4 + i] = static_cast<char>((isize >> (8 * i)) & 0xff);
  return gz;
}

const std::string kFashion = "/usr/share/datasets/fashion-mnist/";

}  // namespace

TEST_CASE("idx: every type, big-endian, plain and gzipped alike") {
  const std::string u8 = idx_bytes(0x08, {2, 3}, "\x01\x02\x03\xfd\xfe\xff");
  for (const std::string& bytes : {u8, gzip(u8), gzip(u8, 9)}) {
    const Tensor t = parse(bytes);
    CHECK(t.dtype() == DataType::u8);
    CHECK(t.shape() == Shape{2, 3});
    CHECK(t.data<uint8_t>()[0] == 1);
    CHECK(t.data<uint8_t>()[5] == 255);
  }
  Tensor t = parse(idx_bytes(0x09, {3}, "\x01\x80\xff"));
  CHECK(t.dtype() == DataType::s8);
  CHECK(t.data<int8_t>()[1] == -128);
  CHECK(t.data<int8_t>()[2] == -1);

  // i16 widens to s32: every value exactly, negative ones included.
  t = parse(gzip(idx_bytes(0x0B, {2, 2}, std::string("\x00\x01\x7f\xff\x80\x00\xff\xfe", 8))));
  CHECK(t.dtype() == DataType::s32);
  CHECK(t.shape() == Shape{2, 2});
  CHECK(std::vector<int32_t>(t.data<int32_t>(), t.data<int32_t>() + 4) ==
        std::vector<int32_t>{1, 32767, -32768, -2});

  t = parse(idx_bytes(0x0C, {2}, std::string("\x00\x01\x00\x02\xff\xff\xff\xfd", 8)));
  CHECK(t.dtype() == DataType::s32);
  CHECK(t.data<int32_t>()[0] == 65538);
  CHECK(t.data<int32_t>()[1] == -3);

  // 1.5f is 0x3fc00000, -2.25f is 0xc0100000.
  t = parse(idx_bytes(0x0D, {1, 2}, std::string("\x3f\xc0\x00\x00\xc0\x10\x00\x00", 8)));
  CHECK(t.dtype() == DataType::f32);
  CHECK(t.data<float>()[0] == 1.5f);
  CHECK(t.data<float>()[1] == -2.25f);

  // A zero dimension is an empty tensor, not an error.
  CHECK(parse(idx_bytes(0x08, {0, 28, 28}, "")).shape() == Shape{0, 28, 28});
  CHECK(parse(gzip(idx_bytes(0x08, {5, 0}, ""))).numel() == 0);
}

TEST_CASE("idx: a file, whatever its name, gzipped or not") {
  test::TempDir dir;
  const std::string raw = test::idx_images(3, 2, 2, [](uint32_t i) { return 10 * i; });
  test::write_file(dir.file("a-images-idx3-ubyte"), raw);
  test::write_file(dir.file("a-images-idx3-ubyte.gz"), gzip(raw));
  test::write_file(dir.file("gzipped-without-suffix"), gzip(raw));
  for (const char* name :
       {"a-images-idx3-ubyte", "a-images-idx3-ubyte.gz", "gzipped-without-suffix"}) {
    const Tensor t = read_idx(dir.file(name));
    CHECK(t.shape() == Shape{3, 2, 2});
    CHECK(t.data<uint8_t>()[11] == 20);
  }
  check_error([&] { read_idx(dir.file("nope.gz")); }, ErrorCode::io,
              {dir.file("nope.gz") + ": no such file"});
  check_error([&] { read_idx(dir.path()); }, ErrorCode::io, {"not a regular file"});
}

TEST_CASE("idx: malformed headers are errors naming the file and showing the bytes") {
  rejected("", ErrorCode::invalid_model, {"t.idx: truncated: 0 bytes", "4-byte IDX magic"});
  rejected(std::string("\x00\x00\x08", 3), ErrorCode::invalid_model, {"truncated: 3 bytes"});
  rejected("\x89PNG\r\n\x1a\n", ErrorCode::invalid_model,
           {"t.idx: not an IDX file: it starts with 89 50 4e 47", "00 00 08 03"});
  rejected(idx_bytes(0x0A, {1}, "x"), ErrorCode::unsupported,
           {"unknown IDX type byte 0a (magic 00 00 0a 01)", "0d f32"});
  rejected(idx_bytes(0x0E, {1}, std::string(8, '\0')), ErrorCode::unsupported,
           {"f64 data (magic 00 00 0e 01) is not supported"});
  rejected(idx_bytes(0x08, {}, "x"), ErrorCode::invalid_model, {"declares 0 dimensions"});
  rejected(idx_bytes(0x08, {2, 3}, "").substr(0, 9), ErrorCode::invalid_model,
           {"truncated header: 2 dimensions need 12 bytes, the file has 9"});
  // 2^32-1 cubed, times 4 bytes, is past 2^64: refused before any allocation.
  rejected(idx_bytes(0x0C, {0xffffffff, 0xffffffff, 0xffffffff}, ""), ErrorCode::invalid_model,
           {"the dimensions 4294967295x4294967295x4294967295 (i32) are too large"});
  // Also with a zero among them: numel() would overflow on the way to 0.
  rejected(idx_bytes(0x08, {0xffffffff, 0xffffffff, 0xffffffff, 0}, ""), ErrorCode::invalid_model,
           {"4294967295x4294967295x4294967295x0 (u8) are too large"});
  CHECK(parse(idx_bytes(0x0C, {0xffffffff, 0, 0xffff}, "")).numel() == 0);
}

TEST_CASE("idx: the data must be exactly what the header declares") {
  const std::string images = test::idx_images(2, 3, 3, [](uint32_t i) { return i; });
  rejected(images.substr(0, images.size() - 1), ErrorCode::invalid_model,
           {"t.idx: truncated: 2x3x3 u8 needs 18 data bytes after the 16-byte header, so 34 "
            "bytes in all; the file has 33"});
  rejected(images + "x", ErrorCode::invalid_model,
           {"unexpected trailing data", "34 bytes in all; the file has 35"});
  rejected(idx_bytes(0x0B, {3}, "\x00\x01\x00\x02\x00"), ErrorCode::invalid_model,
           {"3 i16", "needs 6 data bytes"});

  // Gzipped: the stream must hold the same bytes, no fewer, no more. The
  // trailer's size is checked first: a cut file fails there.
  const std::string gz = gzip(images);
  rejected(gzip(images.substr(0, 30)), ErrorCode::invalid_model,
           {"t.idx: the header declares 2x3x3 u8, 34 bytes decompressed, but the gzip trailer "
            "says 30 (modulo 2^32): a truncated or corrupt file?"});
  rejected(gz.substr(0, gz.size() - 3), ErrorCode::invalid_model, {"the gzip trailer says"});
  rejected(gz.substr(0, 12), ErrorCode::invalid_model,
           {"truncated: the gzip stream holds 1 bytes, fewer than the 4-byte IDX magic"});
  // With the trailer forged to agree, zlib's own checks remain.
  rejected(with_isize(gzip(images.substr(0, 30)), 34), ErrorCode::invalid_model,
           {"corrupt gzip data: incorrect length check"});
  rejected(with_isize(gzip(images + "more"), 34), ErrorCode::invalid_model,
           {"unexpected trailing data: 2x3x3 u8 needs 34 bytes decompressed, the gzip stream "
            "holds more"});
  rejected(gz + "junk", ErrorCode::invalid_model, {"the gzip trailer says 1802401130"});
  rejected(gz + std::string("\x22\0\0\0", 4), ErrorCode::invalid_model,
           {"4 bytes follow the end of the gzip stream", "not supported"});
  rejected(gz + gz, ErrorCode::invalid_model, {"follow the end of the gzip stream"});
  // A flipped bit in the pixels: zlib's CRC check catches it at the end.
  std::string flipped = gzip(images, 0);  // stored, so the pixels are in the clear
  flipped[flipped.size() - 10] ^= 1;
  rejected(flipped, ErrorCode::invalid_model, {"corrupt gzip data: incorrect data check"});
}

TEST_CASE("idx: a gzip bomb is refused before it is inflated or allocated") {
  // The header declares 12 bytes, the stream holds 64 MiB of zeros: only the
  // trailer is read (its ISIZE disagrees), then, with a forged ISIZE, 21
  // bytes are inflated before the surplus is seen.
  const std::string bomb = gzip(idx_bytes(0x08, {12}, std::string(64 << 20, '\0')), 9);
  CHECK(bomb.size() < 128 * 1024);
  rejected(bomb, ErrorCode::invalid_model,
           {"20 bytes decompressed, but the gzip trailer says 67108872"});
  rejected(with_isize(bomb, 8 + 12), ErrorCode::invalid_model, {"unexpected trailing data"});
  // 2^40 bytes declared by a few dozen bytes, trailer forged: more than the
  // compressed size can hold, refused without allocating.
  const std::string huge = gzip(idx_bytes(0x08, {1u << 20, 1u << 20}, "abc"));
  rejected(with_isize(huge, 12), ErrorCode::invalid_model,
           {"1048576x1048576 u8, 1099511627788 bytes decompressed, more than",
            "bytes of gzip "
            "can hold"});
}

TEST_CASE("idx: images paired with labels, and the standard file names") {
  Tensor images = parse(test::idx_images(3, 2, 4, [](uint32_t i) { return 50 * i; }));
  Tensor labels = parse(test::idx_labels({7, 0, 3}));
  IdxImages set = pair_idx(images, "im", &labels, "lb");
  CHECK(set.labels == std::vector<int>{7, 0, 3});
  CHECK(pair_idx(images, "im", nullptr, "").labels.empty());

  const Image img = idx_image(set.images, 2);
  CHECK((img.width == 4 && img.height == 2));
  for (int k = 0; k < 8 * 3; ++k) CHECK(img.pixels.get()[k] == 100);

  Tensor two = parse(test::idx_labels({1, 2}));
  check_error([&] { pair_idx(images, "im", &two, "lb"); }, ErrorCode::invalid_argument,
              {"lb: holds 2 labels, but im holds 3 images"});
  Tensor f32 = parse(idx_bytes(0x0D, {3}, std::string(12, '\0')));
  check_error([&] { pair_idx(images, "im", &f32, "lb"); }, ErrorCode::invalid_argument,
              {"lb: holds f32 3; IDX labels are integers [N]"});
  Tensor negative = parse(idx_bytes(0x09, {3}, "\x01\xff\x02"));
  check_error([&] { pair_idx(images, "im", &negative, "lb"); }, ErrorCode::invalid_argument,
              {"label 1 is -1"});
  check_error([&] { pair_idx(labels, "lb", nullptr, ""); }, ErrorCode::invalid_argument,
              {"lb: holds u8 3; IDX images are u8 [N, height, width]"});
  check_error(
      [&] {
        pair_idx(parse(idx_bytes(0x08, {1, 1, 20000}, std::string(20000, 'x'))), "im", nullptr, "");
      },
      ErrorCode::invalid_argument, {"side outside [1, 16384]"});

  CHECK(is_idx_name("/d/train-images-idx3-ubyte.gz"));
  CHECK(is_idx_name("t10k-labels-idx1-ubyte"));
  CHECK(is_idx_name("x/train-images.idx3-ubyte"));
  CHECK(!is_idx_name("images.gz"));
  CHECK(!is_idx_name("idx-ubyte"));
  CHECK(!is_idx_name("a-idx3-ubyte.npy"));

  test::TempDir dir;
  test::write_file(dir.file("t10k-images-idx3-ubyte.gz"), "");
  CHECK(find_idx_labels(dir.file("t10k-images-idx3-ubyte.gz")).empty());
  test::write_file(dir.file("t10k-labels-idx1-ubyte"), "");
  CHECK(find_idx_labels(dir.file("t10k-images-idx3-ubyte.gz")) ==
        dir.file("t10k-labels-idx1-ubyte"));
  test::write_file(dir.file("t10k-labels-idx1-ubyte.gz"), "");
  CHECK(find_idx_labels(dir.file("t10k-images-idx3-ubyte.gz")) ==
        dir.file("t10k-labels-idx1-ubyte.gz"));
  test::write_file(dir.file("train-labels.idx1-ubyte"), "");
  CHECK(find_idx_labels(dir.file("train-images.idx3-ubyte")) ==
        dir.file("train-labels.idx1-ubyte"));
}

TEST_CASE("idx: Fashion-MNIST's test set from Debian's dataset-fashion-mnist") {
  const std::string images_path = kFashion + "t10k-images-idx3-ubyte.gz";
  if (!fs::exists(images_path)) {
    OCTET_SKIP(images_path << " is missing (apt-get install dataset-fashion-mnist)");
  }
  const Tensor images = read_idx(images_path);
  const std::string labels_path = find_idx_labels(images_path);
  REQUIRE(labels_path == kFashion + "t10k-labels-idx1-ubyte.gz");
  const Tensor labels = read_idx(labels_path);
  const IdxImages set = pair_idx(images, images_path, &labels, labels_path);
  CHECK(set.images.shape() == Shape{10000, 28, 28});
  // A balanced test set: 1000 images of each of the 10 classes.
  std::map<int, int> counts;
  for (int label : set.labels) ++counts[label];
  CHECK(counts.size() == 10);
  for (const auto& entry : counts) {
    CAPTURE(entry.first);
    CHECK(entry.first >= 0);
    CHECK(entry.first <= 9);
    CHECK(entry.second == 1000);
  }
  // Real pictures: black borders, bright garments.
  const uint8_t* px = set.images.data<uint8_t>();
  int bright = 0;
  for (int64_t i = 0; i < set.images.numel(); ++i) bright += px[i] > 128;
  CHECK(px[0] == 0);
  CHECK(bright > 1000000);
  CHECK(bright < 4000000);
}
