// int8 written where it is needed, without a quantize step of its own:
//   - LayerNorm and Softmax compute in f32 and, when every reader of their
//     output reads it in int8, write int8 on the readers' scale themselves
//     (Op::writes_int8); a reader in f32 (a residual Add, a graph output)
//     keeps the f32 output and the quantize step;
//   - a Div or Mul of an int8 value by a positive constant scalar (q / sqrt(d)
//     in torch's attention) is a view: the same integers on scale s / c.
// Each is judged against fp32 (cosine >= 0.999, the int8 layers' own error)
// and against the unfused form, the same int8 model with the value also a
// graph output (then the op writes f32 and a quantize step follows) or with
// the Div / Mul in fp32: one rounding either way, so cosine >= 0.99999 at the
// model's output.
#include <doctest/doctest.h>

#include <cmath>
#include <map>

#include "tests/expected_isa.hpp"
#include "tests/fp32_amax.hpp"
#include "tests/op_harness.hpp"
#include "tests/seeded_layers.hpp"
#include "tests/test_graph.hpp"

using namespace octet;
using test::conv;
using test::count_layers;
using test::layer_named;
using test::linear;
using test::TestGraph;

namespace {

int layer_norm(TestGraph& tg, const std::string& name, int in, int64_t n) {
  const Tensor g = test::random_tensor(DataType::f32, {n}, 61, 0.5f, 1.5f);
  const Tensor b = test::random_tensor(DataType::f32, {n}, 62, -0.2f, 0.2f);
  return tg.node("LayerNormalization", name,
                 {in, tg.constant(name + ".g", g), tg.constant(name + ".b", b)});
}

Tensor scalar(float v) {
  Tensor t(DataType::f32, {});
  *t.data<float>() = v;
  return t;
}

Tensor run(const Model& m, const Tensor& x, Session* keep = nullptr,
           Precision precision = Precision::int8) {
  SessionOptions options;
  options.threads = 2;
  options.precision = precision;
  Session s(m, options);
  Tensor out = s.run({x})[0].clone();
  if (keep) *keep = std::move(s);
  return out;
}

// `got` against fp32, and against `m` with `op` in fp32 (fp32_ops): the
// unfused form, where the op writes f32 and a quantize step follows.
void check_output(const Model& m, const Tensor& x, const Tensor& got, const std::string& op,
                  const std::string& layer) {
  const Tensor fp32 = run(m, x, nullptr, Precision::fp32);
  const double cos = test::cosine(got, fp32);
  SessionOptions forced;
  forced.threads = 2;
  forced.fp32_ops = {op};
  Session f(m, forced);
  const Tensor unfused = f.run({x})[0].clone();
  const double cos_unfused = test::cosine(got, unfused);
  MESSAGE("cosine to fp32 " << cos << ", to the unfused int8 model " << cos_unfused);
  CHECK(cos >= 0.999);
  CHECK(cos_unfused >= 0.99999);
  const LayerInfo l = layer_named(f, layer);
  CHECK(l.precision == "fp32");
  CHECK(l.reason == "blacklisted: fp32 op type " + op);
  CHECK(count_layers(f)["Quantize:int8"] == 2);  // the input, and the op's output
}

// x -> lin1 -> ln -> lin2 -> out, or with `residual` add(ln, lin2) -> out;
// x and ln get the ranges an fp32 run on `in` gives.
Model layer_norm_model(TestGraph& tg, const Tensor& in, bool residual) {
  const int x = tg.input("x", in.shape());
  const int ln = layer_norm(tg, "ln", linear(tg, "lin1", x, 64, 64, 51), 64);
  const int lin2 = linear(tg, "lin2", ln, 64, residual ? 64 : 32, 53);
  tg.output(residual ? tg.node("Add", "residual", {ln, lin2}) : lin2);
  const auto amax = test::fp32_amax(tg, in, {"ln.out"});
  tg.range(x, amax.at("x"), DataType::s8);
  tg.range(ln, amax.at("ln.out"), DataType::s8);
  return tg.model();
}

// x -> c1 (relu, u8) -> op(c1, k) -> c2 -> out; c1 -> side -> out2, with
// the ranges an fp32 run on `in` gives (op's output u8).
Model scaled_branch_model(const std::string& op, const Tensor& k, const Tensor& in) {
  TestGraph tg;
  const int x = tg.input("x", in.shape());
  const int c1 = conv(tg, "c1", x, 8, 8, true, 81);
  const int y = tg.node(op, "op", {c1, tg.constant("k", k)});
  tg.output(conv(tg, "c2", y, 8, 6, false, 83));
  tg.output(conv(tg, "side", c1, 8, 4, false, 85));
  const auto amax = test::fp32_amax(tg, in, {"c1.out", "op.out"});
  tg.range(x, amax.at("x"), DataType::s8);
  tg.range(c1, amax.at("c1.out"), DataType::u8);
  tg.range(y, amax.at("op.out"), DataType::u8);
  return tg.model();
}

}  // namespace

TEST_CASE("int8 fused outputs: a LayerNorm read only by an int8 Linear writes int8 itself") {
  // x -> lin1 -> ln -> lin2 -> out (ConvNeXt's LayerNorm before its Linear).
  TestGraph tg;
  const Tensor in = test::random_tensor(DataType::f32, {1, 16, 64}, 55, -2.f, 2.f);
  const Model m = layer_norm_model(tg, in, false);

  Session s(m);
  const Tensor got = run(m, in, &s);
  const LayerInfo l = layer_named(s, "ln");
  CHECK(l.precision == "int8");
  CHECK(l.kernel.find(" + quantize") != std::string::npos);
  CHECK(l.reason == "computes in f32, writes int8 for its int8 readers");
  std::map<std::string, int> n = count_layers(s);
  CHECK(n["Quantize:int8"] == 1);  // the graph input only
  CHECK(n["Dequantize:fp32"] == 0);
  CHECK(n["MatMul:int8"] == 2);
  check_output(m, in, got, "LayerNormalization", "ln");
}

TEST_CASE("int8 fused outputs: a LayerNorm also read by a residual Add writes f32 and int8") {
  // x -> lin1 -> ln -> lin2 -> add(ln, lin2) -> out: the residual reads f32,
  // lin2 int8, both from the one LayerNorm step (BERT, post-norm Transformer).
  TestGraph tg;
  const Tensor in = test::random_tensor(DataType::f32, {1, 16, 64}, 55, -2.f, 2.f);
  const Model m = layer_norm_model(tg, in, true);

  Session s(m);
  const Tensor got = run(m, in, &s);
  const LayerInfo l = layer_named(s, "ln");
  CHECK(l.precision == "fp32");
  CHECK(l.kernel.find(" + quantize") != std::string::npos);
  CHECK(l.reason == "computes in f32, writes int8 for its int8 readers");
  std::map<std::string, int> n = count_layers(s);
  CHECK(n["Quantize:int8"] == 1);  // the input only
  CHECK(n["Add:fp32"] == 1);
  // oneDNN's f32 kernel and the copy quantized from it by the quantize
  // step's reorder: the unfused numbers exactly.
  check_output(m, in, got, "LayerNormalization", "ln");
  SessionOptions forced;
  forced.threads = 2;
  forced.fp32_ops = {"LayerNormalization"};
  Session f(m, forced);
  CHECK(test::max_abs_diff(f.run({in})[0], got) == 0);
  // The f32 form against the plain reference LayerNorm (a graph output now).
  const Model exposed = m.with_outputs({"ln.out", "lin1.out"});
  Session e(exposed);
  const std::vector<Tensor> outs = e.run({in});
  CHECK(layer_named(e, "ln").kernel.find(" + quantize") != std::string::npos);
  test::OpCase c = test::op_case(
      "LayerNormalization", {outs[2].clone(), tg.g.values[tg.g.find_value("ln.g")].data.clone(),
                             tg.g.values[tg.g.find_value("ln.b")].data.clone()});
  const Tensor ref = test::run_reference(c)[0];
  CHECK(test::max_abs_diff(outs[1], ref) <= 1e-5 * test::max_abs(ref));
}

TEST_CASE("int8 fused outputs: a Softmax read by an int8 matmul writes u8 where the CPU has VNNI") {
  // x -> lin_a -> softmax -> matmul(p, lin_v(x)) -> out: attention's
  // probabilities times values, int8 where the CPU has VNNI (ops/matmul.cpp).
  TestGraph tg;
  const Shape shape{1, 16, 64};
  const int x = tg.input("x", shape);
  const int p = tg.node("Softmax", "softmax", {linear(tg, "lin_a", x, 64, 16, 71)},
                        {{"axis", AttrValue(int64_t(-1))}});
  const int v = linear(tg, "lin_v", x, 64, 64, 73);
  tg.output(tg.node("MatMul", "context", {p, v}));
  const Tensor in = test::random_tensor(DataType::f32, shape, 75, -2.f, 2.f);
  const auto amax = test::fp32_amax(tg, in, {"softmax.out", "lin_v.out"});
  tg.range(x, amax.at("x"), DataType::s8);
  tg.range(p, amax.at("softmax.out"), DataType::u8);
  tg.range(v, amax.at("lin_v.out"), DataType::s8);
  const Model m = tg.model();

  Session s(m);
  const Tensor got = run(m, in, &s);
  INFO(test::expected_isa().why);
  const bool vnni = test::expected_isa().vnni;
  const LayerInfo l = layer_named(s, "softmax");
  CAPTURE(l.kernel);
  CHECK(layer_named(s, "context").precision == (vnni ? "int8" : "fp32"));
  CHECK(l.precision == (vnni ? "int8" : "fp32"));
  CHECK(l.kernel.rfind("ref", 0) != 0);
  std::map<std::string, int> n = count_layers(s);
  CHECK(n["Quantize:int8"] == 1);
  CHECK(n["Dequantize:fp32"] == 0);
  if (vnni) {
    check_output(m, in, got, "Softmax", "softmax");
  } else {
    CHECK(test::cosine(got, run(m, in, nullptr, Precision::fp32)) >= 0.999);
  }
}

TEST_CASE("int8 fused outputs: Div and Mul of int8 data by a positive scalar are views") {
  for (const char* op : {"Div", "Mul"}) {
    CAPTURE(op);
    const float c = std::string(op) == "Div" ? 8.f : 0.25f;
    const Tensor in = test::random_tensor(DataType::f32, {1, 8, 10, 12}, 87, -2.f, 2.f);
    const Model m = scaled_branch_model(op, scalar(c), in);

    Session s(m);
    const Tensor got = run(m, in, &s);
    const LayerInfo l = layer_named(s, "op");
    CHECK(l.precision == "int8");
    CHECK(l.kernel == "view (no copy)");
    std::map<std::string, int> n = count_layers(s);
    CHECK(n["Quantize:int8"] == 1);
    CHECK(n["Dequantize:fp32"] == 0);
    CHECK(n["Conv:int8"] == 3);
    // c2 reads c1's integers on c1's scale times the constant: what it reads
    // when the op runs in f32 (fp32_ops) and its output is quantized on the
    // calibrated range, which is c1's over the constant.
    CHECK(test::cosine(got, run(m, in, nullptr, Precision::fp32)) >= 0.999);
    SessionOptions forced;
    forced.threads = 2;
    forced.fp32_ops = {op};
    Session f(m, forced);
    const Tensor unfused = f.run({in})[0].clone();
    CHECK(layer_named(f, "op").precision == "fp32");
    CHECK(count_layers(f)["Quantize:int8"] == 2);
    CHECK(test::cosine(got, unfused) >= 0.99999);
    CHECK(test::max_abs_diff(got, unfused) <= 1e-3 * test::max_abs(unfused));
  }
}

TEST_CASE("int8 fused outputs: Div of int8 data by a per-channel divisor runs on the integers") {
  // x -> c1 (relu, u8) -> Div(d[c]) -> c2 -> out; c1 -> side -> out2. Not a
  // view (the divisor is no scalar): the binary primitive reads c1's
  // integers on their scale and writes op.out's, one rounding as the fp32
  // op and a quantize step after it would make.
  const Tensor d = test::random_tensor(DataType::f32, {1, 8, 1, 1}, 89, 0.5f, 4.f);
  const Tensor in = test::random_tensor(DataType::f32, {1, 8, 10, 12}, 87, -2.f, 2.f);
  const Model m = scaled_branch_model("Div", d, in);

  Session s(m);
  const Tensor got = run(m, in, &s);
  const LayerInfo l = layer_named(s, "op");
  CAPTURE(l.kernel);
  CHECK(l.precision == "int8");
  CHECK(l.kernel != "view (no copy)");
  CHECK(l.kernel.rfind("ref", 0) != 0);
  std::map<std::string, int> n = count_layers(s);
  CHECK(n["Quantize:int8"] == 1);
  CHECK(n["Dequantize:fp32"] == 0);
  CHECK(test::cosine(got, run(m, in, nullptr, Precision::fp32)) >= 0.999);
  SessionOptions forced;
  forced.threads = 2;
  forced.fp32_ops = {"Div"};
  Session f(m, forced);
  const Tensor unfused = f.run({in})[0].clone();
  CHECK(layer_named(f, "op").precision == "fp32");
  CHECK(test::cosine(got, unfused) >= 0.9999);
  CHECK(test::max_abs_diff(got, unfused) <= 0.01 * test::max_abs(unfused));
}
