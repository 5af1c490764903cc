// Seeds for fuzz_image, written by fuzz_seeds: what stb_image_write makes
// (PNG with 1-4 channels, baseline JPEG, 24/32-bit BMP), plus PNGs and BMPs
// assembled here in the forms stb_image_write never writes (palette, 1/2/4
// and 16-bit depths, Adam7 interlacing, a top-down 8-bit palette BMP), so
// that mutations start from every decoder path.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <stb_image_write.h>
#include <zlib.h>

namespace octet::fuzz::image {

namespace seeds_detail {

inline void put32be(std::string& s, uint32_t v) {
  for (int i = 3; i >= 0; --i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}
inline void put_le(std::string& s, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}

inline void chunk(std::string& png, const char* type, const std::string& data) {
  put32be(png, static_cast<uint32_t>(data.size()));
  const std::string body = type + data;
  png += body;
  put32be(png, static_cast<uint32_t>(
                   crc32(0, reinterpret_cast<const Bytef*>(body.data()), uInt(body.size()))));
}

// One row of `w` samples per channel, packed at `depth` bits (big-endian for 16).
inline std::string row(int w, int y, int channels, int depth) {
  std::string out(1, '\0');  // filter type 0
  uint32_t acc = 0;
  int bits = 0;
  for (int x = 0; x < w; ++x) {
    for (int c = 0; c < channels; ++c) {
      const uint32_t v = (x * 37u + y * 11u + c * 5u) & ((1u << depth) - 1);
      acc = (acc << depth) | v;
      bits += depth;
      while (bits >= 8) {
        bits -= 8;
        out += static_cast<char>((acc >> bits) & 0xff);
      }
    }
  }
  if (bits) out += static_cast<char>((acc << (8 - bits)) & 0xff);
  return out;
}

// A PNG of color type `type` (0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA).
inline std::string png(int w, int h, int type, int depth, bool interlaced) {
  const int channels = type == 2 ? 3 : type == 4 ? 2 : type == 6 ? 4 : 1;
  std::string raw;
  if (!interlaced) {
    for (int y = 0; y < h; ++y) raw += row(w, y, channels, depth);
  } else {
    const int pass[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                            {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};
    for (const auto& p : pass) {
      const int pw = (w - p[0] + p[2] - 1) / p[2], ph = (h - p[1] + p[3] - 1) / p[3];
      if (pw <= 0 || ph <= 0) continue;
      for (int y = 0; y < ph; ++y) raw += row(pw, y, channels, depth);
    }
  }
  uLongf size = compressBound(uLong(raw.size()));
  std::string z(size, '\0');
  compress(reinterpret_cast<Bytef*>(z.data()), &size, reinterpret_cast<const Bytef*>(raw.data()),
           uLong(raw.size()));
  z.resize(size);

  std::string out = "\x89PNG\r\n\x1a\n";
  std::string ihdr;
  put32be(ihdr, uint32_t(w));
  put32be(ihdr, uint32_t(h));
  ihdr += {static_cast<char>(depth), static_cast<char>(type), 0, 0, interlaced ? '\1' : '\0'};
  chunk(out, "IHDR", ihdr);
  if (type == 3) {
    std::string plte, trns;
    for (int i = 0; i < (1 << depth); ++i) {
      plte += {static_cast<char>(i * 50), static_cast<char>(255 - i * 30), static_cast<char>(i)};
      trns += static_cast<char>(255 - i);
    }
    chunk(out, "PLTE", plte);
    chunk(out, "tRNS", trns);
  }
  chunk(out, "IDAT", z);
  chunk(out, "IEND", "");
  return out;
}

// An 8-bit palette BMP, top-down (negative height), rows padded to 4 bytes.
inline std::string bmp_palette(int w, int h) {
  const int stride = (w + 3) / 4 * 4;
  const uint32_t offset = 14 + 40 + 256 * 4;
  std::string out = "BM";
  put_le(out, offset + uint32_t(stride * h), 4);
  put_le(out, 0, 4);
  put_le(out, offset, 4);
  put_le(out, 40, 4);
  put_le(out, uint32_t(w), 4);
  put_le(out, uint32_t(-h), 4);
  put_le(out, 1, 2);  // planes
  put_le(out, 8, 2);  // bits per pixel
  put_le(out, 0, 4);  // BI_RGB
  put_le(out, uint32_t(stride * h), 4);
  put_le(out, 2835, 4);
  put_le(out, 2835, 4);
  put_le(out, 256, 4);  // colors used
  put_le(out, 0, 4);
  for (int i = 0; i < 256; ++i) put_le(out, uint32_t(i * 0x010203), 4);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < stride; ++x) out += static_cast<char>(x < w ? x * 17 + y : 0);
  return out;
}

inline void append(void* ctx, void* data, int size) {
  static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), size_t(size));
}

}  // namespace seeds_detail

// Writes the seeds into `dir`; returns how many.
inline int write_seeds(const std::filesystem::path& dir) {
  using namespace seeds_detail;
  std::vector<std::pair<std::string, std::string>> files;
  std::vector<uint8_t> pixels(17 * 9 * 4);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7 + i / 13);
  for (int comp = 1; comp <= 4; ++comp) {
    std::string s;
    stbi_write_png_to_func(append, &s, 5, 3, comp, pixels.data(), 0);
    files.emplace_back("stb_" + std::to_string(comp) + "ch.png", s);
  }
  for (int quality : {90, 20}) {
    for (int comp : {1, 3}) {
      std::string s;
      stbi_write_jpg_to_func(append, &s, 17, 9, comp, pixels.data(), quality);
      files.emplace_back("stb_q" + std::to_string(quality) + "_" + std::to_string(comp) + "ch.jpg",
                         s);
    }
  }
  for (int comp : {3, 4}) {
    std::string s;
    stbi_write_bmp_to_func(append, &s, 5, 3, comp, pixels.data());
    files.emplace_back("stb_" + std::to_string(comp) + "ch.bmp", s);
  }
  struct Png {
    const char* name;
    int type, depth;
    bool interlaced;
  };
  for (const Png& p :
       {Png{"gray1", 0, 1, false}, Png{"gray4", 0, 4, false}, Png{"gray16", 0, 16, false},
        Png{"rgb16", 2, 16, false}, Png{"palette2", 3, 2, false}, Png{"palette8", 3, 8, true},
        Png{"gray_alpha8", 4, 8, true}, Png{"rgba16", 6, 16, true}}) {
    files.emplace_back(std::string(p.name) + ".png", png(9, 7, p.type, p.depth, p.interlaced));
  }
  files.emplace_back("palette8_topdown.bmp", bmp_palette(6, 3));
  for (const auto& [name, bytes] : files) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
  }
  return static_cast<int>(files.size());
}

}  // namespace octet::fuzz::image
