// QDQ import, continued from test_onnx_qdq.cpp: quantized weights, what
// octet rejects, opsets, fusions after folding, and the torch exports.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/onnx_builder.hpp"
#include "tests/qdq_builder.hpp"
#include "tests/skip.hpp"

using namespace octet;
using namespace octet::test;
using namespace octet::test::qdq;

// ---------------------------------------------------------------- weights

TEST_CASE("onnx qdq: int8 weights + DequantizeLinear become f32 weights with their scales") {
  const std::vector<int32_t> q = {-128, 5, 127, -3, 0, 1, -1, 64, 100, -100, 7, 9};
  SUBCASE("Conv, per output channel") {
    OnnxBuilder b;
    b.input("x", {1, 3, 4, 4});
    int_weight(b, "Wq", {2, 3, 1, 2}, q);
    const std::vector<float> s = {0.0123f, 0.5f};
    add_dq_weight(b, "Wq", "W", "w", s, 0);
    b.node("Conv", {"x", "W"}, {"y"}, "conv");
    b.output("y");
    const ImportResult r = b.import();
    const Graph& g = r.graph;
    check_no_qdq(g);
    REQUIRE(g.nodes.size() == 1);
    const Value& w = g.values[g.nodes[0].inputs[1]];
    CHECK(w.name == "W");
    CHECK(w.dtype == DataType::f32);
    CHECK(w.data.shape() == Shape{2, 3, 1, 2});
    std::vector<float> expected;
    for (size_t i = 0; i < q.size(); ++i) expected.push_back(static_cast<float>(q[i]) * s[i / 6]);
    CHECK(floats_of(w.data) == expected);
    REQUIRE(w.weight_quant);
    CHECK(w.weight_quant->axis == 0);
    REQUIRE(w.weight_quant->amax.size() == 2);
    for (size_t c = 0; c < 2; ++c) {
      CHECK(w.weight_quant->amax[c] / 127.f == s[c]);
      // The runtime's requantization gives q back.
      for (size_t i = c * 6; i < c * 6 + 6; ++i) {
        CHECK(std::nearbyint(expected[i] / (w.weight_quant->amax[c] / 127.f)) == q[i]);
      }
    }
    CHECK(g.find_value("Wq") == kNoValue);  // dropped once unused
    CHECK(has_line_containing(r,
                              "folded DequantizeLinear 'w/dq' of 'Wq' (int8) into f32 "
                              "constant 'W' with per-channel weight scales on output-channel "
                              "axis 0 of node 'conv' (Conv); q = -128 in 1 weights"));
  }
  SUBCASE("Conv, per tensor") {
    OnnxBuilder b;
    b.input("x", {1, 3, 4, 4});
    int_weight(b, "Wq", {2, 3, 1, 2}, q);
    add_dq_weight(b, "Wq", "W", "w", {0.03f});
    b.node("Conv", {"x", "W"}, {"y"}, "conv");
    b.output("y");
    const Graph g = b.import().graph;
    const Value& w = g.values[g.nodes.at(0).inputs[1]];
    std::vector<float> expected;
    for (int32_t v : q) expected.push_back(static_cast<float>(v) * 0.03f);
    CHECK(floats_of(w.data) == expected);
    REQUIRE(w.weight_quant);
    CHECK(w.weight_quant->axis == 0);
    REQUIRE(w.weight_quant->amax.size() == 2);
    CHECK(w.weight_quant->amax[0] == w.weight_quant->amax[1]);
    CHECK(w.weight_quant->amax[0] / 127.f == 0.03f);
  }
  SUBCASE("MatMul [K, N], per column, and per tensor") {
    for (bool per_axis : {true, false}) {
      CAPTURE(per_axis);
      OnnxBuilder b;
      b.input("x", {2, 4});
      int_weight(b, "Bq", {4, 3}, q);
      const std::vector<float> s =
          per_axis ? std::vector<float>{0.1f, 0.2f, 0.3f} : std::vector<float>{0.7f};
      add_dq_weight(b, "Bq", "B", "w", s, per_axis ? 1 : -99);
      b.node("MatMul", {"x", "B"}, {"y"}, "fc");
      b.output("y");
      const Graph g = b.import().graph;
      check_no_qdq(g);
      const Value& w = g.values[g.nodes.at(0).inputs[1]];
      std::vector<float> expected;
      for (size_t i = 0; i < q.size(); ++i) {
        expected.push_back(static_cast<float>(q[i]) * s[per_axis ? i % 3 : 0]);
      }
      CHECK(floats_of(w.data) == expected);
      REQUIRE(w.weight_quant);
      CHECK(w.weight_quant->axis == 1);
      REQUIRE(w.weight_quant->amax.size() == 3);
      for (size_t c = 0; c < 3; ++c) {
        CHECK(w.weight_quant->amax[c] / 127.f == s[per_axis ? c : 0]);
      }
    }
  }
  SUBCASE("Gemm transB=1 [N, K], per row") {
    OnnxBuilder b;
    b.input("x", {2, 4});
    int_weight(b, "Bq", {3, 4}, q);
    add_dq_weight(b, "Bq", "B", "w", {0.1f, 0.2f, 0.3f}, 0);
    onnx::NodeProto* gemm = b.node("Gemm", {"x", "B"}, {"y"}, "fc");
    OnnxBuilder::attr_int(gemm, "transB", 1);
    b.output("y");
    const Graph g = b.import().graph;
    const Value& w = g.values[g.nodes.at(0).inputs[1]];
    REQUIRE(w.weight_quant);
    CHECK(w.weight_quant->axis == 0);
    CHECK(w.weight_quant->amax.size() == 3);
  }
  SUBCASE("an int32 bias is just dequantized") {
    OnnxBuilder b;
    b.input("x", {1, 3, 4, 4});
    b.weight("W", {2, 3, 1, 1}, {1, 2, 3, 4, 5, 6});
    int_weight(b, "Bq", {2}, {1000, -7}, TP::INT32);
    b.weight("bs", {}, {0.001f});
    b.node("DequantizeLinear", {"Bq", "bs"}, {"B"}, "bias/dq");
    b.node("Conv", {"x", "W", "B"}, {"y"}, "conv");
    b.output("y");
    const ImportResult r = b.import();
    const Graph& g = r.graph;
    check_no_qdq(g);
    const Value& bias = g.values[g.nodes.at(0).inputs[2]];
    CHECK(floats_of(bias.data) == std::vector<float>{1000 * 0.001f, -7 * 0.001f});
    CHECK_FALSE(bias.weight_quant);
    CHECK(has_line_containing(r, "no weight scales kept"));
  }
}

TEST_CASE("onnx qdq: f32 weights + QuantizeLinear + DequantizeLinear") {
  // s = 0.5 and 0.25: W / s lands on halves (round to even), and beyond +-128 (saturate).
  const std::vector<float> w = {1.25f,  -1.25f,  1.75f,  0.3f,  1000.f, -1000.f,
                                0.625f, -0.375f, 0.125f, 31.8f, -32.1f, -31.9f};
  const std::vector<int32_t> q_axis0 = {2, -2, 4, 1, 127, -128, 2, -2, 0, 127, -128, -128};
  SUBCASE("Conv, per output channel") {
    OnnxBuilder b;
    b.input("x", {1, 3, 4, 4});
    b.weight("W", {2, 3, 1, 2}, w);
    add_qdq(b, "W", "Wd", "w", {0.5f, 0.25f}, Zp::s8, 0);
    b.node("Conv", {"x", "Wd"}, {"y"}, "conv");
    b.output("y");
    const ImportResult r = b.import();
    const Graph& g = r.graph;
    check_no_qdq(g);
    const Value& wd = g.values[g.nodes.at(0).inputs[1]];
    CHECK(wd.name == "Wd");
    std::vector<float> expected;
    for (size_t i = 0; i < w.size(); ++i) {
      expected.push_back(static_cast<float>(q_axis0[i]) * (i < 6 ? 0.5f : 0.25f));
    }
    CHECK(floats_of(wd.data) == expected);
    REQUIRE(wd.weight_quant);
    CHECK(wd.weight_quant->axis == 0);
    CHECK(wd.weight_quant->amax == std::vector<float>{0.5f * 127, 0.25f * 127});
    CHECK(has_line_containing(r,
                              "folded QuantizeLinear 'w/q' + DequantizeLinear 'w/dq' of 'W' "
                              "(int8) into f32 constant 'Wd' with per-channel weight scales"));
  }
  SUBCASE("MatMul, per tensor") {
    OnnxBuilder b;
    b.input("x", {2, 4});
    b.weight("W", {4, 3}, w);
    add_qdq(b, "W", "Wd", "w", {0.25f});
    b.node("MatMul", {"x", "Wd"}, {"y"}, "fc");
    b.output("y");
    const Graph g = b.import().graph;
    check_no_qdq(g);
    const Value& wd = g.values[g.nodes.at(0).inputs[1]];
    // W / 0.25: 5, -5, 7, 1.2, 4000, -4000, 2.5, -1.5, 0.5, 127.2, -128.4, -127.6
    CHECK(floats_of(wd.data) == std::vector<float>{1.25f, -1.25f, 1.75f, 0.25f, 31.75f, -32.f, 0.5f,
                                                   -0.5f, 0.f, 31.75f, -32.f, -32.f});
    REQUIRE(wd.weight_quant);
    CHECK(wd.weight_quant->axis == 1);
    CHECK(wd.weight_quant->amax == std::vector<float>(3, 0.25f * 127));
  }
  SUBCASE("a weight shared by two Conv nodes") {
    OnnxBuilder b;
    b.input("x", {1, 3, 4, 4});
    b.weight("W", {2, 3, 1, 2}, w);
    add_qdq(b, "W", "Wd", "w", {0.5f, 0.25f}, Zp::s8, 0);
    b.node("Conv", {"x", "Wd"}, {"y1"}, "conv1");
    b.node("Conv", {"x", "Wd"}, {"y2"}, "conv2");
    b.output("y1");
    b.output("y2");
    const Graph g = b.import().graph;
    check_no_qdq(g);
    REQUIRE(value_named(g, "Wd").weight_quant);
    CHECK(g.nodes.at(0).inputs[1] == g.nodes.at(1).inputs[1]);
  }
}

// ---------------------------------------------------------------- rejections

TEST_CASE("onnx qdq: what octet rejects") {
  SUBCASE("a non-zero zero point on an activation") {
    OnnxBuilder b;
    b.input("x", {4});
    add_qdq(b, "x", "y", "p", {0.5f}, Zp::u8, -99, {128});
    b.node("Relu", {"y"}, {"z"}, "relu");
    b.output("z");
    expect_unsupported(b, {"test.onnx", "node 'p/q' (QuantizeLinear)", "non-zero zero point",
                           "symmetric (zero-point 0) quantization only"});
  }
  SUBCASE("a non-zero zero point on a weight") {
    OnnxBuilder b;
    b.input("x", {2, 4});
    int_weight(b, "Bq", {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
    const std::vector<std::string> p = qparams(b, "w", {0.1f, 0.2f}, Zp::s8, {0, 3});
    onnx::NodeProto* dq = b.node("DequantizeLinear", with("Bq", p), {"B"}, "w/dq");
    OnnxBuilder::attr_int(dq, "axis", 1);
    b.node("MatMul", {"x", "B"}, {"y"}, "fc");
    b.output("y");
    expect_unsupported(b, {"node 'w/dq' (DequantizeLinear)", "non-zero zero point"});
  }
  SUBCASE("a lone QuantizeLinear") {
    OnnxBuilder b;
    b.input("x", {4});
    const std::vector<std::string> p = qparams(b, "p", {0.5f}, Zp::s8);
    b.node("QuantizeLinear", with("x", p), {"t"}, "q");
    b.node("Cast", {"t"}, {"y"}, "cast");
    b.output("y");
    expect_unsupported(
        b, {"node 'q' (QuantizeLinear)", "a QuantizeLinear not followed by a DequantizeLinear",
            "read by node 'cast' (Cast)"});
  }
  SUBCASE("a QuantizeLinear whose output is a graph output") {
    OnnxBuilder b;
    b.input("x", {4});
    const std::vector<std::string> p = qparams(b, "p", {0.5f}, Zp::s8);
    b.node("QuantizeLinear", with("x", p), {"t"}, "q");
    b.output("t");
    expect_unsupported(b, {"node 'q' (QuantizeLinear)", "not followed by a DequantizeLinear"});
  }
  SUBCASE("a lone DequantizeLinear") {
    OnnxBuilder b;
    b.input("xq", {4}, TP::INT8);
    const std::vector<std::string> p = qparams(b, "p", {0.5f}, Zp::s8);
    b.node("DequantizeLinear", with("xq", p), {"y"}, "dq");
    b.output("y");
    expect_unsupported(b, {"node 'dq' (DequantizeLinear)", "a DequantizeLinear whose input 'xq'",
                           "neither the output of a QuantizeLinear nor an int8 initializer"});
  }
  SUBCASE("a DequantizeLinear undoing another quantization") {
    OnnxBuilder b;
    b.input("x", {4});
    const std::vector<std::string> p1 = qparams(b, "p1", {0.5f}, Zp::s8);
    const std::vector<std::string> p2 = qparams(b, "p2", {0.25f}, Zp::s8);
    b.node("QuantizeLinear", with("x", p1), {"t"}, "q");
    b.node("DequantizeLinear", with("t", p2), {"y"}, "dq");
    b.output("y");
    expect_unsupported(b, {"node 'dq' (DequantizeLinear)", "other parameters"});
  }
  SUBCASE("per-channel activation scales") {
    OnnxBuilder b;
    b.input("x", {1, 2, 4, 4});
    add_qdq(b, "x", "y", "p", {0.5f, 0.25f}, Zp::s8, 1);
    b.node("Relu", {"y"}, {"z"}, "relu");
    b.output("z");
    expect_unsupported(b, {"node 'p/q' (QuantizeLinear)", "per-channel scales on activation 'x'"});
  }
  SUBCASE("Conv weight scales per input channel") {
    OnnxBuilder b;
    b.input("x", {1, 3, 4, 4});
    int_weight(b, "Wq", {2, 3, 1, 1}, {1, 2, 3, 4, 5, 6});
    add_dq_weight(b, "Wq", "W", "w", {0.1f, 0.2f, 0.3f}, 1);
    b.node("Conv", {"x", "W"}, {"y"}, "conv");
    b.output("y");
    expect_unsupported(
        b, {"node 'w/dq' (DequantizeLinear)", "per-axis scales along axis 1",
            "node 'conv' (Conv) has its output channels along axis 0", "per output channel only"});
  }
  SUBCASE("MatMul weight scales per row of B [K, N]") {
    OnnxBuilder b;
    b.input("x", {2, 3});
    b.weight("W", {3, 2}, {1, 2, 3, 4, 5, 6});
    add_qdq(b, "W", "Wd", "w", {0.1f, 0.2f, 0.3f}, Zp::s8, 0);
    b.node("MatMul", {"x", "Wd"}, {"y"}, "fc");
    b.output("y");
    expect_unsupported(b, {"node 'w/dq' (DequantizeLinear)", "per-axis scales along axis 0",
                           "node 'fc' (MatMul) has its output channels along axis 1"});
  }
  SUBCASE("uint8 weights") {
    OnnxBuilder b;
    b.input("x", {2, 2});
    int_weight(b, "Bq", {2, 2}, {1, 2, 200, 4}, TP::UINT8);
    b.weight("bs", {}, {0.5f});
    b.node("DequantizeLinear", {"Bq", "bs"}, {"B"}, "w/dq");
    b.node("MatMul", {"x", "B"}, {"y"}, "fc");
    b.output("y");
    expect_unsupported(b, {"node 'w/dq' (DequantizeLinear)", "quantized as uint8",
                           "octet quantizes weights as int8"});
  }
  SUBCASE("a scale computed at run time") {
    OnnxBuilder b;
    b.input("x", {4});
    b.input("s", {});
    b.node("QuantizeLinear", {"x", "s"}, {"t"}, "q");
    b.node("DequantizeLinear", {"t", "s"}, {"y"}, "dq");
    b.output("y");
    expect_unsupported(b, {"node 'q' (QuantizeLinear)", "the scale must be an initializer"});
  }
}

TEST_CASE("onnx qdq: opsets") {
  // QuantizeLinear-10 / DequantizeLinear-10 are per-tensor only; axis came with opset 13.
  SUBCASE("per-axis below opset 13 is rejected") {
    for (int64_t opset : {10, 12}) {
      CAPTURE(opset);
      OnnxBuilder b(opset);
      b.input("x", {2, 3});
      int_weight(b, "Bq", {3, 2}, {1, 2, 3, 4, 5, 6});
      add_dq_weight(b, "Bq", "B", "w", {0.1f, 0.2f}, 1);
      b.node("MatMul", {"x", "B"}, {"y"}, "fc");
      b.output("y");
      expect_unsupported(b, {"node 'w/dq' (DequantizeLinear)", "per-axis scales need opset 13",
                             "the model uses opset " + std::to_string(opset)});
    }
  }
  SUBCASE("per-tensor at opsets 10 and 11 is fine") {
    for (int64_t opset : {10, 11}) {
      CAPTURE(opset);
      OnnxBuilder b(opset);
      b.input("x", {2, 3});
      add_qdq(b, "x", "xd", "a", {0.05f});
      int_weight(b, "Bq", {3, 2}, {1, 2, 3, 4, 5, 6});
      add_dq_weight(b, "Bq", "B", "w", {0.1f});
      b.node("MatMul", {"xd", "B"}, {"y"}, "fc");
      b.output("y");
      const Graph g = b.import().graph;
      check_no_qdq(g);
      REQUIRE(value_named(g, "x").quant);
      REQUIRE(value_named(g, "B").weight_quant);
    }
  }
}

// ---------------------------------------------------------------- with the other passes

TEST_CASE("onnx qdq: the fusions still happen after folding") {
  SUBCASE("Conv + BatchNormalization + Relu, then Conv + Add + Relu (ResNet block)") {
    OnnxBuilder b;
    b.input("x", {1, 2, 4, 4});
    add_qdq(b, "x", "xd", "in", {0.02f});
    int_weight(b, "W1q", {2, 2, 1, 1}, {10, -20, 30, 127});
    add_dq_weight(b, "W1q", "W1", "w1", {0.01f, 0.02f}, 0);
    b.node("Conv", {"xd", "W1"}, {"c1"}, "conv1");
    b.weight("gamma", {2}, {3, 2});
    b.weight("beta", {2}, {1, -1});
    b.weight("mean", {2}, {0.5f, 1});
    b.weight("var", {2}, {3, 15});
    onnx::NodeProto* bn =
        b.node("BatchNormalization", {"c1", "gamma", "beta", "mean", "var"}, {"bn1"}, "bn1");
    OnnxBuilder::attr_float(bn, "epsilon", 1.0f);
    b.node("Relu", {"bn1"}, {"r1"}, "relu1");
    add_qdq(b, "r1", "r1d", "mid", {0.04f}, Zp::u8);
    b.weight("W2", {2, 2, 1, 1}, {1, 0.5f, -0.5f, 1});
    add_qdq(b, "W2", "W2d", "w2", {0.01f});
    b.node("Conv", {"r1d", "W2d"}, {"c2"}, "conv2");
    b.node("Add", {"c2", "xd"}, {"s"}, "add");
    b.node("Relu", {"s"}, {"out"}, "relu2");
    b.output("out");
    const ImportResult r = b.import();
    const Graph& g = r.graph;
    check_no_qdq(g);
    REQUIRE(g.nodes.size() == 2);
    const Node& conv1 = g.nodes[0];
    const Node& conv2 = g.nodes[1];
    CHECK(conv1.name == "conv1");
    CHECK(conv1.attr_string("activation", "none") == "relu");
    CHECK(input_names(g, conv1)[0] == "x");
    CHECK(value_name(g, conv1.outputs[0]) == "r1");
    CHECK(conv2.attr_string("activation", "none") == "relu");
    CHECK(input_names(g, conv2)[0] == "r1");
    CHECK(input_names(g, conv2)[3] == "x");  // the residual
    CHECK(value_name(g, conv2.outputs[0]) == "out");
    CHECK(value_named(g, "x").quant->scale() == 0.02f);
    CHECK(value_named(g, "r1").quant->scale() == 0.04f);
    CHECK(value_named(g, "r1").quant->dtype == DataType::u8);
    REQUIRE(g.values[conv2.inputs[1]].weight_quant);
    // conv1's learned weight ranges follow the BatchNorm folding:
    // amax_c = 127 * s_c * |gamma_c / sqrt(var_c + eps)| = 127 * {0.01 * 3/2, 0.02 * 2/4}.
    const std::optional<WeightQuant>& wq1 = g.values[conv1.inputs[1]].weight_quant;
    REQUIRE(wq1);
    CHECK(wq1->axis == 0);
    CHECK(wq1->amax[0] == doctest::Approx(127 * 0.015).epsilon(1e-6));
    CHECK(wq1->amax[1] == doctest::Approx(127 * 0.01).epsilon(1e-6));
    CHECK(has_line_containing(r, "folded BatchNormalization 'bn1' into Conv 'conv1'"));
    CHECK(has_line_containing(r, "fused Conv 'conv2' + Add 'add' + Relu 'relu2'"));
  }
  SUBCASE("MatMul + bias + Relu") {
    OnnxBuilder b;
    b.input("x", {2, 4});
    add_qdq(b, "x", "xd", "in", {0.02f});
    int_weight(b, "Bq", {4, 3}, std::vector<int32_t>(12, 3));
    add_dq_weight(b, "Bq", "B", "w", {0.1f, 0.2f, 0.3f}, 1);
    b.weight("bias", {3}, {1, 2, 3});
    b.node("MatMul", {"xd", "B"}, {"m"}, "fc");
    b.node("Add", {"bias", "m"}, {"a"}, "add");
    b.node("Relu", {"a"}, {"y"}, "relu");
    b.output("y");
    const Graph g = b.import().graph;
    REQUIRE(g.nodes.size() == 1);
    const Node& mm = g.nodes[0];
    CHECK(mm.op == "MatMul");
    CHECK(input_names(g, mm) == std::vector<std::string>{"x", "B", "bias"});
    CHECK(mm.attr_string("activation", "none") == "relu");
    REQUIRE(value_named(g, "B").weight_quant);
    CHECK(value_named(g, "B").weight_quant->axis == 1);
  }
}

// ---------------------------------------------------------------- real exports

// The QAT-style exports of tools/export/qdq.py, looked up in $OCTET_QDQ_MODELS
// (default /tmp/octet-qdq); each one missing marks the test skipped. Every
// Conv/MatMul/Gemm must end up with quantized inputs and weight scales, and no
// QDQ op may be left.
TEST_CASE("onnx qdq: tools/export/qdq.py exports (skipped when absent)") {
  const char* env = std::getenv("OCTET_QDQ_MODELS");
  const std::filesystem::path dir = env ? env : "/tmp/octet-qdq";
  for (const char* name : {"convnet-qdq.onnx", "bert-tiny-qdq.onnx"}) {
    const std::filesystem::path path = dir / name;
    if (!std::filesystem::exists(path)) {
      octet::test::record_skip("no " + path.string() + " (torch absent?)");
      continue;
    }
    CAPTURE(name);
    const Graph g = import_onnx_file(path.string()).graph;
    check_no_qdq(g);
    CHECK(count_ops(g, "Identity") == 0);
    int layers = 0;
    for (const Node& n : g.nodes) {
      if (n.op != "Conv" && n.op != "MatMul" && n.op != "Gemm") continue;
      CAPTURE(n.name);
      ++layers;
      CHECK(g.values[n.inputs[0]].quant);
      const Value& b = g.values[n.inputs[1]];
      CHECK((b.is_initializer() ? b.weight_quant.has_value() : b.quant.has_value()));
    }
    CHECK(layers == (std::string(name) == "convnet-qdq.onnx" ? 4 : 18));
  }
}
