// Building small graphs in tests: fixed-shape inputs, initializers, nodes
// with one output, activation ranges, and a Model at the end.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "runtime/model/model.hpp"

namespace octet::test {

class TestGraph {
 public:
  int input(const std::string& name, const Shape& shape, DataType dtype = DataType::f32) {
    Value v;
    v.name = name;
    v.dtype = dtype;
    std::vector<Dim> dims;
    for (int64_t d : shape) dims.push_back({d, ""});
    v.shape = dims;
    g.inputs.push_back(g.add_value(v));
    return g.inputs.back();
  }
  int constant(const std::string& name, Tensor t) {
    Value v;
    v.name = name;
    v.dtype = t.dtype();
    v.data = std::move(t);
    return g.add_value(v);
  }
  int node(const std::string& op, const std::string& name, std::vector<int> inputs,
           std::map<std::string, AttrValue> attrs = {}) {
    Value out;
    out.name = name + ".out";
    const int id = g.add_value(out);
    Node n;
    n.op = op;
    n.name = name;
    n.inputs = std::move(inputs);
    n.outputs = {id};
    n.attrs = std::move(attrs);
    g.nodes.push_back(n);
    return id;
  }
  void output(int id) { g.outputs.push_back(id); }
  void range(int id, float amax, DataType dtype) {
    g.values[id].quant = ActivationQuant{amax, dtype, "test"};
  }
  Model model() const { return Model(detail::build_model(g, "test")); }

  Graph g;
};

}  // namespace octet::test
