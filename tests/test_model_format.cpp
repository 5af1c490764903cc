// The octet model format: round trips, and every malformed-file case from the
// bad-input table producing an Error that names the problem and where.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "loaders/formats/model_format.hpp"
#include "runtime/model/model.hpp"
#include "tests/op_harness.hpp"
#include "tests/temp_dir.hpp"

using namespace octet;
using json = nlohmann::json;

namespace {

// input x [batch,3,8,8] -> Conv(W 4x3x3x3, B) relu -> y; plus a spare s64
// initializer and attributes of every type on the conv node.
Graph small_graph() {
  Graph g;
  Value x;
  x.name = "x";
  x.shape = std::vector<Dim>{{-1, "batch"}, {3, ""}, {8, ""}, {8, ""}};
  g.inputs.push_back(g.add_value(x));
  Value w;
  w.name = "w";
  w.data = test::random_tensor(DataType::f32, {4, 3, 3, 3}, 1);
  const int wid = g.add_value(w);
  Value b;
  b.name = "b";
  b.data = test::random_tensor(DataType::f32, {4}, 2);
  const int bid = g.add_value(b);
  Value s;
  s.name = "spare";
  s.dtype = DataType::s64;
  s.data = test::random_tensor(DataType::s64, {3}, 3, -100, 100);
  g.add_value(s);
  Value y;
  y.name = "y";
  y.shape = std::vector<Dim>{{-1, "batch"}, {4, ""}, {8, ""}, {8, ""}};
  const int yid = g.add_value(y);
  Node n;
  n.op = "Conv";
  n.name = "conv1";
  n.inputs = {0, wid, bid};
  n.outputs = {yid};
  n.attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
  n.attrs["activation"] = std::string("relu");
  g.nodes.push_back(n);
  g.outputs.push_back(yid);
  g.metadata_json = R"({"preprocess":{"mean":[0.5,0.5,0.5]}})";
  g.values[yid].quant = ActivationQuant{2.5f, DataType::u8, "calibration:max"};
  g.values[wid].weight_quant = WeightQuant{0, {1, 2, 3, 4}};
  g.quantization.fp32_layers = {"conv*"};
  g.quantization.fp32_ops = {"Softmax"};
  return g;
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

void write_json(const std::string& path, const json& doc) {
  std::ofstream(path) << doc.dump(1);
}

// Writes the small model, lets `edit` change its JSON, and returns the error
// message of loading it.
template <class Edit>
std::string load_error(Edit edit) {
  test::TempDir dir;
  const std::string base = dir.file("m");
  write_model(small_graph(), base);
  json doc = read_json(base + ".octet.json");
  edit(doc, base);
  write_json(base + ".octet.json", doc);
  try {
    Model::load(base);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("model format: write then read gives back the same graph") {
  test::TempDir dir;
  const Graph g = small_graph();
  write_model(g, dir.file("m"));
  const Graph r = read_model(dir.file("m.octet.json"));
  REQUIRE(r.nodes.size() == 1);
  CHECK(r.nodes[0].op == "Conv");
  CHECK(r.nodes[0].name == "conv1");
  CHECK(r.nodes[0].attr_ints("pads") == std::vector<int64_t>{1, 1, 1, 1});
  CHECK(r.nodes[0].attr_string("activation") == "relu");
  REQUIRE(r.inputs.size() == 1);
  const Value& x = r.values[r.inputs[0]];
  CHECK(x.name == "x");
  REQUIRE(x.shape);
  CHECK((*x.shape)[0].symbol == "batch");
  CHECK((*x.shape)[1].size == 3);
  for (const char* name : {"w", "b", "spare"}) {
    const Value& a = g.values[g.find_value(name)];
    const Value& b = r.values[r.find_value(name)];
    CHECK(b.dtype == a.dtype);
    CHECK(b.data.shape() == a.data.shape());
    CHECK(std::memcmp(a.data.raw(), b.data.raw(), a.data.nbytes()) == 0);
    // Memory-mapped, 64-byte aligned.
    CHECK(reinterpret_cast<uintptr_t>(b.data.raw()) % 64 == 0);
  }
  const Value& y = r.values[r.outputs[0]];
  REQUIRE(y.quant);
  CHECK(y.quant->amax == 2.5f);
  CHECK(y.quant->dtype == DataType::u8);
  CHECK(y.quant->source == "calibration:max");
  REQUIRE(r.values[r.find_value("w")].weight_quant);
  CHECK(r.values[r.find_value("w")].weight_quant->amax == std::vector<float>{1, 2, 3, 4});
  CHECK(r.quantization.fp32_layers == std::vector<std::string>{"conv*"});
  CHECK(r.quantization.fp32_ops == std::vector<std::string>{"Softmax"});
  CHECK(json::parse(r.metadata_json) == json::parse(g.metadata_json));

  // Writing what was read gives identical files.
  write_model(r, dir.file("m2"));
  std::ifstream a(dir.file("m.octet.bin"), std::ios::binary),
      b(dir.file("m2.octet.bin"), std::ios::binary);
  const std::string bytes_a((std::istreambuf_iterator<char>(a)), {});
  const std::string bytes_b((std::istreambuf_iterator<char>(b)), {});
  CHECK(bytes_a == bytes_b);
  CHECK(read_json(dir.file("m.octet.json"))["nodes"] ==
        read_json(dir.file("m2.octet.json"))["nodes"]);
}

TEST_CASE("model format: attributes of every type survive a round trip") {
  test::TempDir dir;
  Graph g = small_graph();
  Node& n = g.nodes[0];
  n.attrs["i"] = int64_t{-3};
  n.attrs["f"] = 1.0;  // integral float must stay a float
  n.attrs["s"] = std::string("text");
  n.attrs["fs"] = std::vector<double>{0.5, 2.0};
  n.attrs["ss"] = std::vector<std::string>{"a", "b"};
  write_model(g, dir.file("m"));
  const Graph r = read_model(dir.file("m"));
  CHECK(r.nodes[0].attrs == n.attrs);
}

TEST_CASE("model format: a loaded model runs and matches the reference") {
  test::TempDir dir;
  write_model(small_graph(), dir.file("m"));
  Model m = Model::load(dir.file("m.octet.bin"));  // either file names the model
  Session s(m);
  s.prepare({{"x", {2, 3, 8, 8}}});
  const Tensor x = test::random_tensor(DataType::f32, {2, 3, 8, 8}, 7);
  const Tensor y = s.run({x})[0].clone();
  const Graph g = small_graph();
  test::OpCase c{
      "Conv", g.nodes[0].attrs, {x, g.values[1].data, g.values[2].data}, {false, true, true}};
  const Tensor ref = test::run_reference(c)[0];
  CHECK(test::max_abs_diff(y, ref) <= 1e-5 * test::max_abs(ref));
}

TEST_CASE("model format: bad files give errors naming the problem and the place") {
  SUBCASE("missing json") {
    test::TempDir dir;
    try {
      Model::load(dir.file("absent"));
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::io);
      CHECK(contains(e.what(), "absent.octet.json"));
    }
  }
  SUBCASE("truncated .bin") {
    test::TempDir dir;
    write_model(small_graph(), dir.file("m"));
    std::filesystem::resize_file(dir.file("m.octet.bin"), 100);
    try {
      Model::load(dir.file("m"));
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::invalid_model);
      CHECK(contains(e.what(), "m.octet.json"));
      CHECK(contains(e.what(), "truncated"));
    }
  }
  SUBCASE("initializer beyond the end of the .bin") {
    const std::string msg =
        load_error([](json& d, const std::string&) { d["initializers"][0]["offset"] = 1 << 20; });
    CHECK(contains(msg, "initializer 'w'"));
    CHECK(contains(msg, "outside the weights file"));
  }
  SUBCASE("misaligned offset") {
    const std::string msg =
        load_error([](json& d, const std::string&) { d["initializers"][1]["offset"] = 8; });
    CHECK(contains(msg, "initializer 'b'"));
    CHECK(contains(msg, "not 64-byte aligned"));
  }
  SUBCASE("length that does not match dtype x shape") {
    const std::string msg =
        load_error([](json& d, const std::string&) { d["initializers"][0]["length"] = 4; });
    CHECK(contains(msg, "initializer 'w'"));
    CHECK(contains(msg, "does not match"));
  }
  SUBCASE("JSON syntax error reports line and column") {
    test::TempDir dir;
    write_model(small_graph(), dir.file("m"));
    std::ofstream(dir.file("m.octet.json"))
        << "{\n  \"format\": \"octet-model\",\n  \"version\": 1,,\n}";
    try {
      Model::load(dir.file("m"));
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(contains(e.what(), "m.octet.json"));
      CHECK(contains(e.what(), "JSON syntax error"));
      CHECK(contains(e.what(), "line 3, column 16"));
    }
  }
  SUBCASE("unknown format version") {
    std::string msg = load_error([](json& d, const std::string&) { d["version"] = 3; });
    CHECK(contains(msg, "unknown format version 3 (this octet reads versions 1 to 2"));
    msg = load_error([](json& d, const std::string&) { d["version"] = 0; });
    CHECK(contains(msg, "unknown format version 0"));
  }
  SUBCASE("not an octet model") {
    const std::string msg = load_error([](json& d, const std::string&) { d["format"] = "onnx"; });
    CHECK(contains(msg, "not an octet model"));
  }
  SUBCASE("unknown op") {
    const std::string msg =
        load_error([](json& d, const std::string&) { d["nodes"][0]["op"] = "FancyOp"; });
    CHECK(contains(msg, "node 'conv1' (FancyOp)"));
    CHECK(contains(msg, "not supported"));
  }
  SUBCASE("attribute of the wrong type") {
    const std::string msg = load_error(
        [](json& d, const std::string&) { d["nodes"][0]["attributes"]["strides"] = "two"; });
    CHECK(contains(msg, "node 'conv1' (Conv)"));
    CHECK(contains(msg, "'strides' must be of type int list, found string"));
  }
  SUBCASE("dangling value name") {
    const std::string msg =
        load_error([](json& d, const std::string&) { d["nodes"][0]["inputs"][0] = "nowhere"; });
    CHECK(contains(msg, "node 'conv1' (Conv)"));
    CHECK(contains(msg, "'nowhere'"));
    CHECK(contains(msg, "dangling"));
  }
  SUBCASE("graph cycle") {
    const std::string msg = load_error([](json& d, const std::string&) {
      json second = d["nodes"][0];
      second["name"] = "conv2";
      second["inputs"][0] = "y";
      second["outputs"][0] = "z";
      d["nodes"][0]["inputs"][0] = "z";
      d["nodes"].push_back(second);
    });
    CHECK(contains(msg, "cycle"));
    CHECK(contains(msg, "node 'conv"));
  }
  SUBCASE("a value defined twice") {
    const std::string msg =
        load_error([](json& d, const std::string&) { d["nodes"][0]["outputs"][0] = "w"; });
    CHECK(contains(msg, "'w' is defined twice"));
  }
  SUBCASE("bad activation scales") {
    for (double bad : {0.0, -1.0}) {
      const std::string msg = load_error([bad](json& d, const std::string&) {
        d["quantization"]["activations"]["y"]["amax"] = bad;
      });
      CHECK(contains(msg, "quantization.activations['y']"));
      CHECK(contains(msg, "positive finite"));
    }
    // JSON has no NaN or Inf literals: both spellings are syntax errors.
    test::TempDir dir;
    write_model(small_graph(), dir.file("m"));
    const std::string text = read_json(dir.file("m.octet.json")).dump();
    for (const char* bad : {"1e999", "NaN"}) {
      std::string edited = text;
      edited.replace(edited.find("\"amax\":2.5"), 10, std::string("\"amax\":") + bad);
      std::ofstream(dir.file("m.octet.json")) << edited;
      CHECK_THROWS_WITH_AS(Model::load(dir.file("m")), doctest::Contains("JSON syntax error"),
                           Error);
    }
  }
  SUBCASE("scales for a value that does not exist") {
    const std::string msg = load_error([](json& d, const std::string&) {
      d["quantization"]["activations"]["ghost"] = {{"amax", 1.0}, {"dtype", "s8"}};
    });
    CHECK(contains(msg, "quantization.activations['ghost']: no value of that name"));
  }
  SUBCASE("weight scales with the wrong channel count") {
    const std::string msg = load_error([](json& d, const std::string&) {
      d["quantization"]["weights"]["w"]["amax"] = {1.0, 2.0};
    });
    CHECK(contains(msg, "quantization.weights['w']"));
    CHECK(contains(msg, "2 amax values for 4 channels"));
  }
}

TEST_CASE("model format: parse_model survives garbage") {
  for (const char* text : {"", "null", "[]", "{\"format\":\"octet-model\"}",
                           "{\"format\":\"octet-model\",\"version\":1}",
                           "{\"format\":\"octet-model\",\"version\":1,\"weights_bytes\":0,"
                           "\"inputs\":{},\"nodes\":[]}"}) {
    CHECK_THROWS_AS(parse_model(text, nullptr, 0, "fuzz"), Error);
  }
}
