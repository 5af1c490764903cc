// A small in-memory ONNX model builder for the importer tests: models are
// written with the protobuf API, serialized, and fed to import_onnx_bytes.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstring>
#include <string>
#include <vector>

#include "loaders/onnx/onnx_import.hpp"

namespace octet::test {

// One dimension of a declared shape: a number, a symbol, or "" (unknown).
struct DimSpec {
  DimSpec(int64_t v) : value(v) {}      // NOLINT: implicit on purpose
  DimSpec(int v) : value(v) {}          // NOLINT
  DimSpec(const char* p) : param(p) {}  // NOLINT
  int64_t value = -1;
  std::string param;
};

class OnnxBuilder {
 public:
  explicit OnnxBuilder(int64_t opset = 13) {
    model.set_ir_version(8);
    model.set_producer_name("octet-tests");
    onnx::OperatorSetIdProto* op = model.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    graph = model.mutable_graph();
    graph->set_name("test");
  }
  // A copy edits its own graph: `graph` points into `model`, never into the original's.
  OnnxBuilder(const OnnxBuilder& other) : model(other.model), graph(model.mutable_graph()) {}
  OnnxBuilder& operator=(const OnnxBuilder& other) {
    model = other.model;
    graph = model.mutable_graph();
    return *this;
  }

  static void set_type(onnx::ValueInfoProto* info, int elem_type, const std::vector<DimSpec>& dims,
                       bool with_shape = true) {
    auto* tt = info->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem_type);
    if (!with_shape) return;
    auto* shape = tt->mutable_shape();
    for (const DimSpec& d : dims) {
      auto* dim = shape->add_dim();
      if (d.value >= 0) {
        dim->set_dim_value(d.value);
      } else if (!d.param.empty()) {
        dim->set_dim_param(d.param);
      }
    }
  }

  onnx::ValueInfoProto* input(const std::string& name, const std::vector<DimSpec>& dims,
                              int elem_type = onnx::TensorProto::FLOAT) {
    onnx::ValueInfoProto* info = graph->add_input();
    info->set_name(name);
    set_type(info, elem_type, dims);
    return info;
  }

  onnx::ValueInfoProto* output(const std::string& name, const std::vector<DimSpec>& dims = {},
                               int elem_type = onnx::TensorProto::FLOAT) {
    onnx::ValueInfoProto* info = graph->add_output();
    info->set_name(name);
    set_type(info, elem_type, dims, !dims.empty());
    return info;
  }

  static void fill(onnx::TensorProto* t, const std::string& name, const std::vector<int64_t>& dims,
                   int data_type) {
    t->set_name(name);
    t->set_data_type(data_type);
    for (int64_t d : dims) t->add_dims(d);
  }

  onnx::TensorProto* weight(const std::string& name, const std::vector<int64_t>& dims,
                            const std::vector<float>& values) {
    onnx::TensorProto* t = graph->add_initializer();
    fill(t, name, dims, onnx::TensorProto::FLOAT);
    for (float v : values) t->add_float_data(v);
    return t;
  }

  onnx::TensorProto* weight_s64(const std::string& name, const std::vector<int64_t>& dims,
                                const std::vector<int64_t>& values) {
    onnx::TensorProto* t = graph->add_initializer();
    fill(t, name, dims, onnx::TensorProto::INT64);
    for (int64_t v : values) t->add_int64_data(v);
    return t;
  }

  // A float initializer stored as raw little-endian bytes.
  onnx::TensorProto* weight_raw(const std::string& name, const std::vector<int64_t>& dims,
                                const std::vector<float>& values) {
    onnx::TensorProto* t = graph->add_initializer();
    fill(t, name, dims, onnx::TensorProto::FLOAT);
    std::string raw(values.size() * sizeof(float), '\0');
    if (!values.empty()) std::memcpy(raw.data(), values.data(), raw.size());
    t->set_raw_data(raw);
    return t;
  }

  onnx::TensorProto* scalar(const std::string& name, float value) {
    return weight(name, {}, {value});
  }

  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs, const std::string& name = "") {
    onnx::NodeProto* n = graph->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const std::string& i : inputs) n->add_input(i);
    for (const std::string& o : outputs) n->add_output(o);
    return n;
  }

  static onnx::AttributeProto* attr(onnx::NodeProto* n, const std::string& name,
                                    onnx::AttributeProto::AttributeType type) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(type);
    return a;
  }
  static void attr_int(onnx::NodeProto* n, const std::string& name, int64_t v) {
    attr(n, name, onnx::AttributeProto::INT)->set_i(v);
  }
  static void attr_float(onnx::NodeProto* n, const std::string& name, float v) {
    attr(n, name, onnx::AttributeProto::FLOAT)->set_f(v);
  }
  static void attr_string(onnx::NodeProto* n, const std::string& name, const std::string& v) {
    attr(n, name, onnx::AttributeProto::STRING)->set_s(v);
  }
  static void attr_ints(onnx::NodeProto* n, const std::string& name,
                        const std::vector<int64_t>& v) {
    onnx::AttributeProto* a = attr(n, name, onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void attr_floats(onnx::NodeProto* n, const std::string& name,
                          const std::vector<float>& v) {
    onnx::AttributeProto* a = attr(n, name, onnx::AttributeProto::FLOATS);
    for (float x : v) a->add_floats(x);
  }

  std::string bytes() const { return model.SerializeAsString(); }

  ImportResult import(const std::string& base_dir = "") const {
    const std::string b = bytes();
    return import_onnx_bytes(b.data(), b.size(), "test.onnx", base_dir);
  }

  onnx::ModelProto model;
  onnx::GraphProto* graph;
};

// Lookups in an imported graph.
inline const Node* find_node(const Graph& g, const std::string& op) {
  for (const Node& n : g.nodes) {
    if (n.op == op) return &n;
  }
  return nullptr;
}

inline int count_ops(const Graph& g, const std::string& op) {
  int count = 0;
  for (const Node& n : g.nodes) count += n.op == op;
  return count;
}

inline std::string value_name(const Graph& g, int id) {
  return id == kNoValue ? std::string("<none>") : g.values.at(id).name;
}

inline std::vector<std::string> input_names(const Graph& g, const Node& n) {
  std::vector<std::string> names;
  for (int id : n.inputs) names.push_back(value_name(g, id));
  return names;
}

inline const Value& value_named(const Graph& g, const std::string& name) {
  const int id = g.find_value(name);
  if (id == kNoValue) throw std::runtime_error("no value named " + name);
  return g.values[id];
}

inline std::vector<float> floats_of(const Tensor& t) {
  const float* p = t.data<float>();
  return std::vector<float>(p, p + t.numel());
}

}  // namespace octet::test
