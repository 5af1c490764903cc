// Where the QDQ export puts its QuantizeLinear / DequantizeLinear pairs
// (onnx_export.hpp): octet's int8 dataflow, rebuilt from the graph and the
// set of nodes a session runs in int8, with the rules of the runtime's
// precision plan (runtime/session/precision.cpp) and of the ops' int8
// kernels (which inputs Conv, Gemm, MatMul and BatchNormalization read in
// int8, which transparent ops keep their input's scale).
#pragma once

#include <set>
#include <string>
#include <vector>

#include "runtime/ir/graph.hpp"

namespace octet {
namespace qdq_export {

struct ValuePlan {
  bool pair = false;         // gets x -> QuantizeLinear -> DequantizeLinear
  bool all_readers = false;  // its producer writes it in int8: every reader reads the pair
  DataType dtype = DataType::s8;
  float scale = 0;
};

struct WeightUse {
  int input = -1;    // the input read as an int8 weight, -1 none
  int axis = 0;      // its output-channel axis
  int levels = 127;  // q in [-levels, levels]
};

struct Plan {
  std::vector<ValuePlan> values;            // per value id
  std::vector<WeightUse> weights;           // per node
  std::vector<std::vector<bool>> reads_dq;  // per node, per input: reads the pair's output
  std::vector<bool> int8;                   // per node: in the set of int8 nodes
};

// Node names in `int8_nodes` that the graph lacks are an Error (a session of
// another model). `graph` must be topologically sorted (read_model's are).
// `seven_bit_weights`: QdqExportOptions::seven_bit_weights.
Plan plan_qdq(const Graph& graph, const std::set<std::string>& int8_nodes, bool seven_bit_weights);

}  // namespace qdq_export
}  // namespace octet
