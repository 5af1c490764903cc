#include "tests/expected_isa.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace octet::test {

namespace {

// oneDNN 2.6's cpu_isa_t bit masks (cpu_isa_traits.hpp): an ISA is allowed
// under a cap when (cap & isa) == isa.
constexpr unsigned kSse41 = 1u << 0, kAvx = (1u << 1) | kSse41, kAvx2 = (1u << 2) | kAvx,
                   kAvxVnni = (1u << 12) | (1u << 1), kAvx2Vnni = kAvxVnni | kAvx2,
                   kAvx512Core = (1u << 6) | kAvx2, kAvx512CoreVnni = (1u << 7) | kAvx512Core,
                   kAvx512CoreBf16 = (1u << 8) | kAvx512CoreVnni,
                   kAmx = (1u << 9) | (1u << 10) | (1u << 11),
                   kAvx512CoreAmx = kAvx512CoreBf16 | kAmx, kAll = ~0u & ~(1u << 31);

struct Isa {
  const char* name;  // as the cap's value and as octet::cpu_isa() spell it
  unsigned mask;
  std::vector<const char*> flags;  // /proc/cpuinfo flags oneDNN checks for it
};

// Highest first, as oneDNN's get_effective_cpu_isa() tries them (AMX aside:
// see ExpectedIsa::name_with_amx).
const std::vector<Isa>& isas() {
  static const std::vector<Isa> list = {
      {"avx512_core_bf16",
       kAvx512CoreBf16,
       {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni", "avx512_bf16"}},
      {"avx512_core_vnni",
       kAvx512CoreVnni,
       {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni"}},
      {"avx512_core", kAvx512Core, {"avx512f", "avx512bw", "avx512vl", "avx512dq"}},
      {"avx2_vnni", kAvx2Vnni, {"avx2", "avx_vnni"}},
      {"avx2", kAvx2, {"avx2"}},
      {"avx", kAvx, {"avx"}},
      {"sse41", kSse41, {"sse4_1"}},
  };
  return list;
}

std::set<std::string> cpu_flags(std::string& source) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    source = "/proc/cpuinfo";
    std::istringstream words(line.substr(line.find(':') + 1));
    std::set<std::string> flags;
    for (std::string w; words >> w;) flags.insert(w);
    return flags;
  }
  source = "no flags line in /proc/cpuinfo";
  return {};
}

// The cap as oneDNN reads it: ONEDNN_MAX_CPU_ISA, else DNNL_MAX_CPU_ISA.
unsigned cpu_isa_cap(std::string& value) {
  for (const char* name : {"ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"}) {
    const char* v = std::getenv(name);
    if (!v || !*v) continue;
    value = std::string(name) + "=" + v;
    std::string lower(v);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == "avx512_core_amx") return kAvx512CoreAmx;
    for (const Isa& isa : isas()) {
      if (lower == isa.name) return isa.mask;
    }
    return kAll;  // "all" or a value oneDNN does not know
  }
  value = "no ONEDNN_MAX_CPU_ISA";
  return kAll;
}

ExpectedIsa compute() {
  std::string source, cap_text;
  const std::set<std::string> flags = cpu_flags(source);
  const unsigned cap = cpu_isa_cap(cap_text);
  const auto has = [&](const Isa& isa) {
    return (cap & isa.mask) == isa.mask &&
           std::all_of(isa.flags.begin(), isa.flags.end(),
                       [&](const char* f) { return flags.count(f) > 0; });
  };
  ExpectedIsa e;
  e.name = "unknown";
  for (const Isa& isa : isas()) {
    if (has(isa)) {
      e.name = isa.name;
      break;
    }
  }
  const bool amx = (cap & kAvx512CoreAmx) == kAvx512CoreAmx && e.name == "avx512_core_bf16" &&
                   flags.count("amx_tile") && flags.count("amx_int8") && flags.count("amx_bf16");
  if (amx) e.name_with_amx = "avx512_core_amx";
  e.avx512_vnni = has(isas()[1]);
  e.vnni = e.avx512_vnni || has(isas()[3]);
  std::string relevant;
  for (const char* f : {"avx2", "avx_vnni", "avx512f", "avx512_vnni", "avx512_bf16", "amx_int8"}) {
    if (flags.count(f)) relevant += std::string(relevant.empty() ? "" : " ") + f;
  }
  e.why = source + " flags [" + relevant + "], " + cap_text + ": expected ISA " + e.name +
          (e.vnni ? " (VNNI)" : " (no VNNI)");
  return e;
}

}  // namespace

const ExpectedIsa& expected_isa() {
  static const ExpectedIsa e = compute();
  return e;
}

int expected_weight_levels() {
  return expected_isa().vnni ? 127 : 63;
}

}  // namespace octet::test
