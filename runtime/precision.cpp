#include "runtime/precision.hpp"

#include <fnmatch.h>

#include <algorithm>

namespace octet {
namespace detail {

bool matches_pattern(const std::string& pattern, const std::string& name) {
  return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

namespace {

// The blacklist entry that keeps `node` in fp32, or "".
std::string blacklisted(const Node& node, const SessionOptions& options,
                        const QuantizationConfig& config) {
  for (const auto* layers : {&options.fp32_layers, &config.fp32_layers}) {
    for (const std::string& p : *layers) {
      if (matches_pattern(p, node.name)) return "fp32 layer pattern '" + p + "'";
    }
  }
  for (const auto* ops : {&options.fp32_ops, &config.fp32_ops}) {
    if (std::find(ops->begin(), ops->end(), node.op) != ops->end()) {
      return "fp32 op type " + node.op;
    }
  }
  return "";
}

NodePrecision decide(const ModelData& m, size_t i, const SessionOptions& options,
                     const std::vector<SrcInfo>& src) {
  const Node& node = m.graph.nodes[i];
  const Op& op = *m.ops[i];
  const bool reads_int8 = op.accepts_int8();
  if (!reads_int8) return {false, "", false};
  const std::string listed = blacklisted(node, options, m.graph.quantization);
  if (!op.has_int8_kernel()) {
    // An int8-transparent op (pooling, reshapes, Transpose, Concat, Add): a
    // blacklist makes it read f32 like any other fp32 layer.
    if (listed.empty()) return {false, "", true};
    return {false, "blacklisted: " + listed, false};
  }
  if (options.precision == Precision::fp32) return {false, "fp32 requested", reads_int8};
  if (!listed.empty()) return {false, "blacklisted: " + listed, reads_int8};
  const std::string unavailable = op.int8_unavailable(src);
  if (!unavailable.empty()) return {false, unavailable, reads_int8};
  const std::vector<int> inputs = op.int8_inputs(src);
  for (size_t j = 0; j < op.int8_required_inputs(src) && j < inputs.size(); ++j) {
    const int id = node.inputs.at(inputs[j]);
    if (!m.graph.values[id].quant) {
      return {false, "no activation range for input '" + m.graph.values[id].name + "'", reads_int8};
    }
  }
  return {true, "", reads_int8};
}

}  // namespace

PrecisionPlan plan_precision(const ModelData& m, const SessionOptions& options,
                             const std::vector<std::vector<SrcInfo>>& src,
                             const std::vector<bool>& folded) {
  const Graph& g = m.graph;
  PrecisionPlan plan;
  plan.nodes.resize(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!folded[i]) plan.nodes[i] = decide(m, i, options, src[i]);
  }
  // A value is worth producing in int8 when a reader consumes int8: an int8
  // layer reading it as a quantized input, or an int8-transparent op (pool,
  // reshape, transpose, concat, add) whose own output is worth int8: then
  // each of its f32 activation inputs is. Readers follow writers in node
  // order, so one backward sweep settles it.
  plan.value_wants_int8.assign(g.values.size(), false);
  for (size_t i = g.nodes.size(); i-- > 0;) {
    if (folded[i]) continue;
    const Node& node = g.nodes[i];
    const Op& op = *m.ops[i];
    if (plan.nodes[i].int8) {
      for (int k : op.int8_inputs(src[i])) plan.value_wants_int8[node.inputs[k]] = true;
    } else if (plan.nodes[i].reads_int8 && !op.has_int8_kernel()) {
      const bool out_int8 = std::any_of(node.outputs.begin(), node.outputs.end(),
                                        [&](int v) { return plan.value_wants_int8[v]; });
      for (size_t k = 0; out_int8 && k < node.inputs.size(); ++k) {
        const SrcInfo& s = src[i][k];
        if (s.present && !s.constant && s.dtype == DataType::f32 &&
            op.int8_passthrough_input(src[i], k))
          plan.value_wants_int8[node.inputs[k]] = true;
      }
    }
  }
  return plan;
}

}  // namespace detail
}  // namespace octet
