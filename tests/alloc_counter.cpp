#include "tests/alloc_counter.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<bool> counting{false};
std::atomic<size_t> allocations{0};
std::atomic<bool> failing{false};
std::atomic<size_t> allowed{0}, refused{0};

void* counted_alloc(std::size_t size) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  if (failing.load(std::memory_order_relaxed)) {
    size_t left = allowed.load();
    while (left > 0 && !allowed.compare_exchange_weak(left, left - 1)) {
    }
    if (left == 0 && refused.fetch_add(1) == 0) throw std::bad_alloc();
  }
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
}  // namespace

// Replacing the global operator new (all of the test binary) only adds two
// relaxed atomic loads when no counter or failure is active.
// Every replaceable form that pairs with free(): mixing ours with the
// library's (e.g. the nothrow forms std::stable_sort uses) would mismatch
// allocators under AddressSanitizer.
void* operator new(std::size_t size) {
  return counted_alloc(size);
}
void* operator new[](std::size_t size) {
  return counted_alloc(size);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return counted_alloc(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept {
  return operator new(size, tag);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

namespace octet::test {

AllocCounter::AllocCounter() {
  allocations = 0;
  counting = true;
}
AllocCounter::~AllocCounter() {
  counting = false;
}
size_t AllocCounter::count() const {
  return allocations.load();
}

AllocFailure::AllocFailure(size_t successes) {
  allowed = successes;
  refused = 0;
  failing = true;
}
AllocFailure::~AllocFailure() {
  failing = false;
}
size_t AllocFailure::failures() const {
  return std::min<size_t>(refused.load(), 1);
}

}  // namespace octet::test
