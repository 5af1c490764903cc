// Activations fused into Conv, MatMul, Gemm and BatchNormalization
// (ops/activation.hpp): every kind against the plain reference kernel in
// fp32, in int8 against fp32 with an int8 and an f32 destination (the
// activations that do not commute with the destination scale must see real
// values), and the importer patterns that produce them
// (loaders/onnx/match_activation.cpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "ops/activation.hpp"
#include "tests/onnx_builder.hpp"
#include "tests/op_harness.hpp"
#include "tests/test_graph.hpp"

using namespace octet;
using test::count_layers;
using test::layer_named;

namespace {

struct Act {
  std::string name;
  std::vector<double> params;
};

// Every kind, with the parameters the zoo's nets use (ReLU6, torch's hardsigmoid).
const std::vector<Act> kActs = {
    {"none", {}},          {"relu", {}},    {"clip", {0.0, 6.0}},
    {"clip", {-1.0, 1.5}}, {"sigmoid", {}}, {"hardsigmoid", {1.0 / 6.0, 0.5}},
    {"hardswish", {}},     {"swish", {}},   {"gelu", {}}};

std::map<std::string, AttrValue> act_attrs(const Act& a, std::map<std::string, AttrValue> attrs) {
  attrs["activation"] = a.name;
  if (!a.params.empty()) attrs["activation_params"] = a.params;
  return attrs;
}

void check_matches_reference(const test::OpCase& c) {
  const Tensor ref = test::run_reference(c)[0];
  const Tensor got = test::run_session(c)[0];
  const double err = test::max_abs_diff(got, ref);
  INFO("max error " << err << " of max " << test::max_abs(ref));
  CHECK(err <= 2e-5 * std::max(1.0, test::max_abs(ref)));
}

}  // namespace

TEST_CASE("fused activation: Conv (dense, depthwise), MatMul, Gemm and BN match the reference") {
  const Tensor x = test::random_tensor(DataType::f32, {2, 8, 9, 7}, 1, -3.f, 3.f);
  for (const Act& a : kActs) {
    CAPTURE(a.name);
    CAPTURE(a.params.size());
    test::OpCase conv{"Conv",
                      act_attrs(a, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}),
                      {x, test::random_tensor(DataType::f32, {6, 8, 3, 3}, 2, -0.3f, 0.3f),
                       test::random_tensor(DataType::f32, {6}, 3)},
                      {false, true, true}};
    check_matches_reference(conv);
    test::OpCase depthwise{
        "Conv",
        act_attrs(a, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}, {"group", int64_t{8}}}),
        {x, test::random_tensor(DataType::f32, {8, 1, 3, 3}, 4),
         test::random_tensor(DataType::f32, {8}, 5)},
        {false, true, true}};
    check_matches_reference(depthwise);
    test::OpCase matmul{"MatMul",
                        act_attrs(a, {}),
                        {test::random_tensor(DataType::f32, {2, 5, 16}, 6, -2.f, 2.f),
                         test::random_tensor(DataType::f32, {16, 12}, 7, -0.5f, 0.5f),
                         test::random_tensor(DataType::f32, {12}, 8)},
                        {false, true, true}};
    check_matches_reference(matmul);
    test::OpCase gemm{"Gemm",
                      act_attrs(a, {{"transB", int64_t{1}}}),
                      {test::random_tensor(DataType::f32, {3, 16}, 9, -2.f, 2.f),
                       test::random_tensor(DataType::f32, {12, 16}, 10, -0.5f, 0.5f),
                       test::random_tensor(DataType::f32, {12}, 11)},
                      {false, true, true}};
    check_matches_reference(gemm);
    test::OpCase bn{
        "BatchNormalization",
        act_attrs(a, {}),
        {x, test::random_tensor(DataType::f32, {8}, 12, 0.5f, 1.5f),
         test::random_tensor(DataType::f32, {8}, 13), test::random_tensor(DataType::f32, {8}, 14),
         test::random_tensor(DataType::f32, {8}, 15, 0.5f, 1.5f)},
        {false, true, true, true, true}};
    check_matches_reference(bn);
  }
}

TEST_CASE("fused activation: an unknown activation or wrong parameters name the node") {
  test::OpCase c{"Conv",
                 {{"activation", std::string("mish")}},
                 {test::random_tensor(DataType::f32, {1, 2, 3, 3}, 1),
                  test::random_tensor(DataType::f32, {2, 2, 1, 1}, 2)},
                 {false, true}};
  CHECK_THROWS_WITH(test::run_session(c),
                    doctest::Contains("activation 'mish' (expected one of none, relu, clip"));
  c.attrs["activation"] = std::string("clip");
  CHECK_THROWS_WITH(test::run_session(c),
                    doctest::Contains("activation 'clip' takes 2 activation_params, got 0"));
  c.attrs["activation_params"] = std::vector<double>{1.0, -1.0};
  CHECK_THROWS_WITH(test::run_session(c), doctest::Contains("clip activation with min > max"));
}

namespace {

// x -> first (Conv or Linear with the activation) -> second (an int8 reader,
// so the first writes int8 when `int8_dst`) -> out, and the first's output
// also as a graph output (read in f32: dequantized once, from its int8 form).
struct ChainResult {
  double cosine, max_err_rel;
  std::map<std::string, int> layers;
  std::string first_precision;
};

ChainResult run_chain(const Act& a, bool linear, bool int8_dst) {
  test::TestGraph tg;
  const Shape in_shape = linear ? Shape{4, 24} : Shape{1, 8, 10, 12};
  const int x = tg.input("x", in_shape);
  int first;
  if (linear) {
    first = tg.node(
        "Gemm", "first",
        {x, tg.constant("w1", test::random_tensor(DataType::f32, {24, 16}, 21, -0.4f, 0.4f)),
         tg.constant("b1", test::random_tensor(DataType::f32, {16}, 22))},
        act_attrs(a, {}));
  } else {
    first = tg.node(
        "Conv", "first",
        {x, tg.constant("w1", test::random_tensor(DataType::f32, {8, 8, 3, 3}, 21, -0.2f, 0.2f)),
         tg.constant("b1", test::random_tensor(DataType::f32, {8}, 22))},
        act_attrs(a, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  }
  int second = first;
  if (int8_dst) {
    second =
        linear
            ? tg.node("Gemm", "second",
                      {first, tg.constant("w2", test::random_tensor(DataType::f32, {16, 8}, 23))})
            : tg.node(
                  "Conv", "second",
                  {first, tg.constant("w2", test::random_tensor(DataType::f32, {4, 8, 1, 1}, 23))});
  }
  tg.output(second);
  const Tensor in = test::random_tensor(DataType::f32, in_shape, 24, -2.f, 2.f);
  SessionOptions fp32;
  fp32.precision = Precision::fp32;
  fp32.threads = 2;
  // (When `first` is the graph output already, with_outputs adds nothing.)
  const Tensor ref_first =
      Session(tg.model().with_outputs({"first.out"}), fp32).run({in}).back().clone();
  const Tensor ref = Session(tg.model(), fp32).run({in})[0].clone();
  tg.range(x, static_cast<float>(test::max_abs(in)), DataType::s8);
  FusedActivation act = FusedActivation::of(tg.g.nodes[0]);
  tg.range(first, static_cast<float>(test::max_abs(ref_first)),
           act.non_negative() ? DataType::u8 : DataType::s8);
  SessionOptions int8;
  int8.threads = 2;
  Session s(tg.model(), int8);
  const Tensor got = s.run({in})[0].clone();
  return {test::cosine(got, ref), test::max_abs_diff(got, ref) / test::max_abs(ref),
          count_layers(s), layer_named(s, "first").precision};
}

}  // namespace

TEST_CASE("fused activation: int8 Conv and Gemm with each activation, int8 and f32 destinations") {
  for (const Act& a : kActs) {
    for (bool linear : {false, true}) {
      for (bool int8_dst : {false, true}) {
        CAPTURE(a.name);
        CAPTURE(a.params.size());
        CAPTURE(linear);
        CAPTURE(int8_dst);
        ChainResult r = run_chain(a, linear, int8_dst);
        INFO("cosine " << r.cosine << ", max error " << r.max_err_rel << " x max|output|");
        CHECK(r.first_precision == "int8");
        CHECK(r.layers["Quantize:int8"] == 1);
        CHECK(r.layers["Dequantize:fp32"] == 0);  // the int8 first layer is read in int8 only
        // One 8-bit rounding of the input (and of the first's output), 7-bit
        // weights without VNNI: the measured worst is about 0.9995 / 3%.
        CHECK(r.cosine >= 0.998);
        CHECK(r.max_err_rel <= 0.06);
      }
    }
  }
}

// ---------------------------------------------------------------- importer

namespace {

// x [1,2,4,4] -> Conv(W) -> c, then `add_activation(b)` reading "c" and writing "y".
template <class F>
ImportResult import_conv_with(F add_activation, int64_t opset = 13) {
  test::OnnxBuilder b(opset);
  b.input("x", {1, 2, 4, 4});
  b.weight("W", {2, 2, 1, 1}, {1, 0, 0, 1});
  b.node("Conv", {"x", "W"}, {"c"}, "conv");
  add_activation(b);
  b.output("y");
  return b.import();
}

std::string activation_of(const Graph& g) {
  return g.nodes.at(0).attr_string("activation", "none");
}

bool logged(const ImportResult& r, const std::string& line) {
  return std::find(r.log.begin(), r.log.end(), line) != r.log.end();
}

}  // namespace

TEST_CASE("onnx passes: Conv + each activation pattern torch exports is one Conv") {
  SUBCASE("Clip with constant bounds (ReLU6)") {
    const ImportResult r = import_conv_with([](test::OnnxBuilder& b) {
      b.scalar("lo", 0.f);
      b.scalar("hi", 6.f);
      b.node("Clip", {"c", "lo", "hi"}, {"y"}, "relu6");
    });
    REQUIRE(r.graph.nodes.size() == 1);
    CHECK(activation_of(r.graph) == "clip");
    CHECK(r.graph.nodes[0].attr_floats("activation_params") == std::vector<double>{0, 6});
    CHECK(logged(r, "fused Conv 'conv' + Clip 'relu6'"));
  }
  SUBCASE("Clip with only a lower bound of 0 is a Relu; opset-6 attributes") {
    const ImportResult r = import_conv_with([](test::OnnxBuilder& b) {
      b.scalar("lo", 0.f);
      b.node("Clip", {"c", "lo"}, {"y"}, "clip");
    });
    CHECK(activation_of(r.graph) == "relu");
    const ImportResult r6 = import_conv_with(
        [](test::OnnxBuilder& b) {
          onnx::NodeProto* n = b.node("Clip", {"c"}, {"y"}, "clip");
          test::OnnxBuilder::attr_float(n, "min", -1.f);
          test::OnnxBuilder::attr_float(n, "max", 1.f);
        },
        11);
    REQUIRE(r6.graph.nodes.size() == 1);
    CHECK(r6.graph.nodes[0].attr_floats("activation_params") == std::vector<double>{-1, 1});
  }
  SUBCASE("Sigmoid, HardSigmoid (its alpha, beta), HardSwish") {
    CHECK(activation_of(import_conv_with([](test::OnnxBuilder& b) {
                          b.node("Sigmoid", {"c"}, {"y"}, "s");
                        }).graph) == "sigmoid");
    const Graph g = import_conv_with([](test::OnnxBuilder& b) {
                      onnx::NodeProto* n = b.node("HardSigmoid", {"c"}, {"y"}, "h");
                      test::OnnxBuilder::attr_float(n, "alpha", 1.f / 6.f);
                    }).graph;
    CHECK(activation_of(g) == "hardsigmoid");
    const std::vector<double> params = g.nodes.at(0).attr_floats("activation_params");
    REQUIRE(params.size() == 2);
    CHECK(params[0] == doctest::Approx(1.0 / 6.0));
    CHECK(params[1] == 0.5);  // the ONNX default
    CHECK(
        activation_of(import_conv_with(
                          [](test::OnnxBuilder& b) { b.node("HardSwish", {"c"}, {"y"}, "hs"); }, 14)
                          .graph) == "hardswish");
  }
  SUBCASE("SiLU: Mul(c, Sigmoid(c)), either operand order") {
    for (bool swap : {false, true}) {
      const ImportResult r = import_conv_with([swap](test::OnnxBuilder& b) {
        b.node("Sigmoid", {"c"}, {"s"}, "sig");
        b.node("Mul",
               swap ? std::vector<std::string>{"s", "c"} : std::vector<std::string>{"c", "s"},
               {"y"}, "mul");
      });
      REQUIRE(r.graph.nodes.size() == 1);
      CHECK(activation_of(r.graph) == "swish");
      CHECK(logged(r, "fused Conv 'conv' + Mul 'mul' with Sigmoid 'sig'"));
    }
  }
  SUBCASE("hardswish as torch exports it before opset 14: Mul(c, HardSigmoid(c; 1/6, 0.5))") {
    const ImportResult r = import_conv_with([](test::OnnxBuilder& b) {
      onnx::NodeProto* n = b.node("HardSigmoid", {"c"}, {"h"}, "hsig");
      test::OnnxBuilder::attr_float(n, "alpha", 1.f / 6.f);
      b.node("Mul", {"c", "h"}, {"y"}, "mul");
    });
    REQUIRE(r.graph.nodes.size() == 1);
    CHECK(activation_of(r.graph) == "hardswish");
  }
}

TEST_CASE("onnx passes: Gemm + activation, and a BatchNormalization after no Conv + Relu") {
  test::OnnxBuilder b;
  b.input("x", {1, 4});
  b.weight("W", {3, 4}, {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0});
  onnx::NodeProto* gemm = b.node("Gemm", {"x", "W"}, {"g"}, "fc");
  test::OnnxBuilder::attr_int(gemm, "transB", 1);
  b.node("HardSwish", {"g"}, {"y"}, "act");
  b.output("y");
  b.model.mutable_opset_import(0)->set_version(14);
  const ImportResult r = b.import();
  REQUIRE(r.graph.nodes.size() == 1);
  CHECK(activation_of(r.graph) == "hardswish");
  CHECK(logged(r, "fused Gemm 'fc' + HardSwish 'act'"));

  test::OnnxBuilder d;  // DenseNet: Concat -> BN -> Relu -> Conv
  d.input("a", {1, 1, 2, 2});
  d.input("x", {1, 1, 2, 2});
  onnx::NodeProto* cat = d.node("Concat", {"a", "x"}, {"cat"}, "cat");
  test::OnnxBuilder::attr_int(cat, "axis", 1);
  for (const char* p : {"gamma", "beta", "mean", "var"}) d.weight(p, {2}, {1, 2});
  d.node("BatchNormalization", {"cat", "gamma", "beta", "mean", "var"}, {"n"}, "norm");
  d.node("Relu", {"n"}, {"y"}, "relu");
  d.output("y");
  const ImportResult rd = d.import();
  REQUIRE(rd.graph.nodes.size() == 2);
  CHECK(rd.graph.nodes[1].op == "BatchNormalization");
  CHECK(rd.graph.nodes[1].attr_string("activation") == "relu");
  CHECK(logged(rd, "fused BatchNormalization 'norm' + Relu 'relu'"));
}

TEST_CASE("onnx passes: activations that must stay apart") {
  SUBCASE("a Mul of the conv output with a Sigmoid of something else") {
    test::OnnxBuilder b;
    b.input("x", {1, 2, 4, 4});
    b.weight("W", {2, 2, 1, 1}, {1, 0, 0, 1});
    b.node("Conv", {"x", "W"}, {"c"}, "conv");
    b.node("Relu", {"x"}, {"r"}, "other");
    b.node("Mul", {"c", "r"}, {"y"}, "mul");
    b.output("y");
    const Graph g = b.import().graph;
    CHECK(g.nodes.size() == 3);
    CHECK_FALSE(test::find_node(g, "Conv")->has_attr("activation"));
  }
}
