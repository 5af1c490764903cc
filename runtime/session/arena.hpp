// From buffers to memory: which buffers share storage, where each storage
// lives in the session's single arena, and binding the kernels to it.
#pragma once

#include <utility>
#include <vector>

#include "runtime/session/session_state.hpp"

namespace octet {
namespace detail {

struct Accumulate {
  size_t step;  // the step whose kernel accumulates into ...
  size_t dst;   // ... this output, which must first hold ...
  size_t src;   // ... this input
};

struct Sharing {
  std::vector<std::pair<int, int>> views;  // (buffer, buffer it reinterprets)
  std::vector<Accumulate> accumulates;
};

// Lifetimes from the steps, storages for the buffers: a view always shares
// its source's storage; an accumulated output shares its input's storage when
// nothing reads that input later, and gets a copy of it before the step
// otherwise.
void assign_storages(Plan& plan, const Sharing& sharing);

// Places the storages (plan_memory), allocates the arena plus one scratchpad
// for all primitives, and binds every kernel to its addresses. An arena
// larger than `limit` bytes (when non-zero) is an out_of_memory error.
void allocate_and_bind(Plan& plan, const std::vector<int>& input_buffers,
                       const std::vector<int>& output_buffers, size_t limit);

}  // namespace detail
}  // namespace octet
