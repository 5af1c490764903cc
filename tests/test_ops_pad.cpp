// Pad: the ONNX specification's examples (constant, reflect, edge), pads
// longer than the axis and negative pads against numpy.pad's values (written
// here as literals), the opset < 11 attribute form, errors, and the oneDNN
// fill + reorder kernel against the reference on Inception v3, DenseNet and
// CIFAR ResNet ("option A" shortcut) shapes, on plain and blocked layouts.
#include <doctest/doctest.h>

#include "tests/op_harness.hpp"

using namespace octet;
using test::expect_error;
using test::OpCase;
using test::tensor_of;

namespace {

// pads (and a constant value) as constant inputs, opset 11 style.
OpCase pad_case(Tensor x, std::vector<int64_t> pads, const std::string& mode = "constant",
                Tensor value = Tensor()) {
  OpCase c;
  c.op = "Pad";
  c.attrs["mode"] = mode;
  const int64_t n = static_cast<int64_t>(pads.size());
  c.inputs = {std::move(x), tensor_of<int64_t>({n}, pads)};
  c.constant = {false, true};
  if (!value.empty()) {
    c.inputs.push_back(std::move(value));
    c.constant.push_back(true);
  }
  return c;
}

// Reference and session both give `want` (shape and values, exactly).
void check_both(const OpCase& c, const Shape& shape, const std::vector<double>& want) {
  for (const Tensor& got : {test::run_reference(c).at(0), test::run_session(c).at(0)}) {
    REQUIRE(got.shape() == shape);
    CHECK(test::to_doubles(got) == want);
  }
}

// The session equals the reference exactly (a pad only copies) and runs `kernel_prefix`.
void check_session(const OpCase& c, const std::string& kernel_prefix) {
  const Tensor want = test::run_reference(c).at(0);
  const Tensor got = test::run_session(c).at(0);
  REQUIRE(got.shape() == want.shape());
  CHECK(test::max_abs_diff(got, want) == 0);
  const std::string kernel = test::kernel_of(c);
  CAPTURE(kernel);
  CHECK(kernel.rfind(kernel_prefix, 0) == 0);
}

const Tensor kData = tensor_of<float>({3, 2}, {1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f});

std::vector<double> as_doubles(std::initializer_list<float> v) {
  return std::vector<double>(v.begin(), v.end());
}

}  // namespace

TEST_CASE("Pad: the ONNX specification's examples") {
  // Example 1: constant, pads [0, 2, 0, 0] (two zeros before each row).
  check_both(pad_case(kData, {0, 2, 0, 0}, "constant", tensor_of<float>({}, {0})), {3, 4},
             as_doubles({0, 0, 1.0f, 1.2f, 0, 0, 2.3f, 3.4f, 0, 0, 4.5f, 5.7f}));
  // Example 2: reflect.
  check_both(pad_case(kData, {0, 2, 0, 0}, "reflect"), {3, 4},
             as_doubles({1.0f, 1.2f, 1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f, 4.5f, 5.7f}));
  // Example 3: edge.
  check_both(pad_case(kData, {0, 2, 0, 0}, "edge"), {3, 4},
             as_doubles({1.0f, 1.0f, 1.0f, 1.2f, 2.3f, 2.3f, 2.3f, 3.4f, 4.5f, 4.5f, 4.5f, 5.7f}));
}

TEST_CASE("Pad: numpy.pad's values for long, negative and mixed pads") {
  const Tensor v = tensor_of<float>({3}, {1, 2, 3});
  // np.pad([1,2,3], (5,5), 'reflect'): pads longer than the axis keep reflecting.
  check_both(pad_case(v, {5, 5}, "reflect"), {13}, {2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2});
  check_both(pad_case(v, {4, 2}, "edge"), {9}, {1, 1, 1, 1, 1, 2, 3, 3, 3});
  // np.pad([7], (2,1), 'reflect'): one value reflects to itself.
  check_both(pad_case(tensor_of<float>({1}, {7}), {2, 1}, "reflect"), {4}, {7, 7, 7, 7});
  // np.pad(arange(1,7).reshape(2,3), ((1,0),(2,1)), 'reflect').
  const Tensor m = tensor_of<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  check_both(pad_case(m, {1, 2, 0, 1}, "reflect"), {3, 6},
             {6, 5, 4, 5, 6, 5, 3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5});
  // Negative pads remove (opset 2 wording): drop the first column, add one at the end.
  check_both(pad_case(m, {0, -1, 0, 1}, "constant", tensor_of<float>({}, {9})), {2, 3},
             {2, 3, 9, 5, 6, 9});
  check_both(pad_case(m, {-1, 0, 0, -2}), {1, 1}, {4});
  check_both(pad_case(m, {0, -3, 0, 0}), {2, 0}, {});
  check_both(pad_case(m, {0, -2, 0, 1}, "edge"), {2, 2}, {3, 3, 6, 6});
  // Integer data (s64 shape arithmetic) with a constant value.
  check_both(
      pad_case(tensor_of<int64_t>({2}, {5, 6}), {1, 2}, "constant", tensor_of<int64_t>({}, {-1})),
      {5}, {-1, 5, 6, -1, -1});
  // A scalar pads nothing.
  check_both(pad_case(tensor_of<float>({}, {3}), {}), {}, {3});
}

TEST_CASE("Pad: opset < 11 attributes pads, value, mode") {
  OpCase c;
  c.op = "Pad";
  c.inputs = {tensor_of<float>({1, 2}, {1, 2})};
  c.attrs = {{"pads", std::vector<int64_t>{1, 1, 0, 1}}, {"value", 0.5}};
  check_both(c, {2, 4}, {0.5, 0.5, 0.5, 0.5, 0.5, 1, 2, 0.5});
  c.attrs = {{"pads", std::vector<int64_t>{0, 2, 0, 0}}, {"mode", std::string("reflect")}};
  check_both(c, {1, 4}, {1, 2, 1, 2});
  c.attrs = {{"pads", std::vector<int64_t>{0, 1, 0, 1}}};  // value defaults to 0
  check_both(c, {1, 4}, {0, 1, 2, 0});
}

TEST_CASE("Pad: errors name the node") {
  auto fails = [](const OpCase& c, ErrorCode code, const std::string& part) {
    expect_error([&] { test::run_reference(c); }, code, part);
  };
  fails(pad_case(kData, {0, 1}), ErrorCode::invalid_argument,
        "node 'node' (Pad): pads has 2 values for data of rank 2 (expected 4)");
  fails(pad_case(kData, {0, 1, 0, 0}, "wrap"), ErrorCode::unsupported,
        "mode 'wrap' is not supported (expected constant, reflect or edge)");
  fails(pad_case(kData, {-4, 0, 0, 0}), ErrorCode::invalid_argument,
        "pads -4, 0 on axis 0 of size 3 give a negative or huge size");
  fails(pad_case(kData, {0, -2, 0, 1}, "reflect"), ErrorCode::invalid_argument,
        "mode edge/reflect cannot pad axis 1, which keeps no input values");
  fails(pad_case(kData, {0, 1, 0, 0}, "constant", tensor_of<float>({2}, {0, 1})),
        ErrorCode::invalid_argument, "constant_value must be one value of the data's dtype f32");
  OpCase dynamic = pad_case(kData, {0, 1, 0, 0});
  dynamic.constant = {false, false};
  fails(dynamic, ErrorCode::invalid_argument,
        "pads (input 1) must be a constant known when the session is prepared");
  OpCase axes = pad_case(kData, {0, 1}, "constant", tensor_of<float>({}, {0}));
  axes.inputs.push_back(tensor_of<int64_t>({1}, {1}));
  axes.constant.push_back(true);
  fails(axes, ErrorCode::unsupported, "the axes input (opset 18) is not supported");
  OpCase legacy;
  legacy.op = "Pad";
  legacy.inputs = {tensor_of<int64_t>({1}, {1})};
  legacy.attrs = {{"pads", std::vector<int64_t>{1, 1}}};
  fails(legacy, ErrorCode::invalid_argument,
        "the value attribute (opset < 11) needs f32 data, got s64");
}

TEST_CASE("Pad: oneDNN fill + reorder matches the reference on real network shapes") {
  using test::random_tensor;
  // Inception v3's Pad before AveragePool (count_include_pad): 1 on H and W.
  check_session(
      pad_case(random_tensor(DataType::f32, {1, 288, 35, 35}, 1), {0, 0, 1, 1, 0, 0, 1, 1}),
      "fill+");
  // DenseNet's transition: all-zero pads.
  check_session(
      pad_case(random_tensor(DataType::f32, {1, 256, 28, 28}, 2), {0, 0, 0, 0, 0, 0, 0, 0}),
      "fill+");
  // CIFAR ResNet option A: zero channels on both sides of a strided view.
  check_session(
      pad_case(random_tensor(DataType::f32, {2, 16, 16, 16}, 3), {0, 8, 0, 0, 0, 8, 0, 0}),
      "fill+");
  // A non-zero value, and a crop with a pad.
  check_session(pad_case(random_tensor(DataType::f32, {1, 3, 7, 9}, 4), {0, 0, 2, 0, 0, 0, 1, 3},
                         "constant", tensor_of<float>({}, {1.5f})),
                "fill+");
  check_session(pad_case(random_tensor(DataType::f32, {1, 4, 7, 9}, 5), {0, 0, -2, 1, 0, 0, 1, -3}),
                "fill+");
  // reflect and edge, and a constant value computed at run time: the reference.
  check_session(
      pad_case(random_tensor(DataType::f32, {1, 3, 8, 8}, 6), {0, 0, 3, 3, 0, 0, 3, 3}, "reflect"),
      "ref");
  check_session(
      pad_case(random_tensor(DataType::f32, {1, 3, 8, 8}, 7), {0, 0, 1, 2, 0, 0, 2, 1}, "edge"),
      "ref");
  OpCase dynamic_value = pad_case(random_tensor(DataType::f32, {1, 3, 4, 4}, 8),
                                  {0, 0, 1, 1, 0, 0, 1, 1}, "constant", tensor_of<float>({}, {2}));
  dynamic_value.constant[2] = false;
  check_session(dynamic_value, "ref");
}

TEST_CASE("Pad: a blocked (nChw8c) input stays blocked when the pads keep blocks whole") {
  auto nchw8c = [](const Shape& s) {
    return dnnl::memory::desc(to_dnnl_dims(s), dnnl::memory::data_type::f32,
                              dnnl::memory::format_tag::nChw8c);
  };
  const Tensor x = test::random_tensor(DataType::f32, {1, 16, 9, 9}, 9);
  // Spatial pads, and 8 channels on each side: blocked in, blocked out.
  for (const std::vector<int64_t>& pads : {std::vector<int64_t>{0, 0, 1, 1, 0, 0, 1, 1},
                                           std::vector<int64_t>{0, 8, 0, 0, 0, 8, 0, 0}}) {
    const OpCase c = pad_case(x, pads);
    const test::KernelRun r = test::run_kernel(c, {nchw8c(x.shape())});
    CHECK(r.src_want[0] == nchw8c(x.shape()));
    CHECK(r.dst_md == nchw8c(r.out.shape()));
    CHECK(test::max_abs_diff(r.out, test::run_reference(c)[0]) == 0);
  }
  // 4 channels split a block: the input is read blocked, the output written plain.
  const OpCase split = pad_case(x, {0, 4, 0, 0, 0, 4, 0, 0});
  test::KernelRun r = test::run_kernel(split, {nchw8c(x.shape())});
  CHECK(r.dst_md == plain_md({1, 24, 9, 9}, DataType::f32));
  CHECK(test::max_abs_diff(r.out, test::run_reference(split)[0]) == 0);
  // A non-zero value: a plain output (a blocked one would fill its padding).
  const OpCase value = pad_case(x, {0, 0, 1, 1, 0, 0, 1, 1}, "constant", tensor_of<float>({}, {3}));
  r = test::run_kernel(value, {nchw8c(x.shape())});
  CHECK(r.src_want[0] == nchw8c(x.shape()));
  CHECK(r.dst_md == plain_md({1, 16, 11, 11}, DataType::f32));
  CHECK(test::max_abs_diff(r.out, test::run_reference(value)[0]) == 0);
}
