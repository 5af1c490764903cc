// libFuzzer entry point of fuzz_tokenizer (see fuzz_tokenizer.hpp).
#include "tests/fuzz/fuzz_tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return octet::fuzz::tokenizer::fuzz_one(data, size);
}
