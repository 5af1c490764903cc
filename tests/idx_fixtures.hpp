// IDX files made at test time (loaders/data/idx.hpp): a header over given data
// bytes, and gzip compression with zlib, as MNIST's files are distributed.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <zlib.h>

namespace octet::test {

// The magic (00 00 type rank), big-endian dims, then `data` as given.
inline std::string idx_bytes(uint8_t type, const std::vector<uint32_t>& dims,
                             const std::string& data) {
  std::string out = {'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((d >> shift) & 0xff);
  }
  return out + data;
}

// u8 images [n, h, w] whose every pixel of image i is value(i).
template <class F>
std::string idx_images(uint32_t n, uint32_t h, uint32_t w, F value) {
  std::string data;
  for (uint32_t i = 0; i < n; ++i) data.append(size_t(h) * w, static_cast<char>(value(i)));
  return idx_bytes(0x08, {n, h, w}, data);
}

inline std::string idx_labels(const std::vector<uint8_t>& labels) {
  return idx_bytes(0x08, {static_cast<uint32_t>(labels.size())},
                   std::string(labels.begin(), labels.end()));
}

// A single-member gzip file of `raw` (gzip -c raw).
inline std::string gzip(const std::string& raw, int level = Z_DEFAULT_COMPRESSION) {
  z_stream z{};
  // 16 + 15: a gzip wrapper with the largest window.
  if (deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out(deflateBound(&z, raw.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int r = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (r != Z_STREAM_END) throw std::runtime_error("deflate failed");
  return out;
}

}  // namespace octet::test
