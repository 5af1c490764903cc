#include "runtime/ir/weight_slot.hpp"

namespace octet {
namespace {

bool constant_weight(const Graph& g, const Node& n, size_t i, size_t min_rank, size_t max_rank) {
  if (!n.has_input(i)) return false;
  const Value& v = g.values.at(n.inputs[i]);
  const bool stored = v.weight_quant && v.weight_quant->stored_s8;
  return v.is_initializer() && (v.data.dtype() == DataType::f32 || stored) &&
         v.data.rank() >= min_rank && v.data.rank() <= max_rank;
}

}  // namespace

std::optional<WeightSlot> int8_weight_slot(const Graph& g, const Node& n) {
  if (n.op == "Conv" && constant_weight(g, n, 1, 3, 5)) return WeightSlot{1, 0};
  const bool a_dynamic = n.has_input(0) && !g.values.at(n.inputs[0]).is_initializer();
  if (!a_dynamic || !constant_weight(g, n, 1, 2, 2)) return std::nullopt;
  if (n.op == "Gemm" && n.attr_int("transA", 0) == 0) {
    return WeightSlot{1, n.attr_int("transB", 0) ? 0 : 1};
  }
  if (n.op == "MatMul") return WeightSlot{1, 1};  // B [K, N]
  return std::nullopt;
}

}  // namespace octet
