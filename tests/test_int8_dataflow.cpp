// int8 data through the ops that move or combine it without a kernel of
// their own in int8 (Transpose, Concat, the residual Add): between int8
// producers and readers, each runs on int8 data, with no dequantize or
// quantize step around it, and gives
//   - against fp32 (the same model with SessionOptions::precision fp32): the
//     quantization error of the int8 convs around it, cosine >= 0.999 and a
//     max error within 3% of the largest output;
//   - against the same int8 session with the op forced to fp32 (fp32_ops):
//     the same integers, bit for bit where the op only moves integers on one
//     scale (Transpose, Concat on one scale), within one unit of the output's
//     scale where it rescales (Concat across scales, Add).
// Every producer in these graphs also has a second int8 reader ("side"
// convs), so it writes int8 whether the op under test reads int8 or not and
// the two sessions see the same integers.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include "tests/fp32_amax.hpp"
#include "tests/int8_reference.hpp"
#include "tests/op_harness.hpp"
#include "tests/seeded_layers.hpp"
#include "tests/test_graph.hpp"

using namespace octet;
using test::conv;
using test::count_layers;
using test::fp32_amax;
using test::layer_named;
using test::linear;
using test::TestGraph;

namespace {

const Shape kImage{1, 8, 10, 12};

std::vector<Tensor> run(const Model& m, const Tensor& x, SessionOptions options = {},
                        Session* keep = nullptr) {
  options.threads = 2;
  Session s(m, options);
  std::vector<Tensor> out;
  for (const Tensor& t : s.run({x})) out.push_back(t.clone());
  if (keep) *keep = std::move(s);
  return out;
}

void set_range(TestGraph& tg, const std::string& value, float amax, DataType dtype) {
  tg.range(tg.g.find_value(value), amax, dtype);
}

// The int8 dataflow around `op_name`: it runs int8 on int8 data, the input is
// quantized once and nothing is dequantized (the final convs write f32).
void check_int8_around(const Session& s, const std::string& op_name, const std::string& op) {
  const LayerInfo l = layer_named(s, op_name);
  INFO(op_name << ": " << l.precision << " " << l.kernel << " (" << l.reason << ")");
  CHECK(l.precision == "int8");
  CHECK(l.kernel != "ref");
  std::map<std::string, int> n = count_layers(s);
  CHECK(n["Quantize:int8"] == 1);  // the graph input, once
  CHECK(n["Dequantize:fp32"] == 0);
  CHECK(n[op + ":fp32"] == 0);
  CHECK(n["Conv:fp32"] == 0);
  CHECK(n["MatMul:fp32"] == 0);
}

// Against fp32: the quantization error of the int8 layers around the op.
void check_against_fp32(const Model& m, const Tensor& x, const std::vector<Tensor>& got) {
  SessionOptions fp32;
  fp32.precision = Precision::fp32;
  const std::vector<Tensor> ref = run(m, x, fp32);
  REQUIRE(ref.size() == got.size());
  for (size_t i = 0; i < ref.size(); ++i) {
    const double cos = test::cosine(got[i], ref[i]);
    const double err = test::max_abs_diff(got[i], ref[i]);
    MESSAGE("output " << i << ": cosine " << cos << ", max error " << err << " of max "
                      << test::max_abs(ref[i]));
    CHECK(cos >= 0.999);
    CHECK(err <= 0.03 * test::max_abs(ref[i]));
  }
}

// With op type `op` forced to fp32 (layer `layer` then reads its int8 inputs
// dequantized and its reader quantizes them again on the same scale): every
// output the same, bit for bit, as the int8 session's `got`.
void check_same_with_fp32_op(const Model& m, const Tensor& x, const std::vector<Tensor>& got,
                             const std::string& op, const std::string& layer) {
  SessionOptions fp32_op;
  fp32_op.fp32_ops = {op};
  Session f(m);
  const std::vector<Tensor> forced = run(m, x, fp32_op, &f);
  CHECK(layer_named(f, layer).precision == "fp32");
  CHECK(layer_named(f, layer).reason == "blacklisted: fp32 op type " + op);
  REQUIRE(forced.size() == got.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(test::max_abs_diff(forced[i], got[i]) == 0);
}

// The integers of `v` on scale `s`: from an int8 session's dequantized
// output, or quantized from an f32 one, as its int8 reader would.
std::vector<int> integers(const Tensor& v, float s, DataType dtype) {
  const std::vector<double> q = test::to_doubles(test::quantize_ref(v, s, dtype));
  return std::vector<int>(q.begin(), q.end());
}

int max_integer_difference(const std::vector<int>& a, const std::vector<int>& b, int* ones) {
  REQUIRE(a.size() == b.size());
  int worst = 0;
  *ones = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const int d = std::abs(a[i] - b[i]);
    worst = std::max(worst, d);
    *ones += d == 1;
  }
  return worst;
}

// `value`'s integers (s8 on scale `s`) in `m` against those its int8 reader
// gets when `op` is forced to fp32 (layer `layer` then computes in f32 on
// dequantized inputs and its output is quantized on the same scale): one
// rounding each way, so equal, or one apart on at most 1% of them; and the
// model's first output barely moves.
void check_integers_as_fp32_op(const Model& m, const Tensor& in, const std::vector<Tensor>& got,
                               const std::string& op, const std::string& layer,
                               const std::string& value, float s) {
  SessionOptions fp32_op;
  fp32_op.fp32_ops = {op};
  const Model exposed = m.with_outputs({value});
  const size_t k = exposed.outputs().size() - 1;
  const Tensor int8_v = run(exposed, in)[k];
  Session f(m);
  const Tensor fp32_v = run(exposed, in, fp32_op, &f)[k];
  CHECK(layer_named(f, layer).precision == "fp32");
  int ones = 0;
  const int worst = max_integer_difference(test::integers_of(int8_v, s),
                                           integers(fp32_v, s, DataType::s8), &ones);
  MESSAGE(layer << ": max integer difference " << worst << ", " << ones << " of " << int8_v.numel()
                << " off by one");
  CHECK(worst <= 1);
  CHECK(ones <= int8_v.numel() / 100);
  CHECK(test::cosine(run(m, in, fp32_op)[0], got[0]) >= 0.99999);
}

}  // namespace

TEST_CASE("int8 dataflow: Transpose between int8 convs moves the integers on their scale") {
  // x -> c1 (relu, u8) -> Transpose(H, W) -> c2 -> out;  c1 -> side -> out2.
  TestGraph tg;
  const int x = tg.input("x", kImage);
  const int t1 = conv(tg, "c1", x, 8, 8, true, 1);
  const int tt =
      tg.node("Transpose", "transpose", {t1}, {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
  tg.output(conv(tg, "c2", tt, 8, 6, false, 3));
  tg.output(conv(tg, "side", t1, 8, 4, false, 5));
  const Tensor in = test::random_tensor(DataType::f32, kImage, 7, -2.f, 2.f);
  const auto amax = fp32_amax(tg, in, {"c1.out", "transpose.out"});
  tg.range(x, amax.at("x"), DataType::s8);
  tg.range(t1, amax.at("c1.out"), DataType::u8);
  tg.range(tt, amax.at("transpose.out"), DataType::u8);
  const Model m = tg.model();

  Session s(m);
  const std::vector<Tensor> got = run(m, in, {}, &s);
  check_int8_around(s, "transpose", "Transpose");
  CHECK(layer_named(s, "transpose").reason == "runs on int8 inputs");
  check_against_fp32(m, in, got);

  // The transposed values are c1's, exactly (both dequantized on c1's scale).
  const std::vector<Tensor> views = run(m.with_outputs({"c1.out", "transpose.out"}), in);
  const Tensor& a = views[2];
  const Tensor& t = views[3];
  int64_t mismatches = 0;
  for (int64_t c = 0; c < 8; ++c)
    for (int64_t h = 0; h < 10; ++h)
      for (int64_t w = 0; w < 12; ++w)
        mismatches +=
            a.data<float>()[(c * 10 + h) * 12 + w] != t.data<float>()[(c * 12 + w) * 10 + h];
  CHECK(mismatches == 0);

  // Forced to fp32: it reads c1 dequantized and c2 quantizes its output on
  // the same scale, so c2 sees the same integers.
  check_same_with_fp32_op(m, in, got, "Transpose", "transpose");
}

TEST_CASE("int8 dataflow: Transpose after an int8 Linear (BERT's head split) stays int8") {
  // x [2,8,16] -> fc1 (s8) -> Transpose [2,16,8] -> fc2 -> out;  fc1 -> side -> out2.
  TestGraph tg;
  const int x = tg.input("x", {2, 8, 16});
  const int h = linear(tg, "fc1", x, 16, 16, 11);
  const int ht = tg.node("Transpose", "transpose", {h}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
  tg.output(linear(tg, "fc2", ht, 8, 12, 13));
  tg.output(linear(tg, "side", h, 16, 4, 15));
  const Tensor in = test::random_tensor(DataType::f32, {2, 8, 16}, 17, -2.f, 2.f);
  const auto amax = fp32_amax(tg, in, {"fc1.out", "transpose.out"});
  tg.range(x, amax.at("x"), DataType::s8);
  tg.range(h, amax.at("fc1.out"), DataType::s8);
  tg.range(ht, amax.at("transpose.out"), DataType::s8);
  const Model m = tg.model();

  Session s(m);
  const std::vector<Tensor> got = run(m, in, {}, &s);
  check_int8_around(s, "transpose", "Transpose");
  CHECK(count_layers(s)["MatMul:int8"] == 3);
  check_against_fp32(m, in, got);

  check_same_with_fp32_op(m, in, got, "Transpose", "transpose");
}

TEST_CASE("int8 dataflow: Gather of int8 rows (ViT's class token) moves the integers as they are") {
  // x [2,8,16] -> fc1 (s8) -> Gather(axis 1, indices) -> fc2 -> out;  fc1 -> side -> out2.
  // A scalar index (ViT's x[:, 0]: [2,16]) and two rows, one counted from the end ([2,2,16]).
  for (const std::vector<int64_t>& rows : {std::vector<int64_t>{0}, std::vector<int64_t>{3, -1}}) {
    CAPTURE(rows.size());
    TestGraph tg;
    const int x = tg.input("x", {2, 8, 16});
    const int h = linear(tg, "fc1", x, 16, 16, 41);
    Tensor idx(DataType::s64, rows.size() == 1 ? Shape{} : Shape{2});
    for (size_t i = 0; i < rows.size(); ++i) idx.data<int64_t>()[i] = rows[i];
    const int picked =
        tg.node("Gather", "gather", {h, tg.constant("rows", idx)}, {{"axis", int64_t{1}}});
    tg.output(linear(tg, "fc2", picked, 16, 12, 43));
    tg.output(linear(tg, "side", h, 16, 4, 45));
    const Tensor in = test::random_tensor(DataType::f32, {2, 8, 16}, 47, -2.f, 2.f);
    const auto amax = fp32_amax(tg, in, {"fc1.out"});
    tg.range(x, amax.at("x"), DataType::s8);
    // One scale for the rows and their pick (int8 keeps the input's scale).
    for (int v : {h, picked}) tg.range(v, amax.at("fc1.out"), DataType::s8);
    const Model m = tg.model();

    Session s(m);
    const std::vector<Tensor> got = run(m, in, {}, &s);
    check_int8_around(s, "gather", "Gather");
    CHECK(count_layers(s)["MatMul:int8"] == 3);
    check_against_fp32(m, in, got);

    // The Gather in fp32 dequantizes fc1's integers and fc2 quantizes the
    // picked rows again on fc1's scale: the same integers.
    check_same_with_fp32_op(m, in, got, "Gather", "gather");
  }
}

TEST_CASE("int8 dataflow: Concat of int8 inputs on one scale joins the integers as they are") {
  // x -> a (relu), x -> b (relu), Concat(a, b) on channels -> c -> out; a, b -> sides.
  TestGraph tg;
  const int x = tg.input("x", kImage);
  const int a = conv(tg, "a", x, 8, 8, true, 21);
  const int b = conv(tg, "b", x, 8, 4, true, 23);
  const int cat = tg.node("Concat", "concat", {a, b}, {{"axis", int64_t{1}}});
  tg.output(conv(tg, "c", cat, 12, 6, false, 25));
  tg.output(conv(tg, "side_a", a, 8, 2, false, 27));
  tg.output(conv(tg, "side_b", b, 4, 2, false, 29));
  const Tensor in = test::random_tensor(DataType::f32, kImage, 31, -2.f, 2.f);
  const auto amax = fp32_amax(tg, in, {"concat.out"});
  tg.range(x, amax.at("x"), DataType::s8);
  for (int v : {a, b, cat}) tg.range(v, amax.at("concat.out"), DataType::u8);  // one scale
  const Model m = tg.model();

  Session s(m);
  const std::vector<Tensor> got = run(m, in, {}, &s);
  check_int8_around(s, "concat", "Concat");
  CHECK(layer_named(s, "concat").kernel.rfind("reorders:", 0) != 0);  // oneDNN's concat
  check_against_fp32(m, in, got);

  check_same_with_fp32_op(m, in, got, "Concat", "concat");
}

TEST_CASE("int8 dataflow: Concat across scales requantizes each input to the output's scale") {
  // x -> a (relu, u8), x -> b (s8), and x itself (f32, quantized into the
  // concat): Concat(a, b, x) -> c -> out; a, b -> sides. Three scales.
  // Built a second time without c: the Concat is then read in fp32 only.
  auto build = [](bool int8_reader) {
    TestGraph tg;
    const int x = tg.input("x", kImage);
    const int a = conv(tg, "a", x, 8, 8, true, 41);
    const int b = conv(tg, "b", x, 8, 4, false, 43);
    const int cat = tg.node("Concat", "concat", {a, b, x}, {{"axis", int64_t{1}}});
    tg.output(int8_reader ? conv(tg, "c", cat, 20, 6, false, 45) : cat);
    tg.output(conv(tg, "side_a", a, 8, 2, false, 47));
    tg.output(conv(tg, "side_b", b, 4, 2, false, 49));
    return tg;
  };
  const Tensor in = test::random_tensor(DataType::f32, kImage, 51, -2.f, 2.f);
  TestGraph tg = build(true), t2 = build(false);
  const auto amax = fp32_amax(tg, in, {"a.out", "b.out", "concat.out"});
  for (TestGraph* g : {&tg, &t2}) {
    set_range(*g, "x", amax.at("x"), DataType::s8);
    set_range(*g, "a.out", amax.at("a.out"), DataType::u8);
    set_range(*g, "b.out", amax.at("b.out"), DataType::s8);
    set_range(*g, "concat.out", amax.at("concat.out"), DataType::s8);
  }
  const float s_cat = amax.at("concat.out") / 127.f;
  const Model m = tg.model();

  Session s(m);
  const std::vector<Tensor> got = run(m, in, {}, &s);
  check_int8_around(s, "concat", "Concat");
  CHECK(layer_named(s, "concat").kernel.rfind("reorders:", 0) == 0);
  check_against_fp32(m, in, got);

  // The concatenation's integers against those c reads when Concat runs fp32.
  check_integers_as_fp32_op(m, in, got, "Concat", "concat", "concat.out", s_cat);

  // Read only in fp32, it dequantizes each int8 input into its slice of an
  // f32 output itself: no dequantize steps, the values of dequantize + concat.
  const Model m2 = t2.model();
  Session s2(m2);
  const std::vector<Tensor> got2 = run(m2, in, {}, &s2);
  CHECK(layer_named(s2, "concat").precision == "fp32");
  CHECK(layer_named(s2, "concat").kernel.rfind("reorders:", 0) == 0);
  CHECK(count_layers(s2)["Dequantize:fp32"] == 0);
  check_against_fp32(m2, in, got2);
  SessionOptions fp32_concat;
  fp32_concat.fp32_ops = {"Concat"};
  CHECK(test::max_abs_diff(got2[0], run(m2, in, fp32_concat)[0]) == 0);
}

TEST_CASE(
    "int8 dataflow: MaxPool after a Concat across scales (Inception v3) pools int8 in oneDNN") {
  // x -> a (relu, u8), x -> b (s8): Concat(a, b) requantized to its own
  // scale -> MaxPool 3x3 stride 2 -> c -> out. The Concat's output layout is
  // one oneDNN's int8 pooling takes (a plain NCHW int8 tensor only has
  // oneDNN's `ref:any` pooling, ~10x slower than its jit kernels).
  TestGraph tg;
  const int x = tg.input("x", kImage);
  const int a = conv(tg, "a", x, 8, 8, true, 61);
  const int b = conv(tg, "b", x, 8, 4, false, 63);
  const int cat = tg.node("Concat", "concat", {a, b}, {{"axis", int64_t{1}}});
  const int pool = tg.node(
      "MaxPool", "pool", {cat},
      {{"kernel_shape", std::vector<int64_t>{3, 3}}, {"strides", std::vector<int64_t>{2, 2}}});
  tg.output(conv(tg, "c", pool, 12, 6, false, 65));
  const Tensor in = test::random_tensor(DataType::f32, kImage, 67, -2.f, 2.f);
  const auto amax = fp32_amax(tg, in, {"a.out", "b.out", "concat.out"});
  set_range(tg, "x", amax.at("x"), DataType::s8);
  set_range(tg, "a.out", amax.at("a.out"), DataType::u8);
  set_range(tg, "b.out", amax.at("b.out"), DataType::s8);
  set_range(tg, "concat.out", amax.at("concat.out"), DataType::s8);
  set_range(tg, "pool.out", amax.at("concat.out"), DataType::s8);
  const Model m = tg.model();

  Session s(m);
  const std::vector<Tensor> got = run(m, in, {}, &s);
  CHECK(layer_named(s, "concat").kernel.rfind("reorders:", 0) == 0);
  check_int8_around(s, "pool", "MaxPool");
  const LayerInfo l = layer_named(s, "pool");
  INFO("pool kernel " << l.kernel);
  CHECK(l.kernel.rfind("ref", 0) != 0);
  check_against_fp32(m, in, got);
}

TEST_CASE("int8 dataflow: a standalone Relu (RetinaNet's P6 -> P7) rectifies the integers") {
  // x -> c1 (s8) -> Relu -> c2 -> out;  c1 -> side -> out2: c1 has a second
  // reader that wants it unrectified, so the Relu is not fused into it.
  TestGraph tg;
  const int x = tg.input("x", kImage);
  const int c1 = conv(tg, "c1", x, 8, 8, false, 91);
  const int y = tg.node("Relu", "op", {c1});
  tg.output(conv(tg, "c2", y, 8, 6, false, 93));
  tg.output(conv(tg, "side", c1, 8, 4, false, 95));
  const Tensor in = test::random_tensor(DataType::f32, kImage, 97, -2.f, 2.f);
  const auto amax = fp32_amax(tg, in, {"c1.out"});
  tg.range(x, amax.at("x"), DataType::s8);
  tg.range(c1, amax.at("c1.out"), DataType::s8);
  tg.range(y, amax.at("c1.out"), DataType::s8);
  const Model m = tg.model();

  Session s(m);
  const std::vector<Tensor> got = run(m, in, {}, &s);
  check_int8_around(s, "op", "Relu");
  CHECK(layer_named(s, "op").reason == "runs on int8 inputs");
  check_against_fp32(m, in, got);

  // Relu in fp32 on the dequantized c1, quantized again on the same scale:
  // the same integers reach c2, so the same outputs.
  check_same_with_fp32_op(m, in, got, "Relu", "op");
}

TEST_CASE("int8 dataflow: a residual Add of two int8 tensors runs int8 with per-input scales") {
  // x -> a (s8), x -> b (relu, u8), Add(a, b) -> y (s8) -> c -> out; a, b -> sides.
  // Built a second time without c: the Add is then read in fp32 only.
  auto build = [](bool int8_reader) {
    TestGraph tg;
    const int x = tg.input("x", kImage);
    const int a = conv(tg, "a", x, 8, 8, false, 61);
    const int b = conv(tg, "b", x, 8, 8, true, 63);
    const int y = tg.node("Add", "add", {a, b});
    tg.output(int8_reader ? conv(tg, "c", y, 8, 6, false, 65) : y);
    tg.output(conv(tg, "side_a", a, 8, 2, false, 67));
    tg.output(conv(tg, "side_b", b, 8, 2, false, 69));
    return tg;
  };
  const Tensor in = test::random_tensor(DataType::f32, kImage, 71, -2.f, 2.f);
  TestGraph tg = build(true), t2 = build(false);
  const auto amax = fp32_amax(tg, in, {"a.out", "b.out", "add.out"});
  for (TestGraph* g : {&tg, &t2}) {
    set_range(*g, "x", amax.at("x"), DataType::s8);
    set_range(*g, "a.out", amax.at("a.out"), DataType::s8);
    set_range(*g, "b.out", amax.at("b.out"), DataType::u8);
    set_range(*g, "add.out", amax.at("add.out"), DataType::s8);
  }
  const float s_y = amax.at("add.out") / 127.f;
  const Model m = tg.model();

  Session s(m);
  const std::vector<Tensor> got = run(m, in, {}, &s);
  check_int8_around(s, "add", "Add");
  check_against_fp32(m, in, got);

  // y's integers against those c reads when Add runs fp32.
  check_integers_as_fp32_op(m, in, got, "Add", "add", "add.out", s_y);

  // Read only in fp32, the Add reads its int8 inputs with their scales and
  // writes f32 itself: no dequantize step, and the values of dequantize +
  // f32 Add to within f32 rounding.
  const Model m2 = t2.model();
  Session s2(m2);
  const std::vector<Tensor> got2 = run(m2, in, {}, &s2);
  CHECK(layer_named(s2, "add").kernel != "ref");
  CHECK(count_layers(s2)["Dequantize:fp32"] == 0);
  SessionOptions fp32_add;
  fp32_add.fp32_ops = {"Add"};
  const std::vector<Tensor> forced2 = run(m2, in, fp32_add);
  const double diff = test::max_abs_diff(got2[0], forced2[0]);
  MESSAGE("add read in fp32: max difference " << diff << " against dequantize + f32 add");
  CHECK(diff <= 1e-6 * test::max_abs(forced2[0]));
}

// ---------------------------------------------- ops that move int8 data (issue 16)

namespace {

// x -> c1 (relu, u8) -> the node "op" that `build_op` adds -> c2 (reading
// `op_channels` channels) -> out;  c1 -> side -> out2. The op's output gets
// c1's range (the values it moves are c1's), so forcing the op to fp32
// quantizes its output on the same scale: c2 must see the same integers.
void check_moves_int8(const std::string& op, const Shape& image, int64_t cin, int64_t cout,
                      const std::function<int(TestGraph&, int)>& build_op,
                      const std::function<int(TestGraph&, const std::string&, int, int64_t, int64_t,
                                              bool, uint32_t)>& conv_fn,
                      int64_t op_channels) {
  TestGraph tg;
  const int x = tg.input("x", image);
  const int c1 = conv_fn(tg, "c1", x, cin, cout, true, 81);
  const int y = build_op(tg, c1);
  tg.output(conv_fn(tg, "c2", y, op_channels, 6, false, 83));
  tg.output(conv_fn(tg, "side", c1, cout, 4, false, 85));
  const Tensor in = test::random_tensor(DataType::f32, image, 87, -2.f, 2.f);
  const auto amax = fp32_amax(tg, in, {"c1.out"});
  tg.range(x, amax.at("x"), DataType::s8);
  tg.range(c1, amax.at("c1.out"), DataType::u8);
  tg.range(y, amax.at("c1.out"), DataType::u8);
  const Model m = tg.model();

  Session s(m);
  const std::vector<Tensor> got = run(m, in, {}, &s);
  check_int8_around(s, "op", op);
  CHECK(layer_named(s, "op").reason == "runs on int8 inputs");
  check_against_fp32(m, in, got);

  check_same_with_fp32_op(m, in, got, op, "op");
}

// A 1-D convolution (k3, pad 1) with seeded weights.
int conv1d(TestGraph& tg, const std::string& name, int in, int64_t cin, int64_t cout, bool relu,
           uint32_t seed) {
  const float bound = 1.f / std::sqrt(static_cast<float>(cin * 3));
  const Tensor w = test::random_tensor(DataType::f32, {cout, cin, 3}, seed, -bound, bound);
  const Tensor b = test::random_tensor(DataType::f32, {cout}, seed + 1, -0.1f, 0.1f);
  std::map<std::string, AttrValue> attrs{{"pads", std::vector<int64_t>{1, 1}}};
  if (relu) attrs["activation"] = std::string("relu");
  return tg.node("Conv", name, {in, tg.constant(name + ".w", w), tg.constant(name + ".b", b)},
                 attrs);
}

Tensor s64(std::vector<int64_t> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  Tensor t(DataType::s64, {n});
  std::copy(v.begin(), v.end(), t.data<int64_t>());
  return t;
}

}  // namespace

TEST_CASE("int8 dataflow: Pad with zeros (Inception v3) and edge pads move the integers") {
  for (const std::string mode : {"constant", "edge", "reflect"}) {
    CAPTURE(mode);
    check_moves_int8(
        "Pad", kImage, 8, 8,
        [&](TestGraph& tg, int in) {
          return tg.node("Pad", "op", {in, tg.constant("pads", s64({0, 0, 1, 2, 0, 0, 1, 1}))},
                         {{"mode", mode}});
        },
        conv, 8);
  }
}

TEST_CASE("int8 dataflow: nearest Resize (RetinaNet's FPN) moves the integers") {
  const Tensor sizes = s64({1, 8, 20, 24});
  check_moves_int8(
      "Resize", kImage, 8, 8,
      [&](TestGraph& tg, int in) {
        return tg.node("Resize", "op", {in, kNoValue, kNoValue, tg.constant("sizes", sizes)},
                       {{"mode", std::string("nearest")},
                        {"coordinate_transformation_mode", std::string("asymmetric")},
                        {"nearest_mode", std::string("floor")}});
      },
      conv, 8);
  // Downsampling on half-pixel ties: not oneDNN's rounding, the int8 gather.
  check_moves_int8(
      "Resize", kImage, 8, 8,
      [&](TestGraph& tg, int in) {
        Tensor scales(DataType::f32, {4});
        const float s[4] = {1, 1, 0.5f, 0.5f};
        std::copy(s, s + 4, scales.data<float>());
        return tg.node("Resize", "op", {in, kNoValue, tg.constant("scales", scales)},
                       {{"mode", std::string("nearest")}});
      },
      conv, 8);
}

TEST_CASE("int8 dataflow: Split moves the integers into each part") {
  // x -> c1 -> Split(3 + 5 channels) -> c2 reads the second part.
  check_moves_int8(
      "Split", kImage, 8, 8,
      [&](TestGraph& tg, int in) {
        const int part =
            tg.node("Split", "op", {in, tg.constant("split", s64({3, 5}))}, {{"axis", int64_t{1}}});
        // A second output: the first part, unread.
        Value first;
        first.name = "op.first";
        const int id = tg.g.add_value(first);
        Node& n = tg.g.nodes.back();
        n.outputs.insert(n.outputs.begin(), id);
        return part;
      },
      conv, 5);
}

TEST_CASE("int8 dataflow: Conv1d -> MaxPool 1-D -> Conv1d (Jasper) stays int8") {
  check_moves_int8(
      "MaxPool", {1, 16, 50}, 16, 16,
      [&](TestGraph& tg, int in) {
        return tg.node("MaxPool", "op", {in},
                       {{"kernel_shape", std::vector<int64_t>{3}},
                        {"strides", std::vector<int64_t>{2}},
                        {"pads", std::vector<int64_t>{1, 1}}});
      },
      conv1d, 16);
}

TEST_CASE("int8 dataflow: ReduceMean over H and W (ShuffleNetV2's head) averages the integers") {
  const auto axes = AttrValue(std::vector<int64_t>{2, 3});
  check_moves_int8(
      "ReduceMean", kImage, 8, 8,
      [&](TestGraph& tg, int in) {
        return tg.node("ReduceMean", "op", {in}, {{"axes", axes}});
      },
      conv, 8);
}
