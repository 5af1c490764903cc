// libFuzzer entry point of fuzz_onnx_import (see fuzz_onnx_import.hpp).
#include "tests/fuzz/fuzz_onnx_import.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  octet::fuzz::outcome_of<octet::fuzz::onnx_import::run>(data, size);
  return 0;
}
