#include "runtime/ir/calibration_method.hpp"

#include <cstdlib>
#include <sstream>

#include "octet/octet.hpp"

namespace octet {

std::string canonical_method(const std::string& method) {
  if (method == "max" || method == "entropy" || method == "mse") return method;
  const std::string prefix = "percentile=";
  if (method == "percentile") return "percentile=99.99";
  if (method.compare(0, prefix.size(), prefix) == 0) {
    const std::string number = method.substr(prefix.size());
    char* end = nullptr;
    const double p = std::strtod(number.c_str(), &end);
    if (!number.empty() && end == number.c_str() + number.size() && p > 0 && p <= 100) {
      std::ostringstream out;
      out.precision(10);
      out << prefix << p;
      return out.str();
    }
  }
  throw Error(ErrorCode::invalid_argument,
              "unknown calibration method '" + method +
                  "': expected max, entropy, mse or percentile=P with 0 < P <= 100");
}

const std::vector<std::string>& all_methods() {
  static const std::vector<std::string> methods = {"max",
                                                   "entropy",
                                                   "percentile=99.9",
                                                   "percentile=99.99",
                                                   "percentile=99.999",
                                                   "percentile=99.9999",
                                                   "mse"};
  return methods;
}

}  // namespace octet
