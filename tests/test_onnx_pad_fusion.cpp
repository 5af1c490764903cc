// loaders/onnx/pass_fuse_pad.cpp: zero padding folded into the op after it,
// as torch exports it (DenseNet's no-op Pad before AveragePool, Inception's
// Pad + AveragePool for count_include_pad), and the cases it must leave alone.
// Each fused graph computes what the unfused one does (reference kernels).
#include <doctest/doctest.h>

#include <algorithm>

#include "runtime/model/model.hpp"
#include "tests/onnx_builder.hpp"
#include "tests/op_harness.hpp"

using namespace octet;
using namespace octet::test;

namespace {

// x [1,2,5,5] -> Pad(pads, [value]) -> `reader` -> y.
OnnxBuilder pad_then(const std::vector<int64_t>& pads, const std::string& reader, float value = 0.f,
                     int64_t own_pads = 0, int64_t count_include_pad = 0) {
  OnnxBuilder b;
  b.input("x", {1, 2, 5, 5});
  b.weight_s64("pads", {static_cast<int64_t>(pads.size())}, pads);
  b.scalar("value", value);
  b.node("Pad", {"x", "pads", "value"}, {"p"}, "pad");
  onnx::NodeProto* n;
  if (reader == "Conv") {
    b.weight("W", {3, 2, 3, 3}, std::vector<float>(54, 0.25f));
    n = b.node("Conv", {"p", "W"}, {"y"}, "reader");
  } else {
    n = b.node(reader, {"p"}, {"y"}, "reader");
    OnnxBuilder::attr_ints(n, "kernel_shape", {3, 3});
    if (count_include_pad) OnnxBuilder::attr_int(n, "count_include_pad", 1);
  }
  if (own_pads) OnnxBuilder::attr_ints(n, "pads", {own_pads, own_pads, own_pads, own_pads});
  b.output("y");
  return b;
}

bool logged(const ImportResult& r, const std::string& line) {
  return std::find(r.log.begin(), r.log.end(), line) != r.log.end();
}

// The imported model's output on a fixed input, against numpy-style padding
// followed by the reader (computed from the same ONNX file with the pass
// unable to fire: the Pad output made a graph output too).
void check_same_values(const OnnxBuilder& fused, OnnxBuilder unfused) {
  unfused.output("p");
  REQUIRE(count_ops(unfused.import().graph, "Pad") == 1);
  const Tensor x = random_tensor(DataType::f32, {1, 2, 5, 5}, 7, -1.f, 1.f);
  auto run = [&](const OnnxBuilder& b) {
    SessionOptions o;
    o.precision = Precision::fp32;
    const Model m(detail::build_model(b.import().graph, "pad.onnx"));
    return Session(m, o).run({x})[0].clone();
  };
  const Tensor a = run(fused), b = run(unfused);
  REQUIRE(a.shape() == b.shape());
  CHECK(max_abs_diff(a, b) <= 1e-6);
}

}  // namespace

TEST_CASE("onnx passes: a Pad of zeros folds into the AveragePool or Conv after it") {
  SUBCASE("all pads 0: the Pad goes") {
    const OnnxBuilder b = pad_then({0, 0, 0, 0, 0, 0, 0, 0}, "AveragePool");
    const ImportResult r = b.import();
    CHECK(count_ops(r.graph, "Pad") == 0);
    CHECK(logged(r, "removed Pad 'pad' (all pads 0)"));
    check_same_values(b, b);
  }
  SUBCASE("AveragePool: its pads, counted") {
    const OnnxBuilder b = pad_then({0, 0, 1, 1, 0, 0, 1, 1}, "AveragePool");
    const ImportResult r = b.import();
    REQUIRE(r.graph.nodes.size() == 1);
    const Node& pool = r.graph.nodes[0];
    CHECK(pool.attr_ints("pads") == std::vector<int64_t>{1, 1, 1, 1});
    CHECK(pool.attr_int("count_include_pad") == 1);
    CHECK(logged(r, "fused Pad 'pad' into AveragePool 'reader'"));
    check_same_values(b, b);
  }
  SUBCASE("AveragePool that counts its own pads; uneven pads") {
    const OnnxBuilder b = pad_then({0, 0, 1, 0, 0, 0, 0, 1}, "AveragePool", 0.f, 1, 1);
    const ImportResult r = b.import();
    REQUIRE(r.graph.nodes.size() == 1);
    CHECK(r.graph.nodes[0].attr_ints("pads") == std::vector<int64_t>{2, 1, 1, 2});
    check_same_values(b, b);
  }
  SUBCASE("Conv: the pads add to its own") {
    const OnnxBuilder b = pad_then({0, 0, 1, 2, 0, 0, 1, 0}, "Conv", 0.f, 1);
    const ImportResult r = b.import();
    REQUIRE(r.graph.nodes.size() == 1);
    CHECK(r.graph.nodes[0].attr_ints("pads") == std::vector<int64_t>{2, 3, 2, 1});
    check_same_values(b, b);
  }
}

TEST_CASE("onnx passes: Pads that must stay") {
  // A non-zero constant, a padded channel axis, MaxPool (pads with -inf),
  // an AveragePool whose own pads are not counted, one whose merged pads
  // would reach its kernel size (3: 1 + 2).
  for (const OnnxBuilder& b : {pad_then({0, 0, 1, 1, 0, 0, 1, 1}, "AveragePool", 0.5f),
                               pad_then({0, 1, 1, 1, 0, 0, 1, 1}, "AveragePool"),
                               pad_then({0, 0, 1, 1, 0, 0, 1, 1}, "MaxPool"),
                               pad_then({0, 0, 1, 1, 0, 0, 1, 1}, "AveragePool", 0.f, 1, 0),
                               pad_then({0, 0, 2, 0, 0, 0, 0, 0}, "AveragePool", 0.f, 1, 1)}) {
    const ImportResult r = b.import();
    CHECK(count_ops(r.graph, "Pad") == 1);
  }
}
