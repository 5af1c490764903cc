// Pass 6: MatMul [+ Add(bias)] [+ Gelu | Relu] -> one MatMul computing
// act(A x B + bias): bias as input 2, activation "gelu" or "relu" (absent =
// none). oneDNN matmul takes the bias and the eltwise post-op natively.
#include "loaders/onnx/onnx_import.hpp"
#include "loaders/onnx/onnx_passes.hpp"

namespace octet {

namespace {

// Fuses Add(y, bias) when bias is a 1-D weight of length N and B a 2-D weight
// [K, N]: then the bias broadcasts along the last axis exactly like the Add.
bool fuse_bias(GraphEditor& editor, Node& matmul, std::string& line) {
  if (matmul.inputs.size() != 2) return false;
  const Tensor* b = editor.constant(matmul.inputs[1]);
  if (!b || b->rank() != 2) return false;
  const int y = matmul.outputs[0];
  const int a = editor.sole_consumer(y);
  if (!editor.is_op(a, "Add") || editor.only_output(a) == kNoValue) return false;
  const int bias = other_input(editor.node(a), y);
  if (!is_vector_f32(editor, bias, b->dim(1))) return false;
  matmul.inputs.push_back(bias);
  matmul.outputs[0] = editor.only_output(a);
  line += " + Add '" + editor.node(a).name + "'";
  editor.remove(a);
  return true;
}

// The activation the reader of the output computes, or "" if it is none we fuse.
std::string activation_of(const GraphEditor& editor, int n) {
  if (editor.only_output(n) == kNoValue || editor.node(n).inputs.size() != 1) return "";
  if (editor.is_op(n, "Relu")) return "relu";
  // Only the exact GELU: the tanh approximation is another function.
  if (editor.is_op(n, "Gelu") && editor.node(n).attr_string("approximate", "none") == "none") {
    return "gelu";
  }
  return "";
}

bool fuse_activation(GraphEditor& editor, Node& matmul, std::string& line) {
  const int n = editor.sole_consumer(matmul.outputs[0]);
  const std::string activation = activation_of(editor, n);
  if (activation.empty()) return false;
  matmul.attrs["activation"] = activation;
  matmul.outputs[0] = editor.only_output(n);
  line += " + " + editor.node(n).op + " '" + editor.node(n).name + "'";
  editor.remove(n);
  return true;
}

void try_fuse(GraphEditor& editor, int m, std::vector<std::string>& log) {
  if (editor.only_output(m) == kNoValue || editor.node(m).has_attr("activation")) return;
  Node matmul = editor.node(m);
  std::string line = "fused MatMul '" + matmul.name + "'";
  const bool biased = fuse_bias(editor, matmul, line);
  const bool activated = fuse_activation(editor, matmul, line);
  if (!biased && !activated) return;
  editor.rewrite(m, std::move(matmul));
  log.push_back(line);
}

}  // namespace

void pass_fuse_matmul(Graph& graph, std::vector<std::string>& log) {
  GraphEditor editor(graph);
  for (size_t i = 0; i < editor.node_count(); ++i) {
    const int n = static_cast<int>(i);
    if (editor.is_op(n, "MatMul")) try_fuse(editor, n, log);
  }
  editor.finish();
}

}  // namespace octet
