// A small, fast, non-cryptographic 64-bit hash for fingerprints (model
// content, calibration data): FNV-1a over 8-byte words with a final avalanche.
// Collisions only need to be unlikely by accident, not hard to construct.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace octet {

class Hasher {
 public:
  void bytes(const void* data, size_t size) {
    const auto* p = static_cast<const unsigned char*>(data);
    size_t i = 0;
    for (; i + 8 <= size; i += 8) {
      uint64_t word;
      std::memcpy(&word, p + i, 8);
      mix(word);
    }
    uint64_t tail = 0;
    std::memcpy(&tail, p + i, size - i);
    mix(tail ^ (static_cast<uint64_t>(size) << 56));
  }
  void text(const std::string& s) { bytes(s.data(), s.size()); }
  void u64(uint64_t v) { mix(v); }
  uint64_t value() const {
    uint64_t z = h_;  // splitmix64's finalizer
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::string hex() const { return to_hex(value()); }

  static std::string to_hex(uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
  }

 private:
  void mix(uint64_t word) { h_ = (h_ ^ word) * 0x100000001b3ull; }
  uint64_t h_ = 0xcbf29ce484222325ull;
};

}  // namespace octet
