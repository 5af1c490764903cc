// Pass 1: Identity and (inference-mode) Dropout copy their input; consumers
// can read the input directly.
#include "loaders/onnx/onnx_import.hpp"
#include "loaders/onnx/onnx_passes.hpp"

namespace octet {

namespace {

bool is_removable_kind(const GraphEditor& editor, int n) {
  const Node& node = editor.node(n);
  if (editor.is_op(n, "Identity")) {
    return node.inputs.size() == 1 && node.has_input(0) && node.outputs.size() == 1;
  }
  if (!editor.is_op(n, "Dropout")) return false;
  if (!node.has_input(0) || node.outputs.empty() || node.outputs.size() > 2) return false;
  // The mask output has no meaning at inference; keep the node if anyone reads it.
  if (node.outputs.size() == 2) {
    const int mask = node.outputs[1];
    if (editor.is_graph_output(mask) || !editor.consumers(mask).empty()) return false;
  }
  return true;
}

// Removes node `n` copying `x` to `y`; false if the node must stay.
bool bypass(GraphEditor& editor, int n, int x, int y) {
  if (!editor.is_graph_output(y)) {
    editor.remove(n);
    editor.replace_uses(y, x);
    return true;
  }
  // `y` is a graph output, whose name must survive: let x's producer write
  // `y` instead. Impossible when x has no producer (graph input or weight) or
  // must itself stay visible as a graph output.
  const int p = editor.producer(x);
  if (p < 0 || editor.is_graph_output(x)) return false;
  editor.remove(n);
  Node producer = editor.node(p);
  for (int& v : producer.outputs) {
    if (v == x) v = y;
  }
  editor.rewrite(p, std::move(producer));
  editor.replace_uses(x, y);
  return true;
}

}  // namespace

void pass_remove_identity(Graph& graph, std::vector<std::string>& log) {
  GraphEditor editor(graph);
  // Node order is topological, so a chain of copies collapses front to back.
  for (size_t i = 0; i < editor.node_count(); ++i) {
    const int n = static_cast<int>(i);
    if (!is_removable_kind(editor, n)) continue;
    const Node& node = editor.node(n);
    const std::string line = "removed " + node.op + " '" + node.name + "'";
    if (bypass(editor, n, node.inputs[0], node.outputs[0])) log.push_back(line);
  }
  editor.finish();
}

}  // namespace octet
