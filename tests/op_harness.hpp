// Runs one op two ways, for tests: its plain reference kernel, and a one-node
// Model through a Session (the oneDNN kernel, layouts and reorders).
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "ops/op.hpp"
#include "runtime/ir/graph.hpp"

namespace octet::test {

struct OpCase {
  std::string op;
  std::map<std::string, AttrValue> attrs;
  std::vector<Tensor> inputs;  // an empty Tensor is an omitted optional input
  std::vector<bool> constant;  // per input: an initializer rather than a graph input
  size_t num_outputs = 1;
};

// A case of `op` on `inputs` (all graph inputs unless `constant` says so).
inline OpCase op_case(std::string op, std::vector<Tensor> inputs,
                      std::map<std::string, AttrValue> attrs = {},
                      std::vector<bool> constant = {}) {
  OpCase c;
  c.op = std::move(op);
  c.inputs = std::move(inputs);
  c.attrs = std::move(attrs);
  c.constant = std::move(constant);
  return c;
}

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

// The kernel the session runs for the case's node ("ref", "jit:avx2", ...).
std::string kernel_of(const OpCase& c, const SessionOptions& options = {});

// What make_kernel chose, and output 0 after running it (read back as plain).
struct KernelRun {
  std::vector<dnnl::memory::desc> src_want;
  dnnl::memory::desc dst_md;
  std::string name;
  Tensor out;
};
// make_kernel with the case's non-constant inputs produced in `layouts` (a
// zero md: plain), then bind and execute it on those inputs reordered to what
// it wants: how an op reads a blocked conv output without a session.
KernelRun run_kernel(const OpCase& c, const std::vector<dnnl::memory::desc>& layouts);

// A tensor of T's dtype holding `values` in row-major order.
template <class T>
Tensor tensor_of(Shape shape, const std::vector<T>& values) {
  Tensor t(DataTypeOf<T>::value, std::move(shape));
  if (static_cast<size_t>(t.numel()) != values.size()) throw std::invalid_argument("tensor_of");
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}

// `f` throws an octet::Error of `code` whose message contains `part`.
void expect_error(const std::function<void()>& f, ErrorCode code, const std::string& part);

// The session's layer called `name` (a test failure if there is none).
LayerInfo layer_named(const Session& s, const std::string& name);
// How many layers of each "op:precision" ("Conv:int8", "Dequantize:fp32") the session runs.
std::map<std::string, int> count_layers(const Session& s);

}  // namespace octet::test
