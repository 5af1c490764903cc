// Model::with_int8_weights(): the constant weights of a quantized model's
// int8 layers stored as s8 with their per-channel ranges, about 4x smaller,
// computing the same bits as the f32 weights (ops/quantize.hpp,
// weight_integers: every int8 kernel derives its integers from these).
#include <algorithm>

#include "ops/quantize.hpp"
#include "runtime/ir/weight_slot.hpp"
#include "runtime/model/model.hpp"
#include "runtime/session/precision.hpp"

namespace octet {
namespace {

bool sent_to_fp32(const QuantizationConfig& q, const Node& n) {
  for (const std::string& pattern : q.fp32_layers) {
    if (detail::matches_pattern(pattern, n.name)) return true;
  }
  return std::find(q.fp32_ops.begin(), q.fp32_ops.end(), n.op) != q.fp32_ops.end();
}

// The axis along which every reader of value `id` quantizes it, or -1 when
// one of them would read it in f32: not an int8 weight input (or the same
// value twice), a layer the model keeps in fp32, or an input without a range.
// A layer a session sends to fp32 later reads the weight dequantized.
int stored_axis(const Graph& g, const std::vector<int>& readers, int id) {
  int axis = -1;
  for (int r : readers) {
    const Node& n = g.nodes[static_cast<size_t>(r)];
    const std::optional<WeightSlot> slot = int8_weight_slot(g, n);
    if (!slot || n.inputs[slot->input] != id ||
        std::count(n.inputs.begin(), n.inputs.end(), id) != 1 || sent_to_fp32(g.quantization, n) ||
        !g.values[static_cast<size_t>(n.inputs[0])].quant || (axis >= 0 && axis != slot->axis)) {
      return -1;
    }
    axis = slot->axis;
  }
  return axis;
}

}  // namespace

Model Model::with_int8_weights() const {
  if (activation_range_count() == 0) {
    throw Error(ErrorCode::invalid_argument,
                data_->source +
                    ": the model has no activation ranges, so no layer runs in int8 "
                    "(quantize it first, then store its weights as int8)");
  }
  Graph g = data_->graph;
  const std::vector<std::vector<int>> readers = g.consumers();
  std::vector<bool> is_output(g.values.size());
  for (int id : g.outputs) is_output[static_cast<size_t>(id)] = true;
  for (size_t id = 0; id < g.values.size(); ++id) {
    Value& v = g.values[id];
    if (!v.is_initializer() || v.data.dtype() != DataType::f32 || readers[id].empty() ||
        is_output[id]) {
      continue;
    }
    const int axis = stored_axis(g, readers[id], static_cast<int>(id));
    if (axis < 0) continue;
    const size_t channels = static_cast<size_t>(v.data.dim(static_cast<size_t>(axis)));
    // A QAT model's learned ranges are kept; ranges along another axis are
    // not what the kernels use, so such a weight stays f32.
    if (v.weight_quant &&
        (v.weight_quant->axis != axis || v.weight_quant->amax.size() != channels)) {
      continue;
    }
    WeightQuant wq;
    wq.axis = axis;
    wq.amax = weight_amax(v.data, axis, v.weight_quant ? &*v.weight_quant : nullptr);
    wq.stored_s8 = true;
    try {
      v.data = weight_integers(v.data, axis, wq.amax, 127);
    } catch (const Error& e) {
      throw Error(e.code(), data_->source + ": weight '" + v.name + "': " + e.what());
    }
    v.weight_quant = std::move(wq);
  }
  return detail::build_model(std::move(g), data_->source, data_->import_log);
}

}  // namespace octet
