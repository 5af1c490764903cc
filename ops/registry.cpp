#include "ops/registry.hpp"

#include <set>

namespace octet {

// Factories, one per op type, defined in ops/<op>.cpp.
// Each line: X("OpType", factory) followed by a backslash.
#define OCTET_OPS(X)                               \
  X("Conv", make_conv)                             \
  /* compute ops (matmul, pooling, norms) */       \
  X("MatMul", make_matmul)                         \
  X("Gemm", make_gemm)                             \
  X("Softmax", make_softmax)                       \
  X("LayerNormalization", make_layer_norm)         \
  X("Gather", make_gather)                         \
  X("ReduceMean", make_reduce_mean)                \
  X("BatchNormalization", make_batch_norm)         \
  X("MaxPool", make_max_pool)                      \
  X("AveragePool", make_average_pool)              \
  X("GlobalAveragePool", make_global_average_pool) \
  /* elementwise and shape ops */                  \
  X("Add", make_add)                               \
  X("Sub", make_sub)                               \
  X("Mul", make_mul)                               \
  X("Div", make_div)                               \
  X("Pow", make_pow)                               \
  X("Equal", make_equal)                           \
  X("Relu", make_relu)                             \
  X("Erf", make_erf)                               \
  X("Gelu", make_gelu)                             \
  X("Tanh", make_tanh)                             \
  X("Sqrt", make_sqrt)                             \
  X("Sigmoid", make_sigmoid)                       \
  X("HardSigmoid", make_hard_sigmoid)              \
  X("HardSwish", make_hard_swish)                  \
  X("Clip", make_clip)                             \
  X("Where", make_where)                           \
  X("Cast", make_cast)                             \
  X("Identity", make_identity)                     \
  X("Reshape", make_reshape)                       \
  X("Flatten", make_flatten)                       \
  X("Squeeze", make_squeeze)                       \
  X("Unsqueeze", make_unsqueeze)                   \
  X("Transpose", make_transpose)                   \
  X("Concat", make_concat)                         \
  X("Slice", make_slice)                           \
  X("Split", make_split)                           \
  X("Pad", make_pad)                               \
  X("Resize", make_resize)                         \
  X("Upsample", make_resize)                       \
  X("Expand", make_expand)                         \
  X("ConstantOfShape", make_constant_of_shape)     \
  X("Range", make_range)                           \
  X("Shape", make_shape)                           \
  /* end */

#define OCTET_DECLARE(type, factory) std::unique_ptr<Op> factory(const Node& node);
OCTET_OPS(OCTET_DECLARE)
#undef OCTET_DECLARE

const std::vector<OpEntry>& op_registry() {
#define OCTET_ENTRY(type, factory) {type, &factory},
  static const std::vector<OpEntry> entries = {OCTET_OPS(OCTET_ENTRY)};
#undef OCTET_ENTRY
  return entries;
}

bool is_supported_op(const std::string& type) {
  for (const OpEntry& e : op_registry()) {
    if (type == e.type) return true;
  }
  return false;
}

std::unique_ptr<Op> create_op(const Node& node) {
  for (const OpEntry& e : op_registry()) {
    if (node.op == e.type) return e.create(node);
  }
  node.fail(ErrorCode::unsupported, "op type '" + node.op + "' is not supported by octet");
}

void check_supported_ops(const Graph& graph, const std::string& file) {
  const Node* first = nullptr;
  std::set<std::string> unsupported;
  for (const Node& node : graph.nodes) {
    if (is_supported_op(node.op)) continue;
    if (!first) first = &node;
    unsupported.insert(node.op);
  }
  if (!first) return;
  std::string list;
  for (const std::string& op : unsupported) list += (list.empty() ? "" : ", ") + op;
  throw Error(ErrorCode::unsupported, "'" + file + "': " + first->where() + ": op type '" +
                                          first->op +
                                          "' is not supported by octet; unsupported op types in "
                                          "this model: " +
                                          list);
}

}  // namespace octet
