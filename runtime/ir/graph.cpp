#include "runtime/ir/graph.hpp"

#include <algorithm>
#include <cassert>
#include <set>

namespace octet {

const char* attr_type_name(const AttrValue& value) {
  switch (value.index()) {
    case 0:
      return "int";
    case 1:
      return "float";
    case 2:
      return "string";
    case 3:
      return "int list";
    case 4:
      return "float list";
    case 5:
      return "string list";
  }
  return "?";
}

std::string Node::where() const {
  return "node '" + name + "' (" + op + ")";
}

void Node::fail(ErrorCode code, const std::string& message) const {
  throw Error(code, where() + ": " + message);
}

namespace {

template <class T>
const char* wanted_name();
template <>
const char* wanted_name<int64_t>() {
  return "int";
}
template <>
const char* wanted_name<double>() {
  return "float";
}
template <>
const char* wanted_name<std::string>() {
  return "string";
}
template <>
const char* wanted_name<std::vector<int64_t>>() {
  return "int list";
}
template <>
const char* wanted_name<std::vector<double>>() {
  return "float list";
}

template <class T>
T get_attr(const Node& node, const std::string& key) {
  auto it = node.attrs.find(key);
  if (it == node.attrs.end()) {
    node.fail(ErrorCode::invalid_model, "missing required attribute '" + key + "'");
  }
  if (const T* v = std::get_if<T>(&it->second)) return *v;
  // Integers are valid floats; an empty list parses as either list type.
  if constexpr (std::is_same_v<T, double>) {
    if (const int64_t* v = std::get_if<int64_t>(&it->second)) return static_cast<double>(*v);
  }
  if constexpr (std::is_same_v<T, std::vector<double>>) {
    if (const auto* v = std::get_if<std::vector<int64_t>>(&it->second)) {
      return std::vector<double>(v->begin(), v->end());
    }
  }
  if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
    if (const auto* v = std::get_if<std::vector<double>>(&it->second); v && v->empty()) return {};
  }
  node.fail(ErrorCode::invalid_model, "attribute '" + key + "' must be of type " +
                                          wanted_name<T>() + ", found " +
                                          attr_type_name(it->second));
}

}  // namespace

int64_t Node::attr_int(const std::string& key) const {
  return get_attr<int64_t>(*this, key);
}
int64_t Node::attr_int(const std::string& key, int64_t fallback) const {
  return has_attr(key) ? attr_int(key) : fallback;
}
double Node::attr_float(const std::string& key) const {
  return get_attr<double>(*this, key);
}
double Node::attr_float(const std::string& key, double fallback) const {
  return has_attr(key) ? attr_float(key) : fallback;
}
std::string Node::attr_string(const std::string& key) const {
  return get_attr<std::string>(*this, key);
}
std::string Node::attr_string(const std::string& key, const std::string& fallback) const {
  return has_attr(key) ? attr_string(key) : fallback;
}
std::vector<int64_t> Node::attr_ints(const std::string& key) const {
  return get_attr<std::vector<int64_t>>(*this, key);
}
std::vector<int64_t> Node::attr_ints(const std::string& key,
                                     const std::vector<int64_t>& fallback) const {
  return has_attr(key) ? attr_ints(key) : fallback;
}
std::vector<double> Node::attr_floats(const std::string& key) const {
  return get_attr<std::vector<double>>(*this, key);
}

int Graph::find_value(const std::string& name) const {
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].name == name) return static_cast<int>(i);
  }
  return kNoValue;
}

int Graph::add_value(Value value) {
  if (find_value(value.name) != kNoValue) {
    throw Error(ErrorCode::invalid_model, "duplicate value name '" + value.name + "'");
  }
  values.push_back(std::move(value));
  return static_cast<int>(values.size() - 1);
}

std::string Graph::unique_name(const std::string& base) const {
  std::set<std::string> used;
  for (const Value& v : values) used.insert(v.name);
  if (!used.count(base)) return base;
  for (int i = 1;; ++i) {
    std::string candidate = base + "_" + std::to_string(i);
    if (!used.count(candidate)) return candidate;
  }
}

std::vector<std::vector<int>> Graph::consumers() const {
  std::vector<std::vector<int>> result(values.size());
  for (size_t n = 0; n < nodes.size(); ++n) {
    for (int v : nodes[n].inputs) {
      if (v != kNoValue) {
        auto& list = result.at(v);
        if (list.empty() || list.back() != static_cast<int>(n)) list.push_back(static_cast<int>(n));
      }
    }
  }
  return result;
}

std::vector<int> Graph::producers() const {
  std::vector<int> result(values.size(), -1);
  for (size_t n = 0; n < nodes.size(); ++n) {
    for (int v : nodes[n].outputs) result.at(v) = static_cast<int>(n);
  }
  return result;
}

void Graph::sort_topologically() {
  const std::vector<int> producer = producers();
  // Kahn's algorithm, stable: among ready nodes the earliest in file order goes first.
  std::vector<int> pending(nodes.size(), 0);
  std::vector<std::vector<int>> readers(nodes.size());
  for (size_t n = 0; n < nodes.size(); ++n) {
    std::set<int> deps;
    for (int v : nodes[n].inputs) {
      if (v != kNoValue && producer[v] >= 0) deps.insert(producer[v]);
    }
    pending[n] = static_cast<int>(deps.size());
    for (int d : deps) readers[d].push_back(static_cast<int>(n));
  }
  std::set<int> ready;
  for (size_t n = 0; n < nodes.size(); ++n) {
    if (pending[n] == 0) ready.insert(static_cast<int>(n));
  }
  std::vector<int> order;
  while (!ready.empty()) {
    int n = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(n);
    for (int r : readers[n]) {
      if (--pending[r] == 0) ready.insert(r);
    }
  }
  if (order.size() != nodes.size()) {
    for (size_t n = 0; n < nodes.size(); ++n) {
      if (pending[n] > 0) {
        nodes[n].fail(ErrorCode::invalid_model, "the graph has a cycle through this node");
      }
    }
  }
  std::vector<Node> sorted;
  sorted.reserve(nodes.size());
  for (int n : order) sorted.push_back(std::move(nodes[n]));
  nodes = std::move(sorted);
}

void Graph::remove_dead() {
  std::vector<bool> live_value(values.size(), false);
  for (int v : outputs) live_value.at(v) = true;
  std::vector<bool> live_node(nodes.size(), false);
  // Nodes are topologically ordered: walk backwards once.
  for (size_t i = nodes.size(); i-- > 0;) {
    for (int v : nodes[i].outputs) {
      if (live_value[v]) live_node[i] = true;
    }
    if (!live_node[i]) continue;
    for (int v : nodes[i].inputs) {
      if (v != kNoValue) live_value[v] = true;
    }
  }
  for (int v : inputs) live_value.at(v) = true;
  std::vector<Node> kept;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (live_node[i]) kept.push_back(std::move(nodes[i]));
  }
  nodes = std::move(kept);
  // Outputs of kept nodes stay (a multi-output node may have unread outputs).
  for (const Node& n : nodes) {
    for (int v : n.outputs) live_value[v] = true;
  }
  std::vector<int> remap(values.size(), kNoValue);
  std::vector<Value> kept_values;
  for (size_t v = 0; v < values.size(); ++v) {
    if (live_value[v]) {
      remap[v] = static_cast<int>(kept_values.size());
      kept_values.push_back(std::move(values[v]));
    }
  }
  values = std::move(kept_values);
  auto fix = [&](std::vector<int>& ids) {
    for (int& id : ids) {
      if (id != kNoValue) id = remap[id];
    }
  };
  for (Node& n : nodes) {
    fix(n.inputs);
    fix(n.outputs);
  }
  fix(inputs);
  fix(outputs);
}

Tensor stored_weight_values(const Tensor& q, const WeightQuant& quant) {
  assert(q.dtype() == DataType::s8);
  Tensor out(DataType::f32, q.shape());
  const int64_t channels = q.dim(static_cast<size_t>(quant.axis));
  int64_t inner = 1;
  for (size_t d = static_cast<size_t>(quant.axis) + 1; d < q.rank(); ++d) inner *= q.dim(d);
  const int8_t* src = q.data<int8_t>();
  float* dst = out.data<float>();
  for (int64_t i = 0; i < q.numel(); ++i) {
    const float a = quant.amax[static_cast<size_t>((i / inner) % channels)];
    dst[i] = static_cast<float>(src[i]) * (a > 0 ? a / 127.f : 1.f);
  }
  return out;
}

}  // namespace octet
