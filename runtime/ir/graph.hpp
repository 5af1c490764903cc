// The graph IR shared by loaders, ops and the runtime: values and nodes referred
// to by integer id, named attributes, and quantization parameters stored on the
// values they describe. Includes nothing of octet but the public header.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "octet/octet.hpp"

namespace octet {

using AttrValue = std::variant<int64_t, double, std::string, std::vector<int64_t>,
                               std::vector<double>, std::vector<std::string>>;

const char* attr_type_name(const AttrValue& value);

// Activation quantization of one value: symmetric, zero point 0,
// scale = amax / 127 (s8) or amax / 255 (u8).
struct ActivationQuant {
  float amax = 0;
  DataType dtype = DataType::s8;  // s8 or u8
  std::string source;             // "calibration:entropy", "qdq", ...
  float scale() const { return amax / (dtype == DataType::u8 ? 255.f : 127.f); }
};

// Per-channel weight ranges taken from a QAT model (QDQ), or stored with the
// weights' int8 integers; when absent the runtime computes max|w| per output
// channel itself.
struct WeightQuant {
  int axis = 0;
  std::vector<float> amax;
  // The initializer holds s8 integers q = round_half_even(w / (amax_c / 127))
  // in [-127, 127] (Model::with_int8_weights); the value it stands for is
  // q x amax_c / 127. Such a weight feeds only the weight input of a Conv,
  // MatMul or Gemm (int8_weight_slot), checked on load.
  bool stored_s8 = false;
};

// The f32 values a stored s8 weight stands for: q x amax_c / 127 along
// `quant.axis` (1 x q for an all-zero channel).
Tensor stored_weight_values(const Tensor& q, const WeightQuant& quant);

struct Value {
  std::string name;
  DataType dtype = DataType::f32;
  std::optional<std::vector<Dim>> shape;  // declared shape, if known
  Tensor data;                            // non-empty for initializers
  std::optional<ActivationQuant> quant;
  std::optional<WeightQuant> weight_quant;

  bool is_initializer() const { return !data.empty(); }
};

constexpr int kNoValue = -1;  // an omitted optional input

struct Node {
  std::string op;
  std::string name;
  std::vector<int> inputs;   // value ids, kNoValue for omitted optional inputs
  std::vector<int> outputs;  // value ids
  std::map<std::string, AttrValue> attrs;

  bool has_input(size_t i) const { return i < inputs.size() && inputs[i] != kNoValue; }
  bool has_attr(const std::string& key) const { return attrs.count(key) != 0; }

  // Typed attribute access. A missing attribute without a default, or one of
  // the wrong type, throws an Error naming the node and the attribute.
  int64_t attr_int(const std::string& key) const;
  int64_t attr_int(const std::string& key, int64_t fallback) const;
  double attr_float(const std::string& key) const;  // accepts integers too
  double attr_float(const std::string& key, double fallback) const;
  std::string attr_string(const std::string& key) const;
  std::string attr_string(const std::string& key, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(const std::string& key) const;
  std::vector<int64_t> attr_ints(const std::string& key,
                                 const std::vector<int64_t>& fallback) const;
  std::vector<double> attr_floats(const std::string& key) const;

  // "node 'conv1' (Conv)": the prefix of every error about this node.
  std::string where() const;
  [[noreturn]] void fail(ErrorCode code, const std::string& message) const;
};

// Graph-level quantization settings (per-value parameters live on the values).
struct QuantizationConfig {
  std::vector<std::string> fp32_layers;  // node names or glob patterns
  std::vector<std::string> fp32_ops;     // op types
  std::string provenance_json = "{}";    // who produced the scales, how
};

struct Graph {
  std::vector<Value> values;
  std::vector<Node> nodes;  // topologically ordered once validated
  std::vector<int> inputs;  // value ids of graph inputs
  std::vector<int> outputs;
  QuantizationConfig quantization;
  std::string metadata_json = "{}";
  std::string producer;

  int find_value(const std::string& name) const;  // kNoValue when absent
  int add_value(Value value);                     // throws on a duplicate name
  // A fresh value name derived from `base` that no value uses yet.
  std::string unique_name(const std::string& base) const;

  // Per value: the nodes that read it (in node order) and the node that writes it (-1).
  std::vector<std::vector<int>> consumers() const;
  std::vector<int> producers() const;

  // Orders nodes so that every node follows the producers of its inputs; throws
  // Error naming a node on the cycle if there is one.
  void sort_topologically();
  // Drops nodes whose outputs nobody reads and values nobody references.
  void remove_dead();
};

}  // namespace octet
