// Which input of a node is a constant weight that octet's int8 kernels
// quantize per output channel, and along which axis: what `octet study`
// fake-quantizes, what Model::with_int8_weights stores as s8, and the only
// place the model loader accepts stored s8 weights.
#pragma once

#include <optional>

#include "runtime/ir/graph.hpp"

namespace octet {

struct WeightSlot {
  size_t input = 1;
  int axis = 0;  // the axis that indexes output channels
};

// A Conv's W (axis 0), or the constant 2-D B of a Gemm (transA 0; axis 0
// with transB, else 1) or MatMul (axis 1) whose A is not constant
// (ops/conv.cpp, ops/gemm.cpp, ops/matmul.cpp). The weight is an f32
// initializer, or one stored as s8 (WeightQuant::stored_s8).
std::optional<WeightSlot> int8_weight_slot(const Graph& g, const Node& n);

}  // namespace octet
