// Layers with seeded weights for the int8 dataflow tests' small graphs.
#pragma once

#include <cmath>
#include <map>
#include <string>

#include "tests/op_harness.hpp"
#include "tests/test_graph.hpp"

namespace octet::test {

// A 3x3 convolution (pad 1) with seeded weights, `cin` -> `cout` channels.
inline int conv(TestGraph& tg, const std::string& name, int in, int64_t cin, int64_t cout,
                bool relu, uint32_t seed) {
  const float bound = 1.f / std::sqrt(static_cast<float>(cin * 9));
  const Tensor w = random_tensor(DataType::f32, {cout, cin, 3, 3}, seed, -bound, bound);
  const Tensor b = random_tensor(DataType::f32, {cout}, seed + 1, -0.1f, 0.1f);
  std::map<std::string, AttrValue> attrs{{"pads", std::vector<int64_t>{1, 1, 1, 1}}};
  if (relu) attrs["activation"] = std::string("relu");
  return tg.node("Conv", name, {in, tg.constant(name + ".w", w), tg.constant(name + ".b", b)},
                 attrs);
}

// A MatMul with a constant [k, n] weight and a bias: a Linear layer.
inline int linear(TestGraph& tg, const std::string& name, int in, int64_t k, int64_t n,
                  uint32_t seed) {
  const float bound = 1.f / std::sqrt(static_cast<float>(k));
  const Tensor w = random_tensor(DataType::f32, {k, n}, seed, -bound, bound);
  const Tensor b = random_tensor(DataType::f32, {n}, seed + 1, -0.1f, 0.1f);
  return tg.node("MatMul", name, {in, tg.constant(name + ".w", w), tg.constant(name + ".b", b)});
}

}  // namespace octet::test
