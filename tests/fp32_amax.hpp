// Ranges for int8 tests of small graphs, from one fp32 run.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tests/op_harness.hpp"
#include "tests/test_graph.hpp"

namespace octet::test {

// max|v| of the graph's first input (under its name) and of every named
// value in an fp32 run on `x`: what a max calibration on this one input gives.
inline std::map<std::string, float> fp32_amax(const TestGraph& tg, const Tensor& x,
                                              const std::vector<std::string>& names) {
  SessionOptions fp32;
  fp32.precision = Precision::fp32;
  fp32.threads = 2;
  // The outputs live in the session's memory: it stays until they are read.
  Session session(tg.model().with_outputs(names), fp32);
  const std::vector<Tensor> got = session.run({x});
  std::map<std::string, float> amax{
      {tg.g.values[tg.g.inputs[0]].name, static_cast<float>(max_abs(x))}};
  const size_t first = tg.g.outputs.size();
  for (size_t i = 0; i < names.size(); ++i) {
    amax[names[i]] = static_cast<float>(max_abs(got[first + i]));
  }
  return amax;
}

}  // namespace octet::test
