#include "loaders/onnx/onnx_export_plan.hpp"

#include <algorithm>

namespace octet {
namespace qdq_export {

namespace {

// The ops with an int8 kernel (Op::has_int8_kernel); the others a session
// runs in int8 are int8-transparent (Op::accepts_int8).
bool computes_int8(const std::string& op) {
  return op == "Conv" || op == "Gemm" || op == "MatMul" || op == "BatchNormalization";
}

// Transparent ops that write on their own range rather than their input's:
// Add and Mul requantize (ops/binary.cpp), Concat when its inputs' scales
// differ (ops/concat.cpp).
bool requantizes(const std::string& op) {
  return op == "Add" || op == "Mul" || op == "Concat";
}

bool is_constant(const Graph& g, int id) {
  return id != kNoValue && g.values[static_cast<size_t>(id)].is_initializer();
}

// The inputs an int8 kernel reads in int8 (Op::int8_inputs of each op).
std::vector<size_t> int8_inputs(const Graph& g, const Node& n) {
  std::vector<size_t> in;
  if (n.inputs.empty() || is_constant(g, n.inputs[0])) return in;
  in.push_back(0);
  if (n.op == "Conv" && n.has_input(3) && g.values[static_cast<size_t>(n.inputs[3])].quant) {
    in.push_back(3);  // the residual, read in int8 when it has a range
  }
  if (n.op == "MatMul" && n.has_input(1) && !is_constant(g, n.inputs[1])) in.push_back(1);
  return in;
}

// The constant weight an int8 kernel quantizes per output channel.
WeightUse weight_of(const Graph& g, const Node& n) {
  if (!n.has_input(1) || !is_constant(g, n.inputs[1])) return {};
  const Value& w = g.values[static_cast<size_t>(n.inputs[1])];
  const size_t rank = w.data.shape().size();
  if (w.dtype != DataType::f32) return {};
  if (n.op == "Conv" && rank >= 3) return {1, 0};
  if (n.op == "MatMul" && rank == 2) return {1, 1};
  if (n.op == "Gemm" && rank == 2) return {1, n.attr_int("transB", 0) != 0 ? 0 : 1};
  return {};
}

}  // namespace

Plan plan_qdq(const Graph& g, const std::set<std::string>& int8_nodes, bool seven_bit_weights) {
  Plan plan;
  const size_t nodes = g.nodes.size();
  plan.values.resize(g.values.size());
  plan.weights.resize(nodes);
  plan.reads_dq.resize(nodes);
  plan.int8.assign(nodes, false);
  std::set<std::string> unknown = int8_nodes;
  for (size_t i = 0; i < nodes; ++i) {
    plan.int8[i] = int8_nodes.count(g.nodes[i].name) != 0;
    unknown.erase(g.nodes[i].name);
    plan.reads_dq[i].assign(g.nodes[i].inputs.size(), false);
  }
  if (!unknown.empty()) {
    throw Error(ErrorCode::invalid_argument,
                "the int8 layers name node '" + *unknown.begin() + "', which the graph lacks");
  }

  // Which values some reader consumes in int8: as runtime/session/precision.cpp
  // settles it, in one backward sweep.
  std::vector<bool> wanted(g.values.size(), false);
  for (size_t i = nodes; i-- > 0;) {
    const Node& n = g.nodes[i];
    if (!plan.int8[i]) continue;
    if (computes_int8(n.op)) {
      for (size_t k : int8_inputs(g, n)) wanted[static_cast<size_t>(n.inputs[k])] = true;
    } else if (std::any_of(n.outputs.begin(), n.outputs.end(),
                           [&](int v) { return wanted[static_cast<size_t>(v)]; })) {
      for (int v : n.inputs) {
        if (v != kNoValue && !is_constant(g, v)) wanted[static_cast<size_t>(v)] = true;
      }
    }
  }

  // Which values their producer writes in int8, and on which scale.
  std::vector<bool> written(g.values.size(), false);
  for (size_t i = 0; i < nodes; ++i) {
    const Node& n = g.nodes[i];
    if (!plan.int8[i]) continue;
    if (computes_int8(n.op)) plan.weights[i] = weight_of(g, n);
    for (int out : n.outputs) {
      const size_t v = static_cast<size_t>(out);
      const std::optional<ActivationQuant>& q = g.values[v].quant;
      ValuePlan& vp = plan.values[v];
      if (computes_int8(n.op) || requantizes(n.op)) {
        bool same = n.op == "Concat";  // a Concat of one scale keeps it
        const ValuePlan* first = nullptr;
        for (int in : n.inputs) {
          if (in == kNoValue || is_constant(g, in)) continue;
          const ValuePlan& ip = plan.values[static_cast<size_t>(in)];
          if (!written[static_cast<size_t>(in)]) {
            same = false;
          } else if (!first) {
            first = &ip;
          } else {
            same = same && ip.dtype == first->dtype && ip.scale == first->scale;
          }
        }
        if (same && first && wanted[v]) {
          written[v] = true;
          vp.dtype = first->dtype;
          vp.scale = first->scale;
        } else if (wanted[v] && q && (computes_int8(n.op) || first)) {
          written[v] = true;
          vp.dtype = q->dtype;
          vp.scale = q->scale();
        }
      } else {
        // Pooling, reshapes, Relu, ...: int8 data in, int8 data out on the
        // same scale, whether or not a reader wants it so.
        for (int in : n.inputs) {
          if (in == kNoValue || is_constant(g, in) || !written[static_cast<size_t>(in)]) continue;
          written[v] = true;
          vp.dtype = plan.values[static_cast<size_t>(in)].dtype;
          vp.scale = plan.values[static_cast<size_t>(in)].scale;
          break;
        }
      }
      vp.pair = vp.all_readers = written[v];
    }
  }

  // Values read in int8 but not written so (graph inputs, outputs of fp32
  // layers): quantized for their int8 readers only.
  for (size_t i = 0; i < nodes; ++i) {
    const Node& n = g.nodes[i];
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      if (n.inputs[k] != kNoValue) {
        plan.reads_dq[i][k] = written[static_cast<size_t>(n.inputs[k])];
      }
    }
    if (!plan.int8[i] || !computes_int8(n.op)) continue;
    for (size_t k : int8_inputs(g, n)) {
      const size_t v = static_cast<size_t>(n.inputs[k]);
      const std::optional<ActivationQuant>& q = g.values[v].quant;
      if (written[v] || !q) continue;
      ValuePlan& vp = plan.values[v];
      vp.pair = true;
      vp.dtype = q->dtype;
      vp.scale = q->scale();
      plan.reads_dq[i][k] = true;
    }
  }
  // Weights on 7 bits: see QdqExportOptions::seven_bit_weights.
  for (WeightUse& w : plan.weights) {
    if (seven_bit_weights && w.input >= 0) w.levels = 63;
  }
  return plan;
}

}  // namespace qdq_export
}  // namespace octet
