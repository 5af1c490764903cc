// Shape and data-movement ops: Reshape, Flatten, Squeeze, Unsqueeze,
// Transpose, Concat, Slice, Expand, ConstantOfShape, Range, Shape. Reference
// kernels against hand-computed values, every error path, and a few cases
// through a Session (constant shape inputs folded at prepare).
#include <cstring>
#include <functional>
#include <limits>

#include <doctest/doctest.h>

#include "ops/registry.hpp"
#include "tests/op_harness.hpp"

using namespace octet;
using test::expect_error;
using test::OpCase;

namespace {

// (The same small helpers as test_ops_elementwise.cpp.)
template <class T>
Tensor make(Shape shape, std::vector<T> v) {
  Tensor t(DataTypeOf<T>::value, std::move(shape));
  REQUIRE(static_cast<size_t>(t.numel()) == v.size());
  if (!v.empty()) std::memcpy(t.raw(), v.data(), v.size() * sizeof(T));
  return t;
}
template <class T>
std::vector<T> values(const Tensor& t) {
  const T* p = static_cast<const T*>(t.raw());
  return std::vector<T>(p, p + t.numel());
}
Tensor s64(std::vector<int64_t> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return make<int64_t>({n}, std::move(v));
}
std::vector<float> iota(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  return v;
}

// Inputs after the first are constants unless `constant` says otherwise.
OpCase op_case(std::string op, std::vector<Tensor> inputs,
               std::map<std::string, AttrValue> attrs = {}, std::vector<bool> constant = {}) {
  OpCase c;
  c.op = std::move(op);
  c.inputs = std::move(inputs);
  c.attrs = std::move(attrs);
  c.constant = constant;
  if (c.constant.empty()) {
    for (size_t i = 0; i < c.inputs.size(); ++i) c.constant.push_back(i > 0);
  }
  return c;
}
Tensor ref(const OpCase& c) {
  return test::run_reference(c).at(0);
}

// Only creates the op (what model loading does): attribute errors show here.
void construct(const std::string& op, std::map<std::string, AttrValue> attrs, int inputs) {
  Node node;
  node.op = op;
  node.name = "node";
  node.attrs = std::move(attrs);
  for (int i = 0; i <= inputs; ++i) (i < inputs ? node.inputs : node.outputs).push_back(i);
  create_op(node);
}
const ErrorCode bad_arg = ErrorCode::invalid_argument, bad_model = ErrorCode::invalid_model;

}  // namespace

TEST_CASE("reshape: shapes, 0 and -1, allowzero, errors") {
  const Tensor x = make<float>({2, 3, 4}, iota(24));
  auto reshape = [&](const Tensor& in, std::vector<int64_t> shape, int64_t allowzero = 0) {
    return ref(op_case("Reshape", {in, s64(std::move(shape))}, {{"allowzero", allowzero}}));
  };
  const Tensor y = reshape(x, {0, -1});
  CHECK(y.shape() == Shape{2, 12});
  CHECK(values<float>(y) == iota(24));
  CHECK(reshape(x, {4, -1}).shape() == Shape{4, 6});
  CHECK(reshape(x, {-1}).shape() == Shape{24});
  CHECK(reshape(x, {2, 0, 2, 2}).shape() == Shape{2, 3, 2, 2});
  CHECK(reshape(Tensor(DataType::f32, {0, 3}), {3, 0}, 1).shape() == Shape{3, 0});
  CHECK(reshape(Tensor(DataType::f32, {0, 3}), {-1, 3}).shape() == Shape{0, 3});
  expect_error([&] { reshape(x, {-1, -1}); }, bad_arg, "more than one -1");
  expect_error([&] { reshape(x, {5, -1}); }, bad_arg, "cannot reshape 2x3x4 (24 elements) to 5x-1");
  expect_error([&] { reshape(x, {2, 3}); }, bad_arg, "cannot reshape");
  expect_error([&] { reshape(x, {0, 0, 0, 0}); }, bad_arg, "copies dim 3 of an input of rank 3");
  expect_error([&] { reshape(x, {-2, 12}); }, bad_arg, "negative dim");
  expect_error([&] { reshape(x, {0, -1}, 1); }, bad_arg, "with allowzero");
  expect_error(
      [&] {
        reshape(x, {int64_t(1) << 40, int64_t(1) << 40});
      },
      bad_arg, "cannot reshape");
  expect_error([&] { reshape(x, {24}, 2); }, bad_model, "attribute 'allowzero' must be 0 or 1");
  expect_error(
      [&] {
        ref(op_case("Reshape", {x, s64({24})}, {}, {false, false}));
      },
      bad_arg, "must be a constant known when the session is prepared");
  expect_error(
      [&] {
        ref(op_case("Reshape", {x, make<int64_t>({1, 1}, {24})}));
      },
      bad_arg, "shape input must be 1-D");
  expect_error([&] { ref(op_case("Reshape", {x})); }, bad_model, "expects 2 input(s)");
}

TEST_CASE("flatten, squeeze, unsqueeze") {
  const Tensor x = make<float>({2, 3, 4, 5}, iota(120));
  auto flatten = [&](int64_t axis) {
    return ref(op_case("Flatten", {x}, {{"axis", axis}})).shape();
  };
  CHECK(ref(op_case("Flatten", {x})).shape() == Shape{2, 60});
  CHECK(flatten(2) == Shape{6, 20});
  CHECK(flatten(0) == Shape{1, 120});
  CHECK(flatten(4) == Shape{120, 1});
  CHECK(flatten(-1) == Shape{24, 5});
  CHECK(values<float>(ref(op_case("Flatten", {x}))) == iota(120));
  expect_error([&] { flatten(5); }, bad_arg, "attribute 'axis' = 5 is out of range for rank 4");

  const Tensor ones = make<float>({1, 3, 1, 2}, iota(6));
  CHECK(ref(op_case("Squeeze", {ones})).shape() == Shape{3, 2});
  CHECK(ref(op_case("Squeeze", {ones}, {{"axes", std::vector<int64_t>{-2}}})).shape() ==
        Shape{1, 3, 2});
  CHECK(ref(op_case("Squeeze", {ones, s64({0})})).shape() == Shape{3, 1, 2});
  CHECK(values<float>(ref(op_case("Squeeze", {ones}))) == iota(6));
  expect_error(
      [&] {
        ref(op_case("Squeeze", {ones, s64({1})}));
      },
      bad_arg, "cannot squeeze axis 1 of size 3");
  expect_error([&] { ref(op_case("Squeeze", {ones, s64({0, -4})})); }, bad_arg, "duplicate");
  expect_error(
      [&] {
        ref(op_case("Squeeze", {ones, s64({4})}));
      },
      bad_arg, "axis 4 is out of range");
  expect_error(
      [&] {
        ref(op_case("Squeeze", {ones, s64({0})}, {{"axes", std::vector<int64_t>{0}}}));
      },
      bad_model, "both as attribute and as input");

  const Tensor v = make<float>({3, 4}, iota(12));
  CHECK(ref(op_case("Unsqueeze", {v, s64({0, -1})})).shape() == Shape{1, 3, 4, 1});
  CHECK(ref(op_case("Unsqueeze", {v}, {{"axes", std::vector<int64_t>{1}}})).shape() ==
        Shape{3, 1, 4});
  CHECK(ref(op_case("Unsqueeze", {make<int64_t>({}, {7}), s64({0})})).shape() == Shape{1});
  expect_error([&] { ref(op_case("Unsqueeze", {v})); }, bad_model,
               "expects axes either as attribute");
  expect_error(
      [&] {
        ref(op_case("Unsqueeze", {v, s64({3})}));
      },
      bad_arg, "axis 3 is out of range");
  expect_error([&] { ref(op_case("Unsqueeze", {v, s64({1, 1})})); }, bad_arg, "duplicate");
  expect_error(
      [&] {
        ref(op_case("Unsqueeze", {v, s64({0})}, {}, {false, false}));
      },
      bad_arg, "axes (input 1) must be a constant");
}

TEST_CASE("attributes are checked when the op is created (model load)") {
  const std::vector<int64_t> axes{0};
  expect_error(
      [] {
        construct("Squeeze", {{"axes", std::string("0")}}, 1);
      },
      bad_model, "node 'node' (Squeeze): attribute 'axes' must be of type int list");
  expect_error(
      [&] {
        construct("Squeeze", {{"axes", axes}}, 2);
      },
      bad_model, "both as attribute and as input");
  expect_error([] { construct("Unsqueeze", {}, 1); }, bad_model, "expects axes either");
  expect_error(
      [] {
        construct("Transpose", {{"perm", std::vector<int64_t>{1, 2}}}, 1);
      },
      bad_model, "not a permutation");
  expect_error(
      [] {
        construct("Flatten", {{"axis", 1.0}}, 1);
      },
      bad_model, "attribute 'axis' must be of type int");
  expect_error(
      [] {
        construct("Concat", {{"axis", std::string("x")}}, 2);
      },
      bad_model, "attribute 'axis'");
  expect_error(
      [] {
        construct("Reshape", {{"allowzero", int64_t(-1)}}, 2);
      },
      bad_model, "allowzero");
  expect_error(
      [] {
        construct("Shape", {{"end", std::string("x")}}, 1);
      },
      bad_model, "attribute 'end'");
  expect_error(
      [] {
        construct("ConstantOfShape", {{"dtype", std::string("float")}}, 1);
      },
      bad_model, "attribute 'dtype'");
  expect_error([] { construct("Slice", {}, 2); }, bad_model, "expects 3 to 5 input(s)");
  expect_error([] { construct("Range", {}, 2); }, bad_model, "expects 3 input(s)");
  expect_error([] { construct("Expand", {}, 3); }, bad_model, "expects 2 input(s)");
  construct("Unsqueeze", {{"axes", axes}}, 1);  // fine
}

TEST_CASE("transpose: reference values and errors") {
  const Tensor x = make<int64_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor t = ref(op_case("Transpose", {x}));
  CHECK(t.shape() == Shape{3, 2});
  CHECK(values<int64_t>(t) == std::vector<int64_t>{1, 4, 2, 5, 3, 6});
  const Tensor cube = ref(op_case("Transpose", {make<float>({2, 3, 4}, iota(24))},
                                  {{"perm", std::vector<int64_t>{1, 2, 0}}}));
  CHECK(cube.shape() == Shape{3, 4, 2});
  CHECK(values<float>(cube)[0] == 0);
  CHECK(values<float>(cube)[1] == 12);  // [0][0][1] <- x[1][0][0]
  CHECK(values<float>(cube)[2] == 1);   // [0][1][0] <- x[0][0][1]
  CHECK(values<float>(cube)[23] == 23);
  expect_error(
      [&] {
        ref(op_case("Transpose", {x}, {{"perm", std::vector<int64_t>{0, 0}}}));
      },
      bad_model, "attribute 'perm' 0x0 is not a permutation");
  expect_error(
      [&] {
        ref(op_case("Transpose", {x}, {{"perm", std::vector<int64_t>{0, 2, 1}}}));
      },
      bad_arg, "'perm' has 3 entries for an input of rank 2");
}

TEST_CASE("concat") {
  const Tensor a = make<int64_t>({2, 1}, {1, 2}), b = make<int64_t>({2, 2}, {3, 4, 5, 6});
  const Tensor y = ref(op_case("Concat", {a, b}, {{"axis", int64_t(-1)}}, {false, false}));
  CHECK(y.shape() == Shape{2, 3});
  CHECK(values<int64_t>(y) == std::vector<int64_t>{1, 3, 4, 2, 5, 6});
  // The BERT shape pattern: Unsqueeze'd dims concatenated along axis 0.
  const Tensor shape =
      ref(op_case("Concat", {s64({1}), s64({128}), make<int64_t>({0}, {}), s64({12, 64})},
                  {{"axis", int64_t(0)}}));
  CHECK(values<int64_t>(shape) == std::vector<int64_t>{1, 128, 12, 64});
  expect_error(
      [&] {
        ref(op_case("Concat", {a, b}, {{"axis", int64_t(0)}}));
      },
      bad_arg, "input 1 (s64 2x2) does not match input 0 (s64 2x1) outside axis 0");
  expect_error(
      [&] {
        ref(op_case("Concat", {a, make<float>({2, 1}, {1, 2})}, {{"axis", int64_t(1)}}));
      },
      bad_arg, "input 1 (f32 2x1)");
  expect_error(
      [&] {
        ref(op_case("Concat", {a, a}, {{"axis", int64_t(2)}}));
      },
      bad_arg, "axis 2 is out of range");
  expect_error([&] { ref(op_case("Concat", {a})); }, bad_model,
               "missing required attribute 'axis'");
  expect_error(
      [&] {
        ref(op_case("Concat", {make<int64_t>({}, {1})}, {{"axis", int64_t(0)}}));
      },
      bad_arg, "cannot concatenate scalars");
}

TEST_CASE("slice: steps, clamping, negative indices, errors") {
  const Tensor x = make<float>({10}, iota(10));
  auto slice = [&](std::vector<Tensor> params) {
    params.insert(params.begin(), x);
    return ref(op_case("Slice", std::move(params)));
  };
  const int64_t big = std::numeric_limits<int64_t>::max(),
                small = std::numeric_limits<int64_t>::min();
  CHECK(values<float>(slice({s64({2}), s64({8}), s64({0}), s64({2})})) ==
        std::vector<float>{2, 4, 6});
  CHECK(values<float>(slice({s64({-3}), s64({big})})) == std::vector<float>{7, 8, 9});
  CHECK(values<float>(slice({s64({-1}), s64({small}), s64({0}), s64({-1})})) ==
        std::vector<float>{9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
  CHECK(values<float>(slice({s64({100}), s64({-100}), s64({0}), s64({-4})})) ==
        std::vector<float>{9, 5, 1});
  CHECK(values<float>(slice({s64({1}), s64({big}), s64({0}), s64({big})})) ==
        std::vector<float>{1});
  CHECK(values<float>(slice({s64({8}), s64({0}), s64({0}), s64({small})})) ==
        std::vector<float>{8});
  CHECK(slice({s64({5}), s64({2})}).shape() == Shape{0});
  CHECK(values<float>(slice({make<int32_t>({1}, {1}), make<int32_t>({1}, {3})})) ==
        std::vector<float>{1, 2});

  const Tensor m = make<float>({3, 4}, iota(12));
  // Columns 3, 1 of row 2 (axes given out of order, negative steps on both).
  const Tensor cols =
      ref(op_case("Slice", {m, s64({3, 2}), s64({small, 0}), s64({-1, 0}), s64({-2, -2})}));
  CHECK(cols.shape() == Shape{1, 2});
  CHECK(values<float>(cols) == std::vector<float>{11, 9});
  expect_error(
      [&] {
        slice({s64({0}), s64({5}), s64({0}), s64({0})});
      },
      bad_arg, "steps must not be 0");
  expect_error([&] { slice({s64({0, 1}), s64({5})}); }, bad_arg, "same length");
  expect_error(
      [&] {
        ref(op_case("Slice", {m, s64({0, 0}), s64({1, 1}), s64({1, -1})}));
      },
      bad_arg, "axis 1 is sliced twice");
  expect_error([&] { slice({s64({0}), s64({5}), s64({1})}); }, bad_arg, "axis 1 is out of range");
  expect_error(
      [&] {
        ref(op_case("Slice", {x, s64({0}), s64({5})}, {}, {false, false, true}));
      },
      bad_arg, "starts (input 1) must be a constant");
  expect_error(
      [&] {
        slice({make<float>({1}, {0}), s64({5})});
      },
      bad_arg, "must be an s64 or s32 tensor");
  expect_error(
      [&] {
        ref(op_case("Slice", {x}, {{"starts", std::vector<int64_t>{0}}}));
      },
      ErrorCode::unsupported, "opset < 10");
}

TEST_CASE("expand") {
  const Tensor x = make<float>({3, 1}, {1, 2, 3});
  const Tensor y = ref(op_case("Expand", {x, s64({2, 1, 4})}));
  CHECK(y.shape() == Shape{2, 3, 4});
  CHECK(values<float>(y) ==
        std::vector<float>{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3});
  CHECK(ref(op_case("Expand", {x, s64({1})})).shape() == Shape{3, 1});  // bidirectional
  CHECK(ref(op_case("Expand", {x, s64({0, 1, 1})})).shape() == Shape{0, 3, 1});
  const Tensor mask = ref(op_case("Expand", {make<uint8_t>({1, 1, 2}, {0, 1}), s64({2, 2, 1})}));
  CHECK(values<uint8_t>(mask) == std::vector<uint8_t>{0, 1, 0, 1, 0, 1, 0, 1});
  expect_error(
      [&] {
        ref(op_case("Expand", {x, s64({2, 3})}));
      },
      bad_arg, "cannot broadcast shapes 3x1 and 2x3");
  expect_error([&] { ref(op_case("Expand", {x, s64({-1, 1})})); }, bad_arg, "negative dim");
  expect_error(
      [&] {
        ref(op_case("Expand", {x, s64({1 << 20, 3, 1 << 12})}));
      },
      bad_arg, "more than 2^31 elements");
  expect_error(
      [&] {
        ref(op_case("Expand", {x, s64({int64_t(1) << 40, int64_t(1) << 40, 3, 1})}));
      },
      bad_arg, "more than 2^31 elements");
  expect_error(
      [&] {
        ref(op_case("Expand", {x, s64({3, 1})}, {}, {false, false}));
      },
      bad_arg, "must be a constant");
}

TEST_CASE("constant_of_shape") {
  auto cos = [](std::vector<int64_t> shape, std::map<std::string, AttrValue> attrs) {
    return ref(op_case("ConstantOfShape", {s64(std::move(shape))}, std::move(attrs), {true}));
  };
  const Tensor zeros = cos({2, 3}, {});
  CHECK(zeros.dtype() == DataType::f32);
  CHECK(values<float>(zeros) == std::vector<float>(6, 0.f));
  CHECK(values<int64_t>(cos({3}, {{"value", int64_t(1)}, {"dtype", std::string("s64")}})) ==
        std::vector<int64_t>{1, 1, 1});
  CHECK(values<float>(cos({2}, {{"value", -0.5}, {"dtype", std::string("f32")}})) ==
        std::vector<float>{-0.5, -0.5});
  CHECK(values<uint8_t>(cos({2}, {{"value", int64_t(3)}, {"dtype", std::string("bool")}})) ==
        std::vector<uint8_t>{1, 1});
  CHECK(values<int32_t>(cos({1}, {{"value", 7.0}, {"dtype", std::string("s32")}})) ==
        std::vector<int32_t>{7});
  CHECK(values<uint8_t>(cos({1}, {{"value", int64_t(255)}, {"dtype", std::string("u8")}})) ==
        std::vector<uint8_t>{255});
  CHECK(cos({}, {}).shape() == Shape{});
  CHECK(cos({0, 4}, {}).shape() == Shape{0, 4});
  expect_error(
      [&] {
        cos({1}, {{"dtype", std::string("f16")}});
      },
      bad_model, "node 'node' (ConstantOfShape): attribute 'dtype': unknown data type 'f16'");
  expect_error(
      [&] {
        cos({1}, {{"value", int64_t(256)}, {"dtype", std::string("u8")}});
      },
      bad_model, "attribute 'value' 256 is not representable as u8");
  expect_error(
      [&] {
        cos({1}, {{"value", 1.5}, {"dtype", std::string("s64")}});
      },
      bad_model, "not representable as s64");
  expect_error(
      [&] {
        cos({1}, {{"value", 9.3e18}, {"dtype", std::string("s64")}});
      },
      bad_model, "not representable as s64");
  expect_error([&] { cos({1}, {{"value", 1e300}}); }, bad_model, "does not fit in f32");
  expect_error(
      [&] {
        cos({1}, {{"value", std::string("one")}});
      },
      bad_model, "attribute 'value' must be of type float");
  expect_error([&] { cos({1 << 16, 1 << 16}, {}); }, bad_arg, "more than 2^31 elements");
  expect_error([&] { cos({2, -1}, {}); }, bad_arg, "is invalid");
  expect_error([&] { ref(op_case("ConstantOfShape", {s64({2})}, {}, {false})); }, bad_arg,
               "must be a constant");
}

TEST_CASE("range") {
  auto range = [](Tensor start, Tensor limit, Tensor delta) {
    return ref(op_case("Range", {start, limit, delta}, {}, {true, true, true}));
  };
  auto i64 = [](int64_t v) { return make<int64_t>({}, {v}); };
  auto f32 = [](float v) { return make<float>({}, {v}); };
  CHECK(values<int64_t>(range(i64(0), i64(5), i64(1))) == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK(values<int64_t>(range(i64(10), i64(0), i64(-3))) == std::vector<int64_t>{10, 7, 4, 1});
  CHECK(range(i64(5), i64(0), i64(1)).shape() == Shape{0});
  const int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  CHECK(values<int64_t>(range(i64(lo), i64(hi), i64(hi))) == std::vector<int64_t>{lo, -1, hi - 1});
  CHECK(values<int32_t>(range(make<int32_t>({}, {-2}), make<int32_t>({1}, {3}),
                              make<int32_t>({}, {2}))) == std::vector<int32_t>{-2, 0, 2});
  CHECK(values<float>(range(f32(0), f32(1), f32(0.25f))) == std::vector<float>{0, 0.25, 0.5, 0.75});
  CHECK(values<float>(range(f32(1), f32(-0.5f), f32(-0.5f))) == std::vector<float>{1, 0.5, 0});
  expect_error([&] { range(i64(0), i64(5), i64(0)); }, bad_arg, "delta must not be 0");
  expect_error([&] { range(f32(0), f32(5), f32(0)); }, bad_arg, "delta must not be 0");
  expect_error([&] { range(i64(0), i64(hi), i64(1)); }, bad_arg, "more than 2^31 elements");
  expect_error([&] { range(f32(0), f32(1e10f), f32(1)); }, bad_arg, "more than 2^31 elements");
  expect_error([&] { range(f32(0), f32(std::numeric_limits<float>::infinity()), f32(1)); }, bad_arg,
               "must be finite");
  expect_error([&] { range(i64(0), make<int32_t>({}, {5}), i64(1)); }, bad_arg,
               "one dtype, got s64 and s32");
  expect_error([&] { range(i64(0), s64({5, 6}), i64(1)); }, bad_arg, "limit must be a scalar");
  expect_error(
      [&] { range(make<uint8_t>({}, {0}), make<uint8_t>({}, {1}), make<uint8_t>({}, {1})); },
      ErrorCode::unsupported, "supports f32, s32 and s64, got u8");
  expect_error(
      [&] {
        ref(op_case("Range", {i64(0), i64(5), i64(1)}, {}, {false, true, true}));
      },
      bad_arg, "start must be a constant");
}

TEST_CASE("shape: start/end, and the value is known at inference") {
  const Tensor x(DataType::f32, {2, 3, 4});
  CHECK(values<int64_t>(ref(op_case("Shape", {x}))) == std::vector<int64_t>{2, 3, 4});
  auto shape = [&](std::map<std::string, AttrValue> attrs) {
    return values<int64_t>(ref(op_case("Shape", {x}, std::move(attrs))));
  };
  CHECK(shape({{"start", int64_t(1)}}) == std::vector<int64_t>{3, 4});
  CHECK(shape({{"end", int64_t(-1)}}) == std::vector<int64_t>{2, 3});
  CHECK(shape({{"start", int64_t(-2)}, {"end", int64_t(100)}}) == std::vector<int64_t>{3, 4});
  CHECK(shape({{"start", int64_t(5)}}).empty());
  CHECK(shape({{"start", int64_t(2)}, {"end", int64_t(1)}}).empty());
  CHECK(ref(op_case("Shape", {make<int64_t>({}, {1})})).shape() == Shape{0});

  Node node;
  node.op = "Shape";
  node.name = "shape";
  node.inputs = {0};
  node.outputs = {1};
  const std::unique_ptr<Op> op = create_op(node);
  InferContext ctx{node, {{true, {8, 128}, DataType::s64, nullptr}}, {}, {}, {}};
  op->infer(ctx);
  REQUIRE(ctx.dst_value.size() == 1);
  CHECK(values<int64_t>(ctx.dst_value[0]) == std::vector<int64_t>{8, 128});
  expect_error(
      [&] {
        ref(op_case("Shape", {x}, {{"start", 1.5}}));
      },
      bad_model, "attribute 'start' must be of type int");
}

TEST_CASE("shape ops through a Session (constants folded at prepare)") {
  const Tensor x = test::random_tensor(DataType::f32, {1, 128, 768}, 1);
  const OpCase heads = op_case("Reshape", {x, s64({0, 0, 12, 64})});
  const Tensor y = test::run_session(heads).at(0);
  CHECK(y.shape() == Shape{1, 128, 12, 64});
  CHECK(test::max_abs_diff(y, ref(heads)) == 0);
  const OpCase sl = op_case("Slice", {x, s64({1}), s64({3}), s64({1})});
  CHECK(test::max_abs_diff(test::run_session(sl).at(0), ref(sl)) == 0);
  const OpCase ex =
      op_case("Expand", {make<float>({1, 1, 1, 128}, iota(128)), s64({1, 12, 128, 128})});
  CHECK(test::max_abs_diff(test::run_session(ex).at(0), ref(ex)) == 0);
  const OpCase cat = op_case("Concat", {x, x}, {{"axis", int64_t(1)}}, {false, false});
  CHECK(test::max_abs_diff(test::run_session(cat).at(0), ref(cat)) == 0);
  const OpCase shp = op_case("Shape", {x});
  CHECK(values<int64_t>(test::run_session(shp).at(0)) == std::vector<int64_t>{1, 128, 768});
}
