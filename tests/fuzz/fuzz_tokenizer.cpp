// libFuzzer entry point of fuzz_tokenizer (see fuzz_tokenizer.hpp).
#include "tests/fuzz/fuzz_tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  octet::fuzz::outcome_of<octet::fuzz::tokenizer::run>(data, size);
  return 0;
}
