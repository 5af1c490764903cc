// libFuzzer entry point of fuzz_calibration_table (see fuzz_calibration_table.hpp).
#include "tests/fuzz/fuzz_calibration_table.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  octet::fuzz::outcome_of<octet::fuzz::calibration_table::run>(data, size);
  return 0;
}
