#include "runtime/session/memory_plan.hpp"

#include <algorithm>
#include <numeric>

namespace octet {

namespace {

size_t align_up(size_t n) {
  return (n + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
}

bool alive_together(const Lifetime& a, const Lifetime& b) {
  return a.first <= b.last && b.first <= a.last;
}

}  // namespace

MemoryPlan plan_memory(const std::vector<Lifetime>& lifetimes) {
  MemoryPlan plan;
  plan.offsets.assign(lifetimes.size(), 0);
  std::vector<size_t> order(lifetimes.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return lifetimes[a].bytes > lifetimes[b].bytes; });
  std::vector<size_t> placed;
  std::vector<std::pair<size_t, size_t>> busy;  // [begin, end) of conflicting placed tensors
  for (size_t i : order) {
    const size_t size = align_up(lifetimes[i].bytes);
    busy.clear();
    for (size_t j : placed) {
      if (alive_together(lifetimes[i], lifetimes[j])) {
        busy.emplace_back(plan.offsets[j], plan.offsets[j] + align_up(lifetimes[j].bytes));
      }
    }
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (const auto& [begin, end] : busy) {
      if (offset + size <= begin) break;  // fits in the gap before this one
      offset = std::max(offset, end);
    }
    plan.offsets[i] = offset;
    plan.total = std::max(plan.total, offset + size);
    placed.push_back(i);
  }
  return plan;
}

}  // namespace octet
