// Pass 4: the LayerNorm decomposition torch exports below opset 17,
//   mean = ReduceMean(x, axes=[-1])     d = Sub(x, mean)
//   var = ReduceMean(Pow(d, 2), [-1])   std = Sqrt(Add(var, eps))
//   y = Add(Mul(Div(d, std), gamma), beta)
// -> LayerNormalization(x, gamma, [beta]; axis=-1, epsilon=eps). The final
// Add is optional (LayerNorm without bias); Add and Mul accept either order.
#include "loaders/onnx/onnx_import.hpp"
#include "loaders/onnx/onnx_passes.hpp"

namespace octet {

namespace {

struct LayerNormMatch {
  std::vector<int> nodes;  // every matched node; nodes[0] is the first ReduceMean
  int x = kNoValue;
  int gamma = kNoValue;
  int beta = kNoValue;  // kNoValue without the final Add
  int y = kNoValue;
  double eps = 0;
};

// ReduceMean over the last axis keeping it, with axes as an attribute (opset < 18).
bool is_last_axis_mean(const GraphEditor& editor, int n) {
  if (!editor.is_op(n, "ReduceMean") || editor.only_output(n) == kNoValue) return false;
  const Node& node = editor.node(n);
  return node.inputs.size() == 1 && node.attr_int("keepdims", 1) == 1 &&
         node.attr_ints("axes", {}) == std::vector<int64_t>{-1};
}

// The node reading `value` if it is the only reader and runs `op`, else -1.
int next(const GraphEditor& editor, int value, const char* op) {
  const int n = editor.sole_consumer(value);
  return editor.is_op(n, op) && editor.only_output(n) != kNoValue ? n : -1;
}

// d's two readers: Pow(d, 2) and Div(d, .), in either order; false otherwise.
bool split_readers(const GraphEditor& editor, int d, int& pow, int& div) {
  if (editor.is_graph_output(d)) return false;
  const std::vector<int> readers = editor.consumers(d);
  if (readers.size() != 2) return false;
  const bool pow_first = editor.is_op(readers[0], "Pow");
  pow = readers[pow_first ? 0 : 1];
  div = readers[pow_first ? 1 : 0];
  return editor.is_op(pow, "Pow") && editor.is_op(div, "Div") &&
         editor.only_output(pow) != kNoValue && editor.only_output(div) != kNoValue;
}

// mean .. d = x - mean: fills x and nodes, returns d or kNoValue.
int match_center(const GraphEditor& editor, int m1, LayerNormMatch& m) {
  if (!is_last_axis_mean(editor, m1)) return kNoValue;
  m.x = editor.node(m1).inputs[0];
  if (m.x == kNoValue) return kNoValue;
  const int mean = editor.only_output(m1);
  const int sub = next(editor, mean, "Sub");
  if (sub < 0 || editor.node(sub).inputs != std::vector<int>{m.x, mean}) return kNoValue;
  m.nodes = {m1, sub};
  return editor.only_output(sub);
}

// Pow(d, 2) .. Sqrt(var + eps): fills eps and nodes, returns the Sqrt's output.
int match_std(const GraphEditor& editor, int pow, int d, LayerNormMatch& m) {
  const Node& p = editor.node(pow);
  if (p.inputs.size() != 2 || p.inputs[0] != d || !is_scalar(editor, p.inputs[1], 2.0)) {
    return kNoValue;
  }
  const int m2 = editor.sole_consumer(editor.only_output(pow));
  if (!is_last_axis_mean(editor, m2)) return kNoValue;
  const int var = editor.only_output(m2);
  const int add = next(editor, var, "Add");
  if (add < 0) return kNoValue;
  const std::optional<double> eps = scalar_constant(editor, other_input(editor.node(add), var));
  const int sqrt = next(editor, editor.only_output(add), "Sqrt");
  if (!eps || sqrt < 0) return kNoValue;
  m.eps = *eps;
  m.nodes.insert(m.nodes.end(), {pow, m2, add, sqrt});
  return editor.only_output(sqrt);
}

// Div(d, std) * gamma [+ beta]: fills gamma, beta, y and nodes.
bool match_affine(const GraphEditor& editor, int div, int d, int std_dev, LayerNormMatch& m) {
  if (editor.node(div).inputs != std::vector<int>{d, std_dev}) return false;
  if (editor.sole_consumer(std_dev) != div) return false;
  const int normalized = editor.only_output(div);
  const int mul = next(editor, normalized, "Mul");
  if (mul < 0) return false;
  m.gamma = other_input(editor.node(mul), normalized);
  if (!is_vector_f32(editor, m.gamma)) return false;
  m.nodes.insert(m.nodes.end(), {div, mul});
  m.y = editor.only_output(mul);
  // The Add is the bias only when its other input is a weight of gamma's
  // shape; a residual Add after a bias-free LayerNorm stays an Add.
  const int add = next(editor, m.y, "Add");
  if (add < 0) return true;
  const int beta = other_input(editor.node(add), m.y);
  if (!is_vector_f32(editor, beta, editor.constant(m.gamma)->dim(0))) return true;
  m.beta = beta;
  m.nodes.push_back(add);
  m.y = editor.only_output(add);
  return true;
}

bool match(const GraphEditor& editor, int m1, LayerNormMatch& m) {
  const int d = match_center(editor, m1, m);
  int pow = -1, div = -1;
  if (d == kNoValue || !split_readers(editor, d, pow, div)) return false;
  const int std_dev = match_std(editor, pow, d, m);
  return std_dev != kNoValue && match_affine(editor, div, d, std_dev, m);
}

std::string describe(const GraphEditor& editor, const LayerNormMatch& m) {
  const Node& first = editor.node(m.nodes[0]);
  return "fused LayerNormalization '" + first.name + "' from " + std::to_string(m.nodes.size()) +
         " nodes (ReduceMean '" + first.name + "' .. " + editor.node(m.nodes.back()).op + " '" +
         editor.node(m.nodes.back()).name + "')";
}

void rewrite(GraphEditor& editor, const LayerNormMatch& m) {
  Node ln;
  ln.op = "LayerNormalization";
  ln.name = editor.node(m.nodes[0]).name;
  ln.inputs = {m.x, m.gamma};
  if (m.beta != kNoValue) ln.inputs.push_back(m.beta);
  ln.outputs = {m.y};
  ln.attrs["axis"] = int64_t{-1};
  ln.attrs["epsilon"] = m.eps;
  for (size_t i = 1; i < m.nodes.size(); ++i) editor.remove(m.nodes[i]);
  editor.rewrite(m.nodes[0], std::move(ln));
}

}  // namespace

void pass_fuse_layernorm(Graph& graph, std::vector<std::string>& log) {
  GraphEditor editor(graph);
  for (size_t i = 0; i < editor.node_count(); ++i) {
    LayerNormMatch m;
    if (!match(editor, static_cast<int>(i), m)) continue;
    log.push_back(describe(editor, m));
    rewrite(editor, m);
  }
  editor.finish();
}

}  // namespace octet
