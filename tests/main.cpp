// doctest's main, plus the skip convention of tests/skip.hpp: exit 77 when a
// test case was skipped and none failed, so that CTest reports the test as
// skipped; exit 1 when the filters select no test case at all (a renamed
// case must not turn its CTest entry into an empty pass).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <iostream>
#include <set>
#include <string>
#include <utility>

#include "tests/skip.hpp"

namespace {

struct RunState {
  std::string current_case;
  std::set<std::pair<std::string, std::string>> skips;  // (test case, reason)
  bool ran = false;  // a real run, not a query such as --list-test-cases
  unsigned cases = 0;
  unsigned failed = 0;
};

RunState& state() {
  static RunState s;
  return s;
}

// Observes the run for main(); the console reporter still prints everything.
struct SkipListener : doctest::IReporter {
  explicit SkipListener(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override {
    state().ran = true;
    state().cases = stats.numTestCasesPassingFilters;
    state().failed = stats.numTestCasesFailed;
  }
  void test_case_start(const doctest::TestCaseData& data) override {
    state().current_case = data.m_name;
  }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

REGISTER_LISTENER("octet_skips", 1, SkipListener);

}  // namespace

namespace octet::test {

void record_skip(const std::string& reason) {
  // (A set: subcases re-enter a test case, each reason is said once.)
  state().skips.insert({state().current_case, reason});
}

}  // namespace octet::test

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int status = context.run();
  const RunState& s = state();
  if (!s.ran) return status;
  if (status != 0 || s.failed > 0) return 1;
  if (s.cases == 0) {
    std::cerr << "no test case matches the filters given\n";
    return 1;
  }
  if (s.skips.empty()) return 0;
  for (const auto& [name, reason] : s.skips) {
    std::cout << "skipped: " << reason << " (test case \"" << name << "\")\n";
  }
  return 77;
}
