// The QDQ ONNX exporter (loaders/onnx/onnx_export.hpp) and TensorRT's
// calibration cache (loaders/formats/trt_calibration_cache.hpp): a small
// calibrated ResNet block exported, checked as ONNX, and imported back.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "loaders/formats/trt_calibration_cache.hpp"
#include "loaders/onnx/onnx_export.hpp"
#include "runtime/model/model.hpp"
#include "tests/onnx_builder.hpp"
#include "tests/op_harness.hpp"

using namespace octet;

namespace {

std::vector<float> values(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

void conv(test::OnnxBuilder& b, const std::string& name, const std::string& x, int in, int out,
          const std::string& y, uint32_t seed) {
  b.weight(name + ".w", {out, in, 3, 3}, values(size_t(out * in * 9), seed, 0.3f));
  b.weight(name + ".b", {out}, values(size_t(out), seed + 1, 0.1f));
  onnx::NodeProto* n = b.node("Conv", {x, name + ".w", name + ".b"}, {y}, name);
  test::OnnxBuilder::attr_ints(n, "pads", {1, 1, 1, 1});
}

// x -> conv1 + relu -> conv2 + residual + relu -> GlobalAveragePool -> Flatten -> Gemm.
Model fp32_block() {
  test::OnnxBuilder b;
  b.input("x", {"batch", 3, 12, 12});
  conv(b, "conv1", "x", 3, 8, "c1", 1);
  b.node("Relu", {"c1"}, {"r1"}, "relu1");
  conv(b, "conv2", "r1", 8, 8, "c2", 3);
  b.node("Add", {"c2", "r1"}, {"s2"}, "add2");
  b.node("Relu", {"s2"}, {"r2"}, "relu2");
  b.node("GlobalAveragePool", {"r2"}, {"pool"}, "pool");
  b.node("Flatten", {"pool"}, {"flat"}, "flatten");
  b.weight("fc.w", {4, 8}, values(32, 5, 0.5f));
  b.weight("fc.b", {4}, values(4, 6, 0.1f));
  onnx::NodeProto* fc = b.node("Gemm", {"flat", "fc.w", "fc.b"}, {"logits"}, "fc");
  test::OnnxBuilder::attr_int(fc, "transB", 1);
  b.output("logits", {"batch", 4});
  ImportResult r = b.import();
  return Model(detail::build_model(std::move(r.graph), "test.onnx"));
}

Tensor input(uint32_t seed, int64_t batch = 2) {
  return test::random_tensor(DataType::f32, {batch, 3, 12, 12}, seed, -2.f, 2.f);
}

Model calibrated(const Model& fp32) {
  CalibrationOptions options;
  options.threads = 1;
  Calibrator calibrator(fp32, options);
  for (uint32_t seed = 10; seed < 14; ++seed) calibrator.add({input(seed)});
  return calibrator.quantized_model();
}

QdqExportOptions int8_plan_of(const Model& model) {
  Session s(model);
  s.prepare({{"x", {2, 3, 12, 12}}});
  QdqExportOptions options;
  options.int8_nodes = int8_node_names(s.layers());
  return options;
}

Model reimport(const QdqExport& e) {
  ImportResult r = import_onnx_bytes(e.bytes.data(), e.bytes.size(), "export.onnx");
  return Model(detail::build_model(std::move(r.graph), "export.onnx"));
}

const Value& value_named(const Model& m, const std::string& name) {
  const Graph& g = model_data(m).graph;
  const int id = g.find_value(name);
  REQUIRE_MESSAGE(id != kNoValue, name);
  return g.values[static_cast<size_t>(id)];
}

const onnx::NodeProto* onnx_node(const onnx::ModelProto& m, const std::string& name) {
  for (const onnx::NodeProto& n : m.graph().node()) {
    if (n.name() == name) return &n;
  }
  return nullptr;
}

int count(const onnx::ModelProto& m, const std::string& op) {
  int c = 0;
  for (const onnx::NodeProto& n : m.graph().node()) c += n.op_type() == op;
  return c;
}

const onnx::NodeProto* producer(const onnx::ModelProto& m, const std::string& value) {
  for (const onnx::NodeProto& n : m.graph().node()) {
    for (const std::string& o : n.output()) {
      if (o == value) return &n;
    }
  }
  return nullptr;
}

// The builder's ONNX model imported (its fusions applied), as `octet convert` makes it.
Model imported(const test::OnnxBuilder& b, const std::string& name) {
  ImportResult r = b.import();
  return Model(detail::build_model(std::move(r.graph), name));
}

// Both models give the same bits on `in` (fp32 sessions).
void check_same_outputs(const Model& a, const Model& b, const std::vector<Tensor>& in) {
  Session sa(a), sb(b);
  CHECK(test::max_abs_diff(sa.run(in)[0], sb.run(in)[0]) == 0);
}

}  // namespace

TEST_CASE("QDQ export: standard ops, per-channel int8 weights, octet's activation scales") {
  const Model int8 = calibrated(fp32_block());
  const QdqExport e = export_qdq_onnx(model_data(int8).graph, int8_plan_of(int8));
  onnx::ModelProto m;
  REQUIRE(m.ParseFromString(e.bytes));
  CHECK(m.opset_import(0).version() == 13);
  // Un-fused: conv1 + relu, conv2 + Add + relu; weights of conv1, conv2, fc.
  CHECK(count(m, "Relu") == 2);
  CHECK(count(m, "Add") == 1);
  CHECK(e.quantized_weights == 3);
  const onnx::NodeProto* c2 = onnx_node(m, "conv2");
  REQUIRE(c2);
  const onnx::NodeProto* w2 = producer(m, c2->input(1));
  REQUIRE(w2);
  CHECK(w2->op_type() == "DequantizeLinear");
  REQUIRE(w2->attribute_size() == 1);
  CHECK(w2->attribute(0).i() == 0);
  // Its activation input reads a DequantizeLinear of octet's scale.
  const onnx::NodeProto* x2 = producer(m, c2->input(0));
  REQUIRE(x2);
  CHECK(x2->op_type() == "DequantizeLinear");
  for (const onnx::TensorProto& t : m.graph().initializer()) {
    if (t.name() != x2->input(1)) continue;
    float scale = 0;
    REQUIRE(t.raw_data().size() == 4);
    std::memcpy(&scale, t.raw_data().data(), 4);
    CHECK(scale == value_named(int8, "r1").quant->scale());
  }
  // The logits (read by nothing in int8) are not quantized: the graph's
  // output is the Gemm's.
  const onnx::NodeProto* out = producer(m, m.graph().output(0).name());
  REQUIRE(out);
  CHECK(out->op_type() == "Gemm");
}

// Round trip: export -> import (`octet convert`) gives the same scales, and
// weights equal to octet's own per-channel int8 weights dequantized (which
// with_fake_quantized_weights computes), so fp32 outputs are bit-identical to
// that model's. int8 outputs: bit-identical where octet quantizes weights on
// 127 levels (VNNI CPUs); without VNNI octet requantizes the imported
// weights to 7 bits from another starting point (q * s instead of w), which
// can move a weight by one 7-bit level: cosine >= 0.9999 then.
TEST_CASE("QDQ export: re-imported, every scale is honoured") {
  const Model int8 = calibrated(fp32_block());
  const QdqExport e = export_qdq_onnx(model_data(int8).graph, int8_plan_of(int8));
  const Model back = reimport(e);
  for (const ActivationRange& r : int8.activation_ranges()) {
    if (r.name == "logits" || r.name == "pool" || r.name == "flat") continue;
    CAPTURE(r.name);
    const Value& v = value_named(back, r.name);
    REQUIRE(v.quant);
    CHECK(v.quant->dtype == r.dtype);
    CHECK(v.quant->scale() == value_named(int8, r.name).quant->scale());
  }
  // pool and flat are written on r2's scale by octet's int8 pooling: so is the export.
  CHECK(value_named(back, "flat").quant->scale() == value_named(int8, "r2").quant->scale());
  CHECK_FALSE(value_named(back, "logits").quant);

  SessionOptions fp32;
  fp32.precision = Precision::fp32;
  const Model fake = int8.with_fake_quantized_weights(WeightGranularity::per_channel);
  Session a(fake, fp32), b(back, fp32);
  const Tensor x = input(99, 3);
  const Tensor ya = a.run({x})[0].clone();
  const Tensor yb = b.run({x})[0].clone();
  REQUIRE(ya.nbytes() == yb.nbytes());
  CHECK(std::memcmp(ya.raw(), yb.raw(), ya.nbytes()) == 0);

  Session c(int8), d(back);
  const Tensor yc = c.run({x})[0].clone();
  const Tensor yd = d.run({x})[0].clone();
  for (const LayerInfo& l : d.layers()) {
    CAPTURE(l.name);
    if (l.op == "Conv" || l.op == "Gemm") CHECK(l.precision == "int8");
  }
  if (cpu_has_vnni()) {
    CHECK(std::memcmp(yc.raw(), yd.raw(), yc.nbytes()) == 0);
  } else {
    CHECK(test::cosine(yc, yd) >= 0.999);
  }
  // In int8 too, the import runs as the model with those weights does.
  Session f(fake);
  const Tensor yf = f.run({x})[0].clone();
  MESSAGE("int8 cosine: octet vs export " << test::cosine(yc, yd) << ", fake-quantized vs export "
                                          << test::cosine(yf, yd));
  CHECK(std::memcmp(yf.raw(), yd.raw(), yf.nbytes()) == 0);
}

TEST_CASE("QDQ export: layers kept in fp32 get nothing around them") {
  const Model int8 = calibrated(fp32_block()).with_fp32_layers({"conv2"});
  const QdqExport e = export_qdq_onnx(model_data(int8).graph, int8_plan_of(int8));
  onnx::ModelProto m;
  REQUIRE(m.ParseFromString(e.bytes));
  const onnx::NodeProto* c2 = onnx_node(m, "conv2");
  REQUIRE(c2);
  CHECK(c2->input(1) == "conv2.w");  // the f32 initializer itself
  bool f32_weight = false;
  for (const onnx::TensorProto& t : m.graph().initializer()) {
    f32_weight = f32_weight || (t.name() == "conv2.w" && t.data_type() == onnx::TensorProto::FLOAT);
  }
  CHECK(f32_weight);
  // conv1 writes r1 in int8 only if an int8 layer reads it: none does now
  // (conv2 is fp32, its residual Add is fused into it).
  const onnx::NodeProto* x2 = producer(m, c2->input(0));
  REQUIRE(x2);
  CHECK(x2->op_type() == "Relu");
  CHECK(e.quantized_weights == 2);
  // And conv2 stays fp32 after a round trip: no range on its weight.
  const Model back = reimport(e);
  CHECK_FALSE(value_named(back, "conv2.w").weight_quant);
}

TEST_CASE("QDQ export: 7-bit weights on 63 levels") {
  const Model int8 = calibrated(fp32_block());
  QdqExportOptions options = int8_plan_of(int8);
  options.seven_bit_weights = true;
  const QdqExport e = export_qdq_onnx(model_data(int8).graph, options);
  onnx::ModelProto m;
  REQUIRE(m.ParseFromString(e.bytes));
  int weights = 0;
  for (const onnx::TensorProto& t : m.graph().initializer()) {
    if (t.data_type() != onnx::TensorProto::INT8 || t.dims_size() < 2) continue;
    ++weights;
    int max_q = 0;
    for (char c : t.raw_data()) max_q = std::max(max_q, std::abs(int(static_cast<int8_t>(c))));
    CHECK(max_q == 63);
  }
  CHECK(weights == 3);
}

TEST_CASE("QDQ export: a MatMul's alpha is written as a Mul, and comes back as alpha") {
  test::OnnxBuilder b;
  b.input("q", {1, 2, 4, 3});
  b.input("kt", {1, 2, 3, 4});
  b.scalar("eight", 8.f);
  b.node("MatMul", {"q", "kt"}, {"s"}, "scores");
  b.node("Div", {"s", "eight"}, {"y"}, "scale");
  b.output("y");
  const Model model = imported(b, "attention.onnx");
  const Graph& g = model_data(model).graph;
  REQUIRE(g.nodes.size() == 1);
  REQUIRE(g.nodes[0].attr_float("alpha") == 0.125);

  const QdqExport e = export_qdq_onnx(g, QdqExportOptions{});
  onnx::ModelProto m;
  REQUIRE(m.ParseFromString(e.bytes));
  CHECK(count(m, "MatMul") == 1);
  const onnx::NodeProto* mul = producer(m, "y");
  REQUIRE(mul);
  CHECK(mul->op_type() == "Mul");
  const onnx::NodeProto* mm = producer(m, mul->input(0));
  REQUIRE(mm);
  CHECK(mm->op_type() == "MatMul");
  for (const onnx::TensorProto& t : m.graph().initializer()) {
    if (t.name() != mul->input(1)) continue;
    float alpha = 0;
    REQUIRE(t.raw_data().size() == 4);
    std::memcpy(&alpha, t.raw_data().data(), 4);
    CHECK(alpha == 0.125f);
  }
  for (const onnx::AttributeProto& a : mm->attribute()) {
    CHECK(a.name() != "alpha");  // no such attribute in ONNX's MatMul
  }

  const Model back = reimport(e);
  const Graph& gb = model_data(back).graph;
  REQUIRE(gb.nodes.size() == 1);
  CHECK(gb.nodes[0].attr_float("alpha") == 0.125);
  check_same_outputs(model, back,
                     {test::random_tensor(DataType::f32, {1, 2, 4, 3}, 1),
                      test::random_tensor(DataType::f32, {1, 2, 3, 4}, 2)});
}

TEST_CASE("QDQ export: a MatMul's bias and residual are written as two Adds, and come back") {
  test::OnnxBuilder b;
  b.input("x", {2, 4});
  b.input("h", {2, 3});
  b.weight("B", {4, 3}, values(12, 8, 0.5f));
  b.weight("bias", {3}, values(3, 9, 0.5f));
  b.node("MatMul", {"x", "B"}, {"m"}, "dense");
  b.node("Add", {"m", "bias"}, {"mb"}, "dense_bias");
  b.node("Add", {"mb", "h"}, {"y"}, "residual");
  b.output("y");
  const Model model = imported(b, "dense.onnx");
  REQUIRE(model_data(model).graph.nodes.size() == 1);

  const QdqExport e = export_qdq_onnx(model_data(model).graph, QdqExportOptions{});
  onnx::ModelProto m;
  REQUIRE(m.ParseFromString(e.bytes));
  CHECK(count(m, "Add") == 2);
  const onnx::NodeProto* last = producer(m, "y");
  REQUIRE(last);
  CHECK(last->op_type() == "Add");
  CHECK(last->input(1) == "h");
  const onnx::NodeProto* bias_add = producer(m, last->input(0));
  REQUIRE(bias_add);
  const onnx::NodeProto* mm = producer(m, bias_add->input(0));
  REQUIRE(mm);
  CHECK(mm->op_type() == "MatMul");
  CHECK(mm->input_size() == 2);

  const Model back = reimport(e);
  REQUIRE(model_data(back).graph.nodes.size() == 1);
  CHECK(model_data(back).graph.nodes[0].inputs.size() == 4);
  check_same_outputs(model, back,
                     {test::random_tensor(DataType::f32, {2, 4}, 3),
                      test::random_tensor(DataType::f32, {2, 3}, 4)});
}

TEST_CASE("QDQ export: what it cannot write is an Error naming the node") {
  test::OnnxBuilder b(11);
  b.input("x", {2, 5});
  b.node("Softmax", {"x"}, {"y"}, "old_softmax");
  b.output("y", {2, 5});
  ImportResult r = b.import();
  CHECK_THROWS_WITH_AS(export_qdq_onnx(r.graph, {}),
                       doctest::Contains("node 'old_softmax' (Softmax)"), Error);
  QdqExportOptions options;
  options.int8_nodes = {"no_such_node"};
  CHECK_THROWS_WITH_AS(export_qdq_onnx(r.graph, options), doctest::Contains("no_such_node"), Error);
}

TEST_CASE("TensorRT calibration cache: header, then name: big-endian float32 bits of amax/127") {
  // 127 / 127 = 1.0f = 0x3f800000; 63.5 / 127 = 0.5f; 1 / 127 = 0x3c010204.
  CHECK(trt_calibration_cache({{"input", 127.f}, {"conv1.out", 63.5f}, {"x", 1.f}}) ==
        "TRT-8601-EntropyCalibration2\ninput: 3f800000\nconv1.out: 3f000000\nx: 3c010204\n");
  CHECK(trt_calibration_cache({}, "TRT-8501-EntropyCalibration2") ==
        "TRT-8501-EntropyCalibration2\n");
  CHECK_THROWS_WITH_AS(trt_calibration_cache({{"a:b", 1.f}}), doctest::Contains("'a:b'"), Error);
  CHECK_THROWS_WITH_AS(trt_calibration_cache({{"t", 0.f}}), doctest::Contains("'t'"), Error);
}
