// The QDQ ONNX exporter: an octet graph, with its activation ranges, as a
// standard ONNX model (opset 13, 17 when it holds LayerNormalization) whose
// QuantizeLinear / DequantizeLinear pairs carry octet's scales, so that
// another runtime (ONNX Runtime, TensorRT) runs octet's calibration:
//
// - fused forms become standard ops again: Conv / MatMul / Gemm /
//   BatchNormalization + `activation` -> the op then Relu, Clip, Sigmoid,
//   HardSigmoid (hardswish: x * HardSigmoid(x; 1/6, 0.5), swish:
//   x * Sigmoid(x), gelu: the erf form in Div, Erf, Add, Mul); Conv's
//   residual input -> Conv then Add; MatMul's bias -> MatMul then Add; Gelu ->
//   the erf form; ConstantOfShape's `value` / `dtype` -> its tensor attribute.
// - every node octet computes in int8 (Conv, Gemm, MatMul) reads its weight
//   as an int8 initializer through a per-channel DequantizeLinear (axis: the
//   output channels), scale amax_c / 127 with the 127-level weights the
//   model states (its QAT ranges, else max|w_c|); bias stays f32.
// - activations get x -> QuantizeLinear -> DequantizeLinear where octet holds
//   them in int8, with zero point 0 (int8, or uint8 for u8 values) and
//   octet's scale (amax / 127 or / 255): a value its producer writes in int8
//   is read dequantized by every reader; a value quantized only for its int8
//   readers (a reorder in octet) is read through the pair by those alone.
//   An int8-transparent op (pooling, reshapes, Relu, ...) writes on its
//   input's scale, as octet's kernels do, and so does its pair.
// - layers octet keeps in fp32 get nothing around them.
//
// Which nodes run in int8 comes from a prepared int8 Session's layers
// (Session::layers(), precision "int8"): the export describes what octet does
// on the CPU that prepared it (without VNNI, octet keeps matmuls of two
// activations in fp32, and the export then does too). Importing the export
// (`octet convert`) gives back the same activation scales and int8 weights.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "runtime/ir/graph.hpp"

namespace octet {

struct QdqExport {
  std::string bytes;             // the serialized ModelProto
  std::vector<std::string> log;  // one line per quantized value and weight, and per un-fusing
  int64_t opset = 13;
  size_t quantized_values = 0;   // QuantizeLinear / DequantizeLinear pairs on activations
  size_t quantized_weights = 0;  // int8 weight initializers
};

// The node names of `layers` (a prepared session's steps) that run in int8.
std::set<std::string> int8_node_names(const std::vector<LayerInfo>& layers);

struct QdqExportOptions {
  std::set<std::string> int8_nodes;  // the nodes octet runs in int8
  // false: 8-bit weights, q in [-127, 127], scale amax_c / 127, as the model
  // states them (and as octet computes on VNNI CPUs); they re-import exactly.
  // true: every weight on 7 bits (q in [-63, 63], scale amax_c / 63), as
  // ONNX Runtime's quantizer makes them with reduce_range: int8 kernels that
  // multiply u8 x s8 pairs with AVX2's vpmaddubsw saturate its 16-bit sums
  // on 8-bit weights (ONNX Runtime's do; octet's use 7-bit weights on CPUs
  // without VNNI too, but keep 8 bits for a Conv reading s8 data, which
  // oneDNN multiplies without saturation). Such an export does not re-import
  // exactly: octet reads its scales as those of 127-level weights.
  bool seven_bit_weights = false;
};

// Builds the export. An op or attribute the exporter cannot write as
// standard ONNX is an Error naming the node.
QdqExport export_qdq_onnx(const Graph& graph, const QdqExportOptions& options);

// export_qdq_onnx, written to `path` through a temporary file and a rename.
QdqExport write_qdq_onnx(const Graph& graph, const QdqExportOptions& options,
                         const std::string& path);

}  // namespace octet
