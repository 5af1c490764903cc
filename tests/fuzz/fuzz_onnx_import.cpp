// libFuzzer entry point of fuzz_onnx_import (see fuzz_onnx_import.hpp).
#include "tests/fuzz/fuzz_onnx_import.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return octet::fuzz::onnx_import::fuzz_one(data, size);
}
