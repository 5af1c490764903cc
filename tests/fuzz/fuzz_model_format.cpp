// libFuzzer entry point of fuzz_model_format (see fuzz_model_format.hpp).
#include "tests/fuzz/fuzz_model_format.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  octet::fuzz::outcome_of<octet::fuzz::model_format::run>(data, size);
  return 0;
}
