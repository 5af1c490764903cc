// The precision plan: which nodes compute in int8, and why the others do not.
#pragma once

#include <string>
#include <vector>

#include "runtime/model/model.hpp"

namespace octet {
namespace detail {

struct NodePrecision {
  bool int8 = false;
  std::string reason;  // why the node runs in this precision, for `octet inspect`
  // Whether the node reads int8 inputs as produced (Op::accepts_int8, unless
  // a blacklist sends an int8-transparent op to fp32); else it reads f32.
  bool reads_int8 = false;
};

struct PrecisionPlan {
  std::vector<NodePrecision> nodes;    // per graph node
  std::vector<bool> value_wants_int8;  // per value: some reader consumes it in int8
};

// `src` holds the prepared inputs of every node; `folded` marks nodes
// evaluated at prepare time (they run in no precision at all).
PrecisionPlan plan_precision(const ModelData& model, const SessionOptions& options,
                             const std::vector<std::vector<SrcInfo>>& src,
                             const std::vector<bool>& folded);

// Whether `name` matches a node-name pattern ("conv1", "*.attention.*").
bool matches_pattern(const std::string& pattern, const std::string& name);

}  // namespace detail
}  // namespace octet
