// The instruction set oneDNN should dispatch to on this machine, worked out
// without oneDNN or octet: from the CPU's own flags (/proc/cpuinfo), capped by
// ONEDNN_MAX_CPU_ISA (or DNNL_MAX_CPU_ISA) the way oneDNN 2.6 reads it
// (src/cpu/x64/cpu_isa_traits.{hpp,cpp}: lower-cased, an unknown value means
// no cap, and an ISA is usable when the cap's bit mask contains its own).
// Tests compare octet's branches with this, so that a wrong cpu_has_vnni()
// or a silent fallback to the non-VNNI path fails on a VNNI machine, and the
// VNNI path taken where the CPU lacks it fails elsewhere.
#pragma once

#include <string>

#include "octet/octet.hpp"

namespace octet::test {

struct ExpectedIsa {
  // As octet::cpu_isa() spells it: "avx2", "avx2_vnni", "avx512_core_vnni"...
  // `name_with_amx` is what oneDNN reports instead when the CPU has AMX and
  // the kernel grants it (a permission this helper cannot see), else "".
  std::string name, name_with_amx;
  bool vnni = false;  // VNNI (AVX512-VNNI or AVX-VNNI) usable: the VNNI branches
  // AVX512-VNNI usable: oneDNN 2.6 then has brgemm inner product and matmul
  // kernels named after the ISA (with AVX-VNNI alone they are gemm-based).
  bool avx512_vnni = false;
  std::string why;  // the flags and cap it came from, for failure messages
};

const ExpectedIsa& expected_isa();

// The weight levels octet should use for an int8 Linear (MatMul/Gemm) and a
// convolution with a u8 source here: 127 with VNNI, 63 without (ops/quantize.hpp).
int expected_weight_levels();

}  // namespace octet::test
