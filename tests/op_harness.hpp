// Runs one op two ways, for tests: its plain reference kernel, and a one-node
// Model through a Session (the oneDNN kernel, layouts and reorders).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "runtime/ir/graph.hpp"

namespace octet::test {

struct OpCase {
  std::string op;
  std::map<std::string, AttrValue> attrs;
  std::vector<Tensor> inputs;  // an empty Tensor is an omitted optional input
  std::vector<bool> constant;  // per input: an initializer rather than a graph input
  size_t num_outputs = 1;
};

std::vector<Tensor> run_reference(const OpCase& c);
std::vector<Tensor> run_session(const OpCase& c, const SessionOptions& options = {});
// The layers the session ran for this case (to check kernels and reorders).
std::vector<LayerInfo> session_layers(const OpCase& c, const SessionOptions& options = {});

// Uniform in [lo, hi]; integer dtypes get integers in that range.
Tensor random_tensor(DataType dtype, Shape shape, uint32_t seed, float lo = -1, float hi = 1);
double cosine(const Tensor& a, const Tensor& b);
double max_abs_diff(const Tensor& a, const Tensor& b);
double max_abs(const Tensor& t);
// Values as doubles, whatever the dtype.
std::vector<double> to_doubles(const Tensor& t);

// The session's layer called `name` (a test failure if there is none).
LayerInfo layer_named(const Session& s, const std::string& name);
// How many layers of each "op:precision" ("Conv:int8", "Dequantize:fp32") the session runs.
std::map<std::string, int> count_layers(const Session& s);

}  // namespace octet::test
