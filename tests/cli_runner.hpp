// Running the octet executable from a test: exit code, stdout and stderr.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/skip.hpp"
#include "tests/temp_dir.hpp"

namespace octet::test {

struct CliResult {
  int code = -1;
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

inline std::string octet_exe() {
  return std::string(OCTET_BINARY_DIR) + "/apps/octet";
}

// Runs `octet ARGS` with its output captured in files of `dir`.
inline CliResult octet_cli(const TempDir& dir, const std::string& args) {
  const std::string out = dir.file("stdout.txt"), err = dir.file("stderr.txt");
  const int status = std::system((octet_exe() + " " + args + " >" + out + " 2>" + err).c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}

// In a test case that runs the executable: skip where it is not built
// (-DOCTET_BUILD_APPS=OFF; otherwise octet_tests depends on it).
#define OCTET_REQUIRE_CLI()                                      \
  do {                                                           \
    if (!std::filesystem::exists(::octet::test::octet_exe())) {  \
      OCTET_SKIP(::octet::test::octet_exe() << " is not built"); \
    }                                                            \
  } while (false)

inline bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// How many times `part` occurs in `text` (overlapping occurrences count).
inline size_t occurrences(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

}  // namespace octet::test
