// int8 MatMul / Gemm through oneDNN against the integer reference, on
// BERT-base and ResNet-50 shapes: Linear layers (s8 source, per-channel s8
// weights, bias, GELU, f32 or s8 destination; u8 sources), the attention
// matmuls (both operands int8) and the classifier Gemm (u8 source, alpha,
// beta); then the rounding of runtime activation and weight quantization.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "tests/expected_isa.hpp"
#include "tests/int8_reference.hpp"
#include "tests/op_harness.hpp"
#include "tests/test_graph.hpp"

using namespace octet;
using test::layer_named;
using test::TestGraph;

namespace {

float amax_of(const Tensor& t) {
  return static_cast<float>(test::max_abs(t));
}

Tensor gelu(const Tensor& x) {
  Tensor y(DataType::f32, x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double v = x.data<float>()[i];
    y.data<float>()[i] = static_cast<float>(0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))));
  }
  return y;
}

}  // namespace

TEST_CASE("int8 matmul: BERT Linear layers (s8 source, bias, GELU) match the integer reference") {
  struct Case {
    const char* name;
    int64_t m, k, n;
    bool gelu;
  };
  for (const Case& c : {Case{"QKV 768x768", 128, 768, 768, false},
                        Case{"FFN in 768x3072 + GELU", 128, 768, 3072, true},
                        Case{"FFN out 3072x768", 128, 3072, 768, false}}) {
    INFO(std::string(c.name));
    const Tensor x = test::random_tensor(DataType::f32, {1, c.m, c.k}, 1, -2.f, 2.f);
    const float bound = 1.f / std::sqrt(static_cast<float>(c.k));
    const Tensor w = test::random_tensor(DataType::f32, {c.k, c.n}, 2, -bound, bound);
    const Tensor b = test::random_tensor(DataType::f32, {c.n}, 3, -0.1f, 0.1f);
    TestGraph tg;
    const int in = tg.input("x", {1, c.m, c.k});
    tg.range(in, amax_of(x), DataType::s8);
    std::map<std::string, AttrValue> attrs;
    if (c.gelu) attrs["activation"] = std::string("gelu");
    tg.output(tg.node("MatMul", "linear", {in, tg.constant("w", w), tg.constant("b", b)}, attrs));
    Session s(tg.model());
    const Tensor got = s.run({x})[0].clone();
    CHECK(layer_named(s, "linear").precision == "int8");

    const float sx = amax_of(x) / 127.f;
    const test::EffectiveWeights ew =
        test::effective_weights_ref(w, DataType::s8, test::Kernel::linear, 1);
    Tensor ref =
        test::matmul_int8_ref(test::quantize_ref(x, sx, DataType::s8), sx, ew.q, ew.scales, &b);
    if (c.gelu) ref = gelu(ref);
    CHECK(test::max_abs_diff(got, ref) <= 1e-5 * test::max_abs(ref) + 1e-6);
  }
}

TEST_CASE("int8 matmul: an s8 GELU output feeds the next Linear in int8 (requantized after GELU)") {
  const Tensor x = test::random_tensor(DataType::f32, {64, 256}, 11, -2.f, 2.f);
  const Tensor w1 = test::random_tensor(DataType::f32, {256, 512}, 12, -0.06f, 0.06f);
  const Tensor w2 = test::random_tensor(DataType::f32, {512, 128}, 13, -0.05f, 0.05f);
  const Tensor b1 = test::random_tensor(DataType::f32, {512}, 14, -0.1f, 0.1f);
  TestGraph tg;
  const int in = tg.input("x", {64, 256});
  tg.range(in, amax_of(x), DataType::s8);
  const int h = tg.node("MatMul", "ffn_in", {in, tg.constant("w1", w1), tg.constant("b1", b1)},
                        {{"activation", std::string("gelu")}});
  const float ah = 1.5f;
  tg.range(h, ah, DataType::s8);
  tg.output(tg.node("MatMul", "ffn_out", {h, tg.constant("w2", w2)}));
  tg.output(h);  // to read the s8 integers back
  Session s(tg.model());
  const std::vector<Tensor> got = s.run({x});
  CHECK(layer_named(s, "ffn_in").precision == "int8");
  CHECK(layer_named(s, "ffn_out").precision == "int8");

  const float sx = amax_of(x) / 127.f, sh = ah / 127.f;
  const test::EffectiveWeights e1 =
      test::effective_weights_ref(w1, DataType::s8, test::Kernel::linear, 1);
  const Tensor h_real = gelu(
      test::matmul_int8_ref(test::quantize_ref(x, sx, DataType::s8), sx, e1.q, e1.scales, &b1));
  const Tensor qh = test::quantize_ref(h_real, sh, DataType::s8);
  test::check_integers(got[1], qh, sh, 1);
  const test::EffectiveWeights e2 =
      test::effective_weights_ref(w2, DataType::s8, test::Kernel::linear, 1);
  const Tensor out = test::matmul_int8_ref(qh, sh, e2.q, e2.scales, nullptr);
  // One unit of h moves the output by at most sh * max|w2|.
  CHECK(test::max_abs_diff(got[0], out) <= 2 * sh * 0.05 * 1.01 + 1e-5);
}

TEST_CASE("int8 matmul: attention Q.K^T and P.V with both operands int8") {
  const Tensor q = test::random_tensor(DataType::f32, {1, 12, 128, 64}, 21, -3.f, 3.f);
  const Tensor kt = test::random_tensor(DataType::f32, {1, 12, 64, 128}, 22, -3.f, 3.f);
  const Tensor p = test::random_tensor(DataType::f32, {1, 12, 128, 128}, 23, 0.f, 0.05f);
  const Tensor v = test::random_tensor(DataType::f32, {1, 12, 128, 64}, 24, -2.f, 2.f);
  struct Case {
    const char* name;
    Tensor a, b;
    DataType ta, tb;
  };
  for (const Case& c : {Case{"Q.K^T", q, kt, DataType::s8, DataType::s8},
                        Case{"P.V", p, v, DataType::u8, DataType::s8}}) {
    INFO(std::string(c.name));
    TestGraph tg;
    const int a = tg.input("a", c.a.shape());
    const int b = tg.input("b", c.b.shape());
    tg.range(a, amax_of(c.a), c.ta);
    tg.range(b, amax_of(c.b), c.tb);
    tg.output(tg.node("MatMul", "mm", {a, b}));
    Session s(tg.model());
    const Tensor got = s.run({c.a, c.b})[0].clone();
    if (!test::expected_isa().vnni) {
      // Without VNNI these run in fp32 (ops/matmul.cpp says why);
      // tests/test_int8_attention.cpp forces the int8 kernel there.
      const LayerInfo l = layer_named(s, "mm");
      CHECK(l.precision == "fp32");
      CHECK(l.reason == "the CPU lacks VNNI: int8 x int8 activations would saturate");
      continue;
    }
    CHECK(layer_named(s, "mm").precision == "int8");
    const float sa = amax_of(c.a) / (c.ta == DataType::u8 ? 255.f : 127.f),
                sb = amax_of(c.b) / 127.f;
    const Tensor qa = test::quantize_ref(c.a, sa, c.ta),
                 qb = test::quantize_ref(c.b, sb, DataType::s8);
    // Per (batch, head): [M,K] x [K,N] with one scale.
    const int64_t heads = 12, m = c.a.dim(2), k = c.a.dim(3), n = c.b.dim(3);
    Tensor ref(DataType::f32, {1, heads, m, n});
    for (int64_t h = 0; h < heads; ++h) {
      Tensor ah = Tensor::wrap(c.ta, {m, k},
                               static_cast<uint8_t*>(const_cast<void*>(qa.raw())) + h * m * k);
      Tensor bh = Tensor::wrap(DataType::s8, {k, n},
                               static_cast<int8_t*>(const_cast<void*>(qb.raw())) + h * k * n);
      const Tensor rh = test::matmul_int8_ref(ah, sa, bh, {sb}, nullptr);
      std::copy(rh.data<float>(), rh.data<float>() + m * n, ref.data<float>() + h * m * n);
    }
    CHECK(test::max_abs_diff(got, ref) <= 1e-5 * test::max_abs(ref) + 1e-6);
  }
}

TEST_CASE(
    "int8 matmul: without VNNI an s8 source runs as u8 + 128 with a source zero point of 128") {
  // ops/inner_product.cpp: without VNNI the s8 source is read as u8 = s8 + 128
  // by a matmul whose source zero point (128) oneDNN takes out of the s32
  // sum: 128 x each channel's weight sum. Edge cases: the
  // source saturates at both -128 and 127 (its range is below its largest
  // values), channels whose weights are all +max, all -max or all zero
  // (largest and smallest compensation), no bias, K = 3072 (the largest
  // sums), and a Gemm with alpha and beta.
  struct Case {
    const char* name;
    int64_t m, k, n;
    bool gemm;
  };
  uint32_t seed = 61;
  for (const Case& c : {Case{"MatMul 128x768x768, no bias", 128, 768, 768, false},
                        Case{"MatMul 16x3072x768, no bias", 16, 3072, 768, false},
                        Case{"Gemm 8x768x64, transB, alpha 0.5, beta 2", 8, 768, 64, true}}) {
    INFO(std::string(c.name));
    const Tensor x = test::random_tensor(DataType::f32, {c.m, c.k}, seed++, -2.f, 2.f);
    const float bound = 1.f / std::sqrt(static_cast<float>(c.k));
    // B as [K,N] (MatMul) or [N,K] (Gemm with transB).
    Tensor w = test::random_tensor(DataType::f32, c.gemm ? Shape{c.n, c.k} : Shape{c.k, c.n},
                                   seed++, -bound, bound);
    for (int64_t i = 0; i < c.k; ++i) {
      for (const auto& [channel, value] : {std::pair{0, bound}, {1, -bound}, {2, 0.f}}) {
        w.data<float>()[c.gemm ? channel * c.k + i : i * c.n + channel] = value;
      }
    }
    const Tensor bias = test::random_tensor(DataType::f32, {c.n}, seed++, -0.5f, 0.5f);
    const float ax = 1.5f;  // below max|x| = 2: some values saturate at -128 and 127
    TestGraph tg;
    const int in = tg.input("x", {c.m, c.k});
    tg.range(in, ax, DataType::s8);
    if (c.gemm) {
      tg.output(tg.node("Gemm", "linear", {in, tg.constant("w", w), tg.constant("c", bias)},
                        {{"transB", int64_t{1}}, {"alpha", 0.5}, {"beta", 2.0}}));
    } else {
      tg.output(tg.node("MatMul", "linear", {in, tg.constant("w", w)}));
    }
    Session s(tg.model());
    const Tensor got = s.run({x})[0].clone();
    const LayerInfo l = layer_named(s, "linear");
    CHECK(l.precision == "int8");
    const bool shifted = l.kernel.find("(s8+128)") != std::string::npos;
    CHECK(shifted == !cpu_has_vnni());
    if (!cpu_has_vnni()) CHECK(l.kernel == "gemm:jit (s8+128)");  // a matmul, not s8s8

    const float sx = ax / 127.f;
    const Tensor qx = test::quantize_ref(x, sx, DataType::s8);
    int saturated = 0;
    for (int64_t i = 0; i < qx.numel(); ++i) saturated += qx.data<int8_t>()[i] == -128;
    CHECK(saturated > 0);
    const test::EffectiveWeights ew =
        test::effective_weights_ref(w, DataType::s8, test::Kernel::linear, c.gemm ? 0 : 1);
    Tensor qb = ew.q;  // the reference wants [K,N]
    if (c.gemm) {
      qb = Tensor(DataType::s8, {c.k, c.n});
      for (int64_t i = 0; i < c.n; ++i) {
        for (int64_t j = 0; j < c.k; ++j)
          qb.data<int8_t>()[j * c.n + i] = ew.q.data<int8_t>()[i * c.k + j];
      }
    }
    Tensor ref = test::matmul_int8_ref(qx, sx, qb, ew.scales, nullptr);
    if (c.gemm) {
      for (int64_t i = 0; i < ref.numel(); ++i) {
        ref.data<float>()[i] = 0.5f * ref.data<float>()[i] + 2.f * bias.data<float>()[i % c.n];
      }
    }
    CHECK(test::max_abs_diff(got, ref) <= 1e-5 * test::max_abs(ref) + 1e-6);
  }
}

TEST_CASE("int8 matmul: a fused residual (BERT's dense + the layer input) is added in f32") {
  // Y = (x . W + b) + Z: the int8 product as the integer reference computes
  // it, Z added in f32 by oneDNN's sum post-op. Z is a graph input (the
  // session copies it into Y's buffer) or a Relu output read by nothing else
  // (Y's buffer is Z's). A residual makes the destination f32 even when the
  // reader reads int8: then a quantize step follows.
  const int64_t m = 128, k = 768, n = 768;
  const Tensor x = test::random_tensor(DataType::f32, {1, m, k}, 81, -2.f, 2.f);
  const float bound = 1.f / std::sqrt(static_cast<float>(k));
  const Tensor w = test::random_tensor(DataType::f32, {k, n}, 82, -bound, bound);
  const Tensor b = test::random_tensor(DataType::f32, {n}, 83, -0.1f, 0.1f);
  const Tensor z = test::random_tensor(DataType::f32, {1, m, n}, 84, -3.f, 3.f);
  const float sx = amax_of(x) / 127.f;
  const test::EffectiveWeights ew =
      test::effective_weights_ref(w, DataType::s8, test::Kernel::linear, 1);
  const Tensor product =
      test::matmul_int8_ref(test::quantize_ref(x, sx, DataType::s8), sx, ew.q, ew.scales, &b);
  for (bool computed : {false, true}) {
    for (bool int8_reader : {false, true}) {
      CAPTURE(computed);
      CAPTURE(int8_reader);
      TestGraph tg;
      const int in = tg.input("x", {1, m, k});
      tg.range(in, amax_of(x), DataType::s8);
      const int z_in = tg.input("z", {1, m, n});
      const int residual = computed ? tg.node("Relu", "z_relu", {z_in}) : z_in;
      const int y =
          tg.node("MatMul", "dense", {in, tg.constant("w", w), tg.constant("b", b), residual});
      tg.output(y);
      if (int8_reader) {
        tg.range(y, 8.f, DataType::s8);
        const Tensor w2 = test::random_tensor(DataType::f32, {n, 4}, 85, -0.1f, 0.1f);
        tg.output(tg.node("MatMul", "next", {y, tg.constant("w2", w2)}));
      }
      Session s(tg.model());
      const Tensor got = s.run({x, z})[0].clone();
      const LayerInfo dense = layer_named(s, "dense");
      CHECK(dense.precision == "int8");
      CHECK(dense.kernel != "ref");
      if (int8_reader) CHECK(layer_named(s, "quantize:dense.out").op == "Quantize");
      Tensor ref = product.clone();
      for (int64_t i = 0; i < ref.numel(); ++i) {
        const float zi = z.data<float>()[i];
        ref.data<float>()[i] += computed ? std::max(zi, 0.f) : zi;
      }
      CHECK(test::max_abs_diff(got, ref) <= 1e-5 * test::max_abs(ref) + 1e-6);
    }
  }
}

TEST_CASE("int8 matmul: an s8 source with a bias gives the s8 x s8 result to the bit (BERT-base)") {
  // The shift must come out of the s32 accumulator. Taken out in the f32 bias
  // instead (b - 128 x the weight sum), oneDNN adds it after the s32 to f32
  // conversion and rounds differently: last-bit differences in most outputs,
  // now and then an int8 output one step off, enough to move BERT-base's
  // logits (tests/test_int8_models.cpp). With power-of-two scales
  // (s_x = 2^-6, s_w = 2^-10) and weights that quantize exactly, the one
  // rounding left is that of (acc + b / (s_x s_w)) to f32, which the
  // reference makes too: the result must match it exactly.
  struct Case {
    const char* name;
    int64_t m, k, n;
  };
  uint32_t seed = 71;
  for (const Case& c : {Case{"FFN in 128x768x3072", 128, 768, 3072},
                        Case{"FFN out 128x3072x768", 128, 3072, 768}}) {
    INFO(std::string(c.name));
    const Tensor x = test::random_tensor(DataType::f32, {c.m, c.k}, seed++, -2.f, 2.f);
    const float ax = 127.f / 64.f;  // s_x = 2^-6, some values saturate
    // Weights w = q x 2^-10 with integers q in [-63, 63], each channel
    // reaching 63: the scale is 63 x 2^-10 / 63 = 2^-10 with 7 bits (no VNNI)
    // and 63 x 2^-10 / 127 with VNNI, where only the tolerance check applies.
    Tensor w = test::random_tensor(DataType::f32, {c.n, c.k}, seed++, -63.5f, 63.5f);
    for (int64_t i = 0; i < w.numel(); ++i) {
      float& v = w.data<float>()[i];
      v = std::ldexp(std::clamp(std::nearbyint(v), -63.f, 63.f), -10);
    }
    for (int64_t o = 0; o < c.n; ++o) w.data<float>()[o * c.k + o % c.k] = std::ldexp(63.f, -10);
    const Tensor bias = test::random_tensor(DataType::f32, {c.n}, seed++, -0.5f, 0.5f);
    TestGraph tg;
    const int in = tg.input("x", {c.m, c.k});
    tg.range(in, ax, DataType::s8);
    tg.output(tg.node("Gemm", "linear", {in, tg.constant("w", w), tg.constant("c", bias)},
                      {{"transB", int64_t{1}}}));
    Session s(tg.model());
    const Tensor got = s.run({x})[0].clone();
    const LayerInfo l = layer_named(s, "linear");
    CHECK(l.precision == "int8");
    CHECK((l.kernel.find("(s8+128)") != std::string::npos) == !cpu_has_vnni());

    const float sx = ax / 127.f;
    const test::EffectiveWeights ew =
        test::effective_weights_ref(w, DataType::s8, test::Kernel::linear, 0);
    Tensor qb(DataType::s8, {c.k, c.n});  // the reference wants [K,N]
    for (int64_t i = 0; i < c.n; ++i) {
      for (int64_t j = 0; j < c.k; ++j)
        qb.data<int8_t>()[j * c.n + i] = ew.q.data<int8_t>()[i * c.k + j];
    }
    const Tensor ref =
        test::matmul_int8_ref(test::quantize_ref(x, sx, DataType::s8), sx, qb, ew.scales, &bias);
    CHECK(test::max_abs_diff(got, ref) <= 1e-5 * test::max_abs(ref) + 1e-6);
    if (!cpu_has_vnni()) {
      REQUIRE(ew.scales[0] == std::ldexp(1.f, -10));
      int64_t differ = 0;
      for (int64_t i = 0; i < got.numel(); ++i)
        differ += got.data<float>()[i] != ref.data<float>()[i];
      CHECK(differ == 0);
    }
  }
}

TEST_CASE("int8 gemm: ResNet-50 classifier (u8 source, transB, alpha, beta)") {
  const Tensor x = test::random_tensor(DataType::f32, {2, 2048}, 31, 0.f, 4.f);
  const Tensor w = test::random_tensor(DataType::f32, {1000, 2048}, 32, -0.02f, 0.02f);
  const Tensor c = test::random_tensor(DataType::f32, {1000}, 33, -0.5f, 0.5f);
  TestGraph tg;
  const int in = tg.input("x", {2, 2048});
  tg.range(in, amax_of(x), DataType::u8);
  tg.output(tg.node("Gemm", "fc", {in, tg.constant("w", w), tg.constant("c", c)},
                    {{"transB", int64_t{1}}, {"alpha", 0.5}, {"beta", 2.0}}));
  Session s(tg.model());
  const Tensor got = s.run({x})[0].clone();
  CHECK(layer_named(s, "fc").precision == "int8");
  const float sx = amax_of(x) / 255.f;
  const test::EffectiveWeights ew =
      test::effective_weights_ref(w, DataType::u8, test::Kernel::linear, 0);
  // The reference wants B as [K,N]: transpose the quantized [N,K] weights.
  Tensor qt(DataType::s8, {2048, 1000});
  for (int64_t i = 0; i < 1000; ++i) {
    for (int64_t j = 0; j < 2048; ++j)
      qt.data<int8_t>()[j * 1000 + i] = ew.q.data<int8_t>()[i * 2048 + j];
  }
  Tensor ref =
      test::matmul_int8_ref(test::quantize_ref(x, sx, DataType::u8), sx, qt, ew.scales, nullptr);
  for (int64_t i = 0; i < ref.numel(); ++i) {
    ref.data<float>()[i] = 0.5f * ref.data<float>()[i] + 2.f * c.data<float>()[i % 1000];
  }
  CHECK(test::max_abs_diff(got, ref) <= 1e-5 * test::max_abs(ref) + 1e-6);
}

TEST_CASE("int8 gemm: alpha = 0 gives Y = beta * C (ONNX Gemm), not the NaN of bias / alpha") {
  const Tensor x = test::random_tensor(DataType::f32, {4, 64}, 41, 0.f, 4.f);
  const Tensor w = test::random_tensor(DataType::f32, {10, 64}, 42, -0.1f, 0.1f);
  const Tensor c = test::random_tensor(DataType::f32, {10}, 43, -0.5f, 0.5f);
  TestGraph tg;
  const int in = tg.input("x", {4, 64});
  tg.range(in, amax_of(x), DataType::u8);
  tg.output(tg.node("Gemm", "fc", {in, tg.constant("w", w), tg.constant("c", c)},
                    {{"transB", int64_t{1}}, {"alpha", 0.0}, {"beta", 2.0}}));
  Session s(tg.model());
  const Tensor& got = s.run({x})[0];
  const LayerInfo fc = layer_named(s, "fc");
  CAPTURE(fc.reason);
  // The product contributes nothing, so there is nothing to quantize: fp32, with the reason.
  CHECK(fc.precision == "fp32");
  CHECK(fc.reason.find("alpha = 0") != std::string::npos);
  REQUIRE(got.shape() == Shape{4, 10});
  for (int64_t i = 0; i < got.numel(); ++i) {
    CAPTURE(i);
    CHECK(got.data<float>()[i] == 2.f * c.data<float>()[i % 10]);
  }
}

TEST_CASE("int8 matmul: BERT-base Linear layers, u8 source and int8 destination (seq 32)") {
  // linear -> h (int8 unless f32, range below the largest value so that some
  // saturate) -> a small Linear that reads h in int8; h is a graph output too.
  struct Case {
    const char* name;
    int64_t k, n;
    DataType src, dst;  // dst f32: the Linear writes f32 (nothing reads it in int8)
    bool gelu;
  };
  const int64_t m = 32;
  uint32_t seed = 41;
  for (const Case& c :
       {Case{"QKV 768x768, u8 -> f32", 768, 768, DataType::u8, DataType::f32, false},
        Case{"QKV 768x768, s8 -> s8", 768, 768, DataType::s8, DataType::s8, false},
        Case{"attention output 768x768, u8 -> s8", 768, 768, DataType::u8, DataType::s8, false},
        Case{"FFN in 768x3072 + GELU, s8 -> s8", 768, 3072, DataType::s8, DataType::s8, true},
        Case{"FFN out 3072x768, u8 -> s8", 3072, 768, DataType::u8, DataType::s8, false}}) {
    INFO(std::string(c.name));
    const bool u8 = c.src == DataType::u8;
    const Tensor x = test::random_tensor(DataType::f32, {1, m, c.k}, seed++, u8 ? 0.f : -2.f, 2.f);
    const float bound = 1.f / std::sqrt(static_cast<float>(c.k));
    const Tensor w = test::random_tensor(DataType::f32, {c.k, c.n}, seed++, -bound, bound);
    const Tensor b = test::random_tensor(DataType::f32, {c.n}, seed++, -0.1f, 0.1f);
    const Tensor w2 = test::random_tensor(DataType::f32, {c.n, 8}, seed++, -0.05f, 0.05f);

    const float sx = amax_of(x) / (u8 ? 255.f : 127.f);
    const test::EffectiveWeights ew =
        test::effective_weights_ref(w, c.src, test::Kernel::linear, 1);
    Tensor h_real =
        test::matmul_int8_ref(test::quantize_ref(x, sx, c.src), sx, ew.q, ew.scales, &b);
    if (c.gelu) h_real = gelu(h_real);
    const float ah = 0.9f * amax_of(h_real);

    TestGraph tg;
    const int in = tg.input("x", {1, m, c.k});
    tg.range(in, amax_of(x), c.src);
    std::map<std::string, AttrValue> attrs;
    if (c.gelu) attrs["activation"] = std::string("gelu");
    const int h =
        tg.node("MatMul", "linear", {in, tg.constant("w", w), tg.constant("b", b)}, attrs);
    const bool int8_dst = c.dst != DataType::f32;
    if (int8_dst) {
      tg.range(h, ah, c.dst);
      tg.output(tg.node("MatMul", "next", {h, tg.constant("w2", w2)}));
    }
    tg.output(h);
    Session s(tg.model());
    const std::vector<Tensor> got = s.run({x});
    CHECK(layer_named(s, "linear").precision == "int8");
    if (!int8_dst) {
      CHECK(test::max_abs_diff(got[0], h_real) <= 1e-5 * test::max_abs(h_real) + 1e-6);
      continue;
    }
    CHECK(layer_named(s, "next").precision == "int8");
    CHECK(layer_named(s, "dequantize:linear.out").op == "Dequantize");  // h was int8
    const float sh = ah / 127.f;
    test::check_integers(got[1], test::quantize_ref(h_real, sh, c.dst), sh, 1);
  }
}

namespace {

// Round half to even, spelled out (independent of the FPU's rounding mode).
double half_even(double v) {
  const double f = std::floor(v), d = v - f;
  if (d != 0.5) return d < 0.5 ? f : f + 1;
  return std::fmod(f, 2.0) == 0 ? f : f + 1;
}

}  // namespace

TEST_CASE("int8 rounding: runtime activation quantization rounds exact ties half to even") {
  // x = (j + 0.5) * s with s = 1/16 (a power of two, so x * (1/s) is exactly
  // j + 0.5). A MatMul by the identity shows the integers: y = s * q.
  const float s = 1.f / 16;
  for (DataType dtype : {DataType::s8, DataType::u8}) {
    INFO(to_string(dtype));
    const bool u8 = dtype == DataType::u8;
    std::vector<double> ties;
    for (int j = u8 ? -3 : -131; j <= (u8 ? 257 : 129); ++j) ties.push_back(j + 0.5);
    const int64_t n = static_cast<int64_t>(ties.size());
    Tensor x(DataType::f32, {1, n});
    for (int64_t i = 0; i < n; ++i) x.data<float>()[i] = static_cast<float>(ties[i]) * s;
    Tensor eye(DataType::f32, {n, n});
    for (int64_t i = 0; i < n * n; ++i) eye.data<float>()[i] = i % (n + 1) == 0 ? 1.f : 0.f;
    TestGraph tg;
    const int in = tg.input("x", {1, n});
    tg.range(in, s * (u8 ? 255.f : 127.f), dtype);
    tg.output(tg.node("MatMul", "identity", {in, tg.constant("eye", eye)}));
    Session session(tg.model());
    const Tensor y = session.run({x})[0].clone();
    CHECK(layer_named(session, "identity").precision == "int8");
    const std::vector<int> q = test::integers_of(y, s);
    const double lo = u8 ? 0 : -128, hi = u8 ? 255 : 127;
    int ties_to_odd = 0;
    for (int64_t i = 0; i < n; ++i) {
      CAPTURE(ties[i]);
      const double want = std::clamp(half_even(ties[i]), lo, hi);
      CHECK(q[i] == want);
      ties_to_odd += q[i] % 2 != 0 && q[i] != lo && q[i] != hi;
    }
    CHECK(ties_to_odd == 0);
  }
}

TEST_CASE("int8 rounding: runtime weight quantization rounds exact ties half to even") {
  // Each weight column's largest magnitude is 127/64, so its 8-bit scale is
  // 1/64 and w / scale = j + 0.5 exactly: q8 = half_even(j + 0.5). With L =
  // 127 weight levels (VNNI) the kernel multiplies with q8; with 63 (AVX2)
  // with round_half_even(q8 x 63 / 127), never a tie, at scale (127/64) / 63
  // (ops/quantize.hpp, weight_integers). x is the identity (s8, scale 1), so
  // y = x.W is each column's integers times its scale.
  const int levels = test::expected_weight_levels();
  const float s8 = 1.f / 64, amax = 127.f / 64;
  std::vector<double> ties;
  for (int j = -127; j < 127; ++j) ties.push_back(j + 0.5);
  ties.push_back(127);  // the column's amax
  const int64_t k = static_cast<int64_t>(ties.size());
  Tensor w(DataType::f32, {k, 2});  // column 1 is column 0 negated
  for (int64_t i = 0; i < k; ++i) {
    w.data<float>()[i * 2] = static_cast<float>(ties[i]) * s8;
    w.data<float>()[i * 2 + 1] = -static_cast<float>(ties[i]) * s8;
  }
  Tensor eye(DataType::f32, {k, k});
  for (int64_t i = 0; i < k * k; ++i) eye.data<float>()[i] = i % (k + 1) == 0 ? 1.f : 0.f;
  TestGraph tg;
  const int in = tg.input("x", {k, k});
  tg.range(in, 127.f, DataType::s8);
  tg.output(tg.node("MatMul", "linear", {in, tg.constant("w", w)}));
  Session session(tg.model());
  const Tensor y = session.run({eye})[0].clone();
  CHECK(layer_named(session, "linear").precision == "int8");
  const std::vector<int> q = test::integers_of(y, amax / static_cast<float>(levels));
  auto kernel_integer = [&](double tie) {
    const double q8 = half_even(tie);
    return levels == 127 ? q8 : half_even(q8 * 63 / 127);
  };
  for (int64_t i = 0; i < k; ++i) {
    CAPTURE(ties[i]);
    CHECK(q[i * 2] == kernel_integer(ties[i]));
    CHECK(q[i * 2 + 1] == kernel_integer(-ties[i]));
  }
}
