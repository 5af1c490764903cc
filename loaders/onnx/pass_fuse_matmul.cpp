// Pass 6: MatMul [+ Mul/Div(scalar)] [+ Add(bias)] [+ Add(residual)]
// [+ activation] -> one MatMul computing act(alpha x (A x B) + bias + Z): the
// scalar as attribute alpha (attention's scores / sqrt(d): a pass over every
// score saved), bias as input 2, a residual as input 3 (a transformer's
// dense output + the layer's input: the Add's pass saved), the activation as
// attributes (loaders/onnx/match_activation.cpp); and Gemm [+ activation].
// oneDNN takes alpha as an output scale, the residual as a sum post-op, the
// bias and the eltwise post-ops natively.
#include <cmath>

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

// Fuses Mul(y, c), Mul(c, y) or Div(y, c) when c is a one-element f32
// initializer with 1/c or c a normal float. c must not widen y's shape: a
// scalar never does, a [1] only when the product has rank >= 1 (B a 2-D weight).
bool fuse_scale(GraphEditor& editor, Node& matmul, std::string& line) {
  if (matmul.inputs.size() != 2 || matmul.has_attr("alpha")) return false;
  const int y = matmul.outputs[0];
  const int s = editor.sole_consumer(y);
  const bool div = editor.is_op(s, "Div");
  if ((!div && !editor.is_op(s, "Mul")) || editor.only_output(s) == kNoValue) return false;
  const Node& scale = editor.node(s);
  const int c = other_input(scale, y);  // kNoValue unless two inputs
  if (c == kNoValue || c == y || (div && scale.inputs[0] != y)) return false;  // c / y: no scale
  const Tensor* t = editor.constant(c);
  if (!t || t->dtype() != DataType::f32 || t->numel() != 1) return false;
  const Tensor* b = editor.constant(matmul.inputs[1]);
  if (t->rank() > 1 || (t->rank() == 1 && !(b && b->rank() == 2))) return false;
  const double v = t->data<float>()[0];
  const float alpha = static_cast<float>(div ? 1.0 / v : v);
  if (!std::isnormal(alpha)) return false;
  matmul.attrs["alpha"] = static_cast<double>(alpha);
  matmul.outputs[0] = editor.only_output(s);
  line += " + " + scale.op + " '" + scale.name + "'";
  editor.remove(s);
  return true;
}

// Fuses Add(y, z) when z is a computed value and B a rank-2 weight (a Linear
// layer), after the bias: z becomes input 3 (the bias, zeros if the model had
// none, input 2). Shapes are not known here: the op broadcasts z as the Add did.
bool fuse_residual(GraphEditor& editor, int m, Node& matmul, std::string& line) {
  if (matmul.inputs.size() < 2 || matmul.inputs.size() > 3) return false;  // the op says why
  const Tensor* b = editor.constant(matmul.inputs[1]);
  if (!b || b->rank() != 2 || editor.constant(matmul.inputs[0])) return false;
  const int y = matmul.outputs[0];
  const int a = editor.sole_consumer(y);
  if (!editor.is_op(a, "Add") || editor.only_output(a) == kNoValue) return false;
  const int z = other_input(editor.node(a), y);
  if (z == kNoValue || z == y || editor.constant(z) || editor.producer(z) == m) return false;
  if (matmul.inputs.size() == 2) {
    matmul.inputs.push_back(
        editor.add_initializer(matmul.name + "_zero_bias", Tensor(DataType::f32, {b->dim(1)})));
  }
  matmul.inputs.push_back(z);
  matmul.outputs[0] = editor.only_output(a);
  line += " + Add '" + editor.node(a).name + "' (residual)";
  editor.remove(a);
  return true;
}

bool fuse_activation(GraphEditor& editor, Node& node, std::string& line) {
  const std::optional<ActivationMatch> m = match_activation(editor, node.outputs[0]);
  if (!m) return false;
  line += " + " + m->description;
  apply_activation(editor, node, *m);
  return true;
}

void try_fuse(GraphEditor& editor, int m, std::vector<std::string>& log) {
  if (editor.only_output(m) == kNoValue || editor.node(m).has_attr("activation")) return;
  Node matmul = editor.node(m);
  std::string line = "fused " + matmul.op + " '" + matmul.name + "'";
  const bool scaled = matmul.op == "MatMul" && fuse_scale(editor, matmul, line);
  const bool biased = matmul.op == "MatMul" && fuse_bias(editor, matmul, line);
  const bool added = matmul.op == "MatMul" && fuse_residual(editor, m, matmul, line);
  const bool activated = fuse_activation(editor, matmul, line);
  if (!scaled && !biased && !added && !activated) return;
  editor.rewrite(m, std::move(matmul));
  log.push_back(line);
}

}  // namespace

void pass_fuse_matmul(Graph& graph, std::vector<std::string>& log) {
  GraphEditor editor(graph);
  for (size_t i = 0; i < editor.node_count(); ++i) {
    const int n = static_cast<int>(i);
    if (editor.is_op(n, "MatMul") || editor.is_op(n, "Gemm")) try_fuse(editor, n, log);
  }
  editor.finish();
}

}  // namespace octet
