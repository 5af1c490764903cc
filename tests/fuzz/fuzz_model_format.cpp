// libFuzzer entry point of fuzz_model_format (see fuzz_model_format.hpp).
#include "tests/fuzz/fuzz_model_format.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return octet::fuzz::model_format::fuzz_one(data, size);
}
