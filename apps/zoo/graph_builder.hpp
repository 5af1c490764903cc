// Small helpers for writing octet graphs by hand: inputs, initializers and
// nodes by name, plus a seeded random number source whose output depends only
// on (seed, tensor name), never on the order tensors are created in. That way
// adding a layer to one architecture does not change the weights of another
// and a test can regenerate any one tensor on its own.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "runtime/ir/graph.hpp"

namespace octet::zoo {

// Reproducible draws. std::normal_distribution and uniform_real_distribution
// are implementation-defined, so they would make the weights depend on the
// standard library; mt19937 and seed_seq are fully specified, and the
// transforms below are written out.
class Rng {
 public:
  Rng(uint32_t seed, const std::string& stream);
  float uniform(float lo, float hi);  // [lo, hi)
  float normal(float mean, float std);

 private:
  double unit();  // [0, 1) with 53 random bits
  std::mt19937 engine_;
  bool have_spare_ = false;
  double spare_ = 0;
};

class GraphBuilder {
 public:
  GraphBuilder(std::string model_name, uint32_t seed);

  uint32_t seed() const { return seed_; }
  // An independent stream for the tensor (or group of tensors) called `name`.
  Rng rng(const std::string& name) const { return Rng(seed_, model_name_ + "/" + name); }

  int input(const std::string& name, DataType dtype, std::vector<Dim> dims);
  int initializer(const std::string& name, Tensor data);
  // Constant helpers for shape arithmetic and scalar operands.
  int scalar_f32(const std::string& name, float value);
  int scalar_s64(const std::string& name, int64_t value);                 // rank 0
  int ints(const std::string& name, const std::vector<int64_t>& values);  // 1-D s64

  // Seeded f32 tensors.
  int normal(const std::string& name, Shape shape, float mean, float std);
  int uniform(const std::string& name, Shape shape, float lo, float hi);

  // Appends a one-output node; its output value is `output` or, when empty,
  // "<name>.output". Returns the output's value id. Nodes must be added in
  // execution order: build_model() does not reorder them.
  int node(const std::string& op, const std::string& name, std::vector<int> inputs,
           std::map<std::string, AttrValue> attrs = {}, const std::string& output = "");

  // Marks `value` as a graph output with the declared shape `dims`.
  void output(int value, std::vector<Dim> dims);

  Graph& graph() { return graph_; }
  Graph finish(const std::string& metadata_json);

 private:
  std::string model_name_;
  uint32_t seed_;
  Graph graph_;
};

// Symbolic and fixed dims, for declared shapes.
inline Dim sym(const std::string& symbol) {
  return Dim{-1, symbol};
}
inline Dim fixed(int64_t size) {
  return Dim{size, ""};
}

}  // namespace octet::zoo
