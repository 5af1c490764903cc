// QuantizeLinear / DequantizeLinear folding (pass_fold_qdq), run through
// import_onnx_bytes: activation pairs become Value::quant, quantized weights
// become f32 initializers with Value::weight_quant, and what octet does not
// implement is rejected with a message naming the node.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/onnx_builder.hpp"

using namespace octet;
using namespace octet::test;

namespace {

using TP = onnx::TensorProto;

bool has_line_containing(const ImportResult& r, const std::string& part) {
  for (const std::string& l : r.log) {
    if (l.find(part) != std::string::npos) return true;
  }
  return false;
}

// An INT8 / UINT8 / INT32 initializer (int8 values are stored widened in int32_data).
void int_weight(OnnxBuilder& b, const std::string& name, const std::vector<int64_t>& dims,
                const std::vector<int32_t>& values, int type = TP::INT8) {
  TP* t = b.graph->add_initializer();
  OnnxBuilder::fill(t, name, dims, type);
  for (int32_t v : values) t->add_int32_data(v);
}

enum class Zp { s8, u8, none };

// Scale (and zero point) initializers named prefix_s, prefix_zp.
std::vector<std::string> qparams(OnnxBuilder& b, const std::string& prefix,
                                 const std::vector<float>& scale, Zp zp,
                                 const std::vector<int32_t>& zp_values = {}) {
  const std::vector<int64_t> dims =
      scale.size() == 1 ? std::vector<int64_t>{} : std::vector<int64_t>{int64_t(scale.size())};
  b.weight(prefix + "_s", dims, scale);
  if (zp == Zp::none) return {prefix + "_s"};
  std::vector<int32_t> values = zp_values;
  values.resize(scale.size(), 0);
  int_weight(b, prefix + "_zp", dims, values, zp == Zp::s8 ? TP::INT8 : TP::UINT8);
  return {prefix + "_s", prefix + "_zp"};
}

std::vector<std::string> with(const std::string& first, const std::vector<std::string>& rest) {
  std::vector<std::string> v{first};
  v.insert(v.end(), rest.begin(), rest.end());
  return v;
}

// x -> QuantizeLinear 'name/q' -> DequantizeLinear 'name/dq' -> y.
void add_qdq(OnnxBuilder& b, const std::string& x, const std::string& y, const std::string& name,
             const std::vector<float>& scale, Zp zp = Zp::s8, int64_t axis = -99,
             const std::vector<int32_t>& zp_values = {}) {
  const std::vector<std::string> p = qparams(b, name, scale, zp, zp_values);
  onnx::NodeProto* q = b.node("QuantizeLinear", with(x, p), {name + "/t"}, name + "/q");
  onnx::NodeProto* dq = b.node("DequantizeLinear", with(name + "/t", p), {y}, name + "/dq");
  if (axis != -99) {
    OnnxBuilder::attr_int(q, "axis", axis);
    OnnxBuilder::attr_int(dq, "axis", axis);
  }
}

// Wq (int8 initializer) -> DequantizeLinear 'name/dq' -> y.
void add_dq_weight(OnnxBuilder& b, const std::string& wq, const std::string& y,
                   const std::string& name, const std::vector<float>& scale, int64_t axis = -99) {
  const std::vector<std::string> p = qparams(b, name, scale, Zp::s8);
  onnx::NodeProto* dq = b.node("DequantizeLinear", with(wq, p), {y}, name + "/dq");
  if (axis != -99) OnnxBuilder::attr_int(dq, "axis", axis);
}

void expect_unsupported(const OnnxBuilder& b, const std::vector<std::string>& parts) {
  try {
    b.import();
    FAIL("import succeeded");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::unsupported);
    const std::string what = e.what();
    for (const std::string& part : parts) {
      CHECK_MESSAGE(what.find(part) != std::string::npos, what);
    }
  }
}

int ulps_apart(float a, float b) {
  int n = 0;
  while (a != b && n < 100) {
    a = std::nextafter(a, b);
    ++n;
  }
  return n;
}

// Whether some float amax gives amax / levels == s exactly (the quotient is
// monotonic in amax, so the candidates are near s * levels).
bool reachable(float s, float levels) {
  float a = static_cast<float>(static_cast<double>(s) * levels);
  for (int i = 0; i < 32; ++i) a = std::nextafter(a, 0.f);
  for (int i = 0; i < 64; ++i, a = std::nextafter(a, INFINITY)) {
    if (a / levels == s) return true;
  }
  return false;
}

void check_no_qdq(const Graph& g) {
  CHECK(count_ops(g, "QuantizeLinear") == 0);
  CHECK(count_ops(g, "DequantizeLinear") == 0);
}

}  // namespace

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
  SUBCASE("per-axis below opset 13 is rejected") {
    OnnxBuilder b(12);
    b.input("x", {2, 3});
    int_weight(b, "Bq", {3, 2}, {1, 2, 3, 4, 5, 6});
    add_dq_weight(b, "Bq", "B", "w", {0.1f, 0.2f}, 1);
    b.node("MatMul", {"x", "B"}, {"y"}, "fc");
    b.output("y");
    expect_unsupported(b, {"node 'w/dq' (DequantizeLinear)", "per-axis scales need opset 13",
                           "the model uses opset 12"});
  }
  SUBCASE("per-tensor at opset 11 is fine") {
    OnnxBuilder b(11);
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
// (default /tmp/octet-qdq); skipped when absent. Every Conv/MatMul/Gemm must
// end up with quantized inputs and weight scales, and no QDQ op may be left.
TEST_CASE("onnx qdq: tools/export/qdq.py exports (skipped when absent)") {
  const char* env = std::getenv("OCTET_QDQ_MODELS");
  const std::filesystem::path dir = env ? env : "/tmp/octet-qdq";
  for (const char* name : {"convnet-qdq.onnx", "bert-tiny-qdq.onnx"}) {
    const std::filesystem::path path = dir / name;
    if (!std::filesystem::exists(path)) {
      MESSAGE("skipped: no " << path.string());
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
