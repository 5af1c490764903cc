// fuzz_npy: the .npy reader (parse_npy). Every byte of a parsed tensor is
// read, so a tensor that claims more data than the file holds is an ASan
// report rather than a silent overread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "loaders/data/npy.hpp"
#include "tests/fuzz/fuzz_common.hpp"

namespace octet::fuzz::npy {

inline void run(const uint8_t* data, size_t size, Stage& reached) {
  const Tensor t = parse_npy(data, size, "fuzz.npy");
  reached = Stage::parsed;
  // The data follows a header of at least 10 bytes in the same input.
  if (t.nbytes() > size) std::abort();
  unsigned checksum = 0;
  const auto* p = static_cast<const unsigned char*>(t.raw());
  for (size_t k = 0; k < t.nbytes(); ++k) checksum += p[k];
  volatile unsigned sink = checksum;
  (void)sink;
  reached = Stage::ran;
}

}  // namespace octet::fuzz::npy
