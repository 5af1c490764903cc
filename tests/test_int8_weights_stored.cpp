// Weights stored as s8 (Model::with_int8_weights, format version 2): the
// same bits as the f32 weights on this CPU's int8 kernels, the dequantized
// weights on fp32 ones, ~4x smaller files, and the loader's checks.
#ifdef OCTET_HAVE_ZOO
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>

#include <nlohmann/json.hpp>

#include "apps/zoo/zoo.hpp"
#include "loaders/formats/model_format.hpp"
#include "loaders/onnx/onnx_export.hpp"
#include "runtime/ir/file_io.hpp"
#include "runtime/model/model.hpp"
#include "tests/op_harness.hpp"
#include "tests/temp_dir.hpp"
#include "tests/test_graph.hpp"

using namespace octet;

namespace {

std::vector<Tensor> zoo_inputs(const Model& m, bool bert, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Tensor> inputs;
  for (const TensorInfo& info : m.inputs()) {
    if (!bert) {
      inputs.push_back(test::random_tensor(DataType::f32, {2, 3, 224, 224}, rng(), -2.f, 2.f));
      continue;
    }
    Tensor t(DataType::s64, {2, 32});
    for (int64_t i = 0; i < t.numel(); ++i) {
      int64_t v = 1;
      if (info.name == "input_ids") v = static_cast<int64_t>(rng() % 30000) + 100;
      if (info.name == "token_type_ids") v = i % 32 >= 16;
      t.data<int64_t>()[i] = v;
    }
    inputs.push_back(t);
  }
  return inputs;
}

Model calibrated(const std::string& name) {
  const Model fp32(detail::build_model(zoo::build(name, 0), "zoo:" + name));
  Calibrator calibrator(fp32);
  calibrator.add(zoo_inputs(fp32, name == "bert-tiny", 100));
  return calibrator.quantized_model();
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// How many weights `m` stores as s8; their element and channel counts.
size_t stored_count(const Model& m, int64_t* elements = nullptr, int64_t* channels = nullptr) {
  size_t n = 0;
  for (const Value& v : model_data(m).graph.values) {
    if (v.weight_quant && v.weight_quant->stored_s8 && v.data.dtype() == DataType::s8) {
      ++n;
      if (elements) *elements += v.data.numel();
      if (channels) *channels += static_cast<int64_t>(v.weight_quant->amax.size());
    }
  }
  return n;
}

}  // namespace

TEST_CASE("int8 weights on disk: resnet18 and bert-tiny compute the same bits from s8 weights") {
  for (const std::string name : {"resnet18", "bert-tiny"}) {
    CAPTURE(name);
    const bool bert = name == "bert-tiny";
    const Model f32_weights = calibrated(name);
    test::TempDir dir;
    f32_weights.save(dir.file("f32"));
    f32_weights.with_int8_weights().save(dir.file("s8"));
    const Model stored = Model::load(dir.file("s8"));
    // resnet18: 20 Conv weights and the classifier's; bert-tiny: 6 Linear
    // layers in each of 2 blocks, the pooler and the classifier.
    int64_t elements = 0, channels = 0;
    const size_t count = stored_count(stored, &elements, &channels);
    CHECK(count == (bert ? 14u : 21u));
    const auto f32_bin =
        static_cast<int64_t>(std::filesystem::file_size(dir.file("f32.octet.bin")));
    const auto s8_bin = static_cast<int64_t>(std::filesystem::file_size(dir.file("s8.octet.bin")));
    MESSAGE(name << ": .bin " << f32_bin << " -> " << s8_bin << " bytes");
    // 3 of every 4 bytes of the stored weights saved, less their f32
    // ranges (one per channel) and each tensor's 64-byte alignment.
    // resnet18 is mostly Conv weights (4x smaller); bert-tiny mostly its f32
    // embeddings.
    CHECK(std::abs(f32_bin - s8_bin - (3 * elements - 4 * channels)) <=
          2 * 64 * static_cast<int64_t>(count));
    if (!bert) CHECK(s8_bin < f32_bin * 0.27);

    Session a(Model::load(dir.file("f32"))), b(stored);
    for (uint32_t seed : {7u, 8u}) {
      const std::vector<Tensor> inputs = zoo_inputs(stored, bert, seed);
      const Tensor ref = a.run(inputs)[0].clone();
      const Tensor got = b.run(inputs)[0].clone();
      CHECK(same_bits(got, ref));
    }
    CHECK(test::count_layers(a) == test::count_layers(b));

    // fp32 reads the weights dequantized, q x amax_c / 127: exactly the
    // weights octet study fake-quantizes per channel.
    SessionOptions fp32;
    fp32.precision = Precision::fp32;
    Session c(f32_weights.with_fake_quantized_weights(WeightGranularity::per_channel), fp32);
    Session d(stored, fp32);
    const std::vector<Tensor> inputs = zoo_inputs(stored, bert, 9);
    CHECK(same_bits(d.run(inputs)[0].clone(), c.run(inputs)[0].clone()));
  }
}

TEST_CASE("int8 weights on disk: the QDQ export of s8 weights is the export of the f32 weights") {
  const Model f32_weights = calibrated("resnet18");
  const Model stored = f32_weights.with_int8_weights();
  Session s(f32_weights);
  s.prepare({{"input", {2, 3, 224, 224}}});
  for (bool seven_bit : {false, true}) {
    CAPTURE(seven_bit);
    QdqExportOptions options;
    options.int8_nodes = int8_node_names(s.layers());
    options.seven_bit_weights = seven_bit;
    const QdqExport a = export_qdq_onnx(model_data(f32_weights).graph, options);
    const QdqExport b = export_qdq_onnx(model_data(stored).graph, options);
    CHECK(b.quantized_weights == 21);
    CHECK(a.bytes == b.bytes);
  }
}

namespace {

// x -> Conv(w, QAT ranges that clip) -> Relu fused -> MatMul(v) -> y; w2
// is read by a Conv that the model keeps in fp32.
struct SmallNet {
  test::TestGraph tg;
  SmallNet() {
    std::mt19937 rng(3);
    const int x = tg.input("x", {1, 8, 6, 6});
    tg.range(x, 3.f, DataType::s8);
    const int w =
        tg.constant("w", test::random_tensor(DataType::f32, {16, 8, 3, 3}, rng(), -1.f, 1.f));
    WeightQuant qat;
    qat.axis = 0;
    for (int c = 0; c < 16; ++c) qat.amax.push_back(0.3f + 0.04f * c);  // below max|w|: clips
    tg.g.values[w].weight_quant = qat;
    const int conv =
        tg.node("Conv", "conv", {x, w},
                {{"pads", std::vector<int64_t>{1, 1, 1, 1}}, {"activation", std::string("relu")}});
    tg.range(conv, 6.f, DataType::u8);
    const int w2 =
        tg.constant("w2", test::random_tensor(DataType::f32, {16, 16, 1, 1}, rng(), -1.f, 1.f));
    const int kept = tg.node("Conv", "kept_fp32", {conv, w2});
    tg.range(kept, 6.f, DataType::s8);
    const int flat =
        tg.node("Reshape", "flat", {kept, tg.constant("shape", shape_tensor({1, -1}))});
    tg.range(flat, 6.f, DataType::s8);
    const int v =
        tg.constant("v", test::random_tensor(DataType::f32, {576, 10}, rng(), -0.1f, 0.1f));
    tg.output(tg.node("MatMul", "fc", {flat, v}));
    tg.g.quantization.fp32_layers = {"kept_*"};
  }
  static Tensor shape_tensor(const std::vector<int64_t>& dims) {
    Tensor t(DataType::s64, {static_cast<int64_t>(dims.size())});
    for (size_t i = 0; i < dims.size(); ++i) t.data<int64_t>()[i] = dims[i];
    return t;
  }
};

}  // namespace

TEST_CASE("int8 weights on disk: QAT ranges, fp32 layers and what stays f32") {
  SmallNet net;
  const Model f32_weights = net.tg.model();
  const Model stored = f32_weights.with_int8_weights();
  const Graph& g = model_data(stored).graph;
  const Value& w = g.values[g.find_value("w")];
  REQUIRE(w.weight_quant);
  CHECK(w.weight_quant->stored_s8);
  CHECK(w.weight_quant->amax ==
        model_data(f32_weights).graph.values[g.find_value("w")].weight_quant->amax);
  CHECK(w.data.dtype() == DataType::s8);
  CHECK(g.values[g.find_value("v")].data.dtype() == DataType::s8);
  CHECK(g.values[g.find_value("v")].weight_quant->axis == 1);
  // A layer the model keeps in fp32 keeps its f32 weights, and so its bits.
  CHECK(g.values[g.find_value("w2")].data.dtype() == DataType::f32);
  CHECK(stored_count(stored) == 2);

  Session a(f32_weights), b(stored);
  std::mt19937 rng(5);
  const Tensor x = test::random_tensor(DataType::f32, {1, 8, 6, 6}, rng(), -3.f, 3.f);
  CHECK(same_bits(b.run({x})[0].clone(), a.run({x})[0].clone()));
  CHECK(test::layer_named(b, "conv").precision == "int8");
  CHECK(test::layer_named(b, "kept_fp32").precision == "fp32");

  // A layer a session sends to fp32 reads the weights dequantized: close to
  // the f32 weights, not equal.
  SessionOptions options;
  options.fp32_layers = {"fc"};
  const ConstantStore& store = *model_data(stored).constants;
  const size_t made_by_b = store.stats().made;
  Session c(f32_weights, options), d(stored, options);
  const Tensor ref = c.run({x})[0].clone();
  const Tensor got = d.run({x})[0].clone();
  CHECK(test::layer_named(d, "fc").precision == "fp32");
  CHECK(test::cosine(got, ref) >= 0.999);
  // Dequantized and reordered once for the Model (d published it: b had the
  // int8 forms only), so a second such session finds it: one copy, as for
  // f32 weights.
  CHECK(store.stats().made == made_by_b + 1);
  Session e(stored, options);
  CHECK(same_bits(e.run({x})[0].clone(), got));
  CHECK(store.stats().made == made_by_b + 1);

  // Storing again changes nothing; an fp32 model has nothing to store.
  CHECK(stored.with_int8_weights().content_hash() == stored.content_hash());
  test::TestGraph plain = net.tg;
  for (Value& v : plain.g.values) v.quant.reset();
  CHECK_THROWS_WITH_AS(plain.model().with_int8_weights(), doctest::Contains("no activation ranges"),
                       Error);
}

namespace {

// SmallNet with s8 weights, saved, its JSON changed by `edit`, parsed.
Graph parse_stored(const std::function<void(nlohmann::json&)>& edit) {
  SmallNet net;
  test::TempDir dir;
  net.tg.model().with_int8_weights().save(dir.file("m"));
  nlohmann::json doc = nlohmann::json::parse(read_text_file(dir.file("m.octet.json")));
  const std::string bin = read_text_file(dir.file("m.octet.bin"));
  edit(doc);
  return parse_model(doc.dump(), bin.data(), bin.size(), "m.octet.json");
}

}  // namespace

TEST_CASE("int8 weights on disk: format versions and the loader's checks") {
  // The writer says version 2 only when it stores s8 weights.
  {
    SmallNet net;
    test::TempDir dir;
    net.tg.model().save(dir.file("f32"));
    net.tg.model().with_int8_weights().save(dir.file("s8"));
    const auto f32 = nlohmann::json::parse(read_text_file(dir.file("f32.octet.json")));
    const auto s8 = nlohmann::json::parse(read_text_file(dir.file("s8.octet.json")));
    CHECK(f32["version"] == 1);
    CHECK(s8["version"] == 2);
    CHECK(s8["quantization"]["weights"]["v"]["stored"] == "s8");
    CHECK(f32["quantization"]["weights"].count("v") == 0);
  }
  CHECK_NOTHROW(parse_stored([](nlohmann::json&) {}));
  CHECK_THROWS_WITH_AS(parse_stored([](nlohmann::json& j) { j["version"] = 1; }),
                       doctest::Contains("needs format version 2"), Error);
  CHECK_THROWS_WITH_AS(parse_stored([](nlohmann::json& j) { j["version"] = 3; }),
                       doctest::Contains("reads versions 1 to 2"), Error);
  CHECK_THROWS_WITH_AS(
      parse_stored([](nlohmann::json& j) { j["quantization"]["weights"]["v"]["stored"] = "u8"; }),
      doctest::Contains("'stored' must be \"s8\""), Error);
  // The ranges: in the .bin (as written), or a JSON array (hand-written).
  auto v_weights = [](nlohmann::json& j) -> nlohmann::json& {
    return j["quantization"]["weights"]["v"];
  };
  CHECK_NOTHROW(parse_stored([&](nlohmann::json& j) {
    v_weights(j).erase("amax_offset");
    v_weights(j)["amax"] = std::vector<float>(10, 0.5f);
  }));
  CHECK_THROWS_WITH_AS(
      parse_stored([&](nlohmann::json& j) {
        v_weights(j)["amax_offset"] = v_weights(j)["amax_offset"].get<uint64_t>() + 4;
      }),
      doctest::Contains("weights['v']: 'amax_offset' must be a non-negative multiple of 64"),
      Error);
  CHECK_THROWS_WITH_AS(parse_stored([&](nlohmann::json& j) {
                         v_weights(j)["amax_offset"] =
                             (j["weights_bytes"].get<uint64_t>() + 63) / 64 * 64;
                       }),
                       doctest::Contains("lie outside the weights file"), Error);
  CHECK_THROWS_WITH_AS(parse_stored([&](nlohmann::json& j) { v_weights(j)["amax_offset"] = -64; }),
                       doctest::Contains("'amax_offset' must be"), Error);
  // A MatMul's B stored along the wrong axis.
  CHECK_THROWS_WITH_AS(parse_stored([&](nlohmann::json& j) {
                         v_weights(j).erase("amax_offset");
                         v_weights(j)["axis"] = 0;
                         v_weights(j)["amax"] = std::vector<float>(576, 0.5f);
                       }),
                       doctest::Contains("node 'fc' (MatMul) reads 'v', stored as s8 along axis 0"),
                       Error);
  // An f32 initializer cannot be stored s8.
  CHECK_THROWS_WITH_AS(parse_stored([](nlohmann::json& j) {
                         j["quantization"]["weights"]["w2"] = {
                             {"axis", 0}, {"amax", std::vector<float>(16, 1.f)}, {"stored", "s8"}};
                       }),
                       doctest::Contains("stored s8, but the initializer's dtype is f32"), Error);
  // An s8 weight read where no kernel knows its scales: as the MatMul's A.
  CHECK_THROWS_WITH_AS(parse_stored([](nlohmann::json& j) {
                         for (auto& n : j["nodes"]) {
                           if (n["name"] == "fc") n["inputs"] = {"v", "flat.out"};
                         }
                       }),
                       doctest::Contains("node 'fc' (MatMul) reads 'v', stored as s8"), Error);
  // ... or as a graph output.
  CHECK_THROWS_WITH_AS(
      parse_stored([](nlohmann::json& j) {
        j["outputs"].push_back({{"name", "v"}, {"dtype", "s8"}, {"shape", {576, 10}}});
      }),
      doctest::Contains("the graph output 'v' is a weight stored as s8"), Error);
}
#endif
