// A test case that cannot run here (a missing dataset, export, tool or build
// target) is reported as skipped, never as passed: OCTET_SKIP prints the
// reason and leaves the test case, and tests/main.cpp then exits 77, which
// CTest reports as skipped (SKIP_RETURN_CODE), unless a test case failed:
// then it exits 1, as a failure is never a skip.
#pragma once

#include <sstream>
#include <string>

namespace octet::test {

// Marks the running test case skipped and lets it go on, to check what it
// can without the missing part (OCTET_SKIP also returns).
void record_skip(const std::string& reason);

}  // namespace octet::test

// OCTET_SKIP(what << " is missing"): the reason is streamed, as in MESSAGE.
#define OCTET_SKIP(reason)                                \
  do {                                                    \
    std::ostringstream octet_skip_reason_;                \
    octet_skip_reason_ << reason;                         \
    ::octet::test::record_skip(octet_skip_reason_.str()); \
    return;                                               \
  } while (false)
