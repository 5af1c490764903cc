// Pass 0: nodes written against an older opset than the ops implement, and
// modes octet does not run. octet's ops follow the latest definition of each
// ONNX op up to opset 17; between opsets 7 and 17 the ONNX changelog (and the
// ONNX version converter's adapters) change the meaning of these ops, which
// this pass brings to the form the op implements, or rejects naming the node
// and the opset:
//   Softmax < 13         the input is coerced to 2-D at `axis` (default 1):
//                        the node gets `coerce_2d` = 1 and an explicit axis
//                        (ops/softmax.cpp implements that form);
//   Slice < 10           starts, ends, [axes] are attributes: they become s64
//                        initializer inputs (same clamping rules; steps 1);
//   BatchNormalization   spatial = 0 (< 9: statistics per activation, not per
//                        channel) is rejected; spatial = 1 is the only form
//                        from opset 9 on and is dropped;
//   Dropout >= 12        a training_mode input that is not a constant false
//                        (random dropout) is rejected.
// Every other op octet runs keeps its meaning from opset 7 to 17 (the
// differences are added types, negative axes, optional inputs, and axes as
// attributes for Squeeze/Unsqueeze < 13, which ops/reshape.cpp reads; the
// QDQ ops' per-axis scales need opset 13, checked by pass_fold_qdq).
#include "loaders/onnx/onnx_import.hpp"
#include "loaders/onnx/onnx_passes.hpp"

namespace octet {

namespace {

std::string uses_opset(int64_t opset) {
  return "; the model uses opset " + std::to_string(opset);
}

// Softmax-1/11: normalizes each row of the input coerced to 2-D at `axis`.
void old_softmax(Node& node) {
  node.attrs["axis"] = node.attr_int("axis", 1);
  node.attrs["coerce_2d"] = int64_t{1};
}

// Slice-1: starts, ends and optional axes as attributes.
void old_slice(GraphEditor& editor, int n, int64_t opset) {
  Node node = editor.node(n);
  if (node.inputs.size() != 1 || !node.has_input(0)) {
    node.fail(
        ErrorCode::invalid_model,
        "takes 1 input (starts, ends and axes are attributes before opset 10)" + uses_opset(opset));
  }
  if (!node.has_attr("starts") || !node.has_attr("ends")) {
    node.fail(ErrorCode::invalid_model,
              "needs attributes starts and ends before opset 10" + uses_opset(opset));
  }
  const std::vector<int64_t> starts = node.attr_ints("starts"), ends = node.attr_ints("ends");
  if (starts.size() != ends.size()) {
    node.fail(ErrorCode::invalid_model, "starts and ends have different lengths");
  }
  for (const char* key : {"starts", "ends", "axes"}) {
    if (!node.has_attr(key)) continue;
    const std::vector<int64_t> values = node.attr_ints(key);
    if (values.size() != starts.size()) {
      node.fail(ErrorCode::invalid_model, "starts, ends and axes have different lengths");
    }
    Tensor t(DataType::s64, {static_cast<int64_t>(values.size())});
    std::copy(values.begin(), values.end(), t.data<int64_t>());
    node.inputs.push_back(editor.add_initializer(node.name + "_" + key, std::move(t)));
    node.attrs.erase(key);
  }
  editor.rewrite(n, std::move(node));
}

void old_batchnorm(Node& node, int64_t opset) {
  if (!node.has_attr("spatial")) return;
  if (node.attr_int("spatial") != 1) {
    node.fail(ErrorCode::unsupported,
              "spatial = 0 (mean and variance per activation, not per channel) is not supported" +
                  uses_opset(opset));
  }
  node.attrs.erase("spatial");
}

// Dropout-12+: random dropout unless training_mode is absent or false.
void check_dropout(const GraphEditor& editor, const Node& node, int64_t opset) {
  if (!node.has_input(2)) return;
  const Tensor* mode = editor.constant(node.inputs[2]);
  const bool is_false =
      mode && mode->numel() == 1 && mode->dtype() == DataType::boolean && !mode->data<bool>()[0];
  if (!is_false) {
    node.fail(ErrorCode::unsupported,
              "training_mode must be a constant false: octet does not run random dropout" +
                  uses_opset(opset));
  }
}

}  // namespace

void pass_opset_forms(Graph& graph, std::vector<std::string>& log, int64_t opset) {
  GraphEditor editor(graph);
  int softmaxes = 0, slices = 0;
  for (size_t i = 0; i < editor.node_count(); ++i) {
    const int n = static_cast<int>(i);
    if (editor.is_op(n, "Softmax")) {
      // coerce_2d is octet's, not ONNX's: an ONNX file cannot choose it.
      Node node = editor.node(n);
      node.attrs.erase("coerce_2d");
      if (opset < 13) {
        old_softmax(node);
        ++softmaxes;
      }
      editor.rewrite(n, std::move(node));
    } else if (editor.is_op(n, "Slice") && opset < 10) {
      old_slice(editor, n, opset);
      ++slices;
    } else if (editor.is_op(n, "BatchNormalization") && opset < 9) {
      Node node = editor.node(n);
      old_batchnorm(node, opset);
      editor.rewrite(n, std::move(node));
    } else if (editor.is_op(n, "Dropout")) {
      check_dropout(editor, editor.node(n), opset);
    }
  }
  editor.finish();
  const std::string at = " (opset " + std::to_string(opset) + ")";
  if (softmaxes) {
    log.push_back("kept the 2-D coercion of " + std::to_string(softmaxes) + " Softmax node(s)" +
                  at + ": coerce_2d = 1");
  }
  if (slices) {
    log.push_back("turned the starts/ends/axes attributes of " + std::to_string(slices) +
                  " Slice node(s)" + at + " into initializers");
  }
}

}  // namespace octet
