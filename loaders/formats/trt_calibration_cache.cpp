#include "loaders/formats/trt_calibration_cache.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "octet/octet.hpp"

namespace octet {

std::string trt_calibration_cache(const std::vector<std::pair<std::string, float>>& amax,
                                  const std::string& header) {
  std::string text = header + "\n";
  for (const auto& [name, a] : amax) {
    // TensorRT splits each line at ": " and reads the rest as hex.
    if (name.empty() || name.find_first_of(":\n\r") != std::string::npos) {
      throw Error(ErrorCode::invalid_argument,
                  "tensor '" + name + "': a TensorRT calibration cache cannot hold this name");
    }
    if (!std::isfinite(a) || a <= 0) {
      throw Error(ErrorCode::invalid_argument, "tensor '" + name + "': amax " + std::to_string(a) +
                                                   " is not positive and finite");
    }
    const float scale = a / 127.f;
    uint32_t bits = 0;
    std::memcpy(&bits, &scale, sizeof bits);
    char hex[16];
    std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(bits));
    text += name + ": " + hex + "\n";
  }
  return text;
}

}  // namespace octet
