// The importer's rewrite passes, run through import_onnx_bytes: Identity and
// Dropout removal, BatchNormalization folding, Conv / MatMul fusions,
// LayerNorm and GELU recognition, constant folding; plus real torch exports when available.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>

#include "runtime/model/model.hpp"
#include "tests/onnx_builder.hpp"
#include "tests/skip.hpp"

using namespace octet;
using namespace octet::test;

namespace {

bool has_line(const ImportResult& r, const std::string& line) {
  for (const std::string& l : r.log) {
    if (l == line) return true;
  }
  return false;
}

std::string attr_or(const Node& n, const std::string& key) {
  return n.attr_string(key, "none");
}

// ---------------------------------------------------------------- patterns

// The LayerNorm decomposition of torch.onnx.export below opset 17, over the
// last axis of size 4: y = (x - mean) / sqrt(var + eps) * gamma [+ beta].
void add_layernorm(OnnxBuilder& b, const std::string& x, const std::string& y, bool with_beta,
                   bool swap_affine = false) {
  b.scalar("two", 2.0f);
  b.scalar("eps", 1e-5f);
  b.weight("gamma", {4}, {1, 2, 3, 4});
  auto mean = [&](const std::string& in, const std::string& out, const std::string& name) {
    onnx::NodeProto* n = b.node("ReduceMean", {in}, {out}, name);
    OnnxBuilder::attr_ints(n, "axes", {-1});
    OnnxBuilder::attr_int(n, "keepdims", 1);
  };
  mean(x, "mean", "ln/mean");
  b.node("Sub", {x, "mean"}, {"d"}, "ln/sub");
  b.node("Pow", {"d", "two"}, {"sq"}, "ln/pow");
  mean("sq", "var", "ln/var");
  b.node("Add", {"var", "eps"}, {"ve"}, "ln/add_eps");
  b.node("Sqrt", {"ve"}, {"std"}, "ln/sqrt");
  b.node("Div", {"d", "std"}, {"n"}, "ln/div");
  const std::string scaled = with_beta ? "scaled" : y;
  if (swap_affine) {
    b.node("Mul", {"gamma", "n"}, {scaled}, "ln/mul");
  } else {
    b.node("Mul", {"n", "gamma"}, {scaled}, "ln/mul");
  }
  if (!with_beta) return;
  b.weight("beta", {4}, {0.5f, 0.5f, 0.5f, 0.5f});
  if (swap_affine) {
    b.node("Add", {"beta", "scaled"}, {y}, "ln/add_beta");
  } else {
    b.node("Add", {"scaled", "beta"}, {y}, "ln/add_beta");
  }
}

enum class GeluOrder { div_a, mul_a, div_b, div_c };

// x * 0.5 * (1 + erf(x / sqrt(2))) in one of the orders torch exports.
void add_gelu(OnnxBuilder& b, const std::string& x, const std::string& y, GeluOrder order,
              float sqrt2 = 1.4142135f) {
  b.scalar("one", 1.0f);
  b.scalar("half", 0.5f);
  if (order == GeluOrder::mul_a) {
    b.scalar("inv_sqrt2", 0.70710677f);
    b.node("Mul", {"inv_sqrt2", x}, {"u"}, "g/scale");
  } else {
    b.scalar("sqrt2", sqrt2);
    b.node("Div", {x, "sqrt2"}, {"u"}, "g/div");
  }
  b.node("Erf", {"u"}, {"e"}, "g/erf");
  b.node("Add", {"one", "e"}, {"w"}, "g/add");
  switch (order) {
    case GeluOrder::div_a:
    case GeluOrder::mul_a:
      b.node("Mul", {x, "w"}, {"t"}, "g/mul_x");
      b.node("Mul", {"t", "half"}, {y}, "g/mul_half");
      break;
    case GeluOrder::div_b:
      b.node("Mul", {x, "half"}, {"h"}, "g/mul_half");
      b.node("Mul", {"h", "w"}, {y}, "g/mul_x");
      break;
    case GeluOrder::div_c:
      b.node("Mul", {"w", "half"}, {"p"}, "g/mul_half");
      b.node("Mul", {"p", x}, {y}, "g/mul_x");
      break;
  }
}

// x [1,1,3,3] -> Conv(W [2,1,1,2], [B]) -> BatchNormalization -> y.
OnnxBuilder conv_bn_model(bool conv_bias) {
  OnnxBuilder b;
  b.input("x", {1, 1, 3, 3});
  b.weight("W", {2, 1, 1, 2}, {1, 2, 3, 4});
  std::vector<std::string> conv_inputs = {"x", "W"};
  if (conv_bias) {
    b.weight("B", {2}, {0.5f, -1});
    conv_inputs.push_back("B");
  }
  b.node("Conv", conv_inputs, {"c"}, "conv");
  // var + eps = {4, 16}: the scale gamma / sqrt(var + eps) is exactly {1.5, 0.5}.
  b.weight("gamma", {2}, {3, 2});
  b.weight("beta", {2}, {1, -1});
  b.weight("mean", {2}, {0.5f, 1});
  b.weight("var", {2}, {3, 15});
  onnx::NodeProto* bn =
      b.node("BatchNormalization", {"c", "gamma", "beta", "mean", "var"}, {"y"}, "bn");
  OnnxBuilder::attr_float(bn, "epsilon", 1.0f);
  return b;
}

}  // namespace

// ---------------------------------------------------------------- Identity, Dropout

TEST_CASE("onnx passes: Identity and Dropout are removed") {
  OnnxBuilder b;
  b.input("x", {4});
  b.node("Relu", {"x"}, {"r"}, "relu");
  b.node("Identity", {"r"}, {"i"}, "id1");
  onnx::NodeProto* drop = b.node("Dropout", {"i"}, {"dr", ""}, "drop");
  OnnxBuilder::attr_float(drop, "ratio", 0.1f);
  b.node("Add", {"dr", "x"}, {"s"}, "add");
  b.node("Identity", {"s"}, {"out"}, "id2");   // a graph output: the Add must write "out"
  b.node("Identity", {"x"}, {"copy"}, "id3");  // graph input to graph output: stays
  b.output("out", {4});
  b.output("copy", {4});
  const ImportResult r = b.import();
  const Graph& g = r.graph;
  CHECK(count_ops(g, "Dropout") == 0);
  CHECK(count_ops(g, "Identity") == 1);
  const Node* add = find_node(g, "Add");
  REQUIRE(add);
  CHECK(input_names(g, *add) == std::vector<std::string>{"r", "x"});
  CHECK(value_name(g, add->outputs[0]) == "out");
  CHECK(value_name(g, g.outputs[0]) == "out");
  CHECK(g.find_value("s") == kNoValue);
  CHECK(has_line(r, "removed Identity 'id1'"));
  CHECK(has_line(r, "removed Dropout 'drop'"));
  CHECK(has_line(r, "removed Identity 'id2'"));
}

// ---------------------------------------------------------------- BatchNormalization

TEST_CASE("onnx passes: BatchNormalization folds into the Conv before it") {
  SUBCASE("with a conv bias") {
    OnnxBuilder b = conv_bn_model(true);
    b.output("y");
    const ImportResult r = b.import();
    const Graph& g = r.graph;
    REQUIRE(g.nodes.size() == 1);
    const Node& conv = g.nodes[0];
    CHECK(conv.op == "Conv");
    REQUIRE(conv.inputs.size() == 3);
    // W' = W * s per output channel, b' = (b - mean) * s + beta, s = {1.5, 0.5}.
    CHECK(floats_of(g.values[conv.inputs[1]].data) == std::vector<float>{1.5f, 3, 1.5f, 2});
    CHECK(floats_of(g.values[conv.inputs[2]].data) == std::vector<float>{1, -2});
    CHECK(value_name(g, conv.outputs[0]) == "y");
    CHECK(has_line(r, "folded BatchNormalization 'bn' into Conv 'conv'"));
  }
  SUBCASE("without a conv bias, then Relu") {
    OnnxBuilder b = conv_bn_model(false);
    b.node("Relu", {"y"}, {"z"}, "relu");
    b.output("z");
    const Graph g = b.import().graph;
    REQUIRE(g.nodes.size() == 1);
    const Node& conv = g.nodes[0];
    CHECK(attr_or(conv, "activation") == "relu");
    CHECK(floats_of(g.values[conv.inputs[2]].data) == std::vector<float>{0.25f, -1.5f});
  }
}

TEST_CASE("onnx passes: a folded Conv weight shared with another Conv stays intact") {
  OnnxBuilder b = conv_bn_model(false);
  b.node("Conv", {"x", "W"}, {"y2"}, "conv2");
  b.output("y");
  b.output("y2");
  const Graph g = b.import().graph;
  REQUIRE(g.nodes.size() == 2);
  const Node* other = g.nodes[0].name == "conv2" ? &g.nodes[0] : &g.nodes[1];
  CHECK(value_name(g, other->inputs[1]) == "W");
  CHECK(floats_of(value_named(g, "W").data) == std::vector<float>{1, 2, 3, 4});
  const Node* folded = g.nodes[0].name == "conv" ? &g.nodes[0] : &g.nodes[1];
  CHECK(value_name(g, folded->inputs[1]) != "W");
}

TEST_CASE("onnx passes: BatchNormalization stays when the Conv output is used elsewhere") {
  OnnxBuilder visible = conv_bn_model(true);
  visible.output("y");
  visible.output("c");  // the conv output is a graph output
  CHECK(count_ops(visible.import().graph, "BatchNormalization") == 1);

  OnnxBuilder shared = conv_bn_model(true);
  shared.node("Relu", {"c"}, {"r"}, "relu");  // a second reader
  shared.output("y");
  shared.output("r");
  const Graph g = shared.import().graph;
  CHECK(count_ops(g, "BatchNormalization") == 1);
  // The Relu reads the conv output, which is also read by the BN: no fusion.
  CHECK_FALSE(find_node(g, "Conv")->has_attr("activation"));
}

// ---------------------------------------------------------------- Conv

TEST_CASE("onnx passes: Conv + Add + Relu") {
  OnnxBuilder b;
  b.input("x", {1, 2, 4, 4});
  b.weight("W", {2, 2, 1, 1}, {1, 0, 0, 1});
  b.node("Conv", {"x", "W"}, {"c"}, "conv");
  b.node("Add", {"x", "c"}, {"s"}, "add");  // the residual on the left
  b.node("Relu", {"s"}, {"y"}, "relu");
  b.output("y");
  const ImportResult r = b.import();
  const Graph& g = r.graph;
  REQUIRE(g.nodes.size() == 1);
  const Node& conv = g.nodes[0];
  REQUIRE(conv.inputs.size() == 4);
  CHECK(value_name(g, conv.inputs[3]) == "x");
  const Tensor& zero_bias = g.values[conv.inputs[2]].data;
  CHECK(zero_bias.shape() == Shape{2});
  CHECK(floats_of(zero_bias) == std::vector<float>{0, 0});
  CHECK(attr_or(conv, "activation") == "relu");
  CHECK(value_name(g, conv.outputs[0]) == "y");
  CHECK(has_line(r, "fused Conv 'conv' + Add 'add' + Relu 'relu'"));
}

TEST_CASE("onnx passes: Conv + Add of another Conv's output (ResNet block)") {
  OnnxBuilder b;
  b.input("x", {1, 2, 4, 4});
  b.weight("W", {2, 2, 1, 1}, {1, 0, 0, 1});
  b.weight("B", {2}, {1, 2});
  b.node("Conv", {"x", "W", "B"}, {"a"}, "conv1");
  b.node("Relu", {"a"}, {"ar"}, "relu1");
  b.node("Conv", {"ar", "W", "B"}, {"c"}, "conv2");
  b.node("Add", {"c", "ar"}, {"y"}, "add");
  b.output("y");
  const Graph g = b.import().graph;
  REQUIRE(g.nodes.size() == 2);
  CHECK(attr_or(g.nodes[0], "activation") == "relu");
  const Node& conv2 = g.nodes[1];
  CHECK(input_names(g, conv2) == std::vector<std::string>{"ar", "W", "B", "ar"});
  CHECK(attr_or(conv2, "activation") == "none");
}

TEST_CASE("onnx passes: Conv fusions that must not happen") {
  SUBCASE("Add of a weight is a bias, not a residual") {
    OnnxBuilder b;
    b.input("x", {1, 2, 4, 4});
    b.weight("W", {2, 2, 1, 1}, {1, 0, 0, 1});
    b.weight("k", {1, 2, 1, 1}, {1, 1});
    b.node("Conv", {"x", "W"}, {"c"}, "conv");
    b.node("Add", {"c", "k"}, {"y"}, "add");
    b.output("y");
    const Graph g = b.import().graph;
    CHECK(g.nodes.size() == 2);
    CHECK(find_node(g, "Conv")->inputs.size() == 2);
  }
  SUBCASE("the conv output has two readers") {
    OnnxBuilder b;
    b.input("x", {1, 2, 4, 4});
    b.weight("W", {2, 2, 1, 1}, {1, 0, 0, 1});
    b.node("Conv", {"x", "W"}, {"c"}, "conv");
    b.node("Relu", {"c"}, {"y"}, "relu");
    b.node("Add", {"c", "x"}, {"z"}, "add");
    b.output("y");
    b.output("z");
    const Graph g = b.import().graph;
    CHECK(g.nodes.size() == 3);
    CHECK_FALSE(find_node(g, "Conv")->has_attr("activation"));
  }
  SUBCASE("the conv output is a graph output") {
    OnnxBuilder b;
    b.input("x", {1, 2, 4, 4});
    b.weight("W", {2, 2, 1, 1}, {1, 0, 0, 1});
    b.node("Conv", {"x", "W"}, {"c"}, "conv");
    b.node("Relu", {"c"}, {"y"}, "relu");
    b.output("c");
    b.output("y");
    CHECK(b.import().graph.nodes.size() == 2);
  }
}

// ---------------------------------------------------------------- LayerNorm

TEST_CASE("onnx passes: the LayerNorm decomposition becomes LayerNormalization") {
  for (bool swap : {false, true}) {
    CAPTURE(swap);
    OnnxBuilder b;
    b.input("x", {"batch", 3, 4});
    add_layernorm(b, "x", "y", /*with_beta=*/true, swap);
    b.output("y");
    const ImportResult r = b.import();
    const Graph& g = r.graph;
    REQUIRE(g.nodes.size() == 1);
    const Node& ln = g.nodes[0];
    CHECK(ln.op == "LayerNormalization");
    CHECK(input_names(g, ln) == std::vector<std::string>{"x", "gamma", "beta"});
    CHECK(value_name(g, ln.outputs[0]) == "y");
    CHECK(ln.attr_int("axis") == -1);
    CHECK(ln.attr_float("epsilon") == static_cast<double>(1e-5f));
    CHECK(r.log.back() ==
          "fused LayerNormalization 'ln/mean' from 9 nodes (ReduceMean 'ln/mean' .. Add "
          "'ln/add_beta')");
  }
}

TEST_CASE("onnx passes: LayerNorm without bias, followed by a residual Add") {
  OnnxBuilder b;
  b.input("x", {2, 4});
  add_layernorm(b, "x", "n_out", /*with_beta=*/false);
  b.node("Add", {"n_out", "x"}, {"y"}, "residual");
  b.output("y");
  const Graph g = b.import().graph;
  REQUIRE(g.nodes.size() == 2);
  const Node* ln = find_node(g, "LayerNormalization");
  REQUIRE(ln);
  CHECK(input_names(g, *ln) == std::vector<std::string>{"x", "gamma"});
  CHECK(count_ops(g, "Add") == 1);
}

TEST_CASE("onnx passes: LayerNorm is not fused when an intermediate is visible") {
  OnnxBuilder b;
  b.input("x", {2, 4});
  add_layernorm(b, "x", "y", true);
  b.output("y");
  b.output("d");  // x - mean
  const Graph g = b.import().graph;
  CHECK(count_ops(g, "LayerNormalization") == 0);
  CHECK(count_ops(g, "ReduceMean") == 2);
}

// ---------------------------------------------------------------- GELU

TEST_CASE("onnx passes: erf GELU in the orders torch exports") {
  for (GeluOrder order : {GeluOrder::div_a, GeluOrder::mul_a, GeluOrder::div_b, GeluOrder::div_c}) {
    CAPTURE(static_cast<int>(order));
    OnnxBuilder b;
    b.input("x", {2, 4});
    b.node("Relu", {"x"}, {"a"}, "relu");  // the GELU's input is computed
    add_gelu(b, "a", "y", order);
    b.output("y");
    const ImportResult r = b.import();
    const Graph& g = r.graph;
    REQUIRE(g.nodes.size() == 2);
    const Node& gelu = g.nodes[1];
    CHECK(gelu.op == "Gelu");
    CHECK(input_names(g, gelu) == std::vector<std::string>{"a"});
    CHECK(value_name(g, gelu.outputs[0]) == "y");
    CHECK(gelu.attr_string("approximate") == "none");
    CHECK(r.log.back() == "fused Gelu 'g/erf' from 5 nodes (Erf pattern)");
  }
}

TEST_CASE("onnx passes: GELU constants must match") {
  OnnxBuilder b;
  b.input("x", {2, 4});
  add_gelu(b, "x", "y", GeluOrder::div_a, /*sqrt2=*/1.5f);
  b.output("y");
  const Graph g = b.import().graph;
  CHECK(count_ops(g, "Gelu") == 0);
  CHECK(count_ops(g, "Erf") == 1);
  // Within 1e-4 relative still matches.
  OnnxBuilder close;
  close.input("x", {2, 4});
  add_gelu(close, "x", "y", GeluOrder::div_a, /*sqrt2=*/1.41421f);
  close.output("y");
  CHECK(count_ops(close.import().graph, "Gelu") == 1);
}

// ---------------------------------------------------------------- MatMul

TEST_CASE("onnx passes: MatMul + bias + GELU is one MatMul") {
  OnnxBuilder b;
  b.input("x", {"batch", 4});
  b.weight("B", {4, 3}, std::vector<float>(12, 0.5f));
  b.weight("bias", {3}, {0.1f, 0.2f, 0.3f});
  b.node("MatMul", {"x", "B"}, {"m"}, "fc");
  b.node("Add", {"bias", "m"}, {"mb"}, "fc_bias");
  add_gelu(b, "mb", "y", GeluOrder::div_a);
  b.output("y");
  const ImportResult r = b.import();
  const Graph& g = r.graph;
  REQUIRE(g.nodes.size() == 1);
  const Node& mm = g.nodes[0];
  CHECK(mm.op == "MatMul");
  CHECK(input_names(g, mm) == std::vector<std::string>{"x", "B", "bias"});
  CHECK(floats_of(g.values[mm.inputs[2]].data) == std::vector<float>{0.1f, 0.2f, 0.3f});
  CHECK(attr_or(mm, "activation") == "gelu");
  CHECK(value_name(g, mm.outputs[0]) == "y");
  CHECK(has_line(r, "fused MatMul 'fc' + Add 'fc_bias' + Gelu 'g/erf'"));
}

TEST_CASE("onnx passes: MatMul + Relu, and bias adds that are not fused") {
  SUBCASE("relu without bias") {
    OnnxBuilder b;
    b.input("x", {2, 4});
    b.weight("B", {4, 3}, std::vector<float>(12, 1));
    b.node("MatMul", {"x", "B"}, {"m"}, "fc");
    b.node("Relu", {"m"}, {"y"}, "relu");
    b.output("y");
    const Graph g = b.import().graph;
    REQUIRE(g.nodes.size() == 1);
    CHECK(attr_or(g.nodes[0], "activation") == "relu");
    CHECK(g.nodes[0].inputs.size() == 2);
  }
  SUBCASE("bias of the wrong length") {
    OnnxBuilder b;
    b.input("x", {2, 4});
    b.weight("B", {4, 3}, std::vector<float>(12, 1));
    b.weight("bias", {4}, {1, 2, 3, 4});
    b.node("MatMul", {"x", "B"}, {"m"}, "fc");
    b.node("Add", {"m", "bias"}, {"y"}, "add");
    b.output("y");
    CHECK(b.import().graph.nodes.size() == 2);
  }
  SUBCASE("B is not a weight") {
    OnnxBuilder b;
    b.input("x", {2, 4});
    b.input("B", {4, 3});
    b.weight("bias", {3}, {1, 2, 3});
    b.node("MatMul", {"x", "B"}, {"m"}, "fc");
    b.node("Add", {"m", "bias"}, {"y"}, "add");
    b.output("y");
    CHECK(b.import().graph.nodes.size() == 2);
  }
  SUBCASE("the MatMul output is a graph output") {
    OnnxBuilder b;
    b.input("x", {2, 4});
    b.weight("B", {4, 3}, std::vector<float>(12, 1));
    b.node("MatMul", {"x", "B"}, {"m"}, "fc");
    b.node("Relu", {"m"}, {"y"}, "relu");
    b.output("m");
    b.output("y");
    CHECK(b.import().graph.nodes.size() == 2);
  }
}

TEST_CASE("onnx passes: a scalar Div or Mul after a MatMul becomes its alpha") {
  SUBCASE("attention: Q.K^T / 8, then the mask Add stays") {
    OnnxBuilder b;
    b.input("q", {1, 2, 4, 3});
    b.input("kt", {1, 2, 3, 4});
    b.input("mask", {1, 1, 1, 4});
    b.scalar("eight", 8.f);
    b.node("MatMul", {"q", "kt"}, {"s"}, "scores");
    b.node("Div", {"s", "eight"}, {"d"}, "scale");
    b.node("Add", {"d", "mask"}, {"y"}, "mask_add");
    b.output("y");
    const ImportResult r = b.import();
    const Graph& g = r.graph;
    REQUIRE(g.nodes.size() == 2);
    const Node& mm = g.nodes[0];
    CHECK(mm.op == "MatMul");
    CHECK(mm.attr_float("alpha") == 0.125);
    CHECK(value_name(g, mm.outputs[0]) == "d");
    CHECK(g.nodes[1].op == "Add");
    CHECK(has_line(r, "fused MatMul 'scores' + Div 'scale'"));
  }
  SUBCASE("Mul(c, y) by a [1] weight, then the bias: alpha x (A.B) + bias") {
    OnnxBuilder b;
    b.input("x", {2, 4});
    b.weight("B", {4, 3}, std::vector<float>(12, 0.5f));
    b.weight("c", {1}, {-0.5f});
    b.weight("bias", {3}, {0.1f, 0.2f, 0.3f});
    b.node("MatMul", {"x", "B"}, {"m"}, "fc");
    b.node("Mul", {"c", "m"}, {"mc"}, "fc_scale");
    b.node("Add", {"mc", "bias"}, {"y"}, "fc_bias");
    b.output("y");
    const ImportResult r = b.import();
    REQUIRE(r.graph.nodes.size() == 1);
    const Node& mm = r.graph.nodes[0];
    CHECK(mm.attr_float("alpha") == -0.5);
    CHECK(input_names(r.graph, mm) == std::vector<std::string>{"x", "B", "bias"});
    CHECK(has_line(r, "fused MatMul 'fc' + Mul 'fc_scale' + Add 'fc_bias'"));
  }
  // Each of these keeps its two nodes.
  const auto two_nodes = [](const char* op, bool divisor_first, std::vector<int64_t> c_shape,
                            float c, bool b_weight, bool m_is_output) {
    OnnxBuilder b;
    b.input("x", {2, 4});
    if (b_weight) {
      b.weight("B", {4, 3}, std::vector<float>(12, 1));
    } else {
      b.input("B", {4, 3});
    }
    b.weight("c", c_shape, std::vector<float>(c_shape.empty() ? 1 : c_shape[0], c));
    b.node("MatMul", {"x", "B"}, {"m"}, "fc");
    b.node(op,
           divisor_first ? std::vector<std::string>{"c", "m"} : std::vector<std::string>{"m", "c"},
           {"y"}, "scale");
    if (m_is_output) b.output("m");
    b.output("y");
    const Graph g = b.import().graph;
    CHECK(g.nodes.size() == 2);
    for (const Node& n : g.nodes) CHECK_FALSE(n.has_attr("alpha"));
  };
  two_nodes("Div", true, {}, 8.f, true, false);      // c / y is no scale
  two_nodes("Mul", false, {2}, 8.f, true, false);    // not one element
  two_nodes("Mul", false, {1}, 8.f, false, false);   // [1] may widen an unknown-rank product
  two_nodes("Div", false, {}, 0.f, true, false);     // 1 / 0
  two_nodes("Mul", false, {}, 1e-40f, true, false);  // subnormal alpha
  two_nodes("Mul", false, {}, 8.f, true, true);      // the product is a graph output
}

TEST_CASE("onnx passes: a Linear's residual Add becomes its input 3") {
  SUBCASE("BERT: dense + bias + the layer input") {
    OnnxBuilder b;
    b.input("x", {"batch", 4});
    b.input("h", {"batch", 3});
    b.weight("B", {4, 3}, std::vector<float>(12, 0.5f));
    b.weight("bias", {3}, {0.1f, 0.2f, 0.3f});
    b.node("Relu", {"h"}, {"hr"}, "h_relu");
    b.node("MatMul", {"x", "B"}, {"m"}, "dense");
    b.node("Add", {"m", "bias"}, {"mb"}, "dense_bias");
    b.node("Add", {"hr", "mb"}, {"y"}, "residual");
    b.output("y");
    const ImportResult r = b.import();
    const Graph& g = r.graph;
    REQUIRE(g.nodes.size() == 2);
    const Node* mm = find_node(g, "MatMul");
    REQUIRE(mm != nullptr);
    CHECK(input_names(g, *mm) == std::vector<std::string>{"x", "B", "bias", "hr"});
    CHECK(value_name(g, mm->outputs[0]) == "y");
    CHECK(has_line(r, "fused MatMul 'dense' + Add 'dense_bias' + Add 'residual' (residual)"));
  }
  SUBCASE("no bias: zeros as input 2") {
    OnnxBuilder b;
    b.input("x", {2, 4});
    b.input("h", {2, 3});
    b.weight("B", {4, 3}, std::vector<float>(12, 0.5f));
    b.node("MatMul", {"x", "B"}, {"m"}, "dense");
    b.node("Add", {"m", "h"}, {"y"}, "residual");
    b.output("y");
    const Graph g = b.import().graph;
    REQUIRE(g.nodes.size() == 1);
    REQUIRE(g.nodes[0].inputs.size() == 4);
    CHECK(floats_of(g.values[g.nodes[0].inputs[2]].data) == std::vector<float>{0, 0, 0});
    CHECK(value_name(g, g.nodes[0].inputs[3]) == "h");
  }
  SUBCASE("not fused: two activations, a graph-output product, y + y") {
    for (int variant = 0; variant < 3; ++variant) {
      CAPTURE(variant);
      OnnxBuilder b;
      b.input("x", {2, 4});
      b.input("h", {2, 3});
      if (variant == 0) {
        b.input("B", {4, 3});
      } else {
        b.weight("B", {4, 3}, std::vector<float>(12, 1));
      }
      b.node("MatMul", {"x", "B"}, {"m"}, "dense");
      b.node("Add", {"m", variant == 2 ? "m" : "h"}, {"y"}, "residual");
      if (variant == 1) b.output("m");
      b.output("y");
      const Graph g = b.import().graph;
      CHECK(g.nodes.size() == 2);
    }
  }
}

// ---------------------------------------------------------------- constant folding

TEST_CASE("onnx passes: constant subgraphs fold at import, bounded in size") {
  OnnxBuilder b;
  b.input("x", {2, 3});
  b.weight("A", {2, 3}, {1, 2, 3, 4, 5, 6});
  // Transpose(A) + Transpose(A) = 2 A^T: two nodes on constants only.
  onnx::NodeProto* t = b.node("Transpose", {"A"}, {"At"}, "at");
  OnnxBuilder::attr_ints(t, "perm", {1, 0});
  b.node("Add", {"At", "At"}, {"W"}, "w");
  b.node("MatMul", {"x", "W"}, {"y"}, "fc");
  // Shape(x) depends on the input: it stays, for the session to evaluate.
  b.node("Shape", {"x"}, {"s"}, "shape_of_x");
  // A 128 MiB ConstantOfShape stays a node: folding must not bloat the model.
  b.weight_s64("big_shape", {2}, {8192, 4096});
  b.node("ConstantOfShape", {"big_shape"}, {"big"}, "big");
  b.output("y");
  b.output("s");
  b.output("big");
  ImportResult r = b.import();
  REQUIRE(r.graph.nodes.size() == 5);
  CHECK(fold_constants(r.graph, r.log) == 2);
  CHECK(has_line(r, "folded 2 constant nodes"));
  REQUIRE(r.graph.nodes.size() == 3);
  CHECK(find_node(r.graph, "Transpose") == nullptr);
  CHECK(find_node(r.graph, "Add") == nullptr);
  CHECK(find_node(r.graph, "Shape") != nullptr);
  CHECK(find_node(r.graph, "ConstantOfShape") != nullptr);
  const Node* fc = find_node(r.graph, "MatMul");
  REQUIRE(fc != nullptr);
  const Value& w = r.graph.values[fc->inputs[1]];
  REQUIRE(w.is_initializer());
  CHECK(w.data.shape() == Shape{3, 2});
  CHECK(floats_of(w.data) == std::vector<float>{2, 8, 4, 10, 6, 12});
}

// ---------------------------------------------------------------- real exports

// The exports of tests/python/torch_parity.py (torch 1.13, seeded weights),
// which CTest's torch_import_passes runs this with after making them, in
// $OCTET_TORCH_REF: ResNet-18 with its 20 BatchNormalization nodes kept
// (--keep-batchnorm), and the 2-layer BERT at opset 13, where LayerNorm and
// GELU come decomposed.
TEST_CASE("torch: the import passes on real exports") {
  const char* env = std::getenv("OCTET_TORCH_REF");
  if (!env || !*env) OCTET_SKIP("set OCTET_TORCH_REF to tests/python/torch_parity.py's exports");
  const std::filesystem::path dir = env;
  const std::filesystem::path resnet = dir / "resnet18-bn" / "resnet18.onnx";
  const std::filesystem::path bert = dir / "bert-tiny-op13" / "bert-tiny.onnx";
  // Each export is checked where it exists; a missing one marks the test skipped.
  if (!std::filesystem::exists(resnet)) {
    octet::test::record_skip("no " + resnet.string() + " (torch absent?)");
  } else {
    const ImportResult r = import_onnx_file(resnet.string());
    const Graph& g = r.graph;
    CHECK(count_ops(g, "BatchNormalization") == 0);
    CHECK(count_ops(g, "Identity") == 0);
    CHECK(count_ops(g, "Relu") == 0);
    CHECK(count_ops(g, "Add") == 0);
    int residual = 0;
    for (const Node& n : g.nodes) residual += n.op == "Conv" && n.inputs.size() == 4;
    CHECK(residual == 8);
    CHECK(count_ops(g, "Conv") == 20);
    CHECK(g.nodes.size() == 24);  // + MaxPool, GlobalAveragePool, Flatten, Gemm
    int folded_bn = 0;
    for (const std::string& line : r.log)
      folded_bn += line.rfind("folded BatchNormalization", 0) == 0;
    CHECK(folded_bn == 20);
  }
  if (!std::filesystem::exists(bert)) {
    octet::test::record_skip("no " + bert.string() + " (torch absent?)");
  } else {
    const Graph g = import_onnx_file(bert.string()).graph;
    CHECK(count_ops(g, "LayerNormalization") == 5);  // embeddings + 2 per layer
    CHECK(count_ops(g, "ReduceMean") == 0);
    CHECK(count_ops(g, "Erf") == 0);
    int gelu = 0;
    for (const Node& n : g.nodes) gelu += n.op == "MatMul" && attr_or(n, "activation") == "gelu";
    CHECK(gelu == 2);
  }
}
