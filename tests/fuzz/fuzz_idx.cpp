// libFuzzer entry point of fuzz_idx (see fuzz_idx.hpp).
#include "tests/fuzz/fuzz_idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  octet::fuzz::outcome_of<octet::fuzz::idx::run>(data, size);
  return 0;
}
