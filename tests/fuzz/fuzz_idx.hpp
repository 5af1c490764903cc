// fuzz_idx: the IDX reader (parse_idx), plain and gzipped, and what Dataset
// does with what it reads: a u8 [N, H, W] tensor becomes images, the first
// and last of which go through the gray image preprocessing; a rank-1
// integer tensor is checked as labels for as many 1x1 images. Every byte of
// a parsed tensor is read, and its size must be within the bound the gzip
// check promises (1032 times the input, plus i16's widening).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "loaders/data/idx.hpp"
#include "tests/fuzz/fuzz_common.hpp"

namespace octet::fuzz::idx {

// Larger images are valid but slow to preprocess for no new coverage.
constexpr int64_t kMaxPixels = 1 << 16;

inline void run(const uint8_t* data, size_t size, Stage& reached) {
  const Tensor t = parse_idx(data, size, "fuzz.idx");
  reached = Stage::parsed;
  if (t.nbytes() > 2 * (1032 * uint64_t(size) + 1024)) std::abort();
  unsigned checksum = 0;
  const auto* p = static_cast<const unsigned char*>(t.raw());
  for (size_t k = 0; k < t.nbytes(); ++k) checksum += p[k];
  float sum = 0;
  if (t.dtype() == DataType::u8 && t.rank() == 3 && t.dim(1) * t.dim(2) <= kMaxPixels) {
    const IdxImages set = pair_idx(t, "fuzz.idx", nullptr, "");
    ImagePreprocess gray;
    gray.channels = ImageChannels::gray;
    gray.resize_height = 5;
    gray.resize_width = 3;
    for (int64_t i : {int64_t(0), set.images.dim(0) - 1}) {
      if (set.images.dim(0) == 0) break;
      const Tensor x = preprocess(idx_image(set.images, i), gray, "fuzz.idx");
      for (int64_t k = 0; k < x.numel(); ++k) sum += x.data<float>()[k];
    }
  } else if (t.rank() == 1 && t.dim(0) <= kMaxPixels) {
    const Tensor images(DataType::u8, {t.dim(0), 1, 1});
    checksum += static_cast<unsigned>(pair_idx(images, "images", &t, "fuzz.idx").labels.size());
  }
  volatile unsigned sink = checksum;
  volatile float fsink = sum;
  (void)sink;
  (void)fsink;
  reached = Stage::ran;
}

}  // namespace octet::fuzz::idx
