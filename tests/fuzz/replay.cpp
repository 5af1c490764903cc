// fuzz_replay: runs files through the fuzz harnesses without libFuzzer, so that
// every build (g++, Release and ASan+UBSan) replays the committed regression
// inputs and the generated seeds as ordinary CTest tests.
//
//   fuzz_replay TARGET FILE_OR_DIR...       one target (model_format, onnx_import, npy, image,
//                                           calibration_table, tokenizer, idx)
//   fuzz_replay --all DIR...                DIR/<target>/* for every target
//   options: --expect STAGE   fail unless every input gets at least that far
//                             (rejected, parsed, built, prepared, ran)
//            --verbose        print each input's stage and error message
//
// A crash, sanitizer report or exception other than octet::Error ends the
// process; the line printed before it names the input. An input running
// longer than 60 s is killed the same way.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_calibration_table.hpp"
#include "tests/fuzz/fuzz_idx.hpp"
#include "tests/fuzz/fuzz_image.hpp"
#include "tests/fuzz/fuzz_model_format.hpp"
#include "tests/fuzz/fuzz_npy.hpp"
#include "tests/fuzz/fuzz_onnx_import.hpp"
#include "tests/fuzz/fuzz_tokenizer.hpp"

namespace fs = std::filesystem;
using octet::fuzz::Outcome;
using octet::fuzz::Stage;

namespace {

using Harness = Outcome (*)(const uint8_t*, size_t);

const std::map<std::string, Harness> kTargets = {
    {"model_format", &octet::fuzz::outcome_of<octet::fuzz::model_format::run>},
    {"onnx_import", &octet::fuzz::outcome_of<octet::fuzz::onnx_import::run>},
    {"npy", &octet::fuzz::outcome_of<octet::fuzz::npy::run>},
    {"image", &octet::fuzz::outcome_of<octet::fuzz::image::run>},
    {"calibration_table", &octet::fuzz::outcome_of<octet::fuzz::calibration_table::run>},
    {"tokenizer", &octet::fuzz::outcome_of<octet::fuzz::tokenizer::run>},
    {"idx", &octet::fuzz::outcome_of<octet::fuzz::idx::run>},
};

constexpr unsigned kTimeoutSeconds = 60;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#else
constexpr bool kAsan = false;
#endif

void on_alarm(int) {
  static const char msg[] = "fuzz_replay: the input above took too long (a hang)\n";
  (void)!::write(2, msg, sizeof msg - 1);
  ::_exit(3);
}

std::vector<fs::path> files_of(const fs::path& p) {
  std::vector<fs::path> out;
  if (fs::is_directory(p)) {
    for (const auto& e : fs::directory_iterator(p)) {
      const std::string name = e.path().filename().string();
      if (e.is_regular_file() && name[0] != '.' && name != "README.md") out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
  } else {
    out.push_back(p);
  }
  return out;
}

bool parse_stage(const std::string& s, Stage& out) {
  for (Stage st : {Stage::rejected, Stage::parsed, Stage::built, Stage::prepared, Stage::ran}) {
    if (s == octet::fuzz::to_string(st)) return out = st, true;
  }
  return false;
}

int usage() {
  std::fprintf(stderr,
               "usage: fuzz_replay [--expect STAGE] [--verbose] TARGET FILE_OR_DIR...\n"
               "       fuzz_replay [--expect STAGE] [--verbose] --all DIR...\n"
               "targets: model_format, onnx_import, npy, image, calibration_table, tokenizer, "
               "idx\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Stage expect = Stage::rejected;
  bool verbose = false, all = false;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--expect" && i + 1 < argc) {
      if (!parse_stage(argv[++i], expect)) return usage();
    } else if (a == "--verbose") {
      verbose = true;
    } else if (a == "--all") {
      all = true;
    } else {
      args.push_back(a);
    }
  }
  // (target, file) pairs to replay.
  std::vector<std::pair<std::string, fs::path>> work;
  if (all) {
    if (args.empty()) return usage();
    for (const std::string& dir : args) {
      for (const auto& [name, h] : kTargets) {
        const fs::path sub = fs::path(dir) / name;
        if (fs::is_directory(sub)) {
          for (const fs::path& f : files_of(sub)) work.emplace_back(name, f);
        }
      }
    }
  } else {
    if (args.size() < 2 || !kTargets.count(args[0])) return usage();
    for (size_t i = 1; i < args.size(); ++i) {
      if (!fs::exists(args[i])) {
        std::fprintf(stderr, "fuzz_replay: no such file or directory: %s\n", args[i].c_str());
        return 2;
      }
      for (const fs::path& f : files_of(args[i])) work.emplace_back(args[0], f);
    }
  }
  // Without ASan (which reserves terabytes of shadow memory) cap the address
  // space at 4 GiB, so that an input asking for a huge allocation gets
  // octet's out_of_memory Error at once instead of a slow, load-dependent
  // page-in of gigabytes. (Under ASan, max_allocation_size_mb makes any
  // allocation over 2 GiB fail the replay, as in the fuzzers.)
  if (!kAsan) {
    const rlim_t cap = rlim_t(4) << 30;
    rlimit lim{cap, cap};
    setrlimit(RLIMIT_AS, &lim);
  }
  std::signal(SIGALRM, on_alarm);

  std::map<std::string, std::map<Stage, int>> counts;
  int short_of_expected = 0;
  for (const auto& [target, file] : work) {
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::fprintf(stderr, "%s %s\n", target.c_str(), file.c_str());
    std::fflush(stderr);
    ::alarm(kTimeoutSeconds);
    const Outcome out =
        kTargets.at(target)(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    ::alarm(0);
    ++counts[target][out.stage];
    if (verbose || out.stage < expect) {
      std::printf("%s: %s%s%s\n", file.c_str(), octet::fuzz::to_string(out.stage),
                  out.failed ? ": " : "", out.error.c_str());
    }
    if (out.stage < expect) ++short_of_expected;
  }
  for (const auto& [target, stages] : counts) {
    std::printf("%s:", target.c_str());
    for (const auto& [stage, n] : stages) std::printf(" %s %d", octet::fuzz::to_string(stage), n);
    std::printf("\n");
  }
  std::printf("fuzz_replay: %zu inputs replayed without a crash\n", work.size());
  if (short_of_expected) {
    std::printf("fuzz_replay: %d inputs stopped before stage '%s'\n", short_of_expected,
                octet::fuzz::to_string(expect));
    return 1;
  }
  return 0;
}
