// Pass 3: Conv [+ Add(residual)] [+ Relu] -> one Conv, computing
// act(conv(X, W) + B + Z) with Z as input 3 and activation "relu" or absent.
// oneDNN does the residual as a sum post-op and the Relu as an eltwise one.
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

bool fuse_relu(GraphEditor& editor, Node& conv, std::string& line) {
  const int r = editor.sole_consumer(conv.outputs[0]);
  if (!editor.is_op(r, "Relu") || editor.only_output(r) == kNoValue) return false;
  conv.attrs["activation"] = std::string("relu");
  conv.outputs[0] = editor.only_output(r);
  line += " + Relu '" + editor.node(r).name + "'";
  editor.remove(r);
  return true;
}

void try_fuse(GraphEditor& editor, int c, std::vector<std::string>& log) {
  if (editor.only_output(c) == kNoValue || editor.node(c).has_attr("activation")) return;
  Node conv = editor.node(c);
  std::string line = "fused Conv '" + conv.name + "'";
  const bool added = fuse_add(editor, c, conv, line);
  const bool activated = fuse_relu(editor, conv, line);
  if (!added && !activated) return;
  editor.rewrite(c, std::move(conv));
  log.push_back(line);
}

}  // namespace

void pass_fuse_conv(Graph& graph, std::vector<std::string>& log) {
  GraphEditor editor(graph);
  for (size_t i = 0; i < editor.node_count(); ++i) {
    const int n = static_cast<int>(i);
    if (editor.is_op(n, "Conv")) try_fuse(editor, n, log);
  }
  editor.finish();
}

}  // namespace octet
