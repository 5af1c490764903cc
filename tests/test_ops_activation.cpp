// The activations of MobileNet v2/v3, EfficientNet and RegNet: Sigmoid,
// HardSigmoid, HardSwish and Clip. Each against values from the ONNX
// specification (its formulas and the examples of its backend tests,
// computed here by hand, not by octet), its errors, and the oneDNN kernel
// against the reference on those networks' layer shapes.
#include <cmath>
#include <limits>

#include <doctest/doctest.h>

#include "tests/op_harness.hpp"

using namespace octet;
using test::expect_error;
using test::op_case;
using test::OpCase;
using test::tensor_of;

namespace {

std::vector<double> ref(const OpCase& c) {
  return test::to_doubles(test::run_reference(c).at(0));
}

// Reference and session agree with `want` within `tol` (absolute).
void check_both(const OpCase& c, const std::vector<double>& want, double tol = 1e-6) {
  for (const Tensor& got : {test::run_reference(c).at(0), test::run_session(c).at(0)}) {
    const std::vector<double> v = test::to_doubles(got);
    REQUIRE(v.size() == want.size());
    for (size_t i = 0; i < v.size(); ++i) {
      CAPTURE(i);
      CHECK(std::fabs(v[i] - want[i]) <= tol);
    }
  }
}

// The session (oneDNN) against the reference: max |diff| <= tol; the kernel is not "ref".
void check_onednn(const OpCase& c, double tol) {
  const Tensor want = test::run_reference(c).at(0);
  const Tensor got = test::run_session(c).at(0);
  REQUIRE(got.shape() == want.shape());
  CHECK(test::max_abs_diff(got, want) <= tol);
  const std::string kernel = test::kernel_of(c);
  CAPTURE(kernel);
  CHECK(kernel != "ref");
}

Tensor rnd(Shape shape, uint32_t seed, float lo = -8, float hi = 8) {
  return test::random_tensor(DataType::f32, std::move(shape), seed, lo, hi);
}

const Tensor kX = tensor_of<float>({7}, {-4, -3, -1, 0, 1, 3, 4});

}  // namespace

TEST_CASE("Sigmoid: ONNX examples, oneDNN on EfficientNet shapes") {
  // The spec's example: sigmoid([-1, 0, 1]) = [0.26894143, 0.5, 0.7310586].
  check_both(op_case("Sigmoid", {tensor_of<float>({3}, {-1, 0, 1})}),
             {0.2689414213699951, 0.5, 0.7310585786300049});
  // Saturation without overflow: 1/(1+e^100) ~ 3.7e-44, 1/(1+e^-100) = 1.
  const std::vector<double> far = ref(op_case("Sigmoid", {tensor_of<float>({2}, {-100, 100})}));
  CHECK(far[0] >= 0);
  CHECK(far[0] < 1e-40);
  CHECK(far[1] == 1);
  // EfficientNet-B0's SiLU after the stem, and a squeeze-excitation gate.
  check_onednn(op_case("Sigmoid", {rnd({1, 32, 112, 112}, 1)}), 1e-6);
  check_onednn(op_case("Sigmoid", {rnd({1, 96, 1, 1}, 2)}), 1e-6);
}

TEST_CASE("HardSigmoid: ONNX examples and defaults, loop kernel on MobileNet v3 shapes") {
  // The spec's example: alpha 0.5, beta 0.6 on [-1, 0, 1] -> [0.1, 0.6, 1].
  check_both(
      op_case("HardSigmoid", {tensor_of<float>({3}, {-1, 0, 1})}, {{"alpha", 0.5}, {"beta", 0.6}}),
      {0.1, 0.6, 1});
  // Defaults alpha 0.2, beta 0.5: max(0, min(1, 0.2x + 0.5)).
  check_both(op_case("HardSigmoid", {kX}), {0, 0, 0.3, 0.5, 0.7, 1, 1});
  // torch's hardsigmoid: alpha 1/6 -> x/6 + 1/2.
  check_both(op_case("HardSigmoid", {kX}, {{"alpha", 1.0 / 6}}), {0, 0, 1 / 3., 0.5, 2 / 3., 1, 1});
  // The SE gate and the HardSwish of opset 13 (x * HardSigmoid(x)).
  const std::map<std::string, AttrValue> torch_attrs{{"alpha", 1.0 / 6}};
  check_onednn(op_case("HardSigmoid", {rnd({1, 72, 1, 1}, 3)}, torch_attrs), 1e-6);
  check_onednn(op_case("HardSigmoid", {rnd({1, 16, 112, 112}, 4)}, torch_attrs), 1e-6);
  // A blocked conv output is read as produced (16 channels: two full blocks of 8).
  auto nchw8c = [](const Shape& s) {
    return dnnl::memory::desc(to_dnnl_dims(s), dnnl::memory::data_type::f32,
                              dnnl::memory::format_tag::nChw8c);
  };
  const OpCase c16 = op_case("HardSigmoid", {rnd({1, 16, 14, 14}, 5)}, torch_attrs);
  test::KernelRun r = test::run_kernel(c16, {nchw8c({1, 16, 14, 14})});
  CHECK(r.src_want[0] == nchw8c({1, 16, 14, 14}));
  CHECK(r.dst_md == nchw8c({1, 16, 14, 14}));
  CHECK(r.name == "loop");
  CHECK(test::max_abs_diff(r.out, test::run_reference(c16)[0]) <= 1e-6);
  // 20 channels pad the last block (its padding must stay zero): read plain.
  const OpCase c20 = op_case("HardSigmoid", {rnd({1, 20, 14, 14}, 6)}, torch_attrs);
  r = test::run_kernel(c20, {nchw8c({1, 20, 14, 14})});
  CHECK(r.src_want[0] == plain_md({1, 20, 14, 14}, DataType::f32));
  CHECK(test::max_abs_diff(r.out, test::run_reference(c20)[0]) <= 1e-6);
}

TEST_CASE("HardSwish: ONNX formula, oneDNN on MobileNet v3 shapes") {
  // y = x max(0, min(1, x/6 + 1/2)).
  check_both(op_case("HardSwish", {kX}), {0, 0, -1 / 3., 0, 2 / 3., 3, 4});
  check_onednn(op_case("HardSwish", {rnd({1, 16, 112, 112}, 7)}), 2e-6);
  check_onednn(op_case("HardSwish", {rnd({1, 960, 7, 7}, 8)}), 2e-6);
}

TEST_CASE("Clip: bounds as inputs (opset 11+) and attributes (opset 6), ONNX examples") {
  const Tensor x = tensor_of<float>({3}, {-2, 0, 2});
  const Tensor lo = tensor_of<float>({}, {-1}), hi = tensor_of<float>({}, {1});
  // clip_example: [-2, 0, 2] in [-1, 1].
  check_both(op_case("Clip", {x, lo, hi}, {}, {false, true, true}), {-1, 0, 1});
  // Bounds computed at run time (graph inputs): the reference kernel reads them.
  check_both(op_case("Clip", {x, lo, hi}), {-1, 0, 1});
  // clip_default_min / clip_default_max: one bound omitted.
  check_both(op_case("Clip", {x, Tensor(), tensor_of<float>({}, {0})}, {}, {false, false, true}),
             {-2, 0, 0});
  check_both(op_case("Clip", {x, tensor_of<float>({}, {0})}, {}, {false, true}), {0, 0, 2});
  check_both(op_case("Clip", {x}), {-2, 0, 2});  // no bounds: a copy
  // min > max: every value becomes max (opset 13's wording).
  check_both(op_case("Clip", {x, hi, lo}, {}, {false, true, true}), {-1, -1, -1});
  // clip_default_int8_max: integers (opset 12), shape [1] bounds accepted.
  const OpCase ints = op_case(
      "Clip", {tensor_of<int8_t>({4}, {-128, -2, 0, 127}), Tensor(), tensor_of<int8_t>({1}, {0})},
      {}, {false, false, true});
  check_both(ints, {-128, -2, 0, 0});
  CHECK(test::run_session(ints)[0].dtype() == DataType::s8);
  check_both(op_case("Clip",
                     {tensor_of<int64_t>({2}, {-5, 5}), tensor_of<int64_t>({}, {-1}),
                      tensor_of<int64_t>({}, {1})},
                     {}, {false, true, true}),
             {-1, 1});
  // Opset 6: attributes, either omitted.
  check_both(op_case("Clip", {x}, {{"min", -1.0}, {"max", 1.0}}), {-1, 0, 1});
  check_both(op_case("Clip", {x}, {{"max", 0.5}}), {-2, 0, 0.5});
  check_both(op_case("Clip", {x}, {{"min", 0.0}}), {0, 0, 2});
}

TEST_CASE("Clip: errors name the node") {
  const Tensor x = tensor_of<float>({3}, {-2, 0, 2});
  expect_error(
      [&] {
        ref(op_case("Clip", {x, tensor_of<float>({2}, {0, 1})}));
      },
      ErrorCode::invalid_argument,
      "node 'node' (Clip): min must be a scalar of the input's dtype f32, got f32 of "
      "shape 2");
  expect_error(
      [&] {
        ref(op_case("Clip", {x, Tensor(), tensor_of<int64_t>({}, {1})}));
      },
      ErrorCode::invalid_argument, "max must be a scalar of the input's dtype f32");
  expect_error(
      [&] {
        ref(op_case("Clip", {x, tensor_of<float>({}, {0})}, {{"min", 0.0}}));
      },
      ErrorCode::invalid_model, "both as attributes (opset < 11) and as inputs");
  expect_error(
      [&] {
        ref(op_case("Clip", {tensor_of<int64_t>({1}, {1})}, {{"max", 0.0}}));
      },
      ErrorCode::invalid_argument, "min/max attributes need an f32 input, got s64");
  expect_error(
      [&] {
        ref(op_case("Clip", {x}, {{"min", std::string("zero")}}));
      },
      ErrorCode::invalid_model, "attribute 'min'");
}

TEST_CASE("Clip: oneDNN clip on MobileNet v2's ReLU6 (exact)") {
  const OpCase relu6 = op_case(
      "Clip", {rnd({1, 32, 112, 112}, 9), tensor_of<float>({}, {0}), tensor_of<float>({}, {6})}, {},
      {false, true, true});
  check_onednn(relu6, 0);
  check_onednn(op_case("Clip", {rnd({1, 1280, 7, 7}, 10)}, {{"min", 0.0}, {"max", 6.0}}), 0);
  // One bound only.
  check_onednn(op_case("Clip", {rnd({1, 96, 14, 14}, 11), Tensor(), tensor_of<float>({}, {6})}, {},
                       {false, false, true}),
               0);
  // Bounds as graph inputs: the reference kernel, still right.
  const OpCase dynamic = op_case(
      "Clip", {rnd({1, 8, 4, 4}, 12), tensor_of<float>({}, {0}), tensor_of<float>({}, {6})});
  CHECK(test::max_abs_diff(test::run_session(dynamic)[0], test::run_reference(dynamic)[0]) == 0);
  CHECK(test::kernel_of(dynamic) == "ref");
}
