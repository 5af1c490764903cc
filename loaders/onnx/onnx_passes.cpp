// GraphEditor and the matching helpers of the rewrite passes.
#include "loaders/onnx/onnx_passes.hpp"

#include <cmath>

namespace octet {

GraphEditor::GraphEditor(Graph& graph)
    : graph_(graph),
      readers_(graph.values.size()),
      producer_(graph.values.size(), -1),
      graph_output_(graph.values.size(), false),
      removed_(graph.nodes.size(), false) {
  for (int v : graph.outputs) graph_output_.at(v) = true;
  for (size_t n = 0; n < graph.nodes.size(); ++n) attach(static_cast<int>(n));
}

void GraphEditor::attach(int n) {
  const Node& node = graph_.nodes.at(n);
  for (int v : node.inputs) {
    if (v != kNoValue) ++readers_.at(v)[n];
  }
  for (int v : node.outputs) producer_.at(v) = n;
}

void GraphEditor::detach(int n) {
  const Node& node = graph_.nodes.at(n);
  for (int v : node.inputs) {
    if (v == kNoValue) continue;
    auto& readers = readers_.at(v);
    auto it = readers.find(n);
    if (it != readers.end() && --it->second == 0) readers.erase(it);
  }
  for (int v : node.outputs) {
    if (producer_.at(v) == n) producer_[v] = -1;
  }
}

bool GraphEditor::is_op(int n, const char* op) const {
  return n >= 0 && static_cast<size_t>(n) < graph_.nodes.size() && !removed_[n] &&
         graph_.nodes[n].op == op;
}

int GraphEditor::producer(int value) const {
  return valid_value(value) ? producer_[value] : -1;
}

std::vector<int> GraphEditor::consumers(int value) const {
  std::vector<int> result;
  if (!valid_value(value)) return result;
  for (const auto& [n, count] : readers_[value]) result.push_back(n);
  return result;
}

bool GraphEditor::is_graph_output(int value) const {
  return valid_value(value) && graph_output_[value];
}

int GraphEditor::sole_consumer(int value) const {
  if (!valid_value(value) || graph_output_[value] || readers_[value].size() != 1) return -1;
  return readers_[value].begin()->first;
}

int GraphEditor::only_output(int n) const {
  if (n < 0 || static_cast<size_t>(n) >= graph_.nodes.size() || removed_[n]) return kNoValue;
  const Node& node = graph_.nodes[n];
  return node.outputs.size() == 1 ? node.outputs[0] : kNoValue;
}

const Tensor* GraphEditor::constant(int value) const {
  if (!valid_value(value) || !graph_.values[value].is_initializer()) return nullptr;
  return &graph_.values[value].data;
}

void GraphEditor::rewrite(int n, Node replacement) {
  detach(n);
  graph_.nodes.at(n) = std::move(replacement);
  attach(n);
}

void GraphEditor::remove(int n) {
  detach(n);
  removed_.at(n) = true;
}

void GraphEditor::replace_uses(int from, int to) {
  if (!valid_value(from) || !valid_value(to) || from == to) return;
  for (const auto& [n, count] : readers_[from]) {
    for (int& v : graph_.nodes[n].inputs) {
      if (v == from) v = to;
    }
    readers_[to][n] += count;
  }
  readers_[from].clear();
}

int GraphEditor::add_initializer(const std::string& base, Tensor data) {
  if (names_.empty()) {
    for (const Value& v : graph_.values) names_.insert(v.name);
  }
  std::string name = base;
  for (int i = 1; names_.count(name); ++i) name = base + "_" + std::to_string(i);
  names_.insert(name);
  Value value;
  value.name = name;
  value.dtype = data.dtype();
  value.shape = std::vector<Dim>();
  for (int64_t d : data.shape()) value.shape->push_back(Dim{d, ""});
  value.data = std::move(data);
  // Not Graph::add_value: its duplicate check is a linear scan.
  graph_.values.push_back(std::move(value));
  readers_.emplace_back();
  producer_.push_back(-1);
  graph_output_.push_back(false);
  return static_cast<int>(graph_.values.size() - 1);
}

void GraphEditor::finish() {
  std::vector<Node> kept;
  kept.reserve(graph_.nodes.size());
  for (size_t n = 0; n < graph_.nodes.size(); ++n) {
    if (!removed_[n]) kept.push_back(std::move(graph_.nodes[n]));
  }
  graph_.nodes = std::move(kept);
}

int other_input(const Node& node, int value) {
  if (node.inputs.size() != 2 || value == kNoValue) return kNoValue;
  if (node.inputs[0] == value) return node.inputs[1];
  if (node.inputs[1] == value) return node.inputs[0];
  return kNoValue;
}

std::optional<double> scalar_constant(const GraphEditor& editor, int value) {
  const Tensor* t = editor.constant(value);
  if (!t || t->numel() != 1) return std::nullopt;
  switch (t->dtype()) {
    case DataType::f32:
      return t->data<float>()[0];
    case DataType::s32:
      return t->data<int32_t>()[0];
    case DataType::s64:
      return static_cast<double>(t->data<int64_t>()[0]);
    default:
      return std::nullopt;
  }
}

bool near(double a, double b, double rel) {
  return std::fabs(a - b) <= rel * std::fabs(b);
}

bool is_scalar(const GraphEditor& editor, int value, double expected) {
  const std::optional<double> v = scalar_constant(editor, value);
  return v && near(*v, expected);
}

bool is_vector_f32(const GraphEditor& editor, int value, int64_t length) {
  const Tensor* t = editor.constant(value);
  return t && t->dtype() == DataType::f32 && t->rank() == 1 && (length < 0 || t->dim(0) == length);
}

}  // namespace octet
