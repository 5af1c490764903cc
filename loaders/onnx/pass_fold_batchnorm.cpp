// Pass 2: a BatchNormalization (inference form) right after a Conv is an
// affine map per output channel, folded into the Conv's weights and bias:
//   s = gamma / sqrt(var + eps);  W' = W * s;  b' = (b - mean) * s + beta.
#include <cfloat>
#include <cmath>

#include "loaders/onnx/onnx_import.hpp"
#include "loaders/onnx/onnx_passes.hpp"

namespace octet {

namespace {

struct BnParams {
  const float* gamma;
  const float* beta;
  const float* mean;
  const float* var;
  double eps;
};

// Computed in double and rounded once; a result outside the float range
// becomes +-inf rather than an undefined conversion.
float to_float(double x) {
  if (std::isfinite(x) && std::fabs(x) > FLT_MAX) return x > 0 ? INFINITY : -INFINITY;
  return static_cast<float>(x);
}

// The BN's four parameter vectors, when each is an f32 initializer of length `channels`.
std::optional<BnParams> bn_params(const GraphEditor& editor, const Node& bn, int64_t channels) {
  for (size_t i = 1; i <= 4; ++i) {
    if (!is_vector_f32(editor, bn.inputs[i], channels)) return std::nullopt;
  }
  auto param = [&](size_t i) { return editor.constant(bn.inputs[i])->data<float>(); };
  return BnParams{param(1), param(2), param(3), param(4), bn.attr_float("epsilon", 1e-5)};
}

Tensor folded_weight(const Tensor& w, const std::vector<double>& scale) {
  Tensor out(DataType::f32, w.shape());
  const int64_t per_channel = w.numel() / w.dim(0);
  const float* src = w.data<float>();
  float* dst = out.data<float>();
  for (int64_t c = 0; c < w.dim(0); ++c) {
    for (int64_t i = c * per_channel; i < (c + 1) * per_channel; ++i) {
      dst[i] = to_float(src[i] * scale[c]);
    }
  }
  return out;
}

Tensor folded_bias(const float* bias, const BnParams& bn, const std::vector<double>& scale) {
  const int64_t channels = static_cast<int64_t>(scale.size());
  Tensor out(DataType::f32, {channels});
  float* dst = out.data<float>();
  for (int64_t c = 0; c < channels; ++c) {
    const double b = bias ? bias[c] : 0.0;
    dst[c] = to_float((b - bn.mean[c]) * scale[c] + bn.beta[c]);
  }
  return out;
}

// The Conv feeding BN node `b` when the pair may be folded, else -1.
int foldable_conv(const GraphEditor& editor, int b) {
  const Node& bn = editor.node(b);
  if (bn.inputs.size() != 5 || bn.outputs.size() != 1) return -1;
  if (bn.attr_int("training_mode", 0) != 0) return -1;
  const int c = editor.producer(bn.inputs[0]);
  if (!editor.is_op(c, "Conv") || editor.sole_consumer(bn.inputs[0]) != b) return -1;
  const Node& conv = editor.node(c);
  if (conv.inputs.size() < 2 || conv.inputs.size() > 3 || conv.outputs.size() != 1) return -1;
  if (conv.has_attr("activation")) return -1;
  const Tensor* w = editor.constant(conv.inputs[1]);
  if (!w || w->dtype() != DataType::f32 || w->rank() < 3 || w->dim(0) <= 0) return -1;
  if (conv.has_input(2) && !is_vector_f32(editor, conv.inputs[2], w->dim(0))) return -1;
  return c;
}

bool try_fold(GraphEditor& editor, int b, std::vector<std::string>& log) {
  const int c = foldable_conv(editor, b);
  if (c < 0) return false;
  const Node& bn = editor.node(b);
  Node conv = editor.node(c);
  const Tensor& w = *editor.constant(conv.inputs[1]);
  const std::optional<BnParams> params = bn_params(editor, bn, w.dim(0));
  if (!params) return false;
  std::vector<double> scale(static_cast<size_t>(w.dim(0)));
  for (size_t i = 0; i < scale.size(); ++i) {
    scale[i] = params->gamma[i] / std::sqrt(static_cast<double>(params->var[i]) + params->eps);
  }
  const float* bias = conv.has_input(2) ? editor.constant(conv.inputs[2])->data<float>() : nullptr;
  // New values: the originals may be shared with other nodes.
  Tensor new_w = folded_weight(w, scale);
  Tensor new_b = folded_bias(bias, *params, scale);
  const std::string line =
      "folded BatchNormalization '" + bn.name + "' into Conv '" + conv.name + "'";
  const int out = bn.outputs[0];
  // Learned (QAT) weight ranges scale with the weights: amax_c * |gamma_c / sigma_c|.
  const std::optional<WeightQuant>& learned = editor.value(conv.inputs[1]).weight_quant;
  const bool carry = learned && learned->axis == 0 && learned->amax.size() == scale.size();
  WeightQuant folded;
  if (carry) {
    folded = *learned;
    for (size_t i = 0; i < scale.size(); ++i)
      folded.amax[i] = to_float(folded.amax[i] * std::fabs(scale[i]));
  }
  conv.inputs[1] = editor.add_initializer(conv.name + "_folded_weight", std::move(new_w));
  if (carry) editor.value(conv.inputs[1]).weight_quant = std::move(folded);
  conv.inputs.resize(3);
  conv.inputs[2] = editor.add_initializer(conv.name + "_folded_bias", std::move(new_b));
  conv.outputs[0] = out;
  editor.remove(b);
  editor.rewrite(c, std::move(conv));
  log.push_back(line);
  return true;
}

}  // namespace

void pass_fold_batchnorm(Graph& graph, std::vector<std::string>& log) {
  GraphEditor editor(graph);
  for (size_t i = 0; i < editor.node_count(); ++i) {
    const int n = static_cast<int>(i);
    if (editor.is_op(n, "BatchNormalization")) try_fold(editor, n, log);
  }
  editor.finish();
}

}  // namespace octet
