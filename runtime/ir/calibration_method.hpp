// The names of the activation calibration methods, shared by the calibration
// table format (loaders/formats), which checks the names a table holds, and
// the calibrator (runtime/calibration), which computes each method
// (compute_amax). A new method is its name here and its amax there.
#pragma once

#include <string>
#include <vector>

namespace octet {

// A method name as written in tables and on the command line: "max",
// "entropy", "mse" or "percentile=P" with 0 < P <= 100. Throws
// Error(invalid_argument) naming the method otherwise; returns the canonical
// spelling ("percentile=99.99").
std::string canonical_method(const std::string& method);

// The methods `--method all` computes.
const std::vector<std::string>& all_methods();

}  // namespace octet
