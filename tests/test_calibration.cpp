// Calibration: the methods on known histograms, the two-pass calibrator
// (determinism, unsigned detection, misuse), the table file and quantize().
// The methods against an independent NumPy implementation are checked by the
// calib_reference CTest (tests/python/calib_reference.py).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>

#include "op_harness.hpp"
#include "runtime/calibration/calibration_methods.hpp"
#include "temp_dir.hpp"
#include "test_graph.hpp"

using namespace octet;

namespace {

AbsHistogram uniform_histogram(size_t bins, double range) {
  AbsHistogram h;
  h.range = range;
  h.counts.assign(bins, 1);
  return h;
}

// A small CNN with a symbolic batch: conv+relu, max pool, conv, global
// average pool, flatten, gemm. Its activations mix signed and proven
// non-negative values.
Model small_cnn() {
  test::TestGraph t;
  const int x = t.input("image", {1, 3, 12, 12});
  t.g.values[x].shape = std::vector<Dim>{{-1, "batch"}, {3, ""}, {12, ""}, {12, ""}};
  const int w1 = t.constant("w1", test::random_tensor(DataType::f32, {8, 3, 3, 3}, 1, -0.5f, 0.5f));
  const int b1 = t.constant("b1", test::random_tensor(DataType::f32, {8}, 2));
  const int w2 = t.constant("w2", test::random_tensor(DataType::f32, {8, 8, 3, 3}, 3, -0.3f, 0.3f));
  const int b2 = t.constant("b2", test::random_tensor(DataType::f32, {8}, 4));
  const int w3 = t.constant("w3", test::random_tensor(DataType::f32, {5, 8}, 5));
  const int b3 = t.constant("b3", test::random_tensor(DataType::f32, {5}, 6));
  const int c1 = t.node("Conv", "conv1", {x, w1, b1},
                        {{"pads", std::vector<int64_t>{1, 1, 1, 1}}, {"activation", "relu"}});
  const int p1 = t.node(
      "MaxPool", "pool", {c1},
      {{"kernel_shape", std::vector<int64_t>{2, 2}}, {"strides", std::vector<int64_t>{2, 2}}});
  const int c2 =
      t.node("Conv", "conv2", {p1, w2, b2}, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  const int gap = t.node("GlobalAveragePool", "gap", {c2});
  const int flat = t.node("Flatten", "flatten", {gap});
  const int fc = t.node("Gemm", "fc", {flat, w3, b3}, {{"transB", int64_t{1}}});
  t.output(fc);
  return t.model();
}

// `n` samples of [1, 3, 12, 12], with a few large values so that the
// methods disagree.
std::vector<Tensor> samples(int n) {
  std::vector<Tensor> out;
  for (int i = 0; i < n; ++i) {
    Tensor s = test::random_tensor(DataType::f32, {1, 3, 12, 12}, 100 + i, -2.f, 2.f);
    s.data<float>()[i * 7 % 432] = 9.f + i;
    out.push_back(s);
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& parts) {
  Shape shape = parts[0].shape();
  shape[0] = static_cast<int64_t>(parts.size());
  Tensor out(DataType::f32, shape);
  char* dst = static_cast<char*>(out.raw());
  for (const Tensor& p : parts) {
    std::copy_n(static_cast<const char*>(p.raw()), p.nbytes(), dst);
    dst += p.nbytes();
  }
  return out;
}

// Both passes over `order`, fed in batches of `batch`.
CalibrationTable calibrate(const Model& model, const std::vector<Tensor>& data,
                           const std::vector<int>& order, int batch) {
  CalibrationOptions options;
  options.methods = {"all"};
  options.threads = 2;
  Calibrator calibrator(model, options);
  for (int pass = 1; pass <= 2; ++pass) {
    for (size_t i = 0; i < order.size(); i += static_cast<size_t>(batch)) {
      std::vector<Tensor> parts;
      for (size_t k = i; k < std::min(order.size(), i + static_cast<size_t>(batch)); ++k) {
        parts.push_back(data[static_cast<size_t>(order[k])]);
      }
      calibrator.add({stack(parts)});
    }
    if (pass == 1) calibrator.start_histograms();
  }
  return calibrator.table();
}

const TensorCalibration& row(const CalibrationTable& t, const std::string& name) {
  for (const TensorCalibration& c : t.tensors) {
    if (c.name == name) return c;
  }
  FAIL("no row for " << name);
  throw 0;
}

}  // namespace

TEST_CASE("calibration methods: percentile keeps the bin holding the percentile") {
  const AbsHistogram h = uniform_histogram(1000, 1000.0);
  CHECK(amax_percentile(h, 99.85) == doctest::Approx(999.0));
  CHECK(amax_percentile(h, 50) == doctest::Approx(500.0));
  CHECK(amax_percentile(h, 100) == doctest::Approx(1000.0));
  CHECK(compute_amax(h, "max", false) == 1000.0);
}

TEST_CASE("calibration methods: bins follow numpy's edges, the last bin is closed") {
  AbsHistogram h;
  h.range = 0.7;
  h.counts.assign(7, 0);
  CHECK(h.bin_of(0.f) == 0);
  CHECK(h.bin_of(0.7f) == 6);  // |x| == range
  CHECK(h.bin_of(0.35f) == (0.35f >= h.edge(3) ? 3u : 2u));
  for (size_t i = 1; i < 7; ++i) {
    const float e = static_cast<float>(h.edge(i));
    // A value just under an edge stays below it, one on or past it moves up.
    CHECK(h.bin_of(std::nextafter(e, 0.f)) == (std::nextafter(e, 0.f) >= h.edge(i) ? i : i - 1));
  }
}

TEST_CASE("calibration methods: entropy and mse clip a far outlier, max does not") {
  // A half-normal bulk over the first ~200 of 2048 bins and one outlier at the end.
  AbsHistogram h;
  h.range = 2048;
  h.counts.assign(2048, 0);
  for (size_t i = 0; i < 400; ++i) {
    h.counts[i] = static_cast<int64_t>(1e6 * std::exp(-0.5 * (i / 80.0) * (i / 80.0)));
  }
  h.counts[2047] = 1;
  const double entropy = amax_entropy(h, true);
  const double mse = amax_mse(h, true);
  CHECK(entropy > 128);
  CHECK(entropy < 500);
  CHECK(mse > 128);
  CHECK(mse < 500);
  CHECK(amax_percentile(h, 99.99) < 500);
  CHECK(compute_amax(h, "max", true) == 2048);
}

TEST_CASE("calibration methods: names are checked and canonical") {
  CHECK(canonical_method("percentile=99.990") == "percentile=99.99");
  CHECK(canonical_method("percentile") == "percentile=99.99");
  CHECK(canonical_method("entropy") == "entropy");
  for (const char* bad : {"kl", "percentile=0", "percentile=101", "percentile=abc", ""}) {
    CHECK_THROWS_WITH_AS(canonical_method(bad), doctest::Contains("unknown calibration method"),
                         Error);
  }
}

TEST_CASE("calibrator: batch size and sample order do not change the table") {
  const Model model = small_cnn();
  const std::vector<Tensor> data = samples(8);
  std::vector<int> order = {0, 1, 2, 3, 4, 5, 6, 7};
  CalibrationTable a = calibrate(model, data, order, 1);
  CalibrationTable b = calibrate(model, data, order, 3);  // batches of 3, 3 and 2
  std::shuffle(order.begin(), order.end(), std::mt19937(7));
  CalibrationTable c = calibrate(model, data, order, 4);
  b.date = c.date = a.date;
  CHECK(a.samples == 8);
  CHECK(a.to_json() == b.to_json());
  CHECK(a.to_json() == c.to_json());
  CHECK(a.data_fingerprint == c.data_fingerprint);
  // A different sample set has a different fingerprint.
  CalibrationTable d = calibrate(model, samples(7), {0, 1, 2, 3, 4, 5, 6}, 2);
  CHECK(d.data_fingerprint != a.data_fingerprint);
}

TEST_CASE("calibrator: ranges, histograms and unsigned tensors") {
  const Model model = small_cnn();
  const std::vector<Tensor> data = samples(4);
  const CalibrationTable t = calibrate(model, data, {0, 1, 2, 3}, 2);
  CHECK(t.model_hash == model.content_hash());
  CHECK(t.bins == 2048);
  CHECK(t.methods.size() == all_methods().size());
  CHECK(t.method == "entropy");
  // The input: signed, its max is the largest injected value.
  const TensorCalibration& in = row(t, "image");
  CHECK(in.dtype == DataType::s8);
  CHECK(in.max == 12.f);
  CHECK(in.min >= -2.f);
  CHECK(in.amax_by_method.at("max") == 12.f);
  int64_t total = 0;
  for (int64_t n : in.histogram) total += n;
  CHECK(total == 4 * 3 * 12 * 12);
  // ReLU outputs and what only moves them are proven non-negative: u8.
  CHECK(row(t, "conv1.out").dtype == DataType::u8);
  CHECK(row(t, "pool.out").dtype == DataType::u8);
  CHECK(row(t, "conv2.out").dtype == DataType::s8);
  CHECK(row(t, "fc.out").dtype == DataType::s8);
  for (const TensorCalibration& c : t.tensors) {
    CAPTURE(c.name);
    const float range = std::max(std::fabs(c.min), std::fabs(c.max));
    CHECK(c.amax_by_method.at("max") == range);
    for (const auto& [m, a] : c.amax_by_method) {
      CAPTURE(m);
      CHECK(a > 0);
      CHECK(a <= range);
    }
    CHECK(c.amax == c.amax_by_method.at("entropy"));
    CHECK(c.histogram.size() == 2048);
  }
  // 4 of 1728 input values are outliers (9 to 12): 99.9% clips the largest.
  CHECK(in.amax_by_method.at("percentile=99.9") < in.max);
}

TEST_CASE("calibrator: u8 where the op says its output is never negative") {
  // Every branch reads the same signed input; which are u8 is each op's
  // answer (Op::output_never_negative), Clip's from its bounds.
  test::TestGraph t;
  const int x = t.input("x", {1, 64});
  auto scalar = [&](const std::string& name, float value) {
    Tensor s(DataType::f32, {});
    *s.data<float>() = value;
    return t.constant(name, s);
  };
  const int zero = scalar("zero", 0.f), six = scalar("six", 6.f);
  const int minus_one = scalar("minus_one", -1.f);
  struct Branch {
    std::string name;
    DataType expected;
  };
  std::vector<Branch> branches;
  auto add = [&](const std::string& op, const std::string& name, std::vector<int> inputs,
                 DataType expected, std::map<std::string, AttrValue> attrs = {}) {
    t.output(t.node(op, name, std::move(inputs), std::move(attrs)));
    branches.push_back({name + ".out", expected});
  };
  add("Relu", "relu", {x}, DataType::u8);
  add("Sigmoid", "sigmoid", {x}, DataType::u8);
  add("HardSigmoid", "hard_sigmoid", {x}, DataType::u8);
  add("Clip", "clip_0_6", {x, zero, six}, DataType::u8);
  add("Clip", "clip_0", {x, zero}, DataType::u8);
  add("Clip", "clip_attr_0_6", {x}, DataType::u8, {{"min", 0.0}, {"max", 6.0}});
  add("Clip", "clip_m1_6", {x, minus_one, six}, DataType::s8);
  add("Clip", "clip_max_only", {x, kNoValue, six}, DataType::s8);
  add("Clip", "clip_0_m1", {x, zero, minus_one}, DataType::s8);  // min > max: all -1
  add("Clip", "clip_attr_m1", {x}, DataType::s8, {{"min", -1.0}, {"max", 6.0}});
  add("Tanh", "tanh", {x}, DataType::s8);
  add("HardSwish", "hard_swish", {x}, DataType::s8);

  Calibrator calibrator(t.model());
  calibrator.add({test::random_tensor(DataType::f32, {1, 64}, 11, -3.f, 3.f)});
  const CalibrationTable table = calibrator.table();
  CHECK(row(table, "x").dtype == DataType::s8);
  for (const Branch& b : branches) {
    CAPTURE(b.name);
    CHECK(row(table, b.name).dtype == b.expected);
  }
}

TEST_CASE("calibrator: misuse is a clear error") {
  const Model model = small_cnn();
  CalibrationOptions options;
  options.methods = {"entropy"};
  Calibrator calibrator(model, options);
  CHECK_THROWS_WITH_AS(calibrator.table(), doctest::Contains("seen no data"), Error);
  const std::vector<Tensor> data = samples(3);
  calibrator.add({data[0]});
  calibrator.add({data[1]});
  CHECK_THROWS_WITH_AS(calibrator.table(), doctest::Contains("start_histograms"), Error);
  calibrator.start_histograms();
  CHECK(calibrator.pass() == 2);
  calibrator.add({data[0]});
  calibrator.add({data[2]});  // not what pass 1 saw
  CHECK_THROWS_WITH_AS(calibrator.table(), doctest::Contains("pass 2 saw different samples"),
                       Error);
  CHECK_THROWS_WITH_AS(calibrator.add({}), doctest::Contains("needs 1 input"), Error);

  options.methods = {"max"};
  options.method = "entropy";
  CHECK_THROWS_WITH_AS(Calibrator(model, options), doctest::Contains("not among those computed"),
                       Error);
  options.method = "";
  options.bins = 10;
  CHECK_THROWS_WITH_AS(Calibrator(model, options), doctest::Contains("bins"), Error);
}

TEST_CASE("calibration table: save, load and save again is byte-identical") {
  const Model model = small_cnn();
  CalibrationTable t = calibrate(model, samples(3), {0, 1, 2}, 3);
  t.data_source = "synthetic";
  test::TempDir dir;
  t.save(dir.file("table.json"));
  const CalibrationTable back = CalibrationTable::load(dir.file("table.json"));
  CHECK(back.to_json() == t.to_json());
  REQUIRE(back.tensors.size() == t.tensors.size());
  for (size_t i = 0; i < t.tensors.size(); ++i) {
    CHECK(back.tensors[i].amax == t.tensors[i].amax);  // exact floats
    CHECK(back.tensors[i].amax_by_method == t.tensors[i].amax_by_method);
    CHECK(back.tensors[i].histogram == t.tensors[i].histogram);
  }
}

TEST_CASE("quantize: a table's ranges reach the model, another model's table is refused") {
  const Model model = small_cnn();
  CalibrationTable t = calibrate(model, samples(3), {0, 1, 2}, 1);
  const Model q = quantize(model, t, "percentile=99.99");
  CHECK(q.activation_range_count() == t.tensors.size());
  CHECK(q.content_hash() == model.content_hash());
  const Graph& g = model_data(q).graph;
  const Value& conv1 = g.values[g.find_value("conv1.out")];
  REQUIRE(conv1.quant);
  CHECK(conv1.quant->amax == row(t, "conv1.out").amax_by_method.at("percentile=99.99"));
  CHECK(conv1.quant->dtype == DataType::u8);
  CHECK(conv1.quant->source == "calibration:percentile=99.99");

  // A human edit of one amax is honoured and marked.
  t.tensors[0].amax *= 0.5f;
  const Model edited = quantize(model, t);
  const Value& v = model_data(edited).graph.values[g.find_value(t.tensors[0].name)];
  CHECK(v.quant->amax == t.tensors[0].amax);
  CHECK(v.quant->source == "table:edited");

  CHECK_THROWS_WITH_AS(quantize(model, t, "percentile=99.5"),
                       doctest::Contains("no 'percentile=99.5' range"), Error);
  t.model_hash = "0123456789abcdef";
  try {
    quantize(model, t);
    FAIL("a table for another model was accepted");
  } catch (const Error& e) {
    const std::string what = e.what();
    CHECK(what.find("different model") != std::string::npos);
    CHECK(what.find("0123456789abcdef") != std::string::npos);
    CHECK(what.find(model.content_hash()) != std::string::npos);
  }
}

TEST_CASE("calibration table: malformed files are errors naming the file and field") {
  const Model model = small_cnn();
  const std::string good = calibrate(model, samples(2), {0, 1}, 2).to_json();
  auto bad = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    const size_t at = text.find(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
  };
  auto parse = [](const std::string& text) { return CalibrationTable::parse(text, "t.json"); };
  CHECK_THROWS_WITH_AS(parse("{"), doctest::Contains("t.json: JSON syntax error"), Error);
  CHECK_THROWS_WITH_AS(parse(bad("octet-calibration", "octet-model")),
                       doctest::Contains("not a calibration table"), Error);
  CHECK_THROWS_WITH_AS(parse(bad("\"version\": 1", "\"version\": 7")),
                       doctest::Contains("version 7"), Error);
  CHECK_THROWS_WITH_AS(parse(bad("\"dtype\": \"s8\"", "\"dtype\": \"s16\"")),
                       doctest::Contains("': dtype must be s8 or u8, got s16"), Error);
  CHECK_THROWS_WITH_AS(parse(bad("\"amax\": ", "\"amax\": -")),
                       doctest::Contains("amax must be positive"), Error);
  CHECK_THROWS_WITH_AS(parse(bad("\"amax\": ", "\"amax\": 1e300, \"x\": ")),
                       doctest::Contains("must be finite"), Error);
  CHECK_THROWS_WITH_AS(parse(bad("\"method\": \"entropy\"", "\"method\": \"kl\"")),
                       doctest::Contains("unknown calibration method 'kl'"), Error);
  CHECK_THROWS_WITH_AS(parse(bad("\"image\": [", "\"image\": [1, ")),
                       doctest::Contains("histograms: tensor 'image': must be a list of 2048"),
                       Error);
  CHECK_THROWS_WITH_AS(CalibrationTable::load("/nonexistent/table.json"),
                       doctest::Contains("/nonexistent/table.json"), Error);
}
