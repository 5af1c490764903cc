// The int8 attention kernel (a MatMul of two activations, ops/matmul.cpp)
// against the integer reference, on BERT-base attention shapes (12 heads,
// seq 128, head 64), beyond tests/test_int8_matmul.cpp's f32 results of s8
// operands: int8 destinations (s8 and u8, read by a Linear in int8, as BERT's
// P.V is by the attention output), and a B operand that its producer writes
// in u8 and the session re-quantizes to s8 for oneDNN's int8 matmul, which
// takes s8 weights only. And BERT's head split: Q, K^T and V as Transpose
// views of the Linear outputs, read in place (no reorder).
//
// Without VNNI octet keeps these matmuls in fp32; here the kernel is forced
// on every CPU (ops/quantize.hpp), so that it is checked everywhere. oneDNN's
// AVX2 kernels add pairs of u8 x s8 products in saturating s16 (vpmaddubsw),
// exact while the s8 operand B stays within [-64, 64] (2 x 255 x 64 <
// 32767), so B's data spans at most half of its calibrated range.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <string>

#include "ops/quantize.hpp"
#include "tests/fp32_amax.hpp"
#include "tests/int8_reference.hpp"
#include "tests/op_harness.hpp"
#include "tests/seeded_layers.hpp"
#include "tests/test_graph.hpp"

using namespace octet;
using test::layer_named;
using test::TestGraph;

namespace {

// The int8 attention kernel on any CPU while the test runs.
struct ForceInt8Attention {
  ForceInt8Attention() { force_int8_activation_matmul_for_tests(true); }
  ~ForceInt8Attention() { force_int8_activation_matmul_for_tests(false); }
};

float amax_of(const Tensor& t) {
  return static_cast<float>(test::max_abs(t));
}
float qmax(DataType t) {
  return t == DataType::u8 ? 255.f : 127.f;
}
Tensor relu(Tensor t) {
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = std::max(t.data<float>()[i], 0.f);
  return t;
}

// B's calibrated range: a little over twice its largest value (see above).
constexpr float kHalfRange = 2.05f;

struct Case {
  const char* name;
  Shape a, b;               // A [1, 12, M, K] and B [1, 12, K, N]
  DataType a_type;          // u8 for softmax probabilities, s8 for queries
  bool b_from_relu_linear;  // B written in u8 by a Linear with ReLU, else an s8 input
  DataType dst;             // f32, or the int8 type a Linear reads it in
  double alpha = 1;         // the MatMul's alpha (a fused / sqrt(d)): in the output scale
};

void check_attention(const Case& c, uint32_t seed) {
  INFO(std::string(c.name));
  const bool u8_a = c.a_type == DataType::u8;
  const Tensor a =
      test::random_tensor(DataType::f32, c.a, seed, u8_a ? 0.f : -3.f, u8_a ? 0.05f : 3.f);
  const float sa = amax_of(a) / qmax(c.a_type);
  const Tensor qa = test::quantize_ref(a, sa, c.a_type);

  TestGraph tg;
  const int a_in = tg.input("a", c.a);
  tg.range(a_in, amax_of(a), c.a_type);
  std::vector<Tensor> inputs{a};
  int b_value = -1;
  Tensor qb;  // B's s8 integers, as the kernel multiplies them
  float sb = 0;
  if (!c.b_from_relu_linear) {
    const Tensor b = test::random_tensor(DataType::f32, c.b, seed + 1, -2.f, 2.f);
    const float range = kHalfRange * amax_of(b);
    b_value = tg.input("b", c.b);
    tg.range(b_value, range, DataType::s8);
    inputs.push_back(b);
    sb = range / 127.f;
    qb = test::quantize_ref(b, sb, DataType::s8);
  } else {
    // x [1, 12, K, 32] . w [32, N] with ReLU: h = B, written in u8.
    Shape xs = c.b;
    xs.back() = 32;
    const Tensor x = test::random_tensor(DataType::f32, xs, seed + 1, -2.f, 2.f);
    const float bound = 1.f / std::sqrt(32.f);
    const Tensor w = test::random_tensor(DataType::f32, {32, c.b.back()}, seed + 2, -bound, bound);
    const float sx = amax_of(x) / 127.f;
    const test::EffectiveWeights ew =
        test::effective_weights_ref(w, DataType::s8, test::Kernel::linear, 1);
    const Tensor h = relu(test::matmul_int8_ref(test::quantize_ref(x, sx, DataType::s8), sx, ew.q,
                                                ew.scales, nullptr));
    const float range = kHalfRange * amax_of(h);
    const int x_in = tg.input("x", xs);
    tg.range(x_in, amax_of(x), DataType::s8);
    b_value = tg.node("MatMul", "b_proj", {x_in, tg.constant("w", w)},
                      {{"activation", std::string("relu")}});
    tg.range(b_value, range, DataType::u8);
    inputs.push_back(x);
    const float sh = range / 255.f;
    sb = sh * 255.f / 127.f;  // the s8 scale of the same range, as the session computes it
    qb = test::requantize_ref(test::quantize_ref(h, sh, DataType::u8), sh, sb, DataType::s8);
  }
  Tensor y_real = test::batched_matmul_int8_ref(qa, sa, qb, sb);
  for (int64_t i = 0; i < y_real.numel(); ++i) {
    y_real.data<float>()[i] = static_cast<float>(c.alpha * y_real.data<float>()[i]);
  }

  const int y = tg.node("MatMul", "mm", {a_in, b_value}, {{"alpha", c.alpha}});
  const bool int8_dst = c.dst != DataType::f32;
  float sy = 1;
  if (int8_dst) {
    // Below the largest value, so that some saturate.
    const float range = 0.9f * amax_of(y_real);
    sy = range / qmax(c.dst);
    tg.range(y, range, c.dst);
    const Tensor w2 = test::random_tensor(DataType::f32, {c.b.back(), 8}, seed + 3, -0.1f, 0.1f);
    tg.output(tg.node("MatMul", "next", {y, tg.constant("w2", w2)}));
  }
  tg.output(y);
  Session s(tg.model());
  const std::vector<Tensor> got = s.run(inputs);

  const LayerInfo mm = layer_named(s, "mm");
  CHECK(mm.precision == "int8");
  CHECK(mm.reason == "");
  if (c.b_from_relu_linear) {
    CHECK(layer_named(s, "b_proj").precision == "int8");
    const LayerInfo requantize = layer_named(s, "reorder:b_proj.out");
    CHECK(requantize.op == "Reorder");  // u8 -> s8 between the two
    CHECK(requantize.precision == "int8");
  }
  if (!int8_dst) {
    CHECK(test::max_abs_diff(got[0], y_real) <= 1e-5 * test::max_abs(y_real) + 1e-6);
    return;
  }
  CHECK(layer_named(s, "next").precision == "int8");
  CHECK(layer_named(s, "dequantize:mm.out").op == "Dequantize");  // mm wrote int8
  test::check_integers(got[1], test::quantize_ref(y_real, sy, c.dst), sy, 1);
}

}  // namespace

TEST_CASE("int8 attention: int8 destinations (s8, u8) against the integer reference") {
  ForceInt8Attention force;
  check_attention({"Q.K^T, s8 x s8 -> s8",
                   {1, 12, 128, 64},
                   {1, 12, 64, 128},
                   DataType::s8,
                   false,
                   DataType::s8},
                  10);
  check_attention({"P.V, u8 x s8 -> s8",
                   {1, 12, 128, 128},
                   {1, 12, 128, 64},
                   DataType::u8,
                   false,
                   DataType::s8},
                  20);
}

TEST_CASE("int8 attention: alpha (scores / sqrt(d)) in the output scale, f32 and s8") {
  ForceInt8Attention force;
  check_attention({"Q.K^T / 8, s8 x s8 -> f32",
                   {1, 12, 128, 64},
                   {1, 12, 64, 128},
                   DataType::s8,
                   false,
                   DataType::f32,
                   0.125},
                  60);
  check_attention({"Q.K^T / 8, s8 x s8 -> s8",
                   {1, 12, 128, 64},
                   {1, 12, 64, 128},
                   DataType::s8,
                   false,
                   DataType::s8,
                   0.125},
                  70);
}

TEST_CASE("int8 attention: a u8 B re-quantized to s8, f32 and int8 destinations") {
  ForceInt8Attention force;
  check_attention({"Q.K^T, s8 x (u8 -> s8) -> f32",
                   {1, 12, 128, 64},
                   {1, 12, 64, 128},
                   DataType::s8,
                   true,
                   DataType::f32},
                  30);
  check_attention({"P.V, u8 x (u8 -> s8) -> u8",
                   {1, 12, 128, 128},
                   {1, 12, 128, 64},
                   DataType::u8,
                   true,
                   DataType::u8},
                  40);
  check_attention({"P.V, u8 x (u8 -> s8) -> s8",
                   {1, 12, 128, 128},
                   {1, 12, 128, 64},
                   DataType::u8,
                   true,
                   DataType::s8},
                  50);
}

TEST_CASE(
    "int8 attention: BERT-base's head split is read through the Transpose views, no reorder") {
  // x [1,128,768] -> q, k, v Linears (s8) -> Reshape [1,128,12,64] ->
  // Transpose: Q [1,12,128,64], K^T [1,12,64,128], V [1,12,128,64];
  // Q.K^T / 8 -> Softmax (u8) -> P.V. oneDNN's int8 matmul takes the views'
  // strides (brg with VNNI, gemm:jit with AVX2), so no step copies them; the
  // integers must be those of the same session with the Transposes in fp32,
  // which hands the matmuls plain copies.
  ForceInt8Attention force;
  const int64_t seq = 128, heads = 12, head = 64, hidden = heads * head;
  auto shape = [](const std::vector<int64_t>& dims) {
    Tensor t(DataType::s64, {static_cast<int64_t>(dims.size())});
    for (size_t i = 0; i < dims.size(); ++i) t.data<int64_t>()[i] = dims[i];
    return t;
  };
  TestGraph tg;
  const int x = tg.input("x", {1, seq, hidden});
  const int split = tg.constant("split", shape({1, seq, heads, head}));
  std::map<std::string, int> views;
  for (const auto& [name, perm] : std::map<std::string, std::vector<int64_t>>{
           {"q", {0, 2, 1, 3}}, {"k", {0, 2, 3, 1}}, {"v", {0, 2, 1, 3}}}) {
    const int proj = test::linear(tg, name, x, hidden, hidden, 60 + name[0]);
    const int r = tg.node("Reshape", name + "_split", {proj, split});
    views[name] = tg.node("Transpose", name + "_heads", {r}, {{"perm", perm}});
  }
  const int scores = tg.node("MatMul", "qk", {views["q"], views["k"]}, {{"alpha", 0.125}});
  const int p = tg.node("Softmax", "softmax", {scores}, {{"axis", int64_t{-1}}});
  tg.output(tg.node("MatMul", "pv", {p, views["v"]}));
  tg.output(scores);
  const Tensor in = test::random_tensor(DataType::f32, {1, seq, hidden}, 67, -2.f, 2.f);
  const auto amax = test::fp32_amax(tg, in, {"q.out", "k.out", "v.out"});
  tg.range(x, amax.at("x"), DataType::s8);
  for (const char* name : {"q", "k", "v"}) {
    // K and V are B operands: half of their range at most (see the top).
    const float range = (name[0] == 'q' ? 1.f : kHalfRange) * amax.at(std::string(name) + ".out");
    for (const std::string value : {".out", "_split.out", "_heads.out"})
      tg.range(tg.g.find_value(name + value), range, DataType::s8);
  }
  tg.range(p, 1.f, DataType::u8);
  const Model m = tg.model();

  Session s(m);
  const std::vector<Tensor> got = s.run({in});
  for (const char* name : {"q", "k", "v", "qk", "pv"})
    CHECK(layer_named(s, name).precision == "int8");
  for (const LayerInfo& l : s.layers()) {
    INFO(l.name << ": " << l.op << " " << l.kernel);
    CHECK(l.op != "Reorder");
    // The graph input, and without VNNI the softmax (oneDNN 2.6's AVX2
    // softmax writes f32 only): no operand of the matmuls.
    if (l.op == "Quantize") CHECK((l.name == "quantize:x" || l.name == "quantize:softmax.out"));
    if (l.op == "Transpose") CHECK(l.kernel == "view (no copy)");
  }

  SessionOptions plain;
  plain.fp32_ops = {"Transpose"};
  Session copied(m, plain);
  const std::vector<Tensor> want = copied.run({in});
  CHECK(layer_named(copied, "q_heads").precision == "fp32");
  CHECK(test::max_abs_diff(got[0], want[0]) == 0);
  CHECK(test::max_abs_diff(got[1], want[1]) == 0);

  // And the quantization error against fp32, as a sanity bound.
  SessionOptions fp32;
  fp32.precision = Precision::fp32;
  Session f(m, fp32);
  const std::vector<Tensor> ref = f.run({in});
  CHECK(test::cosine(got[0], ref[0]) >= 0.99);
  CHECK(test::cosine(got[1], ref[1]) >= 0.999);
}
