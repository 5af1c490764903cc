// Compute ops (MatMul, Gemm, Softmax, LayerNormalization, Gather, ReduceMean,
// BatchNormalization, MaxPool, AveragePool, GlobalAveragePool): reference
// kernels against hand-computed values, shape and attribute errors, and the
// oneDNN kernels (through a one-node Session) against the reference on
// ResNet-50 and BERT-base shapes.
// Tolerance for the oneDNN comparisons, unless a case says otherwise:
// max |got - ref| <= 1e-5 * max |ref| + 1e-6 (fp32 accumulation order differs;
// the references accumulate in double), and cosine similarity > 0.999999.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "ops/registry.hpp"
#include "tests/op_harness.hpp"

using namespace octet;
using test::kernel_of;
using test::OpCase;

namespace {

Tensor f32(Shape shape, const std::vector<float>& values) {
  Tensor t(DataType::f32, std::move(shape));
  REQUIRE(static_cast<size_t>(t.numel()) == values.size());
  std::copy(values.begin(), values.end(), t.data<float>());
  return t;
}

template <class T>
Tensor ints(Shape shape, const std::vector<T>& values) {
  Tensor t(DataTypeOf<T>::value, std::move(shape));
  REQUIRE(static_cast<size_t>(t.numel()) == values.size());
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}

Tensor iota(Shape shape) {  // 1, 2, 3, ...
  Tensor t(DataType::f32, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i + 1);
  return t;
}

OpCase make(std::string op, std::vector<Tensor> inputs, std::vector<bool> constant = {},
            std::map<std::string, AttrValue> attrs = {}) {
  OpCase c;
  c.op = std::move(op);
  c.inputs = std::move(inputs);
  c.constant = std::move(constant);
  c.attrs = std::move(attrs);
  return c;
}

void check_values(const Tensor& got, const Shape& shape, const std::vector<double>& want,
                  double tol = 1e-6) {
  REQUIRE(got.shape() == shape);
  const std::vector<double> v = test::to_doubles(got);
  for (size_t i = 0; i < want.size(); ++i) {
    CAPTURE(i);
    CHECK(v[i] == doctest::Approx(want[i]).epsilon(tol));
  }
}

// Reference and session both give `want`.
void check_both(const OpCase& c, const Shape& shape, const std::vector<double>& want) {
  check_values(test::run_reference(c)[0], shape, want);
  check_values(test::run_session(c)[0], shape, want);
}

// The session's kernel against the reference; `onednn`: whether the fast path must run.
void check_session(const OpCase& c, bool onednn, double rel = 1e-5) {
  const Tensor ref = test::run_reference(c)[0];
  const Tensor got = test::run_session(c)[0];
  REQUIRE(got.shape() == ref.shape());
  CHECK(test::max_abs_diff(got, ref) <= rel * test::max_abs(ref) + 1e-6);
  CHECK(test::cosine(got, ref) > 0.999999);
  const std::string kernel = kernel_of(c);
  CAPTURE(kernel);
  CHECK((kernel != "ref") == onednn);
}

ErrorCode error_code(const OpCase& c) {
  try {
    test::run_reference(c);
  } catch (const Error& e) {
    return e.code();
  }
  FAIL("no error");
  return ErrorCode::internal;
}

#define CHECK_ERROR(c, code, text)                                                \
  do {                                                                            \
    CHECK_THROWS_WITH_AS(test::run_reference(c), doctest::Contains(text), Error); \
    CHECK(error_code(c) == (code));                                               \
  } while (0)

Tensor rnd(Shape shape, uint32_t seed, float lo = -1, float hi = 1) {
  return test::random_tensor(DataType::f32, std::move(shape), seed, lo, hi);
}

}  // namespace

// ---------------------------------------------------------------- MatMul

TEST_CASE("MatMul: hand-computed cases") {
  const Tensor a = f32({2, 3}, {1, 2, 3, 4, 5, 6}), b = f32({3, 2}, {1, 0, 0, 1, 1, -1});
  check_both(make("MatMul", {a, b}, {false, true}), {2, 2}, {4, -1, 10, -1});
  check_both(make("MatMul", {a, b}), {2, 2}, {4, -1, 10, -1});  // both dynamic: matmul primitive
  // bias then relu; gelu(x) = 0.5 x (1 + erf(x / sqrt 2)).
  const Tensor bias = f32({2}, {-5, 1});
  check_both(
      make("MatMul", {a, b, bias}, {false, true, true}, {{"activation", std::string("relu")}}),
      {2, 2}, {0, 0, 5, 0});
  const double g1 = 0.5 * (1 + std::erf(1 / std::sqrt(2.0))), gm1 = -1 + g1;  // gelu(1), gelu(-1)
  check_both(make("MatMul", {f32({1, 1}, {1}), f32({1, 2}, {1, -1})}, {false, true},
                  {{"activation", std::string("gelu")}}),
             {1, 2}, {g1, gm1});
  // 1-D operands drop their dim from the result.
  check_both(make("MatMul", {f32({3}, {1, 2, 3}), b}, {false, true}), {2}, {4, -1});
  check_both(make("MatMul", {a, f32({3}, {1, 1, 1})}), {2}, {6, 15});
  check_values(test::run_reference(make("MatMul", {f32({2}, {1, 2}), f32({2}, {3, 4})}))[0], {},
               {11});
  // Batch broadcast: A [2,1,1,2] x B [2,2,1] -> [2,2,1,1].
  const Tensor ab = f32({2, 1, 1, 2}, {1, 2, 3, 4}), bb = f32({2, 2, 1}, {1, 1, 1, -1});
  check_both(make("MatMul", {ab, bb}), {2, 2, 1, 1}, {3, -1, 7, -1});
}

TEST_CASE("MatMul: alpha scales the product, not the bias") {
  const Tensor a = f32({2, 3}, {1, 2, 3, 4, 5, 6}), b = f32({3, 2}, {1, 0, 0, 1, 1, -1});
  const Tensor bias = f32({2}, {-5, 1});
  const AttrValue relu = std::string("relu");
  // Linear (inner product with an eltwise post-op) and matmul primitive (output scale).
  check_both(make("MatMul", {a, b}, {false, true}, {{"alpha", 0.5}}), {2, 2}, {2, -0.5, 5, -0.5});
  check_both(make("MatMul", {a, b}, {}, {{"alpha", -0.25}}), {2, 2}, {-1, 0.25, -2.5, 0.25});
  // 2 x [4,-1,10,-1] + [-5,1], then relu.
  check_both(
      make("MatMul", {a, b, bias}, {false, true, true}, {{"alpha", 2.0}, {"activation", relu}}),
      {2, 2}, {3, 0, 15, 0});
  check_both(make("MatMul", {a, b, bias}, {false, false, true}, {{"alpha", 2.0}}), {2, 2},
             {3, -1, 15, -1});
  // A computed bias cannot be divided by alpha once: the reference kernel runs.
  const OpCase dynamic_bias = make("MatMul", {a, b, bias}, {false, true, false}, {{"alpha", 2.0}});
  check_both(dynamic_bias, {2, 2}, {3, -1, 15, -1});
  CHECK(kernel_of(dynamic_bias) == "ref");
  for (double bad : {0.0, 1e-40, std::numeric_limits<double>::infinity()}) {
    CAPTURE(bad);
    CHECK_ERROR(make("MatMul", {a, b}, {}, {{"alpha", bad}}), ErrorCode::invalid_model,
                "alpha must be a finite, non-zero, normal float");
  }
}

TEST_CASE("MatMul: shape and attribute errors") {
  const Tensor a = rnd({2, 3}, 1);
  CHECK_ERROR(make("MatMul", {a, rnd({4, 2}, 2)}), ErrorCode::invalid_argument,
              "node 'node' (MatMul): inner dimensions differ: A 2x3 and B 4x2");
  CHECK_ERROR(make("MatMul", {rnd({2, 2, 3}, 1), rnd({3, 3, 2}, 2)}), ErrorCode::invalid_argument,
              "cannot broadcast");
  CHECK_ERROR(make("MatMul", {a, rnd({3, 2}, 2), rnd({3}, 3)}), ErrorCode::invalid_argument,
              "bias has shape 3");
  CHECK_ERROR(make("MatMul", {a, rnd({3, 2}, 2)}, {}, {{"activation", std::string("tanh")}}),
              ErrorCode::unsupported, "activation 'tanh'");
  CHECK_ERROR(make("MatMul", {a}), ErrorCode::invalid_model, "expects 2 to 4 inputs");
}

TEST_CASE("MatMul: a residual Z is added before the activation, broadcast as by Add") {
  const Tensor a = f32({2, 3}, {1, 2, 3, 4, 5, 6}), b = f32({3, 2}, {1, 0, 0, 1, 1, -1});
  const Tensor bias = f32({2}, {-5, 1});
  const AttrValue relu = std::string("relu");
  // 2 x [4,-1,10,-1] + [-5,1] + Z, then relu: a Linear, Z of its shape: the sum post-op.
  const OpCase linear = make("MatMul", {a, b, bias, f32({2, 2}, {1, 2, 3, 4})},
                             {false, true, true, false}, {{"alpha", 2.0}, {"activation", relu}});
  check_both(linear, {2, 2}, {4, 1, 18, 3});
  CHECK(kernel_of(linear) != "ref");
  // Z broadcast along rows, and Z widening the result: the reference kernel.
  const OpCase rows = make("MatMul", {a, b, bias, f32({2}, {10, 20})}, {false, true, true, false});
  check_both(rows, {2, 2}, {9, 20, 15, 20});
  CHECK(kernel_of(rows) == "ref");
  check_both(make("MatMul", {a, b, bias, f32({3, 1, 1}, {0, 1, 2})}, {false, true, true, false}),
             {3, 2, 2}, {-1, 0, 5, 0, 0, 1, 6, 1, 1, 2, 7, 2});
  // Two activations (no Linear): the reference kernel; no bias at all.
  const Tensor z = f32({2, 2}, {1, 2, 3, 4});
  const OpCase dynamic = make("MatMul", {a, b, bias, z}, {false, false, true, false});
  check_both(dynamic, {2, 2}, {0, 2, 8, 4});
  CHECK(kernel_of(dynamic) == "ref");
  check_both(make("MatMul", {a, b, Tensor(), z}, {false, true, false, false}), {2, 2},
             {5, 1, 13, 3});
  CHECK_ERROR(make("MatMul", {a, b, bias, f32({3}, {1, 2, 3})}, {false, true, true, false}),
              ErrorCode::invalid_argument, "cannot broadcast");
}

TEST_CASE("MatMul: oneDNN matches the reference on BERT-base shapes") {
  struct Case {
    const char* name;
    Shape a, b;
    bool b_const, bias;
    const char* act;
    double alpha = 1;
    bool residual = false;  // Z of the output's shape, computed
  };
  const Case cases[] = {
      {"FFN up [1,128,768]x[768,3072]+bias+gelu", {1, 128, 768}, {768, 3072}, true, true, "gelu"},
      {"FFN down [1,128,3072]x[3072,768]+bias", {1, 128, 3072}, {3072, 768}, true, true, "none"},
      {"QKV [2,128,768]x[768,768]+bias", {2, 128, 768}, {768, 768}, true, true, "none"},
      {"pooler [768]x[768,768]+relu", {768}, {768, 768}, true, false, "relu"},
      {"attention Q.K^T", {1, 12, 128, 64}, {1, 12, 64, 128}, false, false, "none"},
      {"attention Q.K^T / 8", {1, 12, 128, 64}, {1, 12, 64, 128}, false, false, "none", 0.125},
      {"QKV x 0.5 + bias", {1, 128, 768}, {768, 768}, true, true, "none", 0.5},
      {"FFN down + bias + residual", {2, 128, 3072}, {3072, 768}, true, true, "none", 1, true},
      {"dense + residual + gelu", {2, 16, 64}, {64, 64}, true, true, "gelu", 0.5, true},
      {"attention P.V", {1, 12, 128, 128}, {1, 12, 128, 64}, false, false, "none"},
      {"broadcast batch", {2, 1, 5, 4}, {3, 4, 6}, false, true, "gelu"},
      {"constant 3-D B", {4, 5, 8}, {4, 8, 3}, true, false, "none"},
  };
  uint32_t seed = 100;
  for (const Case& k : cases) {
    CAPTURE(k.name);
    const int64_t n = k.b.back(), kdim = k.a.back();
    const float bound = 1.f / std::sqrt(static_cast<float>(kdim));
    OpCase c = make("MatMul", {rnd(k.a, ++seed), rnd(k.b, ++seed, -bound, bound)},
                    {false, k.b_const}, {{"activation", std::string(k.act)}, {"alpha", k.alpha}});
    if (k.bias) {
      c.inputs.push_back(rnd({n}, ++seed));
      c.constant.push_back(true);
    }
    if (k.residual) {
      Shape out = k.a;
      out.back() = n;
      c.inputs.push_back(rnd(out, ++seed));
      c.constant.push_back(false);
    }
    check_session(c, true);
  }
}

// ---------------------------------------------------------------- Gemm

TEST_CASE("Gemm: hand-computed cases") {
  const Tensor a = f32({2, 2}, {1, 2, 3, 4}), b = f32({2, 2}, {1, 1, 0, 1});
  // A.B = [1 3; 3 7], A^T.B = [1 4; 2 6], A.B^T = [3 2; 7 4].
  check_both(make("Gemm", {a, b}, {false, true}), {2, 2}, {1, 3, 3, 7});
  check_both(make("Gemm", {a, b}, {false, true}, {{"transA", int64_t{1}}}), {2, 2}, {1, 4, 2, 6});
  check_both(make("Gemm", {a, b}, {false, true}, {{"transB", int64_t{1}}}), {2, 2}, {3, 2, 7, 4});
  const std::map<std::string, AttrValue> ab{{"alpha", 2.0}, {"beta", 0.5}};
  check_both(make("Gemm", {a, b, f32({2}, {10, 20})}, {false, true, true}, ab), {2, 2},
             {7, 16, 11, 24});
  check_both(make("Gemm", {a, b, f32({2, 1}, {10, 20})}, {false, true, true}, ab), {2, 2},
             {7, 11, 16, 24});
  check_both(make("Gemm", {a, b, f32({}, {4})}, {false, true, true}, ab), {2, 2}, {4, 8, 8, 16});
  // alpha = 0: Y = beta * C broadcast (the oneDNN path too: B is constant).
  const std::map<std::string, AttrValue> zero{{"alpha", 0.0}, {"beta", 0.5}};
  check_both(make("Gemm", {a, b, f32({2}, {10, 20})}, {false, true, true}, zero), {2, 2},
             {5, 10, 5, 10});
}

TEST_CASE("Gemm: shape and attribute errors") {
  const Tensor a = rnd({2, 3}, 1), b = rnd({3, 4}, 2);
  CHECK_ERROR(make("Gemm", {a, b, rnd({3}, 3)}), ErrorCode::invalid_argument,
              "C has shape 3, not broadcastable to 2x4");
  CHECK_ERROR(make("Gemm", {a, b}, {}, {{"transB", int64_t{1}}}), ErrorCode::invalid_argument,
              "inner dimensions differ");
  CHECK_ERROR(make("Gemm", {rnd({2, 3, 1}, 1), b}), ErrorCode::invalid_argument,
              "expects 2-D A and B");
  CHECK_ERROR(make("Gemm", {a, b}, {}, {{"transA", int64_t{2}}}), ErrorCode::invalid_model,
              "transA and transB must be 0 or 1");
}

TEST_CASE("Gemm: oneDNN inner product matches the reference") {
  // ResNet-50's classifier: [1,2048] x [1000,2048]^T + C[1000].
  const float bound = 1.f / std::sqrt(2048.f);
  OpCase fc = make("Gemm", {rnd({1, 2048}, 1), rnd({1000, 2048}, 2, -bound, bound), rnd({1000}, 3)},
                   {false, true, true}, {{"transB", int64_t{1}}});
  check_session(fc, true);
  // alpha / beta folded into the constants, B not transposed, C [1,N] and scalar.
  OpCase scaled = make("Gemm", {rnd({4, 64}, 4), rnd({64, 10}, 5), rnd({1, 10}, 6)},
                       {false, true, true}, {{"alpha", 0.37}, {"beta", -1.5}});
  check_session(scaled, true);
  scaled.inputs[2] = rnd({}, 7);
  check_session(scaled, true);
  scaled.attrs["alpha"] = 0.0;
  check_session(scaled, true);
  // The reference kernel serves the rest: C [M,N], transA, dynamic B.
  check_session(
      make("Gemm", {rnd({4, 64}, 8), rnd({64, 10}, 9), rnd({4, 10}, 10)}, {false, true, true}),
      false);
  check_session(
      make("Gemm", {rnd({64, 4}, 11), rnd({64, 10}, 12)}, {false, true}, {{"transA", int64_t{1}}}),
      false);
  check_session(make("Gemm", {rnd({4, 64}, 13), rnd({64, 10}, 14)}), false);
}

// ---------------------------------------------------------------- Softmax

TEST_CASE("Softmax: hand-computed cases, errors, oneDNN") {
  // exp(0), exp(ln 2), exp(ln 3) = 1, 2, 3 -> 1/6, 2/6, 3/6; large inputs stay finite.
  check_both(make("Softmax", {f32({2, 3}, {0, std::log(2.f), std::log(3.f), 1000, 1000, 1000})}),
             {2, 3}, {1 / 6., 2 / 6., 3 / 6., 1 / 3., 1 / 3., 1 / 3.});
  // axis 0 normalizes each column (opset-13 semantics: one axis, not a 2-D coercion).
  const std::map<std::string, AttrValue> axis0{{"axis", int64_t{0}}};
  check_both(make("Softmax", {f32({2, 2}, {0, 5, std::log(3.f), 5})}, {}, axis0), {2, 2},
             {0.25, 0.5, 0.75, 0.5});
  CHECK_ERROR(make("Softmax", {rnd({2, 2}, 1)}, {}, {{"axis", int64_t{2}}}),
              ErrorCode::invalid_argument, "axis 2 is out of range for a tensor of rank 2");
  // BERT attention probabilities, and a middle axis. Outputs are in [0,1].
  check_session(make("Softmax", {rnd({1, 12, 128, 128}, 2, -10, 10)}), true);
  check_session(make("Softmax", {rnd({2, 7, 3, 5}, 3, -10, 10)}, {}, {{"axis", int64_t{1}}}), true);
}

TEST_CASE("Softmax: coerce_2d = 1 (ONNX opsets 1-12) normalizes over all dims from axis on") {
  // [2,2,2] at axis 1 is [2,4]: each row of four is exp(x) / sum(exp(x)).
  const std::map<std::string, AttrValue> old{{"axis", int64_t{1}}, {"coerce_2d", int64_t{1}}};
  const float l2 = std::log(2.f), l3 = std::log(3.f), l4 = std::log(4.f);
  check_both(make("Softmax", {f32({2, 2, 2}, {0, l2, l3, l4, 7, 7, 7, 7})}, {}, old), {2, 2, 2},
             {0.1, 0.2, 0.3, 0.4, 0.25, 0.25, 0.25, 0.25});
  // coerce_2d at the last axis is the one-axis softmax; at axis 0 it normalizes everything.
  check_both(make("Softmax", {f32({1, 3}, {0, l2, l3})}, {},
                  {{"axis", int64_t{-1}}, {"coerce_2d", int64_t{1}}}),
             {1, 3}, {1 / 6., 2 / 6., 3 / 6.});
  check_both(make("Softmax", {f32({2, 2}, {0, l2, l3, l4})}, {},
                  {{"axis", int64_t{0}}, {"coerce_2d", int64_t{1}}}),
             {2, 2}, {0.1, 0.2, 0.3, 0.4});
  CHECK_ERROR(make("Softmax", {rnd({2, 2}, 1)}, {}, {{"coerce_2d", int64_t{2}}}),
              ErrorCode::invalid_model, "coerce_2d must be 0 or 1");
  // oneDNN (a 2-D view of the same bytes) against the reference.
  check_session(make("Softmax", {rnd({2, 7, 3, 5}, 3, -10, 10)}, {}, old), true);
  check_session(make("Softmax", {rnd({8, 64, 7, 7}, 4, -10, 10)}, {},
                     {{"axis", int64_t{2}}, {"coerce_2d", int64_t{1}}}),
                true);
}

// ---------------------------------------------------------------- LayerNormalization

TEST_CASE("LayerNormalization: hand-computed cases") {
  // [1,2,3,4]: mean 2.5, variance 1.25 -> +-1.5/sqrt(1.25), +-0.5/sqrt(1.25).
  const double h = 1.5 / std::sqrt(1.25), l = 0.5 / std::sqrt(1.25);
  const std::map<std::string, AttrValue> eps0{{"epsilon", 0.0}};
  check_both(
      make("LayerNormalization", {iota({1, 4}), f32({4}, {1, 1, 1, 1})}, {false, true}, eps0),
      {1, 4}, {-h, -l, l, h});
  check_both(
      make("LayerNormalization", {iota({1, 4}), f32({4}, {1, 1, 2, 2}), f32({4}, {0, 1, 0, 1})},
           {false, true, true}, eps0),
      {1, 4}, {-h, 1 - l, 2 * l, 1 + 2 * h});
  // axis 0 on [2,2]: all four values form one group; Scale is [2,2].
  check_both(make("LayerNormalization", {iota({2, 2}), f32({2, 2}, {1, 1, 1, 1})}, {false, true},
                  {{"epsilon", 0.0}, {"axis", int64_t{0}}}),
             {2, 2}, {-h, -l, l, h});
}

TEST_CASE("LayerNormalization: errors") {
  CHECK_ERROR(make("LayerNormalization", {rnd({2, 4}, 1), rnd({3}, 2)}),
              ErrorCode::invalid_argument,
              "Scale has shape 3, expected the normalized shape 4 of X 2x4");
  CHECK_ERROR(make("LayerNormalization", {rnd({2, 4}, 1), rnd({4}, 2), rnd({2, 4}, 3)}),
              ErrorCode::invalid_argument, "B has shape 2x4");
  CHECK_ERROR(
      make("LayerNormalization", {rnd({2, 4}, 1), rnd({4}, 2)}, {}, {{"axis", int64_t{-3}}}),
      ErrorCode::invalid_argument, "axis -3 is out of range");
  OpCase stats = make("LayerNormalization", {rnd({2, 4}, 1), rnd({4}, 2)});
  stats.num_outputs = 2;
  CHECK_ERROR(stats, ErrorCode::unsupported, "only output 0 (Y) is supported");
}

TEST_CASE("LayerNormalization: oneDNN matches the reference") {
  // BERT-base: [1,128,768] over the last dim, gamma ~ 1, beta ~ 0.
  check_session(make("LayerNormalization",
                     {rnd({1, 128, 768}, 1, -3, 3), rnd({768}, 2, 0.5, 1.5), rnd({768}, 3)},
                     {false, true, true}),
                true);
  // A leading axis (flattened to 2-D), no bias, and a run-time Scale.
  check_session(make("LayerNormalization", {rnd({2, 4, 3, 8}, 4), rnd({4, 3, 8}, 5)},
                     {false, false}, {{"axis", int64_t{1}}, {"epsilon", 1e-3}}),
                true);
}

// ---------------------------------------------------------------- Gather

TEST_CASE("Gather: hand-computed cases and errors") {
  const Tensor data = iota({3, 2});  // rows [1 2] [3 4] [5 6]
  check_both(make("Gather", {data, ints<int64_t>({2}, {2, -1})}, {false, true}), {2, 2},
             {5, 6, 5, 6});
  check_both(
      make("Gather", {data, ints<int32_t>({1, 2}, {1, 0})}, {false, false}, {{"axis", int64_t{1}}}),
      {3, 1, 2}, {2, 1, 4, 3, 6, 5});
  check_both(make("Gather", {data, ints<int64_t>({}, {1})}), {2}, {3, 4});  // scalar index
  // s64 data (shape arithmetic): the output keeps the data's dtype.
  const std::vector<Tensor> s = test::run_session(
      make("Gather", {ints<int64_t>({4}, {1, 128, 12, 64}), ints<int64_t>({1}, {-2})}));
  CHECK(s[0].dtype() == DataType::s64);
  check_values(s[0], {1}, {12});

  CHECK_ERROR(make("Gather", {data, f32({1}, {0})}), ErrorCode::invalid_argument,
              "expects s32 or s64 indices, got f32");
  CHECK_ERROR(make("Gather", {data, ints<int64_t>({1}, {0})}, {}, {{"axis", int64_t{2}}}),
              ErrorCode::invalid_argument, "axis 2 is out of range");
  // A data-dependent error: thrown when the kernel runs, naming the node and the index.
  const OpCase bad = make("Gather", {data, ints<int64_t>({3}, {0, 3, 1})});
  CHECK_ERROR(bad, ErrorCode::invalid_argument,
              "node 'node' (Gather): index 3 (at position 1) is out of range for axis 0 of size 3");
  CHECK_THROWS_WITH_AS(test::run_session(bad), doctest::Contains("index 3"), Error);
}

TEST_CASE("Gather: BERT word embedding 30522x768 with [1,128] ids") {
  const Tensor table = rnd({30522, 768}, 1);
  const Tensor ids = test::random_tensor(DataType::s64, {1, 128}, 2, 0, 30521);
  const OpCase c = make("Gather", {table, ids}, {true, false});
  const Tensor got = test::run_session(c)[0];
  REQUIRE(got.shape() == Shape{1, 128, 768});
  CHECK(test::max_abs_diff(got, test::run_reference(c)[0]) == 0);  // a copy: exact
  for (int64_t i : {0, 77, 127}) {
    const int64_t row = ids.data<int64_t>()[i];
    CHECK(std::equal(got.data<float>() + i * 768, got.data<float>() + (i + 1) * 768,
                     table.data<float>() + row * 768));
  }
}

// ---------------------------------------------------------------- ReduceMean

TEST_CASE("ReduceMean: hand-computed cases and errors") {
  const Tensor x = iota({2, 3});  // [1 2 3] [4 5 6]
  const auto axes = [](std::vector<int64_t> a) { return AttrValue(std::move(a)); };
  check_both(make("ReduceMean", {x}, {}, {{"axes", axes({1})}}), {2, 1}, {2, 5});
  check_both(make("ReduceMean", {x}, {}, {{"axes", axes({-2})}, {"keepdims", int64_t{0}}}), {3},
             {2.5, 3.5, 4.5});
  check_both(make("ReduceMean", {x}), {1, 1}, {3.5});
  check_both(make("ReduceMean", {x}, {}, {{"noop_with_empty_axes", int64_t{1}}}), {2, 3},
             {1, 2, 3, 4, 5, 6});
  // opset 18: axes as a constant input; non-adjacent axes.
  check_both(make("ReduceMean", {iota({2, 2, 2}), ints<int64_t>({2}, {0, 2})}, {false, true},
                  {{"keepdims", int64_t{0}}}),
             {2}, {3.5, 5.5});  // (1+2+5+6)/4, (3+4+7+8)/4

  CHECK_ERROR(make("ReduceMean", {x}, {}, {{"axes", axes({1, -1})}}), ErrorCode::invalid_argument,
              "axis -1 is repeated");
  CHECK_ERROR(make("ReduceMean", {x}, {}, {{"axes", axes({2})}}), ErrorCode::invalid_argument,
              "axis 2 is out of range");
  CHECK_ERROR(make("ReduceMean", {x, ints<int64_t>({1}, {0})}, {false, false}),
              ErrorCode::unsupported, "the axes input must be a constant");
  CHECK_ERROR(make("ReduceMean", {x}, {}, {{"keepdims", int64_t{2}}}), ErrorCode::invalid_model,
              "keepdims and noop_with_empty_axes must be 0 or 1");
  // oneDNN's reduction on shapes of BERT-base (over the hidden size) and
  // ResNet-50's last feature map (ShuffleNetV2's head, `x.mean([2, 3])`).
  check_session(make("ReduceMean", {rnd({1, 128, 768}, 1)}, {}, {{"axes", axes({-1})}}), true);
  check_session(make("ReduceMean", {rnd({1, 2048, 7, 7}, 2)}, {},
                     {{"axes", axes({2, 3})}, {"keepdims", int64_t{0}}}),
                true);
  check_session(make("ReduceMean", {rnd({2, 64, 9, 11}, 3)}, {}, {{"axes", axes({1, 3})}}), true);
}

// ---------------------------------------------------------------- BatchNormalization

TEST_CASE("BatchNormalization: hand-computed case, errors, oneDNN") {
  // channel 0: (x - 1) / 2; channel 1: 2 x + 1.
  const Tensor x = f32({1, 2, 1, 2}, {1, 3, 2, -1});
  OpCase c = make("BatchNormalization",
                  {x, f32({2}, {1, 2}), f32({2}, {0, 1}), f32({2}, {1, 0}), f32({2}, {4, 1})},
                  {false, true, true, true, true}, {{"epsilon", 0.0}});
  check_both(c, {1, 2, 1, 2}, {0, 1, 5, -1});
  CHECK(kernel_of(c) != "ref");

  c.inputs[3] = f32({3}, {0, 0, 0});
  CHECK_ERROR(c, ErrorCode::invalid_argument,
              "parameter 3 has shape 3, expected [2] for X 1x2x1x2");
  c.attrs["training_mode"] = int64_t{1};
  CHECK_ERROR(c, ErrorCode::unsupported, "training_mode");
  OpCase stats =
      make("BatchNormalization", {x, rnd({2}, 1), rnd({2}, 2), rnd({2}, 3), rnd({2}, 4)});
  stats.num_outputs = 3;
  CHECK_ERROR(stats, ErrorCode::unsupported, "only output 0");

  // ResNet-like shape; variance positive.
  const int64_t ch = 64;
  check_session(make("BatchNormalization",
                     {rnd({1, ch, 56, 56}, 5, -3, 3), rnd({ch}, 6), rnd({ch}, 7), rnd({ch}, 8),
                      rnd({ch}, 9, 0.1f, 2)},
                     {false, true, true, true, true}),
                true);
  // Run-time parameters: the reference kernel.
  check_session(make("BatchNormalization", {rnd({2, 3, 4}, 10), rnd({3}, 11), rnd({3}, 12),
                                            rnd({3}, 13), rnd({3}, 14, 0.1f, 2)}),
                false);
}

// ---------------------------------------------------------------- pooling

namespace {

std::map<std::string, AttrValue> pool_attrs(std::vector<int64_t> kernel,
                                            std::vector<int64_t> strides,
                                            std::vector<int64_t> pads) {
  return {{"kernel_shape", kernel}, {"strides", strides}, {"pads", pads}};
}

// Runs `c`'s oneDNN kernel on input 0 laid out as `layout` (as a blocked conv
// would leave it), checking that the kernel reads it without a reorder.
Tensor run_on_layout(const OpCase& c, dnnl::memory::format_tag layout) {
  Node node;
  node.op = c.op;
  node.name = "node";
  node.attrs = c.attrs;
  node.inputs = {0};
  node.outputs = {1};
  const std::unique_ptr<Op> op = create_op(node);
  const Tensor& x = c.inputs[0];
  InferContext ictx{node, {SrcInfo{true, x.shape(), DataType::f32, nullptr}}, {}, {}, {}};
  op->infer(ictx);
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  const dnnl::memory::desc blocked(to_dnnl_dims(x.shape()), dnnl::memory::data_type::f32, layout);
  KernelContext ctx(node, engine, nullptr, ictx.src, ictx.dst_shape, ictx.dst_dtype, {blocked});
  const std::unique_ptr<Kernel> kernel = op->make_kernel(ctx);
  CHECK(ctx.src[0].want == blocked);
  dnnl::stream stream(engine);
  const dnnl::memory::desc x_plain = plain_md(x.shape(), DataType::f32);
  dnnl::memory src_plain(x_plain, engine, const_cast<void*>(x.raw())), src(blocked, engine);
  dnnl::reorder(src_plain, src).execute(stream, src_plain, src);
  dnnl::memory dst(ctx.dst[0].md, engine);
  Tensor scratch(DataType::u8, {static_cast<int64_t>(kernel->scratchpad_bytes()) + 1});
  kernel->bind({src.get_data_handle()}, {dst.get_data_handle()}, scratch.raw());
  kernel->execute(stream);
  Tensor y(DataType::f32, ictx.dst_shape[0]);
  dnnl::memory y_mem(plain_md(y.shape(), DataType::f32), engine, y.raw());
  dnnl::reorder(dst, y_mem).execute(stream, dst, y_mem);
  stream.wait();
  return y;
}

}  // namespace

TEST_CASE("MaxPool / AveragePool / GlobalAveragePool: hand-computed cases") {
  // x = 1..16 as 4x4: x[r][c] = 4r + c + 1.
  check_both(make("MaxPool", {iota({1, 1, 4, 4})}, {}, pool_attrs({2, 2}, {2, 2}, {0, 0, 0, 0})),
             {1, 1, 2, 2}, {6, 8, 14, 16});
  // Dilation 2: taps (0,0),(0,2),(2,0),(2,2) from each corner.
  auto dilated = pool_attrs({2, 2}, {1, 1}, {0, 0, 0, 0});
  dilated["dilations"] = std::vector<int64_t>{2, 2};
  check_both(make("MaxPool", {iota({1, 1, 4, 4})}, {}, dilated), {1, 1, 2, 2}, {11, 12, 15, 16});
  // 3x3 input 1..9, k3 s1 p1: corner window holds 1,2,4,5 (sum 12), centre all (45).
  auto avg = pool_attrs({3, 3}, {1, 1}, {1, 1, 1, 1});
  const Tensor x3 = iota({1, 1, 3, 3});
  check_both(make("AveragePool", {x3}, {}, avg), {1, 1, 3, 3}, {3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7});
  avg["count_include_pad"] = int64_t{1};
  check_both(make("AveragePool", {x3}, {}, avg), {1, 1, 3, 3},
             {12 / 9., 21 / 9., 16 / 9., 27 / 9., 45 / 9., 33 / 9., 24 / 9., 39 / 9., 28 / 9.});
  // ceil_mode on 5x5, k2 s2: 3x3 outputs, the last row / column see one input.
  auto ceil = pool_attrs({2, 2}, {2, 2}, {0, 0, 0, 0});
  ceil["ceil_mode"] = int64_t{1};
  const Tensor x5 = iota({1, 1, 5, 5});
  check_both(make("MaxPool", {x5}, {}, ceil), {1, 1, 3, 3}, {7, 9, 10, 17, 19, 20, 22, 24, 25});
  check_both(make("AveragePool", {x5}, {}, ceil), {1, 1, 3, 3},
             {4, 6, 7.5, 14, 16, 17.5, 21.5, 23.5, 25});
  ceil["count_include_pad"] = int64_t{1};  // the window is clipped to the (unpadded) input
  check_both(make("AveragePool", {x5}, {}, ceil), {1, 1, 3, 3},
             {4, 6, 7.5, 14, 16, 17.5, 21.5, 23.5, 25});
  // ceil_mode drops a window that would start in the right padding: 4 + 1 pad, k2 s2 -> 2.
  auto drop = pool_attrs({2, 2}, {2, 2}, {0, 0, 1, 1});
  drop["ceil_mode"] = int64_t{1};
  check_both(make("MaxPool", {iota({1, 1, 4, 4})}, {}, drop), {1, 1, 2, 2}, {6, 8, 14, 16});
  // SAME_UPPER on 3x3, k2 s2: one pad at the bottom / right.
  std::map<std::string, AttrValue> same{{"kernel_shape", std::vector<int64_t>{2, 2}},
                                        {"strides", std::vector<int64_t>{2, 2}},
                                        {"auto_pad", std::string("SAME_UPPER")}};
  check_both(make("MaxPool", {x3}, {}, same), {1, 1, 2, 2}, {5, 6, 8, 9});
  check_both(make("GlobalAveragePool", {iota({1, 2, 2, 2})}), {1, 2, 1, 1}, {2.5, 6.5});
}

TEST_CASE("pooling: shape and attribute errors") {
  const auto k3 = pool_attrs({3, 3}, {1, 1}, {0, 0, 0, 0});
  CHECK_ERROR(make("MaxPool", {rnd({1, 2, 8}, 1)}, {}, k3), ErrorCode::invalid_argument,
              "a 2-D pool cannot take the input 1x2x8");
  CHECK_ERROR(make("MaxPool", {rnd({2, 8}, 1)}, {}, k3), ErrorCode::unsupported,
              "only 4-D (N,C,H,W) and 3-D (N,C,W) inputs are supported, got shape 2x8");
  CHECK_ERROR(make("GlobalAveragePool", {rnd({1, 2, 3, 3, 3}, 1)}), ErrorCode::unsupported,
              "only 4-D (N,C,H,W) and 3-D (N,C,W) inputs");
  CHECK_ERROR(make("MaxPool", {rnd({1, 2, 2, 2}, 1)}, {}, k3), ErrorCode::invalid_argument,
              "kernel 3 is larger than the padded input 1x2x2x2");
  CHECK_ERROR(make("MaxPool", {rnd({1, 2, 8, 8}, 1)}), ErrorCode::invalid_model,
              "missing required attribute 'kernel_shape'");
  CHECK_ERROR(make("MaxPool", {rnd({1, 2, 8, 8}, 1)}, {},
                   pool_attrs({3, 3, 3}, {1, 1, 1}, {0, 0, 0, 0, 0, 0})),
              ErrorCode::unsupported, "only 1-D and 2-D pooling");
  CHECK_ERROR(
      make("AveragePool", {rnd({1, 2, 8, 8}, 1)}, {}, pool_attrs({3, 3}, {1, 1}, {3, 0, 0, 0})),
      ErrorCode::invalid_model, "pads must be >= 0 and smaller than the kernel");
  auto dil = k3;
  dil["dilations"] = std::vector<int64_t>{2, 2};
  CHECK_ERROR(make("AveragePool", {rnd({1, 2, 8, 8}, 1)}, {}, dil), ErrorCode::unsupported,
              "AveragePool with dilations");
  auto ceil = k3;
  ceil["ceil_mode"] = int64_t{2};
  CHECK_ERROR(make("MaxPool", {rnd({1, 2, 8, 8}, 1)}, {}, ceil), ErrorCode::invalid_model,
              "ceil_mode, count_include_pad and storage_order must be 0 or 1");
  OpCase indices = make("MaxPool", {rnd({1, 2, 8, 8}, 1)}, {}, k3);
  indices.num_outputs = 2;
  CHECK_ERROR(indices, ErrorCode::unsupported, "the Indices output is not supported");
}

TEST_CASE("pooling: oneDNN matches the reference on ResNet-50 shapes") {
  // Max pooling selects an input: the results must be identical.
  const OpCase stem =
      make("MaxPool", {rnd({1, 64, 112, 112}, 1)}, {}, pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1}));
  const Tensor ref = test::run_reference(stem)[0];
  CHECK(ref.shape() == Shape{1, 64, 56, 56});
  CHECK(test::max_abs_diff(test::run_session(stem)[0], ref) == 0);
  CHECK(kernel_of(stem) != "ref");
  check_session(make("GlobalAveragePool", {rnd({1, 2048, 7, 7}, 2)}), true);
  auto avg = pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1});
  check_session(make("AveragePool", {rnd({2, 16, 28, 28}, 3)}, {}, avg), true);
  avg["count_include_pad"] = int64_t{1};
  check_session(make("AveragePool", {rnd({2, 16, 28, 28}, 4)}, {}, avg), true);
  // ceil_mode as extra right padding; dilation; asymmetric pads.
  auto ceil = pool_attrs({3, 3}, {2, 2}, {0, 1, 1, 0});
  ceil["ceil_mode"] = int64_t{1};
  check_session(make("MaxPool", {rnd({1, 8, 14, 13}, 5)}, {}, ceil), true);
  check_session(make("AveragePool", {rnd({1, 8, 14, 13}, 6)}, {}, ceil), true);
  ceil["dilations"] = std::vector<int64_t>{2, 1};
  check_session(make("MaxPool", {rnd({1, 8, 14, 13}, 7)}, {}, ceil), true);
  // count_include_pad with windows past the explicit padding: the reference kernel.
  auto clipped = pool_attrs({2, 2}, {2, 2}, {0, 0, 0, 0});
  clipped["ceil_mode"] = int64_t{1};
  clipped["count_include_pad"] = int64_t{1};
  check_session(make("AveragePool", {rnd({1, 8, 5, 5}, 8)}, {}, clipped), false);
}

TEST_CASE("pooling: reads a blocked (nChw8c) input without a reorder") {
  using tag = dnnl::memory::format_tag;
  const OpCase cases[] = {
      make("MaxPool", {rnd({1, 64, 112, 112}, 1)}, {}, pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1})),
      make("GlobalAveragePool", {rnd({1, 2048, 7, 7}, 2)}),
      make("AveragePool", {rnd({2, 16, 9, 9}, 3)}, {}, pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1})),
  };
  for (const OpCase& c : cases) {
    CAPTURE(c.op);
    const Tensor ref = test::run_reference(c)[0];
    const Tensor got = run_on_layout(c, tag::nChw8c);
    REQUIRE(got.shape() == ref.shape());
    CHECK(test::max_abs_diff(got, ref) <= 1e-5 * test::max_abs(ref) + 1e-6);
  }
}
