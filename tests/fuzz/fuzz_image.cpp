// libFuzzer entry point of fuzz_image (see fuzz_image.hpp).
#include "tests/fuzz/fuzz_image.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  octet::fuzz::outcome_of<octet::fuzz::image::run>(data, size);
  return 0;
}
