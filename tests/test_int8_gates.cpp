// int8 data through the zoo's other joints (issue 16): a squeeze-excitation
// gate (MobileNetV3, EfficientNet, RegNet: x * sigmoid(conv(pool(x)))) and
// DenseNet's BN-ReLU after a Concat. Between int8 layers each runs on int8
// data: the graph input is quantized once, nothing is dequantized, the gate
// itself stays f32 (quantizing values in [0, 1] to 8 bits would cost
// precision for nothing), and the result is that of fp32 within the
// quantization error (cosine >= 0.999, max error <= 3% of the largest output).
#include <doctest/doctest.h>

#include <cmath>

#include "tests/fp32_amax.hpp"
#include "tests/op_harness.hpp"
#include "tests/test_graph.hpp"

using namespace octet;
using test::count_layers;
using test::layer_named;
using test::TestGraph;

namespace {

const Shape kImage{1, 8, 10, 12};

int conv(TestGraph& tg, const std::string& name, int in, int64_t cin, int64_t cout, int64_t k,
         const std::string& act, uint32_t seed) {
  const float bound = 1.5f / std::sqrt(static_cast<float>(cin * k * k));
  std::map<std::string, AttrValue> attrs{{"activation", act}};
  if (k == 3) attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
  return tg.node(
      "Conv", name,
      {in,
       tg.constant(name + ".w",
                   test::random_tensor(DataType::f32, {cout, cin, k, k}, seed, -bound, bound)),
       tg.constant(name + ".b", test::random_tensor(DataType::f32, {cout}, seed + 1, -0.1f, 0.1f))},
      attrs);
}

// Ranges for the input and the named values: max|v| of an fp32 run on `in`.
void calibrate(TestGraph& tg, const Tensor& in, const std::map<std::string, DataType>& values) {
  std::vector<std::string> names;
  for (const auto& [name, dtype] : values) names.push_back(name);
  const std::map<std::string, float> amax = test::fp32_amax(tg, in, names);
  tg.range(tg.g.inputs[0], amax.at(tg.g.values[tg.g.inputs[0]].name), DataType::s8);
  for (const auto& [name, dtype] : values) tg.range(tg.g.find_value(name), amax.at(name), dtype);
}

void check_against_fp32(const Model& m, const Tensor& in, const Tensor& got) {
  SessionOptions fp32;
  fp32.precision = Precision::fp32;
  const Tensor ref = Session(m, fp32).run({in})[0].clone();
  const double cos = test::cosine(got, ref), err = test::max_abs_diff(got, ref);
  MESSAGE("cosine " << cos << ", max error " << err << " of max " << test::max_abs(ref));
  CHECK(cos >= 0.999);
  CHECK(err <= 0.03 * test::max_abs(ref));
}

}  // namespace

TEST_CASE("int8 dataflow: a squeeze-excitation gate multiplies int8 data by an f32 gate") {
  TestGraph tg;
  const int x = tg.input("x", kImage);
  const int a = conv(tg, "a", x, 8, 8, 3, "relu", 1);
  const int pool = tg.node("GlobalAveragePool", "pool", {a});
  const int fc1 = conv(tg, "fc1", pool, 8, 4, 1, "relu", 3);
  const int gate = conv(tg, "fc2", fc1, 4, 8, 1, "sigmoid", 5);
  const int mul = tg.node("Mul", "se", {a, gate});
  tg.output(conv(tg, "c", mul, 8, 6, 3, "none", 7));
  const Tensor in = test::random_tensor(DataType::f32, kImage, 9, -2.f, 2.f);
  calibrate(tg, in,
            {{"a.out", DataType::u8},
             {"pool.out", DataType::u8},
             {"fc1.out", DataType::u8},
             {"fc2.out", DataType::u8},
             {"se.out", DataType::u8}});
  const Model m = tg.model();
  Session s(m);
  const Tensor got = s.run({in})[0].clone();
  const LayerInfo se = layer_named(s, "se");
  INFO("se: " << se.precision << " " << se.kernel << " (" << se.reason << ")");
  CHECK(se.precision == "int8");
  CHECK(se.kernel != "ref");
  std::map<std::string, int> n = count_layers(s);
  CHECK(n["Quantize:int8"] == 1);  // the graph input only: the gate is not quantized
  CHECK(n["Dequantize:fp32"] == 0);
  CHECK(n["Conv:fp32"] == 0);
  check_against_fp32(m, in, got);
  (void)mul;
}

TEST_CASE("int8 dataflow: DenseNet's Concat -> BN + ReLU -> Conv stays int8") {
  TestGraph tg;
  const int x = tg.input("x", kImage);
  const int a = conv(tg, "a", x, 8, 8, 3, "none", 11);
  const int b = conv(tg, "b", x, 8, 4, 3, "none", 13);
  const int cat = tg.node("Concat", "cat", {a, b}, {{"axis", int64_t{1}}});
  std::vector<int> params;
  uint32_t seed = 15;
  for (const char* p : {"gamma", "beta", "mean", "var"}) {
    const bool positive = std::string(p) == "gamma" || std::string(p) == "var";
    params.push_back(tg.constant(
        p, test::random_tensor(DataType::f32, {12}, seed++, positive ? 0.5f : -0.5f, 1.5f)));
  }
  const int norm =
      tg.node("BatchNormalization", "norm", {cat, params[0], params[1], params[2], params[3]},
              {{"activation", std::string("relu")}});
  tg.output(conv(tg, "c", norm, 12, 6, 1, "none", 21));
  const Tensor in = test::random_tensor(DataType::f32, kImage, 23, -2.f, 2.f);
  calibrate(tg, in,
            {{"a.out", DataType::s8},
             {"b.out", DataType::s8},
             {"cat.out", DataType::s8},
             {"norm.out", DataType::u8}});
  const Model m = tg.model();
  Session s(m);
  const Tensor got = s.run({in})[0].clone();
  const LayerInfo l = layer_named(s, "norm");
  INFO("norm: " << l.precision << " " << l.kernel << " (" << l.reason << ")");
  CHECK(l.precision == "int8");
  std::map<std::string, int> n = count_layers(s);
  CHECK(n["Quantize:int8"] == 1);
  CHECK(n["Dequantize:fp32"] == 0);
  CHECK(n["BatchNormalization:fp32"] == 0);
  check_against_fp32(m, in, got);
  (void)norm;
}

TEST_CASE("int8 dataflow: ShuffleNet's channel split (Slice) moves int8 data on its scale") {
  TestGraph tg;
  const int x = tg.input("x", kImage);
  const int a = conv(tg, "a", x, 8, 8, 3, "relu", 31);
  auto ints = [&](const std::string& name, std::vector<int64_t> v) {
    Tensor t(DataType::s64, {static_cast<int64_t>(v.size())});
    std::copy(v.begin(), v.end(), t.data<int64_t>());
    return tg.constant(name, t);
  };
  const int axes = ints("axes", {1});
  const int lo = tg.node("Slice", "lo", {a, ints("s0", {0}), ints("e0", {4}), axes});
  const int hi = tg.node("Slice", "hi", {a, ints("s1", {4}), ints("e1", {8}), axes});
  const int b = conv(tg, "b", hi, 4, 4, 3, "relu", 33);
  const int cat = tg.node("Concat", "cat", {lo, b}, {{"axis", int64_t{1}}});
  tg.output(conv(tg, "c", cat, 8, 6, 1, "none", 35));
  const Tensor in = test::random_tensor(DataType::f32, kImage, 37, -2.f, 2.f);
  calibrate(tg, in,
            {{"a.out", DataType::u8},
             {"lo.out", DataType::u8},
             {"hi.out", DataType::u8},
             {"b.out", DataType::u8},
             {"cat.out", DataType::u8}});
  // The halves on a's range, so that the fp32 Slice below quantizes its
  // output on the scale the int8 Slice keeps.
  for (const char* half : {"lo.out", "hi.out"}) {
    tg.g.values[tg.g.find_value(half)].quant = tg.g.values[a].quant;
  }
  const Model m = tg.model();
  Session s(m);
  const Tensor got = s.run({in})[0].clone();
  for (const char* name : {"lo", "hi"}) {
    const LayerInfo l = layer_named(s, name);
    INFO(name << ": " << l.precision << " " << l.kernel << " (" << l.reason << ")");
    CHECK(l.precision == "int8");
    CHECK(l.kernel != "ref");
  }
  std::map<std::string, int> n = count_layers(s);
  CHECK(n["Quantize:int8"] == 1);
  CHECK(n["Dequantize:fp32"] == 0);
  check_against_fp32(m, in, got);
  // The halves hold exactly the integers of a: forced to fp32 (dequantize,
  // copy, quantize on the same scale) they give the same output bit for bit.
  SessionOptions fp32_slice;
  fp32_slice.fp32_ops = {"Slice"};
  const Tensor forced = Session(m, fp32_slice).run({in})[0].clone();
  CHECK(test::max_abs_diff(forced, got) <= 1e-6 * test::max_abs(got));
}
