// The activation that follows a value, as the fusion passes fold it into the
// Conv, MatMul or Gemm producing that value (ops/activation.hpp says what
// each becomes in oneDNN). Recognized, on a value y read by nothing else:
//   Relu(y)                                  relu
//   Clip(y, min, max), constant bounds       clip [min, max] (relu for [0, inf))
//   Sigmoid(y)                               sigmoid
//   HardSigmoid(y; alpha, beta)              hardsigmoid [alpha, beta]
//   HardSwish(y)                             hardswish
//   Gelu(y; approximate="none")              gelu (pass_fuse_gelu makes it)
// and, on a y read by exactly the two nodes of the pattern:
//   Mul(y, Sigmoid(y))                       swish (SiLU, as torch exports it)
//   Mul(y, HardSigmoid(y; 1/6, 0.5))         hardswish (torch's export before opset 14)
#include <cfloat>
#include <cmath>

#include "loaders/onnx/onnx_import.hpp"
#include "loaders/onnx/onnx_passes.hpp"

namespace octet {

namespace {

// A node of `op` with one output, reading `value` as its only (first) input.
bool unary_on(const GraphEditor& editor, int n, const char* op, int value) {
  if (!editor.is_op(n, op) || editor.only_output(n) == kNoValue) return false;
  const Node& node = editor.node(n);
  return !node.inputs.empty() && node.inputs[0] == value;
}

// Clip's bound: input `i` (opset 11+), else attribute `attr` (opset 6),
// else `fallback`; nullopt when it is computed at run time.
std::optional<double> clip_bound(const GraphEditor& editor, const Node& clip, size_t i,
                                 const char* attr, double fallback) {
  if (clip.has_input(i)) {
    const Tensor* t = editor.constant(clip.inputs[i]);
    if (!t || t->dtype() != DataType::f32 || t->numel() != 1) return std::nullopt;
    return t->data<float>()[0];
  }
  return clip.has_attr(attr) ? clip.attr_float(attr) : fallback;
}

std::optional<ActivationMatch> single(const GraphEditor& editor, int n, int value) {
  ActivationMatch m;
  m.nodes = {n};
  m.output = editor.only_output(n);
  m.description = editor.node(n).op + " '" + editor.node(n).name + "'";
  const Node& node = editor.node(n);
  if (unary_on(editor, n, "Relu", value) && node.inputs.size() == 1) {
    m.name = "relu";
  } else if (unary_on(editor, n, "Sigmoid", value) && node.inputs.size() == 1) {
    m.name = "sigmoid";
  } else if (unary_on(editor, n, "HardSwish", value) && node.inputs.size() == 1) {
    m.name = "hardswish";
  } else if (unary_on(editor, n, "HardSigmoid", value) && node.inputs.size() == 1) {
    m.name = "hardsigmoid";
    m.params = {node.attr_float("alpha", 0.2), node.attr_float("beta", 0.5)};
  } else if (unary_on(editor, n, "Gelu", value) && node.inputs.size() == 1 &&
             node.attr_string("approximate", "none") == "none") {
    m.name = "gelu";
  } else if (unary_on(editor, n, "Clip", value) && node.inputs.size() <= 3) {
    const std::optional<double> lo = clip_bound(editor, node, 1, "min", -FLT_MAX);
    const std::optional<double> hi = clip_bound(editor, node, 2, "max", FLT_MAX);
    if (!lo || !hi || !(*lo <= *hi)) return std::nullopt;
    if (*lo == 0 && *hi >= FLT_MAX) {
      m.name = "relu";
    } else {
      m.name = "clip";
      m.params = {*lo, *hi};
    }
  } else {
    return std::nullopt;
  }
  return m;
}

// y * gate(y): the two readers of y are the gate and the Mul of both.
std::optional<ActivationMatch> gated(const GraphEditor& editor, int value) {
  const std::vector<int> readers = editor.consumers(value);
  if (readers.size() != 2 || editor.is_graph_output(value)) return std::nullopt;
  for (int k = 0; k < 2; ++k) {
    const int gate = readers[k], mul = readers[1 - k];
    if (!editor.is_op(mul, "Mul") || editor.only_output(mul) == kNoValue) continue;
    const int g = editor.only_output(gate);
    if (g == kNoValue || editor.sole_consumer(g) != mul ||
        other_input(editor.node(mul), value) != g) {
      continue;
    }
    ActivationMatch m;
    m.nodes = {gate, mul};
    m.output = editor.only_output(mul);
    m.description = "Mul '" + editor.node(mul).name + "' with " + editor.node(gate).op + " '" +
                    editor.node(gate).name + "'";
    if (unary_on(editor, gate, "Sigmoid", value) && editor.node(gate).inputs.size() == 1) {
      m.name = "swish";
      return m;
    }
    if (unary_on(editor, gate, "HardSigmoid", value) && editor.node(gate).inputs.size() == 1 &&
        near(editor.node(gate).attr_float("alpha", 0.2), 1.0 / 6.0) &&
        near(editor.node(gate).attr_float("beta", 0.5), 0.5)) {
      m.name = "hardswish";
      return m;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<ActivationMatch> match_activation(const GraphEditor& editor, int value) {
  const int n = editor.sole_consumer(value);
  if (n >= 0) return single(editor, n, value);
  return gated(editor, value);
}

void apply_activation(GraphEditor& editor, Node& node, const ActivationMatch& m) {
  node.attrs["activation"] = m.name;
  if (!m.params.empty()) node.attrs["activation_params"] = m.params;
  node.outputs[0] = m.output;
  for (int n : m.nodes) editor.remove(n);
}

}  // namespace octet
