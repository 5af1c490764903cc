// Counts C++ heap allocations (operator new) made while an AllocCounter is
// alive, to prove that hot paths such as Session::run() allocate nothing, and
// fails them on purpose (AllocFailure).
#pragma once

#include <cstddef>

namespace octet::test {

class AllocCounter {
 public:
  AllocCounter();
  ~AllocCounter();
  AllocCounter(const AllocCounter&) = delete;
  AllocCounter& operator=(const AllocCounter&) = delete;
  size_t count() const;
};

// While alive, lets the first `successes` C++ heap allocations through and
// makes the next one throw std::bad_alloc (one only: the error handling that
// follows needs memory too, as it would get once a large request failed).
class AllocFailure {
 public:
  explicit AllocFailure(size_t successes);
  ~AllocFailure();
  AllocFailure(const AllocFailure&) = delete;
  AllocFailure& operator=(const AllocFailure&) = delete;
  size_t failures() const;  // 0 or 1: whether the failure happened
};

}  // namespace octet::test
