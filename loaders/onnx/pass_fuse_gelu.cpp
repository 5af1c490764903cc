// Pass 5: the exact GELU, x * 0.5 * (1 + erf(x / sqrt(2))), as torch exports
// it, -> Gelu(x; approximate="none"). Around the common core
//   u = Div(x, 1.4142135) or Mul(x, 0.70710677)   w = Add(Erf(u), 1)
// three orders of the two remaining multiplications are recognized:
//   A: Mul(Mul(x, w), 0.5)      (torch.nn.functional.gelu)
//   B: Mul(Mul(x, 0.5), w)      (BERT's x * 0.5 * (1 + erf(...)))
//   C: Mul(x, Mul(w, 0.5))
// Constants match within 1e-4 relative; Add and Mul accept either order.
#include <cmath>

#include "loaders/onnx/onnx_import.hpp"
#include "loaders/onnx/onnx_passes.hpp"

namespace octet {

namespace {

struct GeluMatch {
  std::vector<int> nodes;  // the Erf first
  int x = kNoValue;
  int y = kNoValue;
};

// The node reading `value` if it is the only reader and runs `op`, else -1.
int next(const GraphEditor& editor, int value, const char* op) {
  const int n = editor.sole_consumer(value);
  return editor.is_op(n, op) && editor.only_output(n) != kNoValue ? n : -1;
}

// For Mul(a, c) in either order with c a scalar close to `factor`: a.
int scaled_input(const GraphEditor& editor, int mul, double factor) {
  if (!editor.is_op(mul, "Mul")) return kNoValue;
  const Node& node = editor.node(mul);
  if (node.inputs.size() != 2) return kNoValue;
  if (is_scalar(editor, node.inputs[1], factor)) return node.inputs[0];
  if (is_scalar(editor, node.inputs[0], factor)) return node.inputs[1];
  return kNoValue;
}

// x / sqrt(2), as Div or as Mul by its reciprocal, produced only for the Erf:
// the node, or -1; sets x.
int match_scaled_x(const GraphEditor& editor, int erf, GeluMatch& m) {
  const int u = editor.node(erf).inputs[0];
  const int n = editor.producer(u);
  if (editor.sole_consumer(u) != erf || editor.only_output(n) != u) return -1;
  const Node& node = editor.node(n);
  if (editor.is_op(n, "Div") && node.inputs.size() == 2 &&
      is_scalar(editor, node.inputs[1], std::sqrt(2.0))) {
    m.x = node.inputs[0];
  } else {
    m.x = scaled_input(editor, n, 1.0 / std::sqrt(2.0));
  }
  return m.x == kNoValue || editor.constant(m.x) ? -1 : n;
}

// The outer multiplications by x and 0.5 around w = 1 + erf(.) (orders A, B, C).
bool match_outer(const GraphEditor& editor, int w, GeluMatch& m) {
  const int mul = next(editor, w, "Mul");
  if (mul < 0) return false;
  const int other = other_input(editor.node(mul), w);
  const int out = editor.only_output(mul);
  if (other == m.x) {  // A
    const int half = next(editor, out, "Mul");
    if (scaled_input(editor, half, 0.5) != out) return false;
    m.nodes.insert(m.nodes.end(), {mul, half});
    m.y = editor.only_output(half);
    return true;
  }
  const int h = editor.producer(other);
  if (editor.sole_consumer(other) == mul && editor.only_output(h) == other &&
      scaled_input(editor, h, 0.5) == m.x) {  // B
    m.nodes.insert(m.nodes.end(), {h, mul});
    m.y = out;
    return true;
  }
  if (is_scalar(editor, other, 0.5)) {  // C
    const int times_x = next(editor, out, "Mul");
    if (times_x < 0 || other_input(editor.node(times_x), out) != m.x) return false;
    m.nodes.insert(m.nodes.end(), {mul, times_x});
    m.y = editor.only_output(times_x);
    return true;
  }
  return false;
}

bool match(const GraphEditor& editor, int erf, GeluMatch& m) {
  if (!editor.is_op(erf, "Erf") || editor.node(erf).inputs.size() != 1 ||
      editor.only_output(erf) == kNoValue) {
    return false;
  }
  const int scale = match_scaled_x(editor, erf, m);
  if (scale < 0) return false;
  const int e = editor.only_output(erf);
  const int add = next(editor, e, "Add");
  if (add < 0 || !is_scalar(editor, other_input(editor.node(add), e), 1.0)) return false;
  m.nodes = {erf, scale, add};
  return match_outer(editor, editor.only_output(add), m);
}

void rewrite(GraphEditor& editor, const GeluMatch& m) {
  Node gelu;
  gelu.op = "Gelu";
  gelu.name = editor.node(m.nodes[0]).name;
  gelu.inputs = {m.x};
  gelu.outputs = {m.y};
  gelu.attrs["approximate"] = std::string("none");
  for (size_t i = 1; i < m.nodes.size(); ++i) editor.remove(m.nodes[i]);
  editor.rewrite(m.nodes[0], std::move(gelu));
}

}  // namespace

void pass_fuse_gelu(Graph& graph, std::vector<std::string>& log) {
  GraphEditor editor(graph);
  for (size_t i = 0; i < editor.node_count(); ++i) {
    GeluMatch m;
    if (!match(editor, static_cast<int>(i), m)) continue;
    log.push_back("fused Gelu '" + editor.node(m.nodes[0]).name + "' from " +
                  std::to_string(m.nodes.size()) + " nodes (Erf pattern)");
    rewrite(editor, m);
  }
  editor.finish();
}

}  // namespace octet
