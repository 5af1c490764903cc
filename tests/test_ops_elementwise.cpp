// Elementwise ops (Add, Sub, Mul, Div, Pow, Equal, Relu, Erf, Gelu, Tanh,
// Sqrt, Where, Cast, Identity) and the oneDNN paths of the elementwise and
// Transpose ops: reference kernels against hand-computed values, every error
// path, oneDNN against the reference on ResNet-50 / BERT-base shapes through a
// Session, and the layout contract (blocked inputs used as produced) through a
// hand-built KernelContext.
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include <doctest/doctest.h>

#include "ops/registry.hpp"
#include "tests/op_harness.hpp"

using namespace octet;
using test::expect_error;
using test::op_case;
using test::OpCase;

namespace {

template <class T>
Tensor make(Shape shape, std::vector<T> v) {
  Tensor t(DataTypeOf<T>::value, std::move(shape));
  REQUIRE(static_cast<size_t>(t.numel()) == v.size());
  if (!v.empty()) std::memcpy(t.raw(), v.data(), v.size() * sizeof(T));
  return t;
}
Tensor boolean(Shape shape, std::vector<uint8_t> v) {
  Tensor t(DataType::boolean, std::move(shape));
  REQUIRE(static_cast<size_t>(t.numel()) == v.size());
  if (!v.empty()) std::memcpy(t.raw(), v.data(), v.size());
  return t;
}
template <class T>
std::vector<T> values(const Tensor& t) {
  const T* p = static_cast<const T*>(t.raw());
  return std::vector<T>(p, p + t.numel());
}

Tensor ref(const OpCase& c) {
  return test::run_reference(c).at(0);
}

}  // namespace

TEST_CASE("binary: f32 arithmetic with broadcasting") {
  const Tensor a = make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor b = make<float>({3}, {10, 20, 40});
  CHECK(values<float>(ref(op_case("Add", {a, b}))) == std::vector<float>{11, 22, 43, 14, 25, 46});
  CHECK(values<float>(ref(op_case("Sub", {b, a}))) == std::vector<float>{9, 18, 37, 6, 15, 34});
  CHECK(values<float>(ref(op_case("Mul", {a, b}))) ==
        std::vector<float>{10, 40, 120, 40, 100, 240});
  CHECK(values<float>(ref(op_case("Div", {b, make<float>({2, 1}, {2, 4})}))) ==
        std::vector<float>{5, 10, 20, 2.5, 5, 10});
  // [2,1] x [1,3] -> [2,3]; [3,1,2] x [4,1] -> [3,4,2]; scalars; empty dims.
  const Tensor outer =
      ref(op_case("Mul", {make<float>({2, 1}, {1, 2}), make<float>({1, 3}, {1, 2, 3})}));
  CHECK(outer.shape() == Shape{2, 3});
  CHECK(values<float>(outer) == std::vector<float>{1, 2, 3, 2, 4, 6});
  const Tensor r3 = ref(op_case("Add", {test::random_tensor(DataType::f32, {3, 1, 2}, 1),
                                        make<float>({4, 1}, {0, 10, 20, 30})}));
  CHECK(r3.shape() == Shape{3, 4, 2});
  const Tensor scalar =
      ref(op_case("Add", {make<float>({}, {1.5f}), make<float>({2, 2}, {0, 1, 2, 3})}));
  CHECK(values<float>(scalar) == std::vector<float>{1.5, 2.5, 3.5, 4.5});
  CHECK(ref(op_case("Add", {make<float>({}, {1}), make<float>({}, {2})})).shape() == Shape{});
  CHECK(ref(op_case("Add", {make<float>({0, 3}, {}), make<float>({1, 3}, {1, 2, 3})})).shape() ==
        Shape{0, 3});
}

TEST_CASE("binary: integer arithmetic wraps, Div truncates toward zero") {
  const Tensor a = make<int64_t>({4}, {7, -7, 7, -7});
  const Tensor b = make<int64_t>({4}, {2, 2, -2, -2});
  CHECK(values<int64_t>(ref(op_case("Div", {a, b}))) == std::vector<int64_t>{3, -3, -3, 3});
  CHECK(values<int64_t>(ref(op_case("Sub", {a, b}))) == std::vector<int64_t>{5, -9, 9, -5});
  const int64_t min64 = std::numeric_limits<int64_t>::min();
  CHECK(values<int64_t>(
            ref(op_case("Div", {make<int64_t>({1}, {min64}), make<int64_t>({1}, {-1})}))) ==
        std::vector<int64_t>{min64});
  const int32_t max32 = std::numeric_limits<int32_t>::max();
  const Tensor wrapped =
      ref(op_case("Add", {make<int32_t>({2}, {max32, 5}), make<int32_t>({}, {1})}));
  CHECK(values<int32_t>(wrapped) == std::vector<int32_t>{std::numeric_limits<int32_t>::min(), 6});
  CHECK(values<int32_t>(
            ref(op_case("Mul", {make<int32_t>({2}, {-3, 4}), make<int32_t>({1}, {5})}))) ==
        std::vector<int32_t>{-15, 20});
  expect_error(
      [&] {
        ref(op_case("Div", {a, make<int64_t>({4}, {1, 0, 1, 1})}));
      },
      ErrorCode::invalid_argument, "integer division by zero");
}

TEST_CASE("binary: Pow and Equal") {
  const Tensor base = make<float>({3}, {2, 3, 4});
  CHECK(values<float>(ref(op_case("Pow", {base, make<float>({3}, {3, 2, 0.5})}))) ==
        std::vector<float>{8, 9, 2});
  CHECK(values<float>(ref(op_case("Pow", {base, make<int64_t>({}, {2})}))) ==
        std::vector<float>{4, 9, 16});
  CHECK(values<float>(ref(op_case("Pow", {base, make<int32_t>({1}, {-1})}))) ==
        std::vector<float>{0.5, 1.f / 3, 0.25});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor eq =
      ref(op_case("Equal", {make<float>({3}, {1, nan, 2}), make<float>({3}, {1, nan, 3})}));
  CHECK(eq.dtype() == DataType::boolean);
  CHECK(values<uint8_t>(eq) == std::vector<uint8_t>{1, 0, 0});
  const Tensor eq64 =
      ref(op_case("Equal", {make<int64_t>({2, 1}, {1, 2}), make<int64_t>({2}, {1, 2})}));
  CHECK(values<uint8_t>(eq64) == std::vector<uint8_t>{1, 0, 0, 1});
  CHECK(values<uint8_t>(ref(op_case("Equal", {boolean({2}, {0, 1}), boolean({2}, {0, 0})}))) ==
        std::vector<uint8_t>{1, 0});
}

TEST_CASE("binary: errors") {
  const Tensor f = make<float>({2}, {1, 2});
  expect_error(
      [&] {
        ref(op_case("Add", {f, make<int64_t>({2}, {1, 2})}));
      },
      ErrorCode::invalid_argument, "same dtype, got f32 and s64");
  expect_error(
      [&] {
        ref(op_case("Equal", {make<int32_t>({1}, {1}), f}));
      },
      ErrorCode::invalid_argument, "s32 and f32");
  expect_error(
      [&] {
        ref(op_case("Mul", {make<int8_t>({1}, {1}), make<int8_t>({1}, {1})}));
      },
      ErrorCode::unsupported, "s8");
  expect_error(
      [&] {
        ref(op_case("Pow", {make<int64_t>({1}, {2}), make<int64_t>({1}, {2})}));
      },
      ErrorCode::unsupported, "f32 base");
  expect_error(
      [&] {
        ref(op_case("Sub", {f, make<float>({3}, {1, 2, 3})}));
      },
      ErrorCode::invalid_argument, "cannot broadcast shapes 2 and 3");
  // 2^16 x 2^16 elements: refused at inference, nothing allocated.
  expect_error(
      [&] {
        ref(op_case("Add", {Tensor(DataType::f32, {65536, 1}), Tensor(DataType::f32, {1, 65536})}));
      },
      ErrorCode::invalid_argument, "more than 2^31 elements");
  expect_error([&] { ref(op_case("Add", {f})); }, ErrorCode::invalid_model,
               "node 'node' (Add): expects 2 input(s)");
}

TEST_CASE("unary: reference values") {
  const Tensor x = make<float>({5}, {-1, 0, 0.5, 1, 4});
  auto run = [&](const std::string& op, std::map<std::string, AttrValue> attrs = {}) {
    return values<float>(ref(op_case(op, {x}, std::move(attrs))));
  };
  CHECK(run("Relu") == std::vector<float>{0, 0, 0.5, 1, 4});
  // erf(1) = 0.8427007929, Phi(1) = 0.8413447461; tanh-GELU(1) = 0.8411919906.
  const std::vector<float> erf = run("Erf"), gelu = run("Gelu"),
                           gelu_tanh = run("Gelu", {{"approximate", std::string("tanh")}});
  CHECK(erf[1] == 0.f);
  CHECK(erf[3] == doctest::Approx(0.8427007929).epsilon(1e-7));
  CHECK(erf[0] == doctest::Approx(-0.8427007929).epsilon(1e-7));
  CHECK(gelu[3] == doctest::Approx(0.8413447461).epsilon(1e-7));
  CHECK(gelu[0] == doctest::Approx(-1 + 0.8413447461).epsilon(1e-6));
  CHECK(gelu_tanh[3] == doctest::Approx(0.8411919906).epsilon(1e-7));
  CHECK(run("Gelu", {{"approximate", std::string("none")}}) == gelu);
  CHECK(run("Tanh")[2] == doctest::Approx(0.4621171573).epsilon(1e-7));
  const std::vector<float> sq = run("Sqrt");
  CHECK(std::isnan(sq[0]));
  CHECK(sq[4] == 2.f);
}

TEST_CASE("unary: errors") {
  expect_error(
      [] {
        ref(op_case("Gelu", {make<float>({1}, {1})}, {{"approximate", std::string("fast")}}));
      },
      ErrorCode::unsupported, "node 'node' (Gelu): attribute 'approximate' is 'fast'");
  expect_error(
      [] {
        ref(op_case("Gelu", {make<float>({1}, {1})}, {{"approximate", int64_t(1)}}));
      },
      ErrorCode::invalid_model, "attribute 'approximate' must be of type string");
  expect_error([] { ref(op_case("Relu", {make<int64_t>({1}, {1})})); }, ErrorCode::unsupported,
               "f32 input only, got s64");
}

TEST_CASE("where, cast, identity: reference values and errors") {
  const Tensor cond = boolean({2, 1}, {1, 0});
  const Tensor where =
      ref(op_case("Where", {cond, make<int64_t>({3}, {1, 2, 3}), make<int64_t>({}, {-1})}));
  CHECK(where.shape() == Shape{2, 3});
  CHECK(values<int64_t>(where) == std::vector<int64_t>{1, 2, 3, -1, -1, -1});
  const Tensor mask = ref(op_case("Where", {boolean({1, 2}, {0, 1}), make<float>({}, {-1e4f}),
                                            make<float>({2, 2}, {1, 2, 3, 4})}));
  CHECK(values<float>(mask) == std::vector<float>{1, -1e4f, 3, -1e4f});
  expect_error(
      [&] {
        ref(op_case("Where", {make<float>({1}, {1}), cond, cond}));
      },
      ErrorCode::invalid_argument, "condition must be bool, got f32");
  expect_error(
      [&] {
        ref(op_case("Where", {cond, make<float>({1}, {1}), make<int64_t>({1}, {1})}));
      },
      ErrorCode::invalid_argument, "same dtype, got f32 and s64");

  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto cast = [](const Tensor& t, int64_t to) { return ref(op_case("Cast", {t}, {{"to", to}})); };
  const Tensor f = make<float>({6}, {1.7f, -1.7f, 3e9f, -3e9f, nan, -0.f});
  CHECK(values<int32_t>(cast(f, 6)) ==
        std::vector<int32_t>{1, -1, std::numeric_limits<int32_t>::max(),
                             std::numeric_limits<int32_t>::min(), 0, 0});
  CHECK(values<int64_t>(cast(f, 7)) == std::vector<int64_t>{1, -1, 3000000000, -3000000000, 0, 0});
  CHECK(values<uint8_t>(cast(make<float>({3}, {-1, 300, 2.9f}), 2)) ==
        std::vector<uint8_t>{0, 255, 2});
  CHECK(values<int8_t>(cast(make<float>({2}, {-200, 127.9f}), 3)) ==
        std::vector<int8_t>{-128, 127});
  CHECK(values<uint8_t>(cast(f, 9)) == std::vector<uint8_t>{1, 1, 1, 1, 1, 0});
  CHECK(values<int32_t>(cast(make<int64_t>({2}, {(int64_t(1) << 32) + 5, -1}), 6)) ==
        std::vector<int32_t>{5, -1});
  CHECK(values<float>(cast(make<int64_t>({2}, {-3, 1 << 24}), 1)) ==
        std::vector<float>{-3, 16777216});
  CHECK(values<float>(cast(boolean({2}, {1, 0}), 1)) == std::vector<float>{1, 0});
  CHECK(values<uint8_t>(cast(make<int64_t>({3}, {0, 5, -1}), 9)) == std::vector<uint8_t>{0, 1, 1});
  CHECK(values<int64_t>(cast(make<uint8_t>({1}, {200}), 7)) == std::vector<int64_t>{200});
  CHECK(cast(f, 1).dtype() == DataType::f32);
  expect_error([&] { cast(f, 10); }, ErrorCode::unsupported, "attribute 'to' = 10");
  expect_error([&] { ref(op_case("Cast", {f})); }, ErrorCode::invalid_model,
               "missing required attribute 'to'");

  const Tensor id = ref(op_case("Identity", {make<int64_t>({2}, {4, 5})}));
  CHECK(values<int64_t>(id) == std::vector<int64_t>{4, 5});
}

// ------------------------------------------------------- oneDNN vs reference

namespace {

// Runs `c` through a Session and the reference; returns max |diff| after
// checking shapes and dtypes and that no reorder was inserted, and the kernel
// of the op's step.
double session_diff(const OpCase& c, std::string* kernel = nullptr) {
  const Tensor want = ref(c);
  const Tensor got = test::run_session(c).at(0);
  REQUIRE(got.shape() == want.shape());
  REQUIRE(got.dtype() == want.dtype());
  for (const LayerInfo& l : test::session_layers(c)) {
    CHECK_MESSAGE(l.op != "Reorder", "unexpected " << l.name);  // plain inputs need none
    if (kernel && l.op == c.op) *kernel = l.kernel;
  }
  return test::max_abs_diff(got, want);
}

}  // namespace

TEST_CASE("oneDNN binary matches the reference (ResNet-50, BERT-base shapes)") {
  using test::random_tensor;
  std::string kernel;
  SUBCASE("residual Add 1x256x56x56 + same: exact") {
    const OpCase c = op_case("Add", {random_tensor(DataType::f32, {1, 256, 56, 56}, 1),
                                     random_tensor(DataType::f32, {1, 256, 56, 56}, 2)});
    CHECK(session_diff(c, &kernel) == 0);
    CHECK(kernel != "ref");
  }
  SUBCASE("bias Add [1,128,768] + [768], constant and not: exact") {
    for (bool constant : {true, false}) {
      const OpCase c = op_case(
          "Add",
          {random_tensor(DataType::f32, {1, 128, 768}, 3), random_tensor(DataType::f32, {768}, 4)},
          {}, {false, constant});
      CHECK(session_diff(c, &kernel) == 0);
      CHECK(kernel != "ref");
    }
  }
  SUBCASE("mask Add [1,12,128,128] + [1,1,1,128], both operand orders: exact") {
    const Tensor s = random_tensor(DataType::f32, {1, 12, 128, 128}, 5);
    const Tensor m = random_tensor(DataType::f32, {1, 1, 1, 128}, 6, -10000, 0);
    CHECK(session_diff(op_case("Add", {s, m}), &kernel) == 0);
    CHECK(kernel != "ref");
    CHECK(session_diff(op_case("Add", {m, s}), &kernel) == 0);
    CHECK(kernel != "ref");
    // Sub with the broadcast operand first: swapped and negated, still exact.
    CHECK(session_diff(op_case("Sub", {m, s}), &kernel) == 0);
    CHECK(kernel != "ref");
    CHECK(session_diff(op_case("Div", {m, s}), &kernel) == 0);  // stays on the reference
    CHECK(kernel == "ref");
  }
  SUBCASE("Mul / Div by a constant scalar: Mul exact, Div within 1 ulp") {
    const Tensor s = random_tensor(DataType::f32, {1, 12, 128, 64}, 7);
    CHECK(session_diff(op_case("Mul", {s, make<float>({}, {0.125f})}, {}, {false, true}),
                       &kernel) == 0);
    CHECK(kernel != "ref");
    CHECK(session_diff(op_case("Div", {s, make<float>({1}, {3.f})}, {}, {false, true}), &kernel) <=
          1.2e-7);
    CHECK(kernel != "ref");
  }
  SUBCASE("s64 and Equal stay on the reference") {
    const OpCase c = op_case("Add", {make<int64_t>({2}, {1, 2}), make<int64_t>({2}, {3, 4})});
    CHECK(session_diff(c, &kernel) == 0);
    CHECK(kernel == "ref");
  }
  SUBCASE("Pow by a constant scalar: eltwise_pow, relative error <= 1e-6") {
    const Tensor x = random_tensor(DataType::f32, {1, 128, 768}, 8, 0.1f, 4);
    for (float e : {2.f, 0.5f, 3.f}) {
      CAPTURE(e);
      const OpCase c = op_case("Pow", {x, make<float>({}, {e})}, {}, {false, true});
      CHECK(session_diff(c, &kernel) <= 1e-6 * test::max_abs(ref(c)));
      CHECK(kernel != "ref");
    }
  }
}

TEST_CASE("oneDNN eltwise matches the reference") {
  using test::random_tensor;
  std::string kernel;
  // Relu is exact; the transcendental functions use oneDNN's polynomial
  // approximations: absolute error <= 2e-6 on inputs in [-5, 5].
  struct Case {
    const char* op;
    Shape shape;
    const char* approximate;
    double tol;
  } cases[] = {
      {"Relu", {1, 64, 112, 112}, nullptr, 0}, {"Gelu", {1, 128, 3072}, "none", 2e-6},
      {"Gelu", {1, 128, 3072}, "tanh", 2e-6},  {"Tanh", {1, 768}, nullptr, 2e-6},
      {"Sqrt", {1, 128, 1}, nullptr, 2e-6},
  };
  for (const Case& k : cases) {
    CAPTURE(k.op);
    const float lo = std::string(k.op) == "Sqrt" ? 0.f : -5.f;
    OpCase c = op_case(k.op, {random_tensor(DataType::f32, k.shape, 9, lo, 5)});
    if (k.approximate) c.attrs["approximate"] = std::string(k.approximate);
    CHECK(session_diff(c, &kernel) <= k.tol);
    CHECK(kernel != "ref");
  }
  const OpCase erf = op_case("Erf", {random_tensor(DataType::f32, {1, 128, 768}, 10, -3, 3)});
  CHECK(session_diff(erf, &kernel) == 0);
  CHECK(kernel == "ref");
}

TEST_CASE("oneDNN transpose (reorder) matches the reference exactly") {
  std::string kernel;
  const OpCase heads =
      op_case("Transpose", {test::random_tensor(DataType::f32, {1, 128, 12, 64}, 11)},
              {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  CHECK(session_diff(heads, &kernel) == 0);
  CHECK(kernel != "ref");
  const OpCase keys =
      op_case("Transpose", {test::random_tensor(DataType::s8, {2, 12, 16, 64}, 12, -100, 100)},
              {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
  CHECK(session_diff(keys, &kernel) == 0);
  CHECK(kernel != "ref");
  const OpCase mask = op_case("Transpose", {boolean({2, 3}, {1, 0, 0, 1, 1, 0})});
  CHECK(values<uint8_t>(test::run_session(mask).at(0)) == std::vector<uint8_t>{1, 1, 0, 1, 0, 0});
  const OpCase ids = op_case("Transpose", {make<int64_t>({2, 2}, {1, 2, 3, 4})});
  CHECK(session_diff(ids, &kernel) == 0);
  CHECK(kernel == "ref");
}

// ------------------------------------------------------- layouts as produced

namespace {

using test::KernelRun;
using test::run_kernel;

dnnl::memory::desc blocked(const Shape& s) {
  return dnnl::memory::desc(to_dnnl_dims(s), dnnl::memory::data_type::f32,
                            dnnl::memory::format_tag::nChw8c);
}

}  // namespace

TEST_CASE("blocked conv outputs are read as produced (no reorders)") {
  const Shape s{1, 64, 56, 56};
  const dnnl::memory::desc b8 = blocked(s);
  const Tensor x = test::random_tensor(DataType::f32, s, 20),
               y = test::random_tensor(DataType::f32, s, 21);

  const OpCase add = op_case("Add", {x, y});
  KernelRun r = run_kernel(add, {b8, b8});
  CHECK(r.src_want[0] == b8);
  CHECK(r.src_want[1] == b8);
  CHECK(r.dst_md == b8);
  CHECK(r.name != "ref");
  CHECK(test::max_abs_diff(r.out, ref(add)) == 0);

  // Mixed layouts: the second input is brought to the first one's layout.
  r = run_kernel(add, {b8, {}});
  CHECK(r.src_want[0] == b8);
  CHECK(r.src_want[1] == b8);
  CHECK(test::max_abs_diff(r.out, ref(add)) == 0);

  // A constant full-shape operand is reordered into the input's layout once.
  const OpCase add_const = op_case("Add", {x, y}, {}, {false, true});
  r = run_kernel(add_const, {b8, {}});
  CHECK(r.dst_md == b8);
  CHECK(test::max_abs_diff(r.out, ref(add_const)) == 0);

  for (const char* name : {"Relu", "Tanh", "Identity"}) {
    CAPTURE(name);
    const OpCase c = op_case(name, {x});
    r = run_kernel(c, {b8});
    CHECK(r.src_want[0] == b8);
    CHECK(r.dst_md == b8);
    CHECK(test::max_abs_diff(r.out, ref(c)) <= 2e-6);
  }

  // Transpose reads the blocked layout through permuted axes.
  const OpCase t = op_case("Transpose", {x}, {{"perm", std::vector<int64_t>{0, 2, 3, 1}}});
  r = run_kernel(t, {b8});
  CHECK(r.src_want[0] == b8);
  CHECK(r.dst_md == plain_md({1, 56, 56, 64}, DataType::f32));
  CHECK(test::max_abs_diff(r.out, ref(t)) == 0);

  // A broadcast operand: plain layouts (the session reorders the blocked input).
  const OpCase bias = op_case("Add", {x, test::random_tensor(DataType::f32, {64, 1, 1}, 22)});
  r = run_kernel(bias, {b8, {}});
  CHECK(r.src_want[0] == plain_md(s, DataType::f32));
  CHECK(test::max_abs_diff(r.out, ref(bias)) == 0);
}
