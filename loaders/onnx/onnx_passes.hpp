// What the rewrite passes share: a GraphEditor that keeps use-def information
// current while a pass edits the graph, and small matching helpers.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "runtime/ir/graph.hpp"

namespace octet {

// Built once per pass and kept current by every edit, so that a pass stays
// (near) linear in the graph size: the importer is fuzzed, and recomputing
// Graph::consumers() after each fusion would be quadratic. Removed nodes are
// only marked until finish() erases them, so node indices stay stable during
// a pass. Every query accepts any id (kNoValue, out of range) and answers
// "nothing".
class GraphEditor {
 public:
  explicit GraphEditor(Graph& graph);

  size_t node_count() const { return graph_.nodes.size(); }
  const Node& node(int n) const { return graph_.nodes.at(n); }
  // Whether `n` is a live node running `op`.
  bool is_op(int n, const char* op) const;
  // The node writing `value`, or -1 (graph input, initializer, no value).
  int producer(int value) const;
  // The distinct live nodes reading `value`, in node order.
  std::vector<int> consumers(int value) const;
  bool is_graph_output(int value) const;
  // The one node reading `value` when nothing else (no other node, no graph
  // output) does; else -1. The test for "this intermediate may disappear".
  int sole_consumer(int value) const;
  // The single output of live node `n`, or kNoValue.
  int only_output(int n) const;
  // The data of `value` if it is an initializer, else nullptr.
  const Tensor* constant(int value) const;
  // The value itself (quantization fields included).
  Value& value(int id) { return graph_.values.at(id); }

  // Replaces node `n` (same slot) by `replacement`.
  void rewrite(int n, Node replacement);
  void remove(int n);
  // Makes every live reader of `from` read `to` instead.
  void replace_uses(int from, int to);
  // A new initializer named after `base` (made unique); returns its id.
  int add_initializer(const std::string& base, Tensor data);
  // Erases the removed nodes. The editor must not be used afterwards.
  void finish();

 private:
  bool valid_value(int v) const { return v >= 0 && static_cast<size_t>(v) < producer_.size(); }
  void attach(int n);
  void detach(int n);

  Graph& graph_;
  // Per value: reading node -> number of its input slots holding the value.
  std::vector<std::map<int, int>> readers_;
  std::vector<int> producer_;
  std::vector<bool> graph_output_;
  std::vector<bool> removed_;
  std::unordered_set<std::string> names_;  // filled on the first add_initializer
};

// For a node with exactly two inputs, one of which is `value`: the other one
// (which may equal `value`); else kNoValue.
int other_input(const Node& node, int value);
// The value of a one-element f32 or integer initializer.
std::optional<double> scalar_constant(const GraphEditor& editor, int value);
// |a - b| <= rel * |b|: how the passes compare float constants to the
// constants of a pattern.
bool near(double a, double b, double rel = 1e-4);
// A one-element initializer approximately equal to `expected`.
bool is_scalar(const GraphEditor& editor, int value, double expected);
// Whether `value` is a rank-1 f32 initializer (of `length`, if >= 0).
bool is_vector_f32(const GraphEditor& editor, int value, int64_t length = -1);

}  // namespace octet
