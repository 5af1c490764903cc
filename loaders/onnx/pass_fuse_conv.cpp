// Pass 3: Conv [+ Add(residual)] [+ activation] -> one Conv, computing
// act(conv(X, W) + B + Z) with Z as input 3 and the activation as attributes
// (loaders/onnx/match_activation.cpp: Relu, Clip, Sigmoid, HardSigmoid,
// HardSwish, SiLU, GELU). oneDNN does the residual as a sum post-op and the
// activation as eltwise ones. Also BatchNormalization [+ activation]: a BN
// still here follows no Conv (pass 2 folded those), as in DenseNet's
// BN-ReLU-Conv blocks, and runs as a depthwise conv with the activation
// fused (ops/batch_norm.cpp), in int8 too.
#include "loaders/onnx/onnx_import.hpp"
#include "loaders/onnx/onnx_passes.hpp"

namespace octet {

namespace {

// Fuses the Add reading `conv`'s output into it; `conv` is node `c`'s copy.
bool fuse_add(GraphEditor& editor, int c, Node& conv, std::string& line) {
  if (conv.inputs.size() < 2 || conv.inputs.size() > 3) return false;
  const int y = conv.outputs[0];
  const int a = editor.sole_consumer(y);
  if (!editor.is_op(a, "Add") || editor.only_output(a) == kNoValue) return false;
  const int z = other_input(editor.node(a), y);
  // Z must be a computed tensor of the output's shape: a weight would
  // broadcast (that is a bias, not a residual), and Add(y, y) is no residual.
  if (z == kNoValue || z == y || editor.constant(z) || editor.producer(z) == c) return false;
  if (!conv.has_input(2)) {
    // Input 3 needs an input 2: zeros, as long as W says how many channels.
    const Tensor* w = editor.constant(conv.inputs[1]);
    if (!w || w->rank() == 0 || w->dim(0) <= 0) return false;
    conv.inputs.resize(3);
    conv.inputs[2] =
        editor.add_initializer(conv.name + "_zero_bias", Tensor(DataType::f32, {w->dim(0)}));
  }
  conv.inputs.push_back(z);
  conv.outputs[0] = editor.only_output(a);
  line += " + Add '" + editor.node(a).name + "'";
  editor.remove(a);
  return true;
}

bool fuse_activation(GraphEditor& editor, Node& conv, std::string& line) {
  const std::optional<ActivationMatch> m = match_activation(editor, conv.outputs[0]);
  if (!m) return false;
  line += " + " + m->description;
  apply_activation(editor, conv, *m);
  return true;
}

void try_fuse(GraphEditor& editor, int c, std::vector<std::string>& log) {
  if (editor.only_output(c) == kNoValue || editor.node(c).has_attr("activation")) return;
  Node conv = editor.node(c);
  std::string line = "fused Conv '" + conv.name + "'";
  const bool added = fuse_add(editor, c, conv, line);
  const bool activated = fuse_activation(editor, conv, line);
  if (!added && !activated) return;
  editor.rewrite(c, std::move(conv));
  log.push_back(line);
}

void try_fuse_batchnorm(GraphEditor& editor, int b, std::vector<std::string>& log) {
  if (editor.only_output(b) == kNoValue || editor.node(b).has_attr("activation")) return;
  Node bn = editor.node(b);
  std::string line = "fused BatchNormalization '" + bn.name + "'";
  if (!fuse_activation(editor, bn, line)) return;
  editor.rewrite(b, std::move(bn));
  log.push_back(line);
}

}  // namespace

void pass_fuse_conv(Graph& graph, std::vector<std::string>& log) {
  GraphEditor editor(graph);
  for (size_t i = 0; i < editor.node_count(); ++i) {
    const int n = static_cast<int>(i);
    if (editor.is_op(n, "Conv")) try_fuse(editor, n, log);
    if (editor.is_op(n, "BatchNormalization")) try_fuse_batchnorm(editor, n, log);
  }
  editor.finish();
}

}  // namespace octet
