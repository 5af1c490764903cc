// int8 Conv through oneDNN against the integer reference (tests/int8_reference):
// u8 and s8 sources, per-channel weights, f32 and int8 destinations, fused
// residual and relu, on ResNet-50 layer shapes; then MaxPool and
// GlobalAveragePool on int8 data.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "tests/int8_reference.hpp"
#include "tests/op_harness.hpp"
#include "tests/test_graph.hpp"

using namespace octet;
using test::layer_named;
using test::TestGraph;

namespace {

struct Case {
  const char* name;
  Shape x;
  int64_t oc, k, stride, pad;
  DataType src;  // u8: a non-negative input (after a relu), s8: signed
};

Tensor source(const Case& c, uint32_t seed) {
  return c.src == DataType::u8 ? test::random_tensor(DataType::f32, c.x, seed, 0.f, 2.f)
                               : test::random_tensor(DataType::f32, c.x, seed, -1.5f, 1.5f);
}

float amax_of(const Tensor& t) {
  return static_cast<float>(test::max_abs(t));
}
float qmax(DataType t) {
  return t == DataType::u8 ? 255.f : 127.f;
}

std::map<std::string, AttrValue> conv_attrs(int64_t stride, int64_t pad, bool relu) {
  std::map<std::string, AttrValue> a{{"strides", std::vector<int64_t>{stride, stride}},
                                     {"pads", std::vector<int64_t>{pad, pad, pad, pad}}};
  if (relu) a["activation"] = std::string("relu");
  return a;
}

}  // namespace

TEST_CASE("int8 conv: f32 output matches the integer reference (ResNet-50 shapes)") {
  const Case cases[] = {
      {"conv1 7x7 s2, s8 image", {1, 3, 224, 224}, 64, 7, 2, 3, DataType::s8},
      {"layer1 1x1 reduce, u8", {1, 256, 56, 56}, 64, 1, 1, 0, DataType::u8},
      {"layer2 3x3 s2, u8", {1, 128, 56, 56}, 128, 3, 2, 1, DataType::u8},
      {"layer3 3x3, s8", {1, 256, 14, 14}, 256, 3, 1, 1, DataType::s8},
      {"layer4 1x1 s2 projection, u8", {2, 1024, 14, 14}, 2048, 1, 2, 0, DataType::u8},
  };
  uint32_t seed = 1;
  for (const Case& c : cases) {
    INFO(std::string(c.name));
    const Tensor x = source(c, seed++);
    const float bound = 1.f / std::sqrt(static_cast<float>(c.x[1] * c.k * c.k));
    const Tensor w =
        test::random_tensor(DataType::f32, {c.oc, c.x[1], c.k, c.k}, seed++, -bound, bound);
    const Tensor b = test::random_tensor(DataType::f32, {c.oc}, seed++, -0.2f, 0.2f);
    TestGraph tg;
    const int in = tg.input("x", c.x);
    tg.range(in, amax_of(x), c.src);
    const int y = tg.node("Conv", "conv", {in, tg.constant("w", w), tg.constant("b", b)},
                          conv_attrs(c.stride, c.pad, false));
    tg.output(y);
    Session s(tg.model());
    const Tensor got = s.run({x})[0].clone();
    const LayerInfo conv = layer_named(s, "conv");
    CHECK(conv.precision == "int8");
    CHECK(conv.kernel != "ref");

    const float sx = amax_of(x) / qmax(c.src);
    const test::EffectiveWeights ew = test::effective_weights_ref(w, c.src, test::Kernel::conv);
    const Tensor ref = test::conv_int8_ref(test::quantize_ref(x, sx, c.src), sx, ew.q, ew.scales, b,
                                           {c.stride, c.pad, 1, false});
    // The s32 sums are exact; what differs is f32 rounding of the scaling.
    CHECK(test::max_abs_diff(got, ref) <= 1e-5 * test::max_abs(ref) + 1e-6);
  }
}

TEST_CASE("int8 conv: int8 output, fused residual and relu match the integer reference") {
  // x(u8) -> a: conv relu -> t(u8);  b: conv(x) + t, relu -> y(u8);  c: conv(y) -> out (f32).
  // t and y are also graph outputs, so their integers can be read back.
  const Shape xs{1, 64, 28, 28};
  const Tensor x = test::random_tensor(DataType::f32, xs, 11, 0.f, 3.f);
  const float bound = 1.f / std::sqrt(64.f * 9.f);
  const Tensor wa = test::random_tensor(DataType::f32, {64, 64, 3, 3}, 12, -bound, bound);
  const Tensor wb = test::random_tensor(DataType::f32, {64, 64, 3, 3}, 13, -bound, bound);
  const Tensor wc = test::random_tensor(DataType::f32, {32, 64, 3, 3}, 14, -bound, bound);
  const Tensor ba = test::random_tensor(DataType::f32, {64}, 15, -0.1f, 0.3f);
  const Tensor bb = test::random_tensor(DataType::f32, {64}, 16, -0.1f, 0.3f);
  const Tensor bc = test::random_tensor(DataType::f32, {32}, 17, -0.1f, 0.1f);
  const float ax = amax_of(x), at = 2.0f, ay = 3.0f;

  for (DataType residual_type : {DataType::u8, DataType::s8}) {
    INFO("residual " << to_string(residual_type));
    TestGraph tg;
    const int in = tg.input("x", xs);
    tg.range(in, ax, DataType::u8);
    const int t = tg.node("Conv", "a", {in, tg.constant("wa", wa), tg.constant("ba", ba)},
                          conv_attrs(1, 1, true));
    tg.range(t, at, residual_type);
    const int y = tg.node("Conv", "b", {in, tg.constant("wb", wb), tg.constant("bb", bb), t},
                          conv_attrs(1, 1, true));
    tg.range(y, ay, DataType::u8);
    const int out = tg.node("Conv", "c", {y, tg.constant("wc", wc), tg.constant("bc", bc)},
                            conv_attrs(1, 1, false));
    tg.output(out);
    tg.output(t);
    tg.output(y);
    Session s(tg.model());
    const std::vector<Tensor> got = s.run({x});
    for (const char* name : {"a", "b", "c"}) CHECK(layer_named(s, name).precision == "int8");

    const float sx = ax / 255.f, st = at / qmax(residual_type), sy = ay / 255.f;
    const Tensor qx = test::quantize_ref(x, sx, DataType::u8);
    const test::EffectiveWeights ea =
        test::effective_weights_ref(wa, DataType::u8, test::Kernel::conv);
    const test::EffectiveWeights eb =
        test::effective_weights_ref(wb, DataType::u8, test::Kernel::conv);
    const Tensor t_real = test::conv_int8_ref(qx, sx, ea.q, ea.scales, ba, {1, 1, 1, true});
    const Tensor qt = test::quantize_ref(t_real, st, residual_type);
    const Tensor y_real =
        test::conv_int8_ref(qx, sx, eb.q, eb.scales, bb, {1, 1, 1, true}, &qt, st);
    const Tensor qy = test::quantize_ref(y_real, sy, DataType::u8);

    // Integers of t and y: equal, or one apart where the real value sits on a
    // rounding boundary (float vs double scaling).
    test::check_integers(got[1], qt, st);
    test::check_integers(got[2], qy, sy);
  }
}

TEST_CASE("int8 conv: int8 destination (requantized) matches the integer reference (ResNet-50)") {
  // conv -> y (int8, range below the largest value so that some saturate) ->
  // a small 1x1 conv that reads y in int8; y is also a graph output, so its
  // integers can be read back.
  struct DstCase {
    const char* name;
    Shape x;
    int64_t oc, k, pad;
    DataType src, dst;
    bool relu;
  };
  const DstCase cases[] = {
      {"layer1 1x1 256->64 at 56x56, u8 -> u8 relu",
       {1, 256, 56, 56},
       64,
       1,
       0,
       DataType::u8,
       DataType::u8,
       true},
      {"layer1 1x1 256->64 at 56x56, s8 -> s8",
       {1, 256, 56, 56},
       64,
       1,
       0,
       DataType::s8,
       DataType::s8,
       false},
      {"layer2 3x3 128->128 at 28x28, u8 -> u8 relu",
       {1, 128, 28, 28},
       128,
       3,
       1,
       DataType::u8,
       DataType::u8,
       true},
      {"layer2 3x3 128->128 at 28x28, s8 -> s8",
       {1, 128, 28, 28},
       128,
       3,
       1,
       DataType::s8,
       DataType::s8,
       false},
  };
  uint32_t seed = 41;
  for (const DstCase& c : cases) {
    INFO(std::string(c.name));
    const Tensor x = source({c.name, c.x, c.oc, c.k, 1, c.pad, c.src}, seed++);
    const float bound = 1.f / std::sqrt(static_cast<float>(c.x[1] * c.k * c.k));
    const Tensor w =
        test::random_tensor(DataType::f32, {c.oc, c.x[1], c.k, c.k}, seed++, -bound, bound);
    const Tensor b = test::random_tensor(DataType::f32, {c.oc}, seed++, -0.2f, 0.2f);
    const Tensor w2 = test::random_tensor(DataType::f32, {8, c.oc, 1, 1}, seed++, -0.1f, 0.1f);

    const float sx = amax_of(x) / qmax(c.src);
    const test::EffectiveWeights ew = test::effective_weights_ref(w, c.src, test::Kernel::conv);
    const Tensor y_real = test::conv_int8_ref(test::quantize_ref(x, sx, c.src), sx, ew.q, ew.scales,
                                              b, {1, c.pad, 1, c.relu});
    const float ay = 0.9f * amax_of(y_real);

    TestGraph tg;
    const int in = tg.input("x", c.x);
    tg.range(in, amax_of(x), c.src);
    const int y = tg.node("Conv", "conv", {in, tg.constant("w", w), tg.constant("b", b)},
                          conv_attrs(1, c.pad, c.relu));
    tg.range(y, ay, c.dst);
    tg.output(tg.node("Conv", "next", {y, tg.constant("w2", w2)}, conv_attrs(1, 0, false)));
    tg.output(y);
    Session s(tg.model());
    const std::vector<Tensor> got = s.run({x});
    CHECK(layer_named(s, "conv").precision == "int8");
    CHECK(layer_named(s, "next").precision == "int8");
    // y was written in int8 (and dequantized only for the graph output).
    CHECK(layer_named(s, "dequantize:conv.out").op == "Dequantize");

    const float sy = ay / qmax(c.dst);
    test::check_integers(got[1], test::quantize_ref(y_real, sy, c.dst), sy);
  }
}

namespace {

// Max pooling of integers (exact).
Tensor max_pool_ref(const std::vector<int>& q, const Shape& s, int64_t k, int64_t stride,
                    int64_t pad) {
  const int64_t c = s[1], h = s[2], w = s[3];
  const int64_t oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
  Tensor y(DataType::f32, {1, c, oh, ow});
  for (int64_t ch = 0; ch < c; ++ch) {
    for (int64_t i = 0; i < oh; ++i) {
      for (int64_t j = 0; j < ow; ++j) {
        int best = -1000;
        for (int64_t dy = 0; dy < k; ++dy) {
          for (int64_t dx = 0; dx < k; ++dx) {
            const int64_t yy = i * stride - pad + dy, xx = j * stride - pad + dx;
            if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
            best = std::max(best, q[static_cast<size_t>((ch * h + yy) * w + xx)]);
          }
        }
        y.data<float>()[(ch * oh + i) * ow + j] = static_cast<float>(best);
      }
    }
  }
  return y;
}

// The exact average of each channel's integers.
std::vector<double> global_average_ref(const std::vector<int>& q, const Shape& s) {
  const int64_t c = s[1], hw = s[2] * s[3];
  std::vector<double> y(static_cast<size_t>(c));
  for (int64_t ch = 0; ch < c; ++ch) {
    int64_t sum = 0;
    for (int64_t i = 0; i < hw; ++i) sum += q[static_cast<size_t>(ch * hw + i)];
    y[static_cast<size_t>(ch)] = static_cast<double>(sum) / static_cast<double>(hw);
  }
  return y;
}

}  // namespace

TEST_CASE("int8 pool: MaxPool and GlobalAveragePool on int8 data match the integer reference") {
  // x(u8) -> a: conv relu -> t(u8) -> MaxPool 3x3 s2 -> p -> b: conv 1x1 relu
  // -> q(u8) -> GlobalAveragePool -> g -> c: conv 1x1 -> out. The pools read
  // and write int8 on their input's scale; t, p, q and g are graph outputs.
  const Shape xs{1, 64, 56, 56};
  const Tensor x = test::random_tensor(DataType::f32, xs, 51, 0.f, 2.f);
  const float bound = 1.f / std::sqrt(64.f * 9.f);
  const Tensor wa = test::random_tensor(DataType::f32, {64, 64, 3, 3}, 52, -bound, bound);
  const Tensor wb = test::random_tensor(DataType::f32, {64, 64, 1, 1}, 53, -0.125f, 0.125f);
  const Tensor wc = test::random_tensor(DataType::f32, {16, 64, 1, 1}, 54, -0.125f, 0.125f);
  const float ax = amax_of(x), at = 1.5f, aq = 1.f;
  TestGraph tg;
  const int in = tg.input("x", xs);
  tg.range(in, ax, DataType::u8);
  const int t = tg.node("Conv", "a", {in, tg.constant("wa", wa)}, conv_attrs(1, 1, true));
  tg.range(t, at, DataType::u8);
  const int p = tg.node("MaxPool", "maxpool", {t},
                        {{"kernel_shape", std::vector<int64_t>{3, 3}},
                         {"strides", std::vector<int64_t>{2, 2}},
                         {"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  tg.range(p, at, DataType::u8);
  const int q = tg.node("Conv", "b", {p, tg.constant("wb", wb)}, conv_attrs(1, 0, true));
  tg.range(q, aq, DataType::u8);
  const int g = tg.node("GlobalAveragePool", "avgpool", {q});
  tg.range(g, aq, DataType::u8);
  tg.output(tg.node("Conv", "c", {g, tg.constant("wc", wc)}, conv_attrs(1, 0, false)));
  for (int v : {t, p, q, g}) tg.output(v);
  Session s(tg.model());
  const std::vector<Tensor> got = s.run({x});
  for (const char* name : {"a", "maxpool", "b", "avgpool", "c"}) {
    INFO(name);
    CHECK(layer_named(s, name).precision == "int8");
  }
  const float st = at / 255.f, sq = aq / 255.f;
  // The pools' inputs as the session computed them (the convs are checked
  // against the reference above); the pools themselves must be exact up to
  // the average's rounding.
  const std::vector<int> qt = test::integers_of(got[1], st), qq = test::integers_of(got[3], sq);
  const Tensor p_ref = max_pool_ref(qt, got[1].shape(), 3, 2, 1);
  CHECK(got[2].shape() == p_ref.shape());
  CHECK(test::integers_of(got[2], st) == test::integers_of(p_ref, 1.f));
  // The average is rounded once: to an integer nearest the exact average.
  const std::vector<double> avg = global_average_ref(qq, got[3].shape());
  const std::vector<int> qg = test::integers_of(got[4], sq);
  REQUIRE(qg.size() == avg.size());
  int inside = 0;
  for (size_t i = 0; i < qg.size(); ++i) {
    CAPTURE(i);
    CHECK(std::fabs(qg[i] - avg[i]) <= 0.5 + 1e-6);
    // Not trivially so: the averages are not all zero or saturated.
    inside += qg[i] > 0 && qg[i] < 255;
  }
  CHECK(inside > 8);
}

TEST_CASE(
    "int8 conv: without ranges, blacklisted, or fp32 requested it stays fp32, with a reason") {
  const Tensor x = test::random_tensor(DataType::f32, {1, 8, 10, 10}, 21);
  const Tensor w = test::random_tensor(DataType::f32, {8, 8, 3, 3}, 22, -0.2f, 0.2f);
  TestGraph tg;
  const int in = tg.input("x", {1, 8, 10, 10});
  const int y = tg.node("Conv", "conv1", {in, tg.constant("w", w)}, conv_attrs(1, 1, true));
  tg.output(y);
  {
    Session s(tg.model());
    s.prepare();
    const LayerInfo l = layer_named(s, "conv1");
    CHECK(l.precision == "fp32");
    CHECK(l.reason == "no activation range for input 'x'");
  }
  tg.range(in, 1.f, DataType::s8);
  const Model m = tg.model();
  const Tensor ref =
      test::run_reference({"Conv", conv_attrs(1, 1, true), {x, w}, {false, true}})[0];
  struct Option {
    const char* what;
    SessionOptions options;
    const char* reason;
  };
  SessionOptions fp32, by_name, by_glob, by_op;
  fp32.precision = Precision::fp32;
  by_name.fp32_layers = {"conv1"};
  by_glob.fp32_layers = {"conv*"};
  by_op.fp32_ops = {"Conv"};
  for (const Option& o : {Option{"fp32", fp32, "fp32 requested"},
                          Option{"name", by_name, "blacklisted: fp32 layer pattern 'conv1'"},
                          Option{"glob", by_glob, "blacklisted: fp32 layer pattern 'conv*'"},
                          Option{"op", by_op, "blacklisted: fp32 op type Conv"}}) {
    INFO(std::string(o.what));
    Session s(m, o.options);
    const Tensor got = s.run({x})[0];
    const LayerInfo l = layer_named(s, "conv1");
    CHECK(l.precision == "fp32");
    CHECK(l.reason == o.reason);
    // Blacklisting every layer gives the fp32 result.
    CHECK(test::max_abs_diff(got, ref) <= 1e-5);
  }
}

TEST_CASE("int8 conv: a NaN weight is an error naming the node, not undefined behaviour") {
  Tensor w = test::random_tensor(DataType::f32, {4, 2, 3, 3}, 31);
  w.data<float>()[17] = std::nanf("");
  TestGraph tg;
  const int in = tg.input("x", {1, 2, 6, 6});
  tg.range(in, 1.f, DataType::s8);
  tg.output(tg.node("Conv", "conv_nan", {in, tg.constant("w", w)}, conv_attrs(1, 1, false)));
  Session s(tg.model());
  CHECK_THROWS_WITH_AS(s.prepare(),
                       doctest::Contains("node 'conv_nan' (Conv): the weights hold a NaN"), Error);
}
