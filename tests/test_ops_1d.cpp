// Conv and pooling in 1-D (Jasper-style acoustic models: Conv1d + BN + ReLU
// with residuals), and the ONNX specification's pooling examples for
// ceil_mode and count_include_pad. Hand-computed values, a 1-D op against
// the same op in 2-D with height 1, and oneDNN's 1-D primitives against the
// reference on Jasper layer shapes.
#include <cmath>
#include <cstring>

#include <doctest/doctest.h>

#include "tests/op_harness.hpp"

using namespace octet;
using test::op_case;
using test::OpCase;
using test::tensor_of;

namespace {

using Ints = std::vector<int64_t>;

OpCase conv1d(Tensor x, Tensor w, Ints strides, Ints pads, Ints dilations, int64_t group = 1) {
  return op_case("Conv", {std::move(x), std::move(w)},
                 {{"strides", strides}, {"pads", pads}, {"dilations", dilations}, {"group", group}},
                 {false, true});
}

// The reference and the session both give `want` (within 1e-5).
void check_both(const OpCase& c, const Shape& shape, const std::vector<double>& want) {
  for (const Tensor& got : {test::run_reference(c).at(0), test::run_session(c).at(0)}) {
    REQUIRE(got.shape() == shape);
    const std::vector<double> v = test::to_doubles(got);
    REQUIRE(v.size() == want.size());
    for (size_t i = 0; i < v.size(); ++i) {
      CAPTURE(i);
      CHECK(v[i] == doctest::Approx(want[i]).epsilon(1e-5));
    }
  }
}

// The session (oneDNN's 1-D primitive) against the reference.
void check_onednn(const OpCase& c, double rel) {
  const Tensor want = test::run_reference(c).at(0);
  const Tensor got = test::run_session(c).at(0);
  REQUIRE(got.shape() == want.shape());
  CHECK(test::max_abs_diff(got, want) <= rel * test::max_abs(want) + 1e-6);
  CHECK(test::cosine(got, want) > 0.999999);
  const std::string kernel = test::kernel_of(c);
  CAPTURE(kernel);
  CHECK(kernel != "ref");
}

// `t` [N,C,W] as [N,C,1,W].
Tensor as_2d(const Tensor& t) {
  Shape s = t.shape();
  s.insert(s.begin() + 2, 1);
  Tensor r(t.dtype(), s);
  std::memcpy(r.raw(), t.raw(), t.nbytes());
  return r;
}

Tensor rnd(Shape shape, uint32_t seed, float lo = -1, float hi = 1) {
  return test::random_tensor(DataType::f32, std::move(shape), seed, lo, hi);
}

}  // namespace

TEST_CASE("Conv 1-D: hand-computed values") {
  // w = [1, 0, -1] with pads 1: y[i] = x[i-1] - x[i+1] on x = 1..5.
  const Tensor x = tensor_of<float>({1, 1, 5}, {1, 2, 3, 4, 5});
  const Tensor w = tensor_of<float>({1, 1, 3}, {1, 0, -1});
  check_both(conv1d(x, w, {1}, {1, 1}, {1}), {1, 1, 5}, {-2, -2, -2, -2, 4});
  check_both(conv1d(x, w, {2}, {1, 1}, {1}), {1, 1, 3}, {-2, -2, 4});
  // Dilation 2: y[i] = x[i-2] - x[i+2] with pads 2.
  check_both(conv1d(x, w, {1}, {2, 2}, {2}), {1, 1, 5}, {-3, -4, -4, 2, 3});
  // Two groups: each channel its own filter, plus a bias.
  OpCase g = conv1d(tensor_of<float>({1, 2, 3}, {1, 2, 3, 10, 20, 30}),
                    tensor_of<float>({2, 1, 2}, {1, 1, 1, -1}), {1}, {0, 0}, {1}, 2);
  g.inputs.push_back(tensor_of<float>({2}, {0.5f, 0}));
  g.constant.push_back(true);
  check_both(g, {1, 2, 2}, {3.5, 5.5, -10, -10});
  // Attributes omitted: stride 1, no pads; SAME_UPPER pads 1 at the end for k2.
  check_both(op_case("Conv", {x, tensor_of<float>({1, 1, 2}, {1, 1})}, {}, {false, true}),
             {1, 1, 4}, {3, 5, 7, 9});
  check_both(op_case("Conv", {x, tensor_of<float>({1, 1, 2}, {1, 1})},
                     {{"auto_pad", std::string("SAME_UPPER")}}, {false, true}),
             {1, 1, 5}, {3, 5, 7, 9, 5});
}

TEST_CASE("Conv 1-D equals the same conv in 2-D with height 1") {
  const Tensor x = rnd({2, 6, 17}, 1), w = rnd({4, 3, 5}, 2), b = rnd({4}, 3);
  OpCase one = conv1d(x, w, {2}, {2, 1}, {1}, 2);
  one.inputs.push_back(b);
  one.constant.push_back(true);
  OpCase two = op_case("Conv", {as_2d(x), as_2d(w), b},
                       {{"strides", Ints{1, 2}},
                        {"pads", Ints{0, 2, 0, 1}},
                        {"dilations", Ints{1, 1}},
                        {"group", int64_t{2}}},
                       {false, true, true});
  const Tensor y1 = test::run_reference(one)[0], y2 = test::run_reference(two)[0];
  REQUIRE(y1.shape() == Shape{2, 4, 8});
  REQUIRE(y2.shape() == Shape{2, 4, 1, 8});
  CHECK(test::to_doubles(y1) == test::to_doubles(y2));
}

TEST_CASE("Conv 1-D: oneDNN matches the reference on Jasper shapes") {
  // Jasper 10x5's prologue (64 features -> 256, k11, stride 2), a block's
  // k11 conv with residual + relu, a depthwise k33 (QuartzNet), the 1x1 head.
  const float b256 = 1.f / std::sqrt(256.f * 11);
  check_onednn(
      conv1d(rnd({1, 64, 400}, 4, -2, 2), rnd({256, 64, 11}, 5, -0.04f, 0.04f), {2}, {5, 5}, {1}),
      1e-5);
  OpCase block =
      conv1d(rnd({1, 256, 200}, 6, -2, 2), rnd({256, 256, 11}, 7, -b256, b256), {1}, {5, 5}, {1});
  block.inputs.push_back(rnd({256}, 8));
  block.inputs.push_back(rnd({1, 256, 200}, 9));  // the residual
  block.constant.insert(block.constant.end(), {true, false});
  block.attrs["activation"] = std::string("relu");
  check_onednn(block, 1e-5);
  check_onednn(conv1d(rnd({1, 256, 200}, 10, -2, 2), rnd({256, 1, 33}, 11, -0.2f, 0.2f), {1},
                      {16, 16}, {1}, 256),
               1e-5);
  check_onednn(
      conv1d(rnd({2, 256, 100}, 12, -2, 2), rnd({29, 256, 1}, 13, -0.06f, 0.06f), {1}, {0, 0}, {1}),
      1e-5);
  check_onednn(
      conv1d(rnd({1, 32, 50}, 14, -2, 2), rnd({32, 32, 3}, 15, -0.1f, 0.1f), {1}, {2, 2}, {2}),
      1e-5);
}

TEST_CASE("pooling 1-D: hand-computed values, oneDNN") {
  const Tensor x = tensor_of<float>({1, 1, 7}, {3, 1, 4, 1, 5, 9, 2});
  auto pool = [&](const std::string& op, std::map<std::string, AttrValue> a) {
    return op_case(op, {x}, std::move(a));
  };
  check_both(pool("MaxPool", {{"kernel_shape", Ints{2}}, {"strides", Ints{2}}}), {1, 1, 3},
             {3, 4, 9});
  // ceil_mode keeps the last, partial window: [2].
  check_both(
      pool("MaxPool", {{"kernel_shape", Ints{2}}, {"strides", Ints{2}}, {"ceil_mode", int64_t{1}}}),
      {1, 1, 4}, {3, 4, 9, 2});
  check_both(
      pool("AveragePool", {{"kernel_shape", Ints{3}}, {"strides", Ints{2}}, {"pads", Ints{1, 1}}}),
      {1, 1, 4}, {2, 2, 5, 5.5});  // (3+1)/2, (1+4+1)/3, (1+5+9)/3, (9+2)/2
  check_both(pool("AveragePool", {{"kernel_shape", Ints{3}},
                                  {"strides", Ints{2}},
                                  {"pads", Ints{1, 1}},
                                  {"count_include_pad", int64_t{1}}}),
             {1, 1, 4}, {4 / 3., 2, 5, 11 / 3.});
  check_both(op_case("GlobalAveragePool", {x}, {}), {1, 1, 1}, {25 / 7.});
  // Defaults: stride 1, no pads.
  check_both(pool("MaxPool", {{"kernel_shape", Ints{3}}}), {1, 1, 5}, {4, 4, 5, 9, 9});

  const Tensor big = rnd({1, 256, 200}, 16, -3, 3);
  check_onednn(op_case("MaxPool", {big},
                       {{"kernel_shape", Ints{3}}, {"strides", Ints{2}}, {"pads", Ints{1, 1}}}),
               0);
  check_onednn(
      op_case("AveragePool", {big},
              {{"kernel_shape", Ints{4}}, {"strides", Ints{3}}, {"ceil_mode", int64_t{1}}}),
      1e-6);
  check_onednn(op_case("GlobalAveragePool", {big}, {}), 1e-6);
}

TEST_CASE("pooling: the ONNX specification's ceil_mode and count_include_pad examples") {
  const Tensor x4 =
      tensor_of<float>({1, 1, 4, 4}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
  const std::map<std::string, AttrValue> ceil{
      {"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"ceil_mode", int64_t{1}}};
  // averagepool_2d_ceil, maxpool_2d_ceil.
  check_both(op_case("AveragePool", {x4}, ceil), {1, 1, 2, 2}, {6, 7.5, 12, 13.5});
  check_both(op_case("MaxPool", {x4}, ceil), {1, 1, 2, 2}, {11, 12, 15, 16});
  // maxpool_2d_ceil_output_size_reduce_by_one.
  check_both(
      op_case("MaxPool", {tensor_of<float>({1, 1, 2, 2}, {1, 2, 3, 4})},
              {{"kernel_shape", Ints{1, 1}}, {"strides", Ints{2, 2}}, {"ceil_mode", int64_t{1}}}),
      {1, 1, 1, 1}, {1});
  // averagepool_2d_ceil_last_window_starts_on_pad.
  check_both(op_case("AveragePool",
                     {tensor_of<float>({1, 3, 2, 2},
                                       {0.8580f, 0.0786f, 0.2692f, 0.1537f, 0.8816f, 0.4353f,
                                        0.5772f, 0.6623f, 0.9067f, 0.9483f, 0.5970f, 0.7630f})},
                     {{"kernel_shape", Ints{3, 3}},
                      {"strides", Ints{3, 3}},
                      {"pads", Ints{1, 1, 1, 1}},
                      {"ceil_mode", int64_t{1}},
                      {"count_include_pad", int64_t{1}}}),
             {1, 3, 1, 1}, {1.3595 / 9, 2.5564 / 9, 3.215 / 9});  // the spec prints 0.1511 ...
  // averagepool_2d_precomputed_pads_count_include_pad.
  std::vector<float> v25(25);
  for (size_t i = 0; i < v25.size(); ++i) v25[i] = static_cast<float>(i + 1);
  check_both(op_case("AveragePool", {tensor_of<float>({1, 1, 5, 5}, v25)},
                     {{"kernel_shape", Ints{5, 5}},
                      {"pads", Ints{2, 2, 2, 2}},
                      {"count_include_pad", int64_t{1}}}),
             {1, 1, 5, 5},
             {2.52, 3.6, 4.8,  4.08, 3.24, 4.56,  6.4,  8.4,  7.04, 5.52, 7.2,  10.0, 13.0,
              10.8, 8.4, 6.96, 9.6,  12.4, 10.24, 7.92, 6.12, 8.4,  10.8, 8.88, 6.84});
  // averagepool_2d_precomputed_same_upper.
  check_both(op_case("AveragePool", {tensor_of<float>({1, 1, 5, 5}, v25)},
                     {{"kernel_shape", Ints{3, 3}},
                      {"strides", Ints{2, 2}},
                      {"auto_pad", std::string("SAME_UPPER")}}),
             {1, 1, 3, 3}, {4, 5.5, 7, 11.5, 13, 14.5, 19, 20.5, 22});
}
