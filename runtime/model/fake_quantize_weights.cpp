// Model::with_fake_quantized_weights(): weight-only int8 as an fp32 model,
// for `octet study`. It lives apart from the int8 kernels on purpose: the
// normal int8 path never sees a per-tensor scale or a dequantized weight, and
// the study's modes cost it nothing.
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <utility>

#include "ops/quantize.hpp"
#include "runtime/ir/weight_slot.hpp"
#include "runtime/model/model.hpp"

namespace octet {
namespace {

// int8 as the paper has it: [-127, 127]. (octet's AVX2 kernels keep most
// weights to [-63, 63], ops/quantize.hpp; the study measures int8 itself.)
constexpr int kLevels = 127;

float tensor_amax(const Tensor& w) {
  float amax = 0;
  const float* p = w.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i) amax = std::max(amax, std::fabs(p[i]));
  return amax;
}

// w rounded to the nearest multiple of its channel's scale within
// [-kLevels, kLevels] x scale, as the int8 kernels round (half to even).
Tensor fake_quantized(const Tensor& w, int axis, const std::vector<float>& scales,
                      const std::string& where) {
  Tensor out(DataType::f32, w.shape());
  int64_t inner = 1;
  for (size_t d = static_cast<size_t>(axis) + 1; d < w.rank(); ++d) inner *= w.dim(d);
  const int64_t channels = w.dim(static_cast<size_t>(axis));
  const float* src = w.data<float>();
  float* dst = out.data<float>();
  const float levels = static_cast<float>(kLevels);
  for (int64_t i = 0; i < w.numel(); ++i) {
    const float scale = scales[static_cast<size_t>((i / inner) % channels)];
    const float q = round_half_even(src[i] / scale);
    if (!std::isfinite(q)) {
      throw Error(ErrorCode::invalid_model, where + ": the weights hold a NaN or infinite value " +
                                                "at index " + std::to_string(i) +
                                                ": they cannot be quantized");
    }
    dst[i] = std::clamp(q, -levels, levels) * scale;
  }
  return out;
}

}  // namespace

Model Model::with_fake_quantized_weights(WeightGranularity granularity) const {
  Graph g = data_->graph;
  const bool per_tensor = granularity == WeightGranularity::per_tensor;
  // A weight read by several nodes along the same axis is quantized once.
  std::map<std::pair<int, int>, int> done;
  const size_t node_count = g.nodes.size();
  for (size_t k = 0; k < node_count; ++k) {
    const std::optional<WeightSlot> slot = int8_weight_slot(g, g.nodes[k]);
    // A weight stored as s8 is int8 already.
    if (!slot || g.values[g.nodes[k].inputs[slot->input]].data.dtype() != DataType::f32) continue;
    const int src_id = g.nodes[k].inputs[slot->input];
    auto it = done.find({src_id, slot->axis});
    if (it == done.end()) {
      const Value& src = g.values[src_id];
      const Tensor& w = src.data;
      const size_t channels = static_cast<size_t>(w.dim(static_cast<size_t>(slot->axis)));
      const WeightQuant* given = src.weight_quant && src.weight_quant->axis == slot->axis &&
                                         src.weight_quant->amax.size() == channels
                                     ? &*src.weight_quant
                                     : nullptr;
      std::vector<float> scales;
      if (per_tensor) {
        float amax = tensor_amax(w);
        if (given) amax = *std::max_element(given->amax.begin(), given->amax.end());
        scales.assign(channels, amax > 0 ? amax / static_cast<float>(kLevels) : 1.f);
      } else {
        scales = weight_scales(weight_amax(w, slot->axis, given), kLevels);
      }
      Value dst;
      dst.name = g.unique_name(src.name + (per_tensor ? "_int8_per_tensor" : "_int8_per_channel"));
      dst.dtype = DataType::f32;
      dst.shape = src.shape;
      dst.data = fake_quantized(w, slot->axis, scales, g.nodes[k].where());
      it = done.emplace(std::make_pair(src_id, slot->axis), g.add_value(std::move(dst))).first;
    }
    g.nodes[k].inputs[slot->input] = it->second;
  }
  g.remove_dead();  // the f32 originals nobody reads now
  return detail::build_model(
      std::move(g),
      data_->source + (per_tensor ? " (int8 weights per tensor)" : " (int8 weights per channel)"),
      data_->import_log);
}

}  // namespace octet
