// The precision plan: which nodes compute in int8, and why the others do not.
#pragma once

#include <string>
#include <vector>

#include "runtime/model/model.hpp"

namespace octet {
namespace detail {

// Why a layer runs in the precision it does, as `octet inspect` prints it
// (LayerInfo::reason). Every reason the precision plan and the planner give
// is here; reason_text() holds their words.
enum class PrecisionReason {
  none,                  // int8 layers, and steps on integers (shapes, ids, masks)
  fp32_requested,        // SessionOptions::precision
  blacklisted_layer,     // detail: the node-name pattern (options or the model's)
  blacklisted_op,        // detail: the op type
  int8_unavailable,      // detail: Op::int8_unavailable's words (e.g. the CPU lacks VNNI)
  no_activation_range,   // detail: the input without a range
  int8_kernel_declined,  // the op's int8 kernel does not cover this case
  runs_on_int8_inputs,   // an int8-transparent op reading int8 data
  writes_int8_output,    // an f32 op writing int8 (too) for its int8 readers (Op::writes_int8)
  no_int8_kernel,        // the op has no int8 path at all
  int8_inputs_only,      // an int8-transparent op whose inputs are fp32
};

struct Reason {
  PrecisionReason why = PrecisionReason::none;
  std::string detail;
};

std::string reason_text(const Reason& reason);

struct NodePrecision {
  bool int8 = false;
  Reason reason;  // why the node does not compute in int8, when the plan knows
  // Whether the node reads int8 inputs as produced (Op::accepts_int8, unless
  // a blacklist sends an int8-transparent op to fp32); else it reads f32.
  bool reads_int8 = false;
  // Whether an op that writes_int8() may (no blacklist entry keeps it to f32).
  bool writes_int8 = false;
};

struct PrecisionPlan {
  std::vector<NodePrecision> nodes;    // per graph node
  std::vector<bool> value_wants_int8;  // per value: some reader consumes it in int8
  std::vector<bool> value_only_int8;   // per value: every reader does (no graph output)
};

// `src` holds the prepared inputs of every node; `folded` marks nodes
// evaluated at prepare time (they run in no precision at all).
PrecisionPlan plan_precision(const ModelData& model, const SessionOptions& options,
                             const std::vector<std::vector<SrcInfo>>& src,
                             const std::vector<bool>& folded);

// Why node `i`, which the plan gave `p`, runs as its kernel decided: int8
// when `kernel_int8` (the kernel kept the plan's int8) or it writes int8
// (`int8_out`: an int8 output, or an int8 copy beside an f32 one), else fp32
// (`fp32`), else on integers.
Reason step_reason(const Op& op, const NodePrecision& p, bool kernel_int8, bool int8_out,
                   bool fp32);

// Whether `name` matches a node-name pattern ("conv1", "*.attention.*").
bool matches_pattern(const std::string& pattern, const std::string& name);

}  // namespace detail
}  // namespace octet
