// The ONNX importer: an ONNX model (default domain, opsets 7..17) becomes an
// octet Graph, then a fixed sequence of local rewrites brings nodes of older
// opsets to the forms the ops implement (pass_opset_forms.cpp) and fuses the
// patterns the ops implement in one kernel.
//
// Node op types stay ONNX names and attributes keep their ONNX names and
// values (INT -> int64_t, FLOAT -> double, STRING -> string, INTS, FLOATS,
// STRINGS). What the importer changes, and so what the op implementers must
// accept, is this contract:
//
//   Conv                inputs (X, W, [B], [Z]); attributes `activation` (string)
//                       and `activation_params` (floats), absent = "none"
//                       (ops/activation.hpp lists the activations).
//                       dst = act(conv(X, W) + B + Z). Z (the residual, from a
//                       fused Add) is input 3; when it is present B is present
//                       too (zeros of length W.dim(0) if the model had none).
//                       Z's shape equals the conv output's; the op re-checks.
//                       Folded BatchNormalization leaves no trace but new W/B.
//   MatMul              inputs (A, B, [bias], [Z]); attributes `alpha` (float,
//                       a fused Mul or Div by a one-element constant; absent =
//                       1), `activation` and `activation_params` as for Conv.
//                       dst = act(alpha x (A x B) + bias + Z). bias is fused
//                       only when B is a rank-2 initializer [K, N] and bias a
//                       1-D initializer [N]; Z (a residual, from a fused Add of
//                       a computed value) only when B is such an initializer,
//                       and then bias is present (zeros if the model had none).
//                       Z broadcasts with the product as the Add did.
//   Gemm,               attributes `activation` and `activation_params` as for
//   BatchNormalization  Conv, applied to the op's ONNX result.
//   AveragePool         may come with the pads of a fused Pad and
//                       count_include_pad = 1 (pass_fuse_pad.cpp).
//   Gelu                input X; attribute `approximate` = "none" (erf form):
//                       dst = 0.5 * x * (1 + erf(x / sqrt(2))).
//   LayerNormalization  ONNX opset-17 semantics: inputs (X, Scale, [B]),
//                       attributes `axis` (int, -1 from the importer) and
//                       `epsilon` (float). Only output 0 is produced.
//   ConstantOfShape     the `value` tensor attribute is replaced by attributes
//                       `value` (double for f32, int64_t otherwise) and `dtype`
//                       (string: "f32", "s64", "s32", "s8", "u8", "bool");
//                       both are always set (ONNX default: 0.0, "f32").
//   Softmax             opset < 13: attribute `coerce_2d` = 1 and an explicit
//                       `axis` (the old default was 1): the input is viewed as
//                       2-D [a_0*...*a_{axis-1}, a_axis*...*a_{n-1}] and each
//                       row is normalized. Absent (opset 13+): along `axis` only.
//   Slice               always inputs: the starts/ends/axes attributes of
//                       opset < 10 become s64 initializers.
//   BatchNormalization  opset < 9: `spatial` = 1 is dropped, 0 is rejected.
//   Constant            never appears: it becomes an initializer named as its
//                       output.
//   Identity, Dropout   removed where a consumer can read the source directly
//                       (a Dropout whose training_mode is not a constant false
//                       is rejected).
//   QuantizeLinear,     never appear: QDQ pairs become Value::quant (activations)
//   DequantizeLinear    and f32 weights with Value::weight_quant (see
//                       pass_fold_qdq.cpp); an Identity may carry a 2nd scale.
//
// Every failure throws octet::Error whose message starts with the file name.
// The importer is meant to survive hostile input (it is fuzzed): it never
// recurses into subgraphs (control flow is rejected as unsupported) and
// checks every size and index before use.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "runtime/ir/graph.hpp"

namespace octet {

struct ImportResult {
  Graph graph;
  // One human-readable line per fusion, fold or removal, e.g.
  // "fused Conv 'conv1' + Relu 'relu1'".
  std::vector<std::string> log;
};

// Reads an ONNX file; external data is looked up relative to the file's folder.
// `options.fold_batchnorm` = false skips pass_fold_batchnorm.
ImportResult import_onnx_file(const std::string& path, const ImportOptions& options = {});
// Parses an in-memory model. `name_for_errors` prefixes every error message.
// External data is read relative to `base_dir`; with an empty base_dir a
// model that references external data is rejected.
ImportResult import_onnx_bytes(const void* data, size_t size, const std::string& name_for_errors,
                               const std::string& base_dir = "", const ImportOptions& options = {});

// The rewrites, in the order import_onnx_* runs them. Each appends one line
// per change to `log`. Exposed for tests.
void pass_opset_forms(Graph& graph, std::vector<std::string>& log, int64_t opset);
void pass_remove_identity(Graph& graph, std::vector<std::string>& log);
void pass_fold_qdq(Graph& graph, std::vector<std::string>& log, int64_t opset);  // opset: per-axis
void pass_fuse_pad(Graph& graph, std::vector<std::string>& log);
void pass_fold_batchnorm(Graph& graph, std::vector<std::string>& log);
void pass_fuse_conv(Graph& graph, std::vector<std::string>& log);
void pass_fuse_layernorm(Graph& graph, std::vector<std::string>& log);
void pass_fuse_gelu(Graph& graph, std::vector<std::string>& log);
void pass_fuse_matmul(Graph& graph, std::vector<std::string>& log);

}  // namespace octet
