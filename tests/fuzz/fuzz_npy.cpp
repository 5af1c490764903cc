// libFuzzer entry point of fuzz_npy (see fuzz_npy.hpp).
#include "tests/fuzz/fuzz_npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  octet::fuzz::outcome_of<octet::fuzz::npy::run>(data, size);
  return 0;
}
