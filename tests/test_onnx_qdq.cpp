// QuantizeLinear / DequantizeLinear folding (pass_fold_qdq), run through
// import_onnx_bytes: activation pairs become Value::quant, quantized weights
// become f32 initializers with Value::weight_quant, and what octet does not
// implement is rejected with a message naming the node. Activation pairs
// here; weights, rejections, opsets and fusions in test_onnx_qdq_weights.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/onnx_builder.hpp"
#include "tests/qdq_builder.hpp"

using namespace octet;
using namespace octet::test;
using namespace octet::test::qdq;

// ---------------------------------------------------------------- activations

TEST_CASE("onnx qdq: an activation pair becomes the scale of its input (s8, u8)") {
  struct Case {
    Zp zp;
    DataType dtype;
    float levels;
  };
  for (const Case c : {Case{Zp::s8, DataType::s8, 127.f}, Case{Zp::u8, DataType::u8, 255.f},
                       Case{Zp::none, DataType::u8, 255.f}}) {
    CAPTURE(static_cast<int>(c.zp));
    OnnxBuilder b;
    b.input("x", {1, 2, 4, 4});
    b.node("Relu", {"x"}, {"r"}, "relu");
    add_qdq(b, "r", "y", "in", {0.0123f}, c.zp);
    b.weight("W", {2, 2, 1, 1}, {1, 0, 0, 1});
    b.node("Conv", {"y", "W"}, {"out"}, "conv");
    b.output("out");
    const ImportResult r = b.import();
    const Graph& g = r.graph;
    check_no_qdq(g);
    const Node* conv = find_node(g, "Conv");
    REQUIRE(conv);
    CHECK(value_name(g, conv->inputs[0]) == "r");
    CHECK(g.find_value("y") == kNoValue);
    const Value& v = value_named(g, "r");
    REQUIRE(v.quant);
    CHECK(v.quant->dtype == c.dtype);
    CHECK(v.quant->source == "qdq");
    CHECK(v.quant->scale() == 0.0123f);  // bit-exact round trip
    CHECK(v.quant->amax / c.levels == 0.0123f);
    CHECK(std::fabs(v.quant->amax - 0.0123 * c.levels) <= 1e-6 * 0.0123 * c.levels);
    CHECK(has_line_containing(r,
                              "folded QuantizeLinear 'in/q' + DequantizeLinear 'in/dq' into "
                              "the quantization of 'r'"));
  }
}

TEST_CASE("onnx qdq: amax reproduces the scale bit-exactly, or is the nearest") {
  // A sweep over 8 decades, plus (found by search) a scale that no float amax
  // reproduces: about 1 float in 129 (1 in 257 for u8), as amax is 64 to 128
  // times coarser than amax/127. (Whenever some amax works, fl(s * 127) does:
  // checked over 4 binades, the pass still searches the neighbours.)
  std::vector<float> scales;
  for (int i = 0; i < 400; ++i) scales.push_back(static_cast<float>(1e-5 * std::pow(1.047, i)));
  float unreachable = 0;
  for (float s = 0.01f; unreachable == 0 && s < 0.011f; s = std::nextafter(s, 1.f)) {
    if (!reachable(s, 127.f)) unreachable = s;
  }
  REQUIRE(unreachable != 0);
  scales.push_back(unreachable);

  OnnxBuilder b;
  b.input("x", {4});
  std::string acc = "x";
  for (size_t i = 0; i < scales.size(); ++i) {
    const std::string k = std::to_string(i);
    b.node("Relu", {"x"}, {"r" + k}, "relu" + k);
    add_qdq(b, "r" + k, "y" + k, "p" + k, {scales[i]});
    b.node("Add", {acc, "y" + k}, {"acc" + k}, "add" + k);
    acc = "acc" + k;
  }
  b.output(acc);
  const ImportResult r = b.import();
  const Graph& g = r.graph;
  check_no_qdq(g);
  int exact = 0;
  for (size_t i = 0; i < scales.size(); ++i) {
    const float s = scales[i];
    CAPTURE(s);
    const Value& v = value_named(g, "r" + std::to_string(i));
    REQUIRE(v.quant);
    if (reachable(s, 127.f)) {
      CHECK(v.quant->scale() == s);
      exact += 1;
    } else {
      CHECK(ulps_apart(v.quant->scale(), s) == 1);
    }
  }
  CHECK(exact >= static_cast<int>(scales.size()) - 10);
  CHECK(has_line_containing(r, "of QuantizeLinear 'p" + std::to_string(scales.size() - 1) +
                                   "/q' is amax/127 of no float amax"));
}

TEST_CASE("onnx qdq: one tensor, several pairs with the same and with other scales") {
  OnnxBuilder b;
  b.input("x", {1, 2, 4, 4});
  b.node("Relu", {"x"}, {"r"}, "relu");
  b.weight("W", {2, 2, 1, 1}, {1, 0, 0, 1});
  add_qdq(b, "r", "y1", "a", {0.5f});
  add_qdq(b, "r", "y2", "b", {0.25f});
  add_qdq(b, "r", "y3", "c", {0.5f});           // same as the first: folds onto r
  add_qdq(b, "r", "y4", "d", {0.25f});          // same as the second: reads its Identity
  add_qdq(b, "r", "y5", "e", {0.25f}, Zp::u8);  // same number, other type: another Identity
  // One QuantizeLinear read by two DequantizeLinear nodes.
  const std::vector<std::string> p = qparams(b, "f", {0.5f}, Zp::s8);
  b.node("QuantizeLinear", with("r", p), {"f/t"}, "f/q");
  b.node("DequantizeLinear", with("f/t", p), {"y6"}, "f/dq1");
  b.node("DequantizeLinear", with("f/t", p), {"y7"}, "f/dq2");
  for (int i = 1; i <= 7; ++i) {
    const std::string k = std::to_string(i);
    b.node("Conv", {"y" + k, "W"}, {"c" + k}, "conv" + k);
    b.output("c" + k);
  }
  const ImportResult r = b.import();
  const Graph& g = r.graph;
  check_no_qdq(g);
  CHECK(count_ops(g, "Identity") == 2);
  REQUIRE(value_named(g, "r").quant);
  CHECK(value_named(g, "r").quant->scale() == 0.5f);
  const std::vector<std::string> expected_input = {"r", "y2", "r", "y2", "y5", "r", "r"};
  for (int i = 1; i <= 7; ++i) {
    const Node* conv = nullptr;
    for (const Node& n : g.nodes) {
      if (n.name == "conv" + std::to_string(i)) conv = &n;
    }
    REQUIRE(conv);
    CHECK(value_name(g, conv->inputs[0]) == expected_input[static_cast<size_t>(i - 1)]);
  }
  for (const char* y : {"y2", "y5"}) {
    const Value& v = value_named(g, y);
    REQUIRE(v.quant);
    CHECK(v.quant->scale() == 0.25f);
    CHECK(v.quant->source == "qdq");
  }
  CHECK(value_named(g, "y2").quant->dtype == DataType::s8);
  CHECK(value_named(g, "y5").quant->dtype == DataType::u8);
  for (const Node& n : g.nodes) {
    if (n.op == "Identity") CHECK(input_names(g, n) == std::vector<std::string>{"r"});
  }
  CHECK(has_line_containing(r,
                            "'r' already has scale 0.5 (int8): QuantizeLinear 'b/q' + "
                            "DequantizeLinear 'b/dq' became Identity 'b/dq' 'r' -> 'y2' "
                            "carrying scale 0.25 (int8"));
  CHECK(has_line_containing(r, "DequantizeLinear 'f/dq1', 'f/dq2' into the quantization of 'r'"));
}

TEST_CASE("onnx qdq: chained pairs, and a QuantizeLinear nobody reads") {
  OnnxBuilder b;
  b.input("x", {1, 2, 4, 4});
  b.node("Relu", {"x"}, {"r"}, "relu");
  add_qdq(b, "r", "y1", "a", {0.5f});
  add_qdq(b, "y1", "y2", "b", {0.25f});  // requantized with another scale
  add_qdq(b, "y2", "y3", "c", {0.25f});  // and again with the same
  const std::vector<std::string> p = qparams(b, "d", {0.5f}, Zp::s8);
  b.node("QuantizeLinear", with("r", p), {"unused"}, "dead/q");
  b.weight("W", {2, 2, 1, 1}, {1, 0, 0, 1});
  b.node("Conv", {"y3", "W"}, {"out"}, "conv");
  b.output("out");
  const ImportResult r = b.import();
  const Graph& g = r.graph;
  check_no_qdq(g);
  REQUIRE(g.nodes.size() == 3);
  CHECK(g.nodes[1].op == "Identity");
  CHECK(input_names(g, g.nodes[1]) == std::vector<std::string>{"r"});
  CHECK(value_name(g, g.nodes[1].outputs[0]) == "y2");
  CHECK(input_names(g, g.nodes[2])[0] == "y2");
  CHECK(value_named(g, "r").quant->scale() == 0.5f);
  CHECK(value_named(g, "y2").quant->scale() == 0.25f);
  CHECK(has_line_containing(r, "removed unused QuantizeLinear 'dead/q'"));
  CHECK(has_line_containing(r,
                            "folded QuantizeLinear 'c/q' + DequantizeLinear 'c/dq' into the "
                            "quantization of 'y2'"));
}

TEST_CASE("onnx qdq: a pair whose output is a graph output keeps the output's name") {
  SUBCASE("the producer writes the output") {
    OnnxBuilder b;
    b.input("x", {4});
    b.node("Relu", {"x"}, {"r"}, "relu");
    add_qdq(b, "r", "out", "p", {0.5f});
    b.node("Relu", {"out"}, {"n"}, "neg");  // another reader of the pair's output
    b.output("out");
    b.output("n");
    const ImportResult r = b.import();
    const Graph& g = r.graph;
    check_no_qdq(g);
    CHECK(count_ops(g, "Identity") == 0);
    CHECK(g.find_value("r") == kNoValue);
    const Node* relu = nullptr;
    for (const Node& n : g.nodes) {
      if (n.name == "relu") relu = &n;
      if (n.name == "neg") CHECK(input_names(g, n) == std::vector<std::string>{"out"});
    }
    REQUIRE(relu);
    CHECK(value_name(g, relu->outputs[0]) == "out");
    CHECK(value_name(g, g.outputs[0]) == "out");
    REQUIRE(value_named(g, "out").quant);
    CHECK(value_named(g, "out").quant->scale() == 0.5f);
    CHECK(has_line_containing(r,
                              "graph output 'out' of DequantizeLinear 'p/dq' is now written by "
                              "Relu 'relu' (was 'r')"));
  }
  SUBCASE("from a graph input: an Identity writes it") {
    OnnxBuilder b;
    b.input("x", {4});
    add_qdq(b, "x", "out", "p", {0.5f});
    b.output("out");
    const Graph g = b.import().graph;
    check_no_qdq(g);
    REQUIRE(g.nodes.size() == 1);
    CHECK(g.nodes[0].op == "Identity");
    CHECK(input_names(g, g.nodes[0]) == std::vector<std::string>{"x"});
    CHECK(value_name(g, g.nodes[0].outputs[0]) == "out");
    REQUIRE(value_named(g, "x").quant);
    CHECK(value_named(g, "x").quant->scale() == 0.5f);
  }
  SUBCASE("two outputs of one pair") {
    OnnxBuilder b;
    b.input("x", {4});
    b.node("Relu", {"x"}, {"r"}, "relu");
    const std::vector<std::string> p = qparams(b, "p", {0.5f}, Zp::s8);
    b.node("QuantizeLinear", with("r", p), {"t"}, "q");
    b.node("DequantizeLinear", with("t", p), {"o1"}, "dq1");
    b.node("DequantizeLinear", with("t", p), {"o2"}, "dq2");
    b.output("o1");
    b.output("o2");
    const Graph g = b.import().graph;
    check_no_qdq(g);
    REQUIRE(g.nodes.size() == 2);
    CHECK(value_name(g, g.nodes[0].outputs[0]) == "o1");
    CHECK(g.nodes[1].op == "Identity");
    CHECK(input_names(g, g.nodes[1]) == std::vector<std::string>{"o1"});
    CHECK(value_name(g, g.nodes[1].outputs[0]) == "o2");
  }
}
