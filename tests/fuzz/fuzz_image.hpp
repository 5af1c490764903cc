// fuzz_image: the image loader (decode_image: format sniffing, stb_image's
// header and decoder) and every preprocessing path (resize, crop, channel
// orders, gray, mean/std, both layouts) on whatever decodes. Every output
// float is read, so a preprocessing step reading outside the decoded pixels
// is an ASan report.
//
// Images are capped at kFuzzMaxSide pixels a side (octet's own limit is
// 16384): a few bytes of JPEG header can declare a 16384 x 16384 image that
// stb_image decodes in full before noticing the data is missing, which is a
// slow input rather than a finding. stb_image itself lives in Debian's
// libstb, which is not instrumented: the fuzzer sees no coverage inside it,
// only crashes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "loaders/data/image.hpp"
#include "tests/fuzz/fuzz_common.hpp"

namespace octet::fuzz::image {

constexpr int kFuzzMaxSide = 1024;

// Preprocessing settings valid for every image of at least 1x1 pixels.
inline std::vector<ImagePreprocess> variants() {
  ImagePreprocess plain;
  ImagePreprocess shorter;  // resize the shorter side, then crop
  shorter.resize = 5;
  shorter.crop_height = 3;
  shorter.crop_width = 4;
  shorter.channels = ImageChannels::bgr;
  shorter.mean = {0.5f, 0.4f, 0.3f};
  shorter.std = {0.2f, 0.3f, 0.4f};
  ImagePreprocess exact;  // an exact size that distorts the aspect ratio
  exact.resize_height = 7;
  exact.resize_width = 2;
  exact.channels = ImageChannels::gray;
  exact.scale = 255;
  exact.layout = ImageLayout::nhwc;
  return {plain, shorter, exact};
}

inline void run(const uint8_t* data, size_t size, Stage& reached) {
  const Image img = decode_image(data, size, "fuzz.img", kFuzzMaxSide);
  reached = Stage::parsed;
  float sum = 0;
  for (const ImagePreprocess& p : variants()) {
    const Tensor t = preprocess(img, p, "fuzz.img");
    for (int64_t i = 0; i < t.numel(); ++i) sum += t.data<float>()[i];
  }
  volatile float sink = sum;
  (void)sink;
  reached = Stage::ran;
}

}  // namespace octet::fuzz::image
