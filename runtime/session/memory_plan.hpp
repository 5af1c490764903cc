// Static memory planning: every intermediate tensor gets an offset in one
// arena, and tensors whose lifetimes overlap never overlap in memory.
#pragma once

#include <cstddef>
#include <vector>

namespace octet {

struct Lifetime {
  size_t bytes = 0;
  int first = 0;  // first step that writes it
  int last = 0;   // last step that reads it (inclusive)
};

struct MemoryPlan {
  std::vector<size_t> offsets;  // per lifetime, multiples of kArenaAlignment
  size_t total = 0;
};

constexpr size_t kArenaAlignment = 64;

// Greedy by size, largest first, each at the lowest offset that fits beside
// the already placed tensors it is alive with (TFLite / XNNPACK style).
MemoryPlan plan_memory(const std::vector<Lifetime>& lifetimes);

}  // namespace octet
