// Resize and Upsample: the expected outputs of the ONNX specification's
// examples (backend tests resize_* and upsample_nearest, copied as
// literals), the opset 7-10 forms, errors, and the oneDNN resampling against
// the reference on DeepLabV3 (bilinear) and RetinaNet FPN (nearest) shapes,
// with the cases oneDNN cannot compute exactly left to the reference.
#include <doctest/doctest.h>

#include "tests/op_harness.hpp"

using namespace octet;
using test::expect_error;
using test::OpCase;
using test::tensor_of;

namespace {

const Tensor k2x2 = tensor_of<float>({1, 1, 2, 2}, {1, 2, 3, 4});
const Tensor k2x4 = tensor_of<float>({1, 1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8});
const Tensor k4x4 =
    tensor_of<float>({1, 1, 4, 4}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});

// Resize-13: X, roi (omitted), scales or sizes, as constants.
OpCase resize(Tensor x, std::map<std::string, AttrValue> attrs, std::vector<float> scales,
              std::vector<int64_t> sizes = {}) {
  OpCase c;
  c.op = "Resize";
  c.attrs = std::move(attrs);
  const int64_t ns = static_cast<int64_t>(scales.size()), nz = static_cast<int64_t>(sizes.size());
  c.inputs = {std::move(x), Tensor(), scales.empty() ? Tensor() : tensor_of<float>({ns}, scales)};
  c.constant = {false, true, true};
  if (!sizes.empty()) {
    c.inputs.push_back(tensor_of<int64_t>({nz}, sizes));
    c.constant.push_back(true);
  }
  return c;
}

std::map<std::string, AttrValue> attrs(const std::string& mode, const std::string& coord = "",
                                       const std::string& nearest = "") {
  std::map<std::string, AttrValue> a{{"mode", mode}};
  if (!coord.empty()) a["coordinate_transformation_mode"] = coord;
  if (!nearest.empty()) a["nearest_mode"] = nearest;
  return a;
}

// Reference and session both give `want` within 1e-6 (the spec prints 8 digits).
void check_both(const OpCase& c, const Shape& shape, const std::vector<double>& want) {
  for (const Tensor& got : {test::run_reference(c).at(0), test::run_session(c).at(0)}) {
    REQUIRE(got.shape() == shape);
    const std::vector<double> v = test::to_doubles(got);
    REQUIRE(v.size() == want.size());
    for (size_t i = 0; i < v.size(); ++i) {
      CAPTURE(i);
      CHECK(v[i] == doctest::Approx(want[i]).epsilon(1e-6));
    }
  }
}

// The session against the reference: max |diff| <= tol x max |ref|, and
// whether oneDNN ran (kernel not "ref").
void check_session(const OpCase& c, bool onednn, double tol = 0) {
  const Tensor want = test::run_reference(c).at(0);
  const Tensor got = test::run_session(c).at(0);
  REQUIRE(got.shape() == want.shape());
  CHECK(test::max_abs_diff(got, want) <= tol * test::max_abs(want));
  const std::string kernel = test::kernel_of(c);
  CAPTURE(kernel);
  CHECK((kernel != "ref") == onednn);
}

}  // namespace

TEST_CASE("Resize: the ONNX specification's nearest examples") {
  // resize_upsample_scales_nearest (half_pixel, round_prefer_floor: the defaults).
  check_both(resize(k2x2, attrs("nearest"), {1, 1, 2, 3}), {1, 1, 4, 6},
             {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4});
  // resize_downsample_scales_nearest.
  check_both(resize(k2x4, attrs("nearest"), {1, 1, 0.6f, 0.6f}), {1, 1, 1, 2}, {1, 3});
  // resize_downsample_sizes_nearest.
  check_both(resize(k2x4, attrs("nearest"), {}, {1, 1, 1, 3}), {1, 1, 1, 3}, {1, 2, 4});
  // resize_upsample_sizes_nearest.
  check_both(resize(k2x2, attrs("nearest"), {}, {1, 1, 7, 8}), {1, 1, 7, 8},
             {1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1,
              2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4});
  // resize_upsample_sizes_nearest_ceil_half_pixel.
  check_both(
      resize(k4x4, attrs("nearest", "half_pixel", "ceil"), {}, {1, 1, 8, 8}), {1, 1, 8, 8},
      {1,  2,  2,  3,  3,  4,  4,  4,  5,  6,  6,  7,  7,  8,  8,  8,  5,  6,  6,  7,  7,  8,
       8,  8,  9,  10, 10, 11, 11, 12, 12, 12, 9,  10, 10, 11, 11, 12, 12, 12, 13, 14, 14, 15,
       15, 16, 16, 16, 13, 14, 14, 15, 15, 16, 16, 16, 13, 14, 14, 15, 15, 16, 16, 16});
  // resize_upsample_sizes_nearest_floor_align_corners.
  check_both(resize(k4x4, attrs("nearest", "align_corners", "floor"), {}, {1, 1, 8, 8}),
             {1, 1, 8, 8},
             {1,  1,  1,  2,  2, 3, 3, 4,  1,  1,  1,  2,  2,  3,  3,  4,  1,  1,  1,  2, 2, 3,
              3,  4,  5,  5,  5, 6, 6, 7,  7,  8,  5,  5,  5,  6,  6,  7,  7,  8,  9,  9, 9, 10,
              10, 11, 11, 12, 9, 9, 9, 10, 10, 11, 11, 12, 13, 13, 13, 14, 14, 15, 15, 16});
  // resize_upsample_sizes_nearest_round_prefer_ceil_asymmetric.
  check_both(resize(k4x4, attrs("nearest", "asymmetric", "round_prefer_ceil"), {}, {1, 1, 8, 8}),
             {1, 1, 8, 8}, {1,  2,  2,  3,  3,  4,  4,  4,  5,  6,  6,  7,  7,  8,  8,  8,
                            5,  6,  6,  7,  7,  8,  8,  8,  9,  10, 10, 11, 11, 12, 12, 12,
                            9,  10, 10, 11, 11, 12, 12, 12, 13, 14, 14, 15, 15, 16, 16, 16,
                            13, 14, 14, 15, 15, 16, 16, 16, 13, 14, 14, 15, 15, 16, 16, 16});
}

TEST_CASE("Resize: the ONNX specification's linear examples") {
  // resize_upsample_scales_linear (half_pixel).
  check_both(resize(k2x2, attrs("linear"), {1, 1, 2, 2}), {1, 1, 4, 4},
             {1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4});
  // resize_upsample_scales_linear_align_corners.
  const double t = 1 / 3.;
  check_both(resize(k2x2, attrs("linear", "align_corners"), {1, 1, 2, 2}), {1, 1, 4, 4},
             {1, 1 + t, 1 + 2 * t, 2, 1 + 2 * t, 2, 2 + t, 2 + 2 * t, 2 + t, 2 + 2 * t, 3, 3 + t, 3,
              3 + t, 3 + 2 * t, 4});
  // resize_downsample_scales_linear: [[2.6666665, 4.3333331]].
  check_both(resize(k2x4, attrs("linear"), {1, 1, 0.6f, 0.6f}), {1, 1, 1, 2},
             {2.6666665, 4.3333331});
  // resize_downsample_scales_linear_align_corners: [[1, 3.142857]] (the
  // resized length is 4 x 0.6 = 2.4 before flooring).
  check_both(resize(k2x4, attrs("linear", "align_corners"), {1, 1, 0.6f, 0.6f}), {1, 1, 1, 2},
             {1, 3.142857});
  // resize_downsample_sizes_linear_pytorch_half_pixel: [1.6666666, 7, 12.333333].
  check_both(resize(k4x4, attrs("linear", "pytorch_half_pixel"), {}, {1, 1, 3, 1}), {1, 1, 3, 1},
             {1.6666666, 7, 12.333333});
  // An empty scales tensor next to sizes (how opset 11 exports omit it).
  OpCase empty_scales = resize(k2x2, attrs("linear"), {}, {1, 1, 4, 4});
  empty_scales.inputs[2] = Tensor(DataType::f32, {0});
  check_both(empty_scales, {1, 1, 4, 4},
             {1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4});
}

TEST_CASE("Resize-10 and Upsample-7/9: asymmetric coordinates") {
  // upsample_nearest (the Upsample example): scales [1, 1, 2, 3].
  const std::vector<double> nearest = {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2,
                                       3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4};
  OpCase up9;
  up9.op = "Upsample";
  up9.attrs = {{"mode", std::string("nearest")}};
  up9.inputs = {k2x2, tensor_of<float>({4}, {1, 1, 2, 3})};
  up9.constant = {false, true};
  check_both(up9, {1, 1, 4, 6}, nearest);
  OpCase up7;
  up7.op = "Upsample";
  up7.attrs = {{"scales", std::vector<double>{1, 1, 2, 3}}};
  up7.inputs = {k2x2};
  check_both(up7, {1, 1, 4, 6}, nearest);
  // Linear on asymmetric coordinates o / 2: 1, 1.5, 2, 2 (the edge repeats).
  up7.attrs = {{"scales", std::vector<double>{1, 1, 1, 2}}, {"mode", std::string("linear")}};
  check_both(up7, {1, 1, 2, 4}, {1, 1.5, 2, 2, 3, 3.5, 4, 4});
  // Resize-10 (X, scales) downsampling: nearest takes the ceiling (as
  // onnxruntime): 4 -> 2 at o / 0.5 = 0, 2 picks columns 0 and 2.
  OpCase r10;
  r10.op = "Resize";
  r10.inputs = {k2x4, tensor_of<float>({4}, {1, 1, 1, 0.5f})};
  r10.constant = {false, true};
  check_both(r10, {1, 1, 2, 2}, {1, 3, 5, 7});
  // 4 -> 3 at o / 0.75 = 0, 1.33, 2.67: ceilings 0, 2, 3.
  r10.inputs[1] = tensor_of<float>({4}, {1, 1, 1, 0.75f});
  check_both(r10, {1, 1, 2, 3}, {1, 3, 4, 5, 7, 8});
}

TEST_CASE("Resize: errors name the node") {
  auto fails = [](const OpCase& c, ErrorCode code, const std::string& part) {
    expect_error([&] { test::run_reference(c); }, code, part);
  };
  fails(resize(k2x2, attrs("cubic"), {1, 1, 2, 2}), ErrorCode::unsupported,
        "node 'node' (Resize): mode 'cubic' is not supported (expected nearest or linear)");
  fails(resize(k2x2, attrs("linear", "tf_crop_and_resize"), {1, 1, 2, 2}), ErrorCode::unsupported,
        "coordinate_transformation_mode 'tf_crop_and_resize' is not supported");
  fails(resize(k2x2, attrs("nearest", "", "round"), {1, 1, 2, 2}), ErrorCode::unsupported,
        "nearest_mode 'round' is not supported");
  fails(resize(k2x2, attrs("nearest"), {1, 1, 2, 2}, {1, 1, 4, 4}), ErrorCode::invalid_argument,
        "has both scales and sizes");
  fails(resize(k2x2, attrs("nearest"), {}, {1, 1, 4}), ErrorCode::invalid_argument,
        "sizes has 3 values for an input of rank 4");
  fails(resize(k2x2, attrs("nearest"), {1, 2, 2}), ErrorCode::invalid_argument,
        "scales has 3 values for an input of rank 4");
  fails(resize(k2x2, attrs("nearest"), {1, 1, 0, 2}), ErrorCode::invalid_argument,
        "scale 0.000000 on axis 2 must be > 0");
  OpCase none = resize(k2x2, attrs("nearest"), {});
  fails(none, ErrorCode::invalid_argument, "needs scales or sizes");
  OpCase dynamic = resize(k2x2, attrs("nearest"), {}, {1, 1, 4, 4});
  dynamic.constant[3] = false;
  fails(dynamic, ErrorCode::invalid_argument,
        "sizes must be a constant known when the session is prepared");
  OpCase antialias = resize(k2x2, attrs("linear"), {1, 1, 2, 2});
  antialias.attrs["antialias"] = int64_t{1};
  fails(antialias, ErrorCode::unsupported, "attribute 'antialias' (opset 18) is not supported");
  fails(resize(tensor_of<int64_t>({2}, {1, 2}), attrs("nearest"), {2}), ErrorCode::invalid_argument,
        "supports f32 data only, got s64");
  OpCase down;
  down.op = "Upsample";
  down.attrs = {{"scales", std::vector<double>{1, 1, 0.5, 1}}};
  down.inputs = {k2x2};
  fails(down, ErrorCode::invalid_argument, "scale 0.500000 on axis 2 must be >= 1");
}

TEST_CASE("Resize: oneDNN resampling against the reference (DeepLabV3, RetinaNet shapes)") {
  using test::random_tensor;
  // DeepLabV3: the classifier's 28x28 logits to 224x224, bilinear half_pixel
  // (sizes); the ASPP pooling branch from 1x1.
  check_session(resize(random_tensor(DataType::f32, {1, 21, 28, 28}, 1),
                       attrs("linear", "half_pixel"), {}, {1, 21, 224, 224}),
                true, 1e-5);
  check_session(resize(random_tensor(DataType::f32, {1, 256, 1, 1}, 2),
                       attrs("linear", "half_pixel"), {}, {1, 256, 28, 28}),
                true, 1e-6);
  // pytorch_half_pixel (older exports), scales 2.
  check_session(resize(random_tensor(DataType::f32, {1, 8, 13, 17}, 3),
                       attrs("linear", "pytorch_half_pixel"), {1, 1, 2, 2}),
                true, 1e-5);
  // RetinaNet's FPN: nearest, asymmetric, floor, 2x (sizes), exact.
  check_session(resize(random_tensor(DataType::f32, {1, 256, 16, 16}, 4),
                       attrs("nearest", "asymmetric", "floor"), {}, {1, 256, 32, 32}),
                true);
  check_session(resize(random_tensor(DataType::f32, {1, 256, 25, 38}, 5),
                       attrs("nearest", "asymmetric", "floor"), {1, 1, 2, 2}),
                true);
  // nn.Upsample(scale_factor=3) at opset 9.
  OpCase up;
  up.op = "Upsample";
  up.inputs = {random_tensor(DataType::f32, {1, 4, 5, 6}, 6), tensor_of<float>({4}, {1, 1, 3, 3})};
  up.constant = {false, true};
  check_session(up, true);
  // oneDNN cannot: align_corners, a tie-rounding downsample, channel
  // resizing. The reference kernel runs, and is right (by construction).
  check_session(resize(random_tensor(DataType::f32, {1, 8, 14, 14}, 7),
                       attrs("linear", "align_corners"), {}, {1, 8, 28, 28}),
                false);
  check_session(
      resize(random_tensor(DataType::f32, {1, 8, 8, 8}, 8), attrs("nearest"), {1, 1, 0.5f, 0.5f}),
      false);
  check_session(
      resize(random_tensor(DataType::f32, {1, 4, 6, 6}, 9), attrs("nearest"), {1, 2, 1, 1}), false);
}
