// libFuzzer entry point of fuzz_calibration_table (see fuzz_calibration_table.hpp).
#include "tests/fuzz/fuzz_calibration_table.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return octet::fuzz::calibration_table::fuzz_one(data, size);
}
