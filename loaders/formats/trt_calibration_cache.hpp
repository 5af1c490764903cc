// TensorRT's calibration cache, the text its IInt8EntropyCalibrator2 writes
// and reads back (writeCalibrationCache / readCalibrationCache), so that
// TensorRT builds an int8 engine on octet's activation ranges:
//
//   TRT-8601-EntropyCalibration2
//   input: 3c23d70a
//   conv1.out: 3d0d3dcb
//
// a header line, then one line per tensor: its ONNX name, ": ", and the
// IEEE-754 bits of its scale as a float32, as 8 lowercase hex digits, most
// significant first. TensorRT quantizes symmetrically to int8 only, so the
// scale is amax / 127 for every tensor, u8 ones included (their range is
// [0, amax]; TensorRT's int8 covers it with half the levels octet's u8 has).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace octet {

// The header TensorRT 8.6.1 writes for entropy calibration.
constexpr const char* kTrtCalibrationHeader = "TRT-8601-EntropyCalibration2";

// The cache text for (tensor name, amax) pairs, in their order. A name
// holding ':' or a line break, or an amax that is not positive and finite,
// is an Error naming the tensor.
std::string trt_calibration_cache(const std::vector<std::pair<std::string, float>>& amax,
                                  const std::string& header = kTrtCalibrationHeader);

}  // namespace octet
