// Test images written at test time with stb_image_write (compiled into
// Debian's libstb, like stb_image): RGB pixels, row-major, 3 bytes a pixel.
#pragma once

#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <stb_image_write.h>

#include "octet/octet.hpp"

namespace octet::test {

struct Pixels {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  uint8_t at(int y, int x, int c) const { return rgb[(size_t(y) * width + x) * 3 + c]; }
};

// A w x h image whose pixel (y, x) channel c is f(y, x, c).
template <class F>
Pixels make_pixels(int w, int h, F f) {
  Pixels p{w, h, std::vector<uint8_t>(size_t(w) * h * 3)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) p.rgb[(size_t(y) * w + x) * 3 + c] = uint8_t(f(y, x, c));
  return p;
}

inline Pixels solid(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  const uint8_t v[3] = {r, g, b};
  return make_pixels(w, h, [&](int, int, int c) { return v[c]; });
}

inline void append_bytes(void* ctx, void* data, int size) {
  static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), size_t(size));
}

enum class Format { png, jpg, bmp };

inline std::string encode(const Pixels& p, Format format, int jpeg_quality = 95) {
  std::string out;
  int ok = 0;
  if (format == Format::png) {
    ok = stbi_write_png_to_func(append_bytes, &out, p.width, p.height, 3, p.rgb.data(), 0);
  } else if (format == Format::jpg) {
    ok = stbi_write_jpg_to_func(append_bytes, &out, p.width, p.height, 3, p.rgb.data(),
                                jpeg_quality);
  } else {
    ok = stbi_write_bmp_to_func(append_bytes, &out, p.width, p.height, 3, p.rgb.data());
  }
  if (!ok) throw std::runtime_error("stb_image_write failed");
  return out;
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

inline void write_image(const std::string& path, const Pixels& p, Format format = Format::png) {
  write_file(path, encode(p, format));
}

// Expects an octet::Error with `code` whose message holds every needle.
template <class F>
void check_error(F&& f, ErrorCode code, std::initializer_list<std::string> needles) {
  try {
    f();
    FAIL("no error");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK_MESSAGE(e.code() == code, msg);
    for (const std::string& n : needles) CHECK_MESSAGE(msg.find(n) != std::string::npos, msg);
  }
}

}  // namespace octet::test
