// The explicit list of ops octet implements (no static-initializer magic):
// adding an op means adding its file to ops/ and one line to registry.cpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ops/op.hpp"

namespace octet {

using OpFactory = std::unique_ptr<Op> (*)(const Node& node);

struct OpEntry {
  const char* type;
  OpFactory create;
};

const std::vector<OpEntry>& op_registry();
bool is_supported_op(const std::string& type);
// Checks the node's attributes and input/output counts; throws an Error naming
// the node for an unknown op type or a bad attribute.
std::unique_ptr<Op> create_op(const Node& node);
// Throws ErrorCode::unsupported naming `file`, the first node whose op type
// octet does not implement, and every such op type in the graph: one error
// for everything an imported model lacks.
void check_supported_ops(const Graph& graph, const std::string& file);

}  // namespace octet
