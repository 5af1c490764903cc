// Counts C++ heap allocations (operator new) made while an AllocCounter is
// alive, to prove that hot paths such as Session::run() allocate nothing.
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

}  // namespace octet::test
