// The two model transforms only `octet study` uses: weight-only int8
// (Model::with_fake_quantized_weights, per channel and per tensor) and an
// ONNX import that keeps BatchNormalization unfolded (ImportOptions).
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>

#include "runtime/model/model.hpp"
#include "tests/onnx_builder.hpp"
#include "tests/temp_dir.hpp"
#include "tests/test_graph.hpp"

using namespace octet;
using namespace octet::test;

namespace {

Tensor f32(Shape shape, const std::vector<float>& v) {
  Tensor t(DataType::f32, std::move(shape));
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

// The weight a node reads as input `i`, after a transform.
std::vector<float> weight_of(const Model& m, const std::string& node, size_t i = 1) {
  const Graph& g = model_data(m).graph;
  for (const Node& n : g.nodes) {
    if (n.name == node) return floats_of(g.values.at(n.inputs.at(i)).data);
  }
  throw std::runtime_error("no node " + node);
}

// What the transform must compute, written out independently: q = w / s
// rounded half to even, clamped to [-127, 127], times s.
std::vector<float> expected(const std::vector<float>& w, const std::vector<float>& scale_of) {
  std::vector<float> out;
  for (size_t i = 0; i < w.size(); ++i) {
    const float q = std::nearbyint(w[i] / scale_of[i]);
    out.push_back(std::fmax(-127.f, std::fmin(127.f, q)) * scale_of[i]);
  }
  return out;
}

std::vector<float> run(const Model& m, const Tensor& x) {
  SessionOptions o;
  o.threads = 1;
  o.precision = Precision::fp32;
  Session s(m, o);
  return floats_of(s.run({x}).at(0));
}

}  // namespace

TEST_CASE("study: weights fake-quantized per channel and per tensor, rounded half to even") {
  TestGraph t;
  const int x = t.input("x", {1, 1, 1, 4});
  // Conv W [2,1,1,4]: channel 0 spans 127 (scale 1: 2.5 -> 2 and 3.5 -> 4
  // test the rounding), channel 1 is a hundred times smaller.
  const std::vector<float> w = {127, 2.5f, 3.5f, -0.5f, 1.27f, 0.5f, -0.3f, 0.011f};
  const int c = t.node("Conv", "conv", {x, t.constant("W", f32({2, 1, 1, 4}, w))},
                       {{"kernel_shape", std::vector<int64_t>{1, 4}}});
  // MatMul B [K=2, N=2]: output channels along axis 1; Gemm B [N=2, K=2]
  // with transB: along axis 0. A MatMul of two constants is no int8 layer.
  const std::vector<float> b = {254, 0.4f, 1.5f, 0.1f};
  const int flat = t.node("Reshape", "flat", {c, t.constant("shape", [] {
                                                Tensor s(DataType::s64, {2});
                                                s.data<int64_t>()[0] = 1;
                                                s.data<int64_t>()[1] = 2;
                                                return s;
                                              }())});
  const int mm = t.node("MatMul", "mm", {flat, t.constant("B", f32({2, 2}, b))});
  const int gemm =
      t.node("Gemm", "gemm", {mm, t.constant("G", f32({2, 2}, b))}, {{"transB", int64_t{1}}});
  const int konst =
      t.node("MatMul", "const_mm",
             {t.constant("K1", f32({1, 2}, {1, 1})), t.constant("K2", f32({2, 2}, b))});
  t.output(t.node("Add", "sum", {gemm, konst}));
  const Model model = t.model();

  const Model per_channel = model.with_fake_quantized_weights(WeightGranularity::per_channel);
  const Model per_tensor = model.with_fake_quantized_weights(WeightGranularity::per_tensor);
  const float s0 = 1, s1 = 1.27f / 127;
  CHECK(weight_of(per_channel, "conv") == expected(w, {s0, s0, s0, s0, s1, s1, s1, s1}));
  CHECK(weight_of(per_channel, "conv")[1] == 2);  // 2.5: half to even
  CHECK(weight_of(per_channel, "conv")[2] == 4);  // 3.5
  // Per tensor, channel 1 shares channel 0's scale of 1: 1.27 -> 1, 0.5 -> 0
  // (half to even), -0.3 and 0.011 -> 0.
  CHECK(weight_of(per_tensor, "conv") == std::vector<float>{127, 2, 4, -0.f, 1, 0, -0.f, 0});
  // MatMul: columns {254, 1.5} and {0.4, 0.1}; Gemm (transB): rows {254, 0.4} and {1.5, 0.1}.
  const float col0 = 254.f / 127, col1 = 0.4f / 127, row1 = 1.5f / 127;
  CHECK(weight_of(per_channel, "mm") == expected(b, {col0, col1, col0, col1}));
  CHECK(weight_of(per_channel, "gemm") == expected(b, {col0, col0, row1, row1}));
  CHECK(weight_of(per_tensor, "mm") == expected(b, {col0, col0, col0, col0}));
  CHECK(weight_of(per_tensor, "gemm") == expected(b, {col0, col0, col0, col0}));
  CHECK(weight_of(per_channel, "const_mm") == b);
  CHECK(weight_of(per_tensor, "const_mm") == b);
  // The originals are untouched, and the model still runs (in fp32).
  CHECK(weight_of(model, "conv") == w);
  const Tensor input = f32({1, 1, 1, 4}, {0.5f, -1, 2, 0.25f});
  const std::vector<float> ref = run(model, input), pc = run(per_channel, input),
                           pt = run(per_tensor, input);
  REQUIRE(ref.size() == 2);
  double err_pc = 0, err_pt = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    err_pc += std::fabs(pc[i] - ref[i]);
    err_pt += std::fabs(pt[i] - ref[i]);
  }
  CHECK(err_pc > 0);
  CHECK(err_pt > err_pc);
}

TEST_CASE("study: a weight that is NaN cannot be quantized, and the error names the node") {
  TestGraph t;
  const int x = t.input("x", {1, 2});
  t.output(t.node("MatMul", "fc", {x, t.constant("B", f32({2, 1}, {1, std::nanf("")}))}));
  const Model model = t.model();
  CHECK_THROWS_WITH_AS(model.with_fake_quantized_weights(WeightGranularity::per_channel),
                       doctest::Contains("node 'fc' (MatMul)"), Error);
}

TEST_CASE("study: an ONNX import that keeps BatchNormalization computes the same") {
  // x [1,2,4,4] -> Conv (W [3,2,3,3], pads 1) -> BatchNormalization -> Relu -> y.
  OnnxBuilder b;
  b.input("x", {1, 2, 4, 4});
  std::vector<float> w(3 * 2 * 3 * 3);
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.7f * static_cast<float>(i)) * 0.5f;
  b.weight("W", {3, 2, 3, 3}, w);
  onnx::NodeProto* conv = b.node("Conv", {"x", "W"}, {"c"}, "conv");
  OnnxBuilder::attr_ints(conv, "pads", {1, 1, 1, 1});
  b.weight("gamma", {3}, {2, 2, 0.25f});
  b.weight("beta", {3}, {0.1f, -0.2f, 0.3f});
  b.weight("mean", {3}, {0.05f, -0.1f, 0.2f});
  b.weight("var", {3}, {4, 0.25f, 1});
  b.node("BatchNormalization", {"c", "gamma", "beta", "mean", "var"}, {"n"}, "bn");
  b.node("Relu", {"n"}, {"y"}, "relu");
  b.output("y");
  TempDir dir;
  const std::string path = dir.file("conv_bn.onnx");
  std::ofstream(path, std::ios::binary) << b.bytes();

  const Model folded = Model::import_onnx(path);
  ImportOptions keep;
  keep.fold_batchnorm = false;
  const Model unfolded = Model::import_onnx(path, keep);
  auto ops = [](const Model& m) {
    std::vector<std::string> out;
    for (const Node& n : model_data(m).graph.nodes) out.push_back(n.op);
    return out;
  };
  CHECK(ops(folded) == std::vector<std::string>{"Conv"});
  CHECK(ops(unfolded) == std::vector<std::string>{"Conv", "BatchNormalization"});
  CHECK(weight_of(unfolded, "conv") == w);  // the weights before folding
  bool folded_logged = false;
  for (const std::string& line : folded.import_log()) {
    folded_logged = folded_logged || line.find("folded BatchNormalization 'bn'") == 0;
  }
  CHECK(folded_logged);
  for (const std::string& line : unfolded.import_log()) CHECK(line.find("folded Batch") != 0);

  Tensor x(DataType::f32, {1, 2, 4, 4});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = std::cos(0.3f * i);
  const std::vector<float> a = run(folded, x), u = run(unfolded, x);
  REQUIRE(a.size() == u.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(u[i] == doctest::Approx(a[i]).epsilon(1e-5));
  // Quantizing before folding sees other weights than after it. gamma /
  // sigma is about {1, 4, 0.25}: folded, channel 1's range sets the one
  // per-tensor scale and channel 2 keeps few levels; before folding, the
  // channels have similar ranges (the paper's case against per-tensor scales
  // after folding).
  auto error = [&](const Model& m) {
    const std::vector<float> got = run(m, x);
    double e = 0;
    for (size_t i = 0; i < a.size(); ++i) e += std::fabs(got[i] - a[i]);
    return e;
  };
  const WeightGranularity tensor = WeightGranularity::per_tensor;
  CHECK(weight_of(unfolded.with_fake_quantized_weights(tensor), "conv") !=
        weight_of(unfolded, "conv"));
  CHECK(error(folded.with_fake_quantized_weights(tensor)) >
        2 * error(unfolded.with_fake_quantized_weights(tensor)));
}
