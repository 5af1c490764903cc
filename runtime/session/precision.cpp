#include "runtime/session/precision.hpp"

#include <fnmatch.h>

#include <algorithm>

namespace octet {
namespace detail {

std::string reason_text(const Reason& r) {
  switch (r.why) {
    case PrecisionReason::none:
      return "";
    case PrecisionReason::fp32_requested:
      return "fp32 requested";
    case PrecisionReason::blacklisted_layer:
      return "blacklisted: fp32 layer pattern '" + r.detail + "'";
    case PrecisionReason::blacklisted_op:
      return "blacklisted: fp32 op type " + r.detail;
    case PrecisionReason::int8_unavailable:
      return r.detail;
    case PrecisionReason::no_activation_range:
      return "no activation range for input '" + r.detail + "'";
    case PrecisionReason::int8_kernel_declined:
      return "the int8 kernel does not cover this case";
    case PrecisionReason::runs_on_int8_inputs:
      return "runs on int8 inputs";
    case PrecisionReason::writes_int8_output:
      return "computes in f32, writes int8 for its int8 readers";
    case PrecisionReason::no_int8_kernel:
      return "op has no int8 kernel";
    case PrecisionReason::int8_inputs_only:
      return "int8 only on int8 inputs, and its inputs are fp32";
  }
  return "";
}

bool matches_pattern(const std::string& pattern, const std::string& name) {
  return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

namespace {

// The blacklist entry that keeps `node` in fp32, or none.
Reason blacklisted(const Node& node, const SessionOptions& options,
                   const QuantizationConfig& config) {
  for (const auto* layers : {&options.fp32_layers, &config.fp32_layers}) {
    for (const std::string& p : *layers) {
      if (matches_pattern(p, node.name)) return {PrecisionReason::blacklisted_layer, p};
    }
  }
  for (const auto* ops : {&options.fp32_ops, &config.fp32_ops}) {
    if (std::find(ops->begin(), ops->end(), node.op) != ops->end()) {
      return {PrecisionReason::blacklisted_op, node.op};
    }
  }
  return {};
}

NodePrecision decide(const ModelData& m, size_t i, const SessionOptions& options,
                     const std::vector<SrcInfo>& src) {
  const Node& node = m.graph.nodes[i];
  const Op& op = *m.ops[i];
  if (!op.accepts_int8() && !op.writes_int8()) return {};
  const Reason listed = blacklisted(node, options, m.graph.quantization);
  const bool is_listed = listed.why != PrecisionReason::none;
  if (!op.accepts_int8()) {
    // An f32 op that writes int8 for its int8 readers; listed, it writes f32
    // and the session quantizes for them, as for any other op.
    if (is_listed) return {false, listed, false, false};
    return {false, {}, false, options.precision != Precision::fp32};
  }
  if (!op.has_int8_kernel()) {
    // An int8-transparent op (pooling, reshapes, Transpose, Concat, Add): a
    // blacklist makes it read f32 like any other fp32 layer.
    if (!is_listed) return {false, {}, true};
    return {false, listed, false};
  }
  if (options.precision == Precision::fp32) {
    return {false, {PrecisionReason::fp32_requested, ""}, true};
  }
  if (is_listed) return {false, listed, true};
  const std::string unavailable = op.int8_unavailable(src);
  if (!unavailable.empty()) return {false, {PrecisionReason::int8_unavailable, unavailable}, true};
  const std::vector<int> inputs = op.int8_inputs(src);
  for (size_t j = 0; j < op.int8_required_inputs(src) && j < inputs.size(); ++j) {
    const int id = node.inputs.at(inputs[j]);
    if (!m.graph.values[id].quant) {
      return {false, {PrecisionReason::no_activation_range, m.graph.values[id].name}, true};
    }
  }
  return {true, {}, true};
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
  // Alongside, each value's readers that read it in int8 and those that read
  // it in f32 (any other reader, and being a graph output): an op that
  // writes_int8() writes int8 only where no reader is of the second kind.
  plan.value_wants_int8.assign(g.values.size(), false);
  std::vector<bool> read_as_f32(g.values.size(), false);
  for (int v : g.outputs) read_as_f32[v] = true;
  for (size_t i = g.nodes.size(); i-- > 0;) {
    if (folded[i]) continue;
    const Node& node = g.nodes[i];
    const Op& op = *m.ops[i];
    std::vector<bool> int8_read(node.inputs.size(), false);
    if (plan.nodes[i].int8) {
      for (int k : op.int8_inputs(src[i])) int8_read[k] = true;
    } else if (plan.nodes[i].reads_int8 && !op.has_int8_kernel()) {
      const bool out_int8 = std::any_of(node.outputs.begin(), node.outputs.end(),
                                        [&](int v) { return plan.value_wants_int8[v]; });
      for (size_t k = 0; out_int8 && k < node.inputs.size(); ++k) {
        const SrcInfo& s = src[i][k];
        int8_read[k] = s.present && !s.constant && s.dtype == DataType::f32 &&
                       op.int8_passthrough_input(src[i], k);
      }
    }
    for (size_t k = 0; k < node.inputs.size(); ++k) {
      const SrcInfo& s = src[i][k];
      if (!s.present || s.constant) continue;
      (int8_read[k] ? plan.value_wants_int8 : read_as_f32)[node.inputs[k]] = true;
    }
  }
  plan.value_only_int8.assign(g.values.size(), false);
  for (size_t v = 0; v < g.values.size(); ++v) {
    plan.value_only_int8[v] = plan.value_wants_int8[v] && !read_as_f32[v];
  }
  return plan;
}

// Every fp32 layer says why it is not int8; steps on integers (shapes, ids,
// masks) need no reason, nor do int8 layers.
Reason step_reason(const Op& op, const NodePrecision& p, bool kernel_int8, bool int8_out,
                   bool fp32) {
  if (p.int8 && !kernel_int8) return {PrecisionReason::int8_kernel_declined, ""};
  if (p.reason.why != PrecisionReason::none) return p.reason;
  if (!kernel_int8 && int8_out) {
    if (op.writes_int8() && !p.reads_int8) return {PrecisionReason::writes_int8_output, ""};
    return {PrecisionReason::runs_on_int8_inputs, ""};
  }
  if (!fp32) return {};
  if (!op.accepts_int8()) return {PrecisionReason::no_int8_kernel, ""};
  if (!op.has_int8_kernel()) return {PrecisionReason::int8_inputs_only, ""};
  return {};
}

}  // namespace detail
}  // namespace octet
