// libFuzzer entry point of fuzz_image (see fuzz_image.hpp).
#include "tests/fuzz/fuzz_image.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return octet::fuzz::image::fuzz_one(data, size);
}
