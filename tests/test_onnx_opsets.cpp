// ONNX opsets 7 to 17: the ops whose meaning changed in that range
// (docs/Changelog.md of ONNX; pass_opset_forms.cpp), run through the public
// import path and checked against values computed here from the
// specification's own formulas, never from octet's output.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

#include "tests/onnx_builder.hpp"
#include "tests/temp_dir.hpp"

using namespace octet;
using namespace octet::test;

namespace {

// Imports `b` as a user would (a file through Model::import_onnx).
Model import_model(const OnnxBuilder& b, const TempDir& dir) {
  const std::string path = dir.file("model.onnx");
  std::ofstream(path, std::ios::binary) << b.bytes();
  return Model::import_onnx(path);
}

std::vector<float> run_model(const Model& m, const Tensor& x) {
  Session s(m);
  const Tensor& y = s.run({x})[0];
  return std::vector<float>(y.data<float>(), y.data<float>() + y.numel());
}

std::vector<float> run_onnx(const OnnxBuilder& b, const Tensor& x) {
  const TempDir dir;
  return run_model(import_model(b, dir), x);
}

std::string import_error(const OnnxBuilder& b) {
  try {
    b.import();
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::unsupported);
    return e.what();
  }
  FAIL("the import succeeded");
  return "";
}

std::string invalid_model_error(const OnnxBuilder& b) {
  try {
    b.import();
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::invalid_model);
    return e.what();
  }
  FAIL("the import succeeded");
  return "";
}

Tensor tensor(const Shape& shape, const std::function<float(int64_t)>& value) {
  Tensor t(DataType::f32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = value(i);
  return t;
}

void check_close(const std::vector<float>& got, const std::vector<double>& want,
                 double tol = 1e-6) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(std::fabs(got[i] - want[i]) <= tol * (1 + std::fabs(want[i])));
  }
}

// Softmax-1/11, as the specification defines it: the input is coerced to 2-D
// [a_0*...*a_{k-1}, a_k*...*a_{n-1}] and each row is exp(x) / sum(exp(x)).
std::vector<double> softmax_coerced(const Tensor& x, int64_t axis) {
  int64_t rows = 1;
  for (int64_t i = 0; i < axis; ++i) rows *= x.dim(i);
  const int64_t cols = x.numel() / rows;
  std::vector<double> y(x.numel());
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (int64_t c = 0; c < cols; ++c) sum += std::exp(x.data<float>()[r * cols + c]);
    for (int64_t c = 0; c < cols; ++c)
      y[r * cols + c] = std::exp(x.data<float>()[r * cols + c]) / sum;
  }
  return y;
}

// Softmax-13 on a rank-3 tensor: Exp(x) / ReduceSum(Exp(x), axis, keepdims=1).
std::vector<double> softmax_one_axis(const Tensor& x, int64_t axis) {
  const Shape& s = x.shape();
  std::vector<double> y(x.numel());
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t idx[3] = {i / (s[1] * s[2]), i / s[2] % s[1], i % s[2]};
    double sum = 0;
    for (int64_t j = 0; j < s[axis]; ++j) {
      int64_t at[3] = {idx[0], idx[1], idx[2]};
      at[axis] = j;
      sum += std::exp(x.data<float>()[(at[0] * s[1] + at[1]) * s[2] + at[2]]);
    }
    y[i] = std::exp(x.data<float>()[i]) / sum;
  }
  return y;
}

// x [2,3,4] -> Softmax (axis attribute unless `axis` is absent) -> y.
OnnxBuilder softmax_model(int64_t opset, std::optional<int64_t> axis) {
  OnnxBuilder b(opset);
  b.input("x", {2, 3, 4});
  onnx::NodeProto* n = b.node("Softmax", {"x"}, {"y"}, "softmax");
  if (axis) OnnxBuilder::attr_int(n, "axis", *axis);
  b.output("y", {2, 3, 4});
  return b;
}

}  // namespace

TEST_CASE("onnx opsets: Softmax before opset 13 normalizes the input coerced to 2-D") {
  // Values spread enough that the two definitions differ by far more than the tolerance.
  const Tensor x =
      tensor({2, 3, 4}, [](int64_t i) { return 0.5f * static_cast<float>(i % 7) - 1; });
  const std::vector<double> over_12 = softmax_coerced(x, 1);
  const std::vector<double> over_3 = softmax_one_axis(x, 1);
  double gap = 0;
  for (size_t i = 0; i < over_12.size(); ++i)
    gap = std::max(gap, std::fabs(over_12[i] - over_3[i]));
  REQUIRE(gap > 0.1);

  SUBCASE("axis = 1 at opsets 7, 11 and 12: each batch row's 12 values sum to 1") {
    for (int64_t opset : {7, 11, 12}) {
      CAPTURE(opset);
      const std::vector<float> y = run_onnx(softmax_model(opset, 1), x);
      check_close(y, over_12);
      double row = 0;
      for (int i = 0; i < 12; ++i) row += y[i];
      CHECK(row == doctest::Approx(1).epsilon(1e-6));
    }
  }
  SUBCASE("the old default axis is 1, and a negative axis counts from the end") {
    check_close(run_onnx(softmax_model(11, std::nullopt), x), over_12);
    check_close(run_onnx(softmax_model(11, -2), x), over_12);
  }
  SUBCASE("axis 0 normalizes all 24 values; the last axis agrees with opset 13") {
    check_close(run_onnx(softmax_model(9, 0), x), softmax_coerced(x, 0));
    check_close(run_onnx(softmax_model(11, 2), x), softmax_one_axis(x, 2));
    check_close(run_onnx(softmax_model(11, -1), x), softmax_one_axis(x, 2));
  }
  SUBCASE("opset 13 normalizes along the one axis (default -1)") {
    check_close(run_onnx(softmax_model(13, 1), x), over_3);
    check_close(run_onnx(softmax_model(17, std::nullopt), x), softmax_one_axis(x, 2));
  }
  SUBCASE("an ONNX file cannot choose octet's coerce_2d attribute") {
    OnnxBuilder b = softmax_model(13, 1);
    OnnxBuilder::attr_int(b.graph->mutable_node(0), "coerce_2d", 1);
    check_close(run_onnx(b, x), over_3);
  }
  SUBCASE("a model saved in octet's format keeps the old meaning") {
    const TempDir dir;
    const Model imported = import_model(softmax_model(11, 1), dir);
    imported.save(dir.file("m"));
    std::ifstream json_file(dir.file("m.octet.json"));
    const nlohmann::json json = nlohmann::json::parse(json_file);
    const nlohmann::json& attrs = json.at("nodes").at(0).at("attributes");
    CHECK(attrs.at("coerce_2d") == 1);
    CHECK(attrs.at("axis") == 1);
    check_close(run_model(Model::load(dir.file("m")), x), over_12);
  }
}

TEST_CASE("onnx opsets: the same small CNN gives the specification's values at opsets 7 to 17") {
  // x [1,1,4,4] -> Conv 1x1 (2 channels, bias) -> Relu -> MaxPool 2x2/2 ->
  // Flatten -> Gemm (transB, C) -> Softmax(axis 1): every op has one meaning
  // across these opsets (Softmax on a rank-2 input included).
  const Tensor x =
      tensor({1, 1, 4, 4}, [](int64_t i) { return 0.25f * static_cast<float>(i) - 2; });
  const std::vector<float> w = {1.f, -0.5f}, bias = {0.f, 0.25f};
  std::vector<float> fc(3 * 8), c = {0.1f, -0.2f, 0.3f};
  for (size_t i = 0; i < fc.size(); ++i) fc[i] = 0.05f * static_cast<float>((i * 5) % 11) - 0.2f;

  // The expected values, op by op from the specifications.
  std::vector<double> pooled(8);  // [2 channels][2][2]
  for (int ch = 0; ch < 2; ++ch) {
    for (int oy = 0; oy < 2; ++oy) {
      for (int ox = 0; ox < 2; ++ox) {
        double best = -INFINITY;
        for (int dy = 0; dy < 2; ++dy) {
          for (int dx = 0; dx < 2; ++dx) {
            const double v = x.data<float>()[(2 * oy + dy) * 4 + 2 * ox + dx] * w[ch] + bias[ch];
            best = std::max(best, std::max(v, 0.0));
          }
        }
        pooled[(ch * 2 + oy) * 2 + ox] = best;
      }
    }
  }
  std::vector<double> logits(3), want(3);
  double sum = 0;
  for (int j = 0; j < 3; ++j) {
    logits[j] = c[j];
    for (int k = 0; k < 8; ++k) logits[j] += pooled[k] * fc[j * 8 + k];
    sum += std::exp(logits[j]);
  }
  for (int j = 0; j < 3; ++j) want[j] = std::exp(logits[j]) / sum;

  for (int64_t opset = 7; opset <= 17; ++opset) {
    CAPTURE(opset);
    OnnxBuilder b(opset);
    b.input("x", {1, 1, 4, 4});
    b.weight("w", {2, 1, 1, 1}, w);
    b.weight("b", {2}, bias);
    b.weight("fc", {3, 8}, fc);
    b.weight("c", {3}, c);
    b.node("Conv", {"x", "w", "b"}, {"conv"}, "conv");
    b.node("Relu", {"conv"}, {"relu"}, "relu");
    onnx::NodeProto* pool = b.node("MaxPool", {"relu"}, {"pool"}, "pool");
    OnnxBuilder::attr_ints(pool, "kernel_shape", {2, 2});
    OnnxBuilder::attr_ints(pool, "strides", {2, 2});
    b.node("Flatten", {"pool"}, {"flat"}, "flatten");
    onnx::NodeProto* gemm = b.node("Gemm", {"flat", "fc", "c"}, {"logits"}, "fc");
    OnnxBuilder::attr_int(gemm, "transB", 1);
    OnnxBuilder::attr_int(b.node("Softmax", {"logits"}, {"y"}, "softmax"), "axis", 1);
    b.output("y", {1, 3});
    check_close(run_onnx(b, x), want);
  }
}

TEST_CASE("onnx opsets: Slice before opset 10 takes starts, ends and axes as attributes") {
  const Tensor x = tensor({3, 5}, [](int64_t i) { return static_cast<float>(i); });
  // Slice-1: a negative start or end counts from the end of the dim; one past
  // the dim means the dim; axes default to [0, 1, ...].
  auto expected = [&](std::vector<int64_t> starts, std::vector<int64_t> ends) {
    const int64_t dims[2] = {3, 5};
    for (int a = 0; a < 2; ++a) {
      for (int64_t* v : {&starts[a], &ends[a]}) {
        if (*v < 0) *v += dims[a];
        *v = std::min(std::max<int64_t>(*v, 0), dims[a]);
      }
    }
    std::vector<double> y;
    for (int64_t r = starts[0]; r < ends[0]; ++r) {
      for (int64_t col = starts[1]; col < ends[1]; ++col) y.push_back(x.data<float>()[r * 5 + col]);
    }
    return y;
  };
  auto slice_model = [](int64_t opset, const std::vector<int64_t>& starts,
                        const std::vector<int64_t>& ends, const std::vector<int64_t>& axes) {
    OnnxBuilder b(opset);
    b.input("x", {3, 5});
    onnx::NodeProto* n = b.node("Slice", {"x"}, {"y"}, "slice");
    OnnxBuilder::attr_ints(n, "starts", starts);
    OnnxBuilder::attr_ints(n, "ends", ends);
    if (!axes.empty()) OnnxBuilder::attr_ints(n, "axes", axes);
    b.output("y");
    return b;
  };
  const int64_t big = std::numeric_limits<int64_t>::max();
  // Axes given out of order: starts/ends pair with axes, not with dims.
  check_close(run_onnx(slice_model(9, {-4, 1}, {-1, big}, {1, 0}), x),
              expected({1, -4}, {big, -1}));
  check_close(run_onnx(slice_model(7, {0, 2}, {2, 100}, {}), x), expected({0, 2}, {2, 100}));
  // The import records the rewrite.
  const ImportResult r = slice_model(9, {0}, {1}, {}).import();
  REQUIRE(count_ops(r.graph, "Slice") == 1);
  CHECK(find_node(r.graph, "Slice")->inputs.size() == 3);
  CHECK(find_node(r.graph, "Slice")->attrs.empty());

  // Inputs instead of attributes before opset 10 name the node and the opset.
  OnnxBuilder inputs(9);
  inputs.input("x", {3, 5});
  inputs.weight_s64("s", {1}, {0});
  inputs.weight_s64("e", {1}, {1});
  inputs.node("Slice", {"x", "s", "e"}, {"y"}, "slice");
  inputs.output("y");
  const std::string msg = invalid_model_error(inputs);
  CHECK(msg.find("node 'slice' (Slice)") != std::string::npos);
  CHECK(msg.find("opset 9") != std::string::npos);
}

TEST_CASE("onnx opsets: BatchNormalization-7 spatial = 1 runs, spatial = 0 is a named error") {
  // Y = (X - mean) / sqrt(var + epsilon) * scale + B, per channel.
  const std::vector<float> scale = {2, 0.5f}, shift = {1, -1}, mean = {0.5f, -0.25f},
                           var = {4, 0.25f};
  auto bn_model = [&](int64_t opset, int64_t spatial) {
    OnnxBuilder b(opset);
    b.input("x", {1, 2, 1, 3});
    b.weight("scale", {2}, scale);
    b.weight("B", {2}, shift);
    b.weight("mean", {2}, mean);
    b.weight("var", {2}, var);
    onnx::NodeProto* n =
        b.node("BatchNormalization", {"x", "scale", "B", "mean", "var"}, {"y"}, "bn");
    OnnxBuilder::attr_int(n, "spatial", spatial);
    OnnxBuilder::attr_float(n, "epsilon", 1e-3f);
    b.output("y", {1, 2, 1, 3});
    return b;
  };
  const Tensor x = tensor({1, 2, 1, 3}, [](int64_t i) { return static_cast<float>(i) - 2.5f; });
  std::vector<double> want(6);
  for (int i = 0; i < 6; ++i) {
    const int ch = i / 3;
    want[i] = (x.data<float>()[i] - mean[ch]) / std::sqrt(var[ch] + 1e-3f) * scale[ch] + shift[ch];
  }
  check_close(run_onnx(bn_model(8, 1), x), want);
  for (int64_t opset : {7, 8}) {
    const std::string msg = import_error(bn_model(opset, 0));
    CHECK(msg.find("'test.onnx'") != std::string::npos);
    CHECK(msg.find("node 'bn' (BatchNormalization)") != std::string::npos);
    CHECK(msg.find("spatial = 0") != std::string::npos);
    CHECK(msg.find("opset " + std::to_string(opset)) != std::string::npos);
  }
}

TEST_CASE("onnx opsets: Dropout is a copy at inference, unless training_mode asks otherwise") {
  const Tensor x = tensor({4}, [](int64_t i) { return static_cast<float>(i) - 1.5f; });
  // Dropout-7: ratio attribute, optional mask output.
  OnnxBuilder seven(7);
  seven.input("x", {4});
  OnnxBuilder::attr_float(seven.node("Dropout", {"x"}, {"d", "mask"}, "drop"), "ratio", 0.5f);
  seven.node("Relu", {"d"}, {"y"}, "relu");
  seven.output("y", {4});
  check_close(run_onnx(seven, x), {0, 0, 0.5, 1.5});

  // Dropout-12: training_mode input; true means random dropout.
  auto twelve = [](bool training) {
    OnnxBuilder b(12);
    b.input("x", {4});
    onnx::TensorProto* mode = b.graph->add_initializer();
    OnnxBuilder::fill(mode, "training", {}, onnx::TensorProto::BOOL);
    mode->add_int32_data(training ? 1 : 0);
    b.scalar("ratio", 0.5f);
    b.node("Dropout", {"x", "ratio", "training"}, {"d"}, "drop");
    b.node("Relu", {"d"}, {"y"}, "relu");
    b.output("y", {4});
    return b;
  };
  check_close(run_onnx(twelve(false), x), {0, 0, 0.5, 1.5});
  const std::string msg = import_error(twelve(true));
  CHECK(msg.find("node 'drop' (Dropout)") != std::string::npos);
  CHECK(msg.find("training_mode must be a constant false") != std::string::npos);
  CHECK(msg.find("opset 12") != std::string::npos);
}
