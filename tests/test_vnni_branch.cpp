// The int8 branch octet takes depends on the CPU: with VNNI (AVX512-VNNI or
// AVX-VNNI) 8-bit weights (127 levels), int8 attention matmuls and oneDNN's
// VNNI kernels; without, 7-bit weights (63 levels), fp32 attention matmuls
// and AVX2 kernels (docs/quantization.md). Each case asserts the branch this
// machine should take, worked out from the CPU's own flags and
// ONEDNN_MAX_CPU_ISA (tests/expected_isa.hpp), not from octet's
// cpu_has_vnni(): a VNNI CPU where octet falls back fails, and so does the
// VNNI branch taken where the CPU lacks it. CTest runs them once more with
// oneDNN capped to AVX2 (tests/CMakeLists.txt), where every CPU must take
// the AVX2 branch.
#include <doctest/doctest.h>

#include <set>

#include "tests/expected_isa.hpp"
#include "tests/op_harness.hpp"
#include "tests/test_graph.hpp"

using namespace octet;
using test::expected_isa;
using test::layer_named;
using test::TestGraph;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}
bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}
bool names_vnni(const std::string& kernel) {
  return contains(kernel, "vnni") || contains(kernel, "amx");
}

// Weights j/127 (j = 0..127) in one output channel, whose amax is thus 1,
// times the identity: output j is s_w * q_j, and with L levels
// q_j = round(j * L / 127), so the output holds L + 1 distinct values.
// (The second channel is the first negated.)
Tensor ramp_weights(const Shape& shape, bool channels_first) {
  Tensor w(DataType::f32, shape);
  for (int64_t j = 0; j < 128; ++j) {
    const float v = static_cast<float>(j) / 127.f;
    w.data<float>()[channels_first ? j : j * 2] = v;
    w.data<float>()[channels_first ? 128 + j : j * 2 + 1] = -v;
  }
  return w;
}

int levels_seen(const Tensor& y, int64_t stride) {
  std::set<float> values;
  for (int64_t j = 0; j < 128; ++j) values.insert(y.data<float>()[j * stride]);
  return static_cast<int>(values.size()) - 1;
}

// One int8 MatMul by constant weights (a Linear layer) on the identity.
int linear_levels(DataType src) {
  Tensor eye(DataType::f32, {128, 128});
  for (int64_t i = 0; i < 128; ++i) eye.data<float>()[i * 129] = 1.f;
  TestGraph tg;
  const int in = tg.input("x", {128, 128});
  tg.range(in, src == DataType::u8 ? 255.f : 127.f, src);  // scale 1
  tg.output(tg.node("MatMul", "linear", {in, tg.constant("w", ramp_weights({128, 2}, false))}));
  Session s(tg.model());
  const Tensor y = s.run({eye})[0].clone();
  CHECK(layer_named(s, "linear").precision == "int8");
  return levels_seen(y, 2);
}

// One int8 1x1 Conv on the identity laid out as [1, C=128, 1, W=128].
int conv_levels(DataType src) {
  Tensor eye(DataType::f32, {1, 128, 1, 128});
  for (int64_t i = 0; i < 128; ++i) eye.data<float>()[i * 129] = 1.f;
  TestGraph tg;
  const int in = tg.input("x", {1, 128, 1, 128});
  tg.range(in, src == DataType::u8 ? 255.f : 127.f, src);
  tg.output(tg.node("Conv", "conv", {in, tg.constant("w", ramp_weights({2, 128, 1, 1}, true))}));
  Session s(tg.model());
  const Tensor y = s.run({eye})[0].clone();
  CHECK(layer_named(s, "conv").precision == "int8");
  return levels_seen(y, 1);
}

// The kernel of the one int8 layer `name` in a session of `model` run on
// `inputs`, with its precision checked.
std::string int8_kernel(const Model& model, const std::vector<Tensor>& inputs,
                        const std::string& name) {
  Session s(model);
  s.run(inputs);
  const LayerInfo l = layer_named(s, name);
  CHECK(l.precision == "int8");
  return l.kernel;
}

}  // namespace

TEST_CASE(
    "vnni branch: cpu_isa() and cpu_has_vnni() follow the CPU's flags and ONEDNN_MAX_CPU_ISA") {
  const test::ExpectedIsa& e = expected_isa();
  INFO(e.why);
  const std::string isa = cpu_isa();
  CAPTURE(isa);
  CHECK((isa == e.name || (!e.name_with_amx.empty() && isa == e.name_with_amx)));
  CHECK(cpu_has_vnni() == e.vnni);
}

TEST_CASE("vnni branch: weights use 127 levels with VNNI and 63 without (seen in the output)") {
  const test::ExpectedIsa& e = expected_isa();
  INFO(e.why);
  const int levels = test::expected_weight_levels();
  CHECK(linear_levels(DataType::s8) == levels);
  CHECK(linear_levels(DataType::u8) == levels);
  CHECK(conv_levels(DataType::u8) == levels);
  // With an s8 source and no VNNI, oneDNN's convolutions halve 8-bit weights
  // themselves (their s8 source is shifted to u8): 127 halved is 64.
  CHECK(conv_levels(DataType::s8) == (e.vnni ? 127 : 64));
}

// Kernel names as oneDNN 2.6.3's implementation lists give them
// (src/cpu/cpu_convolution_list.cpp, cpu_inner_product_list.cpp,
// matmul/cpu_matmul_list.cpp): int8 convolutions name their ISA
// ("brgconv:avx512_core_vnni", "jit_uni_int8:avx2_vnni", "jit_uni_int8:avx2");
// with AVX512-VNNI the inner product (Linear) and matmul (attention) are
// brgemm kernels named after it ("brgemm:avx512_core_vnni",
// "brg:avx512_core_vnni"; AMX CPUs: "...amx..."); elsewhere they are the
// gemm-based ones ("x64:gemm_s8s8s32:jit", "gemm:jit"), whose names do not
// say the ISA.
TEST_CASE(
    "vnni branch: int8 conv, Linear and attention run on VNNI kernels where the CPU has VNNI") {
  const test::ExpectedIsa& e = expected_isa();
  INFO(e.why);
  const auto check_conv = [&](const std::string& kernel) {
    CAPTURE(kernel);
    if (e.avx512_vnni) {
      CHECK(names_vnni(kernel));
    } else if (e.vnni) {
      CHECK(ends_with(kernel, ":avx2_vnni"));
    } else {
      CHECK(!names_vnni(kernel));
      if (e.name == "avx2" || e.name == "avx512_core") CHECK(ends_with(kernel, ":" + e.name));
    }
  };
  const auto check_gemm = [&](const std::string& kernel) {
    CAPTURE(kernel);
    CHECK(kernel.rfind("ref", 0) != 0);  // never the reference kernel
    if (e.avx512_vnni) CHECK(names_vnni(kernel));
    if (!e.vnni) CHECK(!names_vnni(kernel));
  };

  // ResNet-50 layer1: a 3x3 and a 1x1 convolution on a u8 source.
  for (const auto& [c, k] : {std::pair<int64_t, int64_t>{64, 3}, {256, 1}}) {
    const Tensor x = test::random_tensor(DataType::f32, {1, c, 56, 56}, 1, 0.f, 2.f);
    const Tensor w = test::random_tensor(DataType::f32, {64, c, k, k}, 2, -0.05f, 0.05f);
    TestGraph tg;
    const int in = tg.input("x", x.shape());
    tg.range(in, 2.f, DataType::u8);
    const int64_t pad = k / 2;
    tg.output(tg.node("Conv", "conv", {in, tg.constant("w", w)},
                      {{"pads", std::vector<int64_t>{pad, pad, pad, pad}}}));
    check_conv(int8_kernel(tg.model(), {x}, "conv"));
  }

  // BERT-base: a 768x768 Linear on an s8 source (seq 128).
  {
    const Tensor x = test::random_tensor(DataType::f32, {1, 128, 768}, 3, -2.f, 2.f);
    const Tensor w = test::random_tensor(DataType::f32, {768, 768}, 4, -0.04f, 0.04f);
    TestGraph tg;
    const int in = tg.input("x", x.shape());
    tg.range(in, 2.f, DataType::s8);
    tg.output(tg.node("MatMul", "linear", {in, tg.constant("w", w)}));
    check_gemm(int8_kernel(tg.model(), {x}, "linear"));
  }

  // BERT-base attention Q.K^T (12 heads, seq 128, head 64): int8 only with VNNI.
  const Tensor q = test::random_tensor(DataType::f32, {1, 12, 128, 64}, 5, -3.f, 3.f);
  const Tensor kt = test::random_tensor(DataType::f32, {1, 12, 64, 128}, 6, -3.f, 3.f);
  TestGraph tg;
  const int a = tg.input("q", q.shape());
  const int b = tg.input("kt", kt.shape());
  tg.range(a, 3.f, DataType::s8);
  tg.range(b, 3.f, DataType::s8);
  tg.output(tg.node("MatMul", "scores", {a, b}));
  if (e.vnni) {
    check_gemm(int8_kernel(tg.model(), {q, kt}, "scores"));
  } else {
    Session s(tg.model());
    s.run({q, kt});
    const LayerInfo l = layer_named(s, "scores");
    CHECK(l.precision == "fp32");
    CHECK(l.reason == "the CPU lacks VNNI: int8 x int8 activations would saturate");
  }
}
