// The ONNX importer: graph mapping, attributes, Constant folding, errors.
// The rewrite passes are tested in test_onnx_passes.cpp.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tests/onnx_builder.hpp"

using namespace octet;
using namespace octet::test;

namespace {

struct Failure {
  ErrorCode code = ErrorCode::internal;
  std::string message = "<no error>";
  bool has(const std::string& text) const { return message.find(text) != std::string::npos; }
};

Failure failure_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    return {e.code(), e.what()};
  }
  return {};
}

Failure import_failure(const OnnxBuilder& b) {
  return failure_of([&] { b.import(); });
}

// x -> Relu -> y: the smallest valid model, to be broken by each error test.
OnnxBuilder relu_model(int64_t opset = 13) {
  OnnxBuilder b(opset);
  b.input("x", {1, 4});
  b.node("Relu", {"x"}, {"y"}, "relu");
  b.output("y", {1, 4});
  return b;
}

// A fresh empty folder under the system temp dir, removed by the destructor.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("octet_onnx_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  void write(const std::string& name, const std::string& bytes) const {
    std::ofstream(path / name, std::ios::binary) << bytes;
  }
};

std::string float_bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

// A model whose initializer 'w' [4] lives in an external file.
OnnxBuilder external_model(const std::string& location, const std::string& offset,
                           const std::string& length) {
  OnnxBuilder b;
  b.input("x", {4});
  onnx::TensorProto* w = b.graph->add_initializer();
  OnnxBuilder::fill(w, "w", {4}, onnx::TensorProto::FLOAT);
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto add_entry = [&](const std::string& key, const std::string& value) {
    if (value.empty()) return;
    onnx::StringStringEntryProto* e = w->add_external_data();
    e->set_key(key);
    e->set_value(value);
  };
  add_entry("location", location);
  add_entry("offset", offset);
  add_entry("length", length);
  b.node("Add", {"x", "w"}, {"y"}, "add");
  b.output("y", {4});
  return b;
}

}  // namespace

TEST_CASE("onnx import: inputs, outputs, initializers and symbolic dims") {
  OnnxBuilder b;
  b.input("x", {"batch", 4, "", ""});
  b.input("w", {4});  // listed as an input, but it is an initializer
  b.weight("w", {4}, {1, 2, 3, 4});
  b.weight_raw("r", {2}, {5, 6});
  b.node("Add", {"x", "w"}, {"s"}, "add");
  b.node("Mul", {"s", "r"}, {"y"}, "mul");
  b.output("y", {"batch", 4, "", ""});
  const ImportResult r = b.import();
  const Graph& g = r.graph;

  REQUIRE(g.inputs.size() == 1);
  const Value& x = g.values[g.inputs[0]];
  CHECK(x.name == "x");
  CHECK(x.dtype == DataType::f32);
  REQUIRE(x.shape.has_value());
  REQUIRE(x.shape->size() == 4);
  CHECK((*x.shape)[0].size == -1);
  CHECK((*x.shape)[0].symbol == "batch");
  CHECK((*x.shape)[1].size == 4);
  CHECK((*x.shape)[2].size == -1);
  CHECK((*x.shape)[3].size == -1);
  CHECK_FALSE((*x.shape)[2].symbol.empty());
  CHECK((*x.shape)[2].symbol != (*x.shape)[3].symbol);
  CHECK((*x.shape)[2].symbol != "batch");

  REQUIRE(g.outputs.size() == 1);
  const Value& y = g.values[g.outputs[0]];
  CHECK(y.name == "y");
  REQUIRE(y.shape.has_value());
  CHECK((*y.shape)[0].symbol == "batch");
  CHECK((*y.shape)[2].symbol != (*x.shape)[2].symbol);  // unknown dims are all distinct

  const Value& w = value_named(g, "w");
  CHECK(w.is_initializer());
  CHECK(floats_of(w.data) == std::vector<float>{1, 2, 3, 4});
  CHECK(floats_of(value_named(g, "r").data) == std::vector<float>{5, 6});
  CHECK(g.nodes.size() == 2);
  CHECK(g.producer == "octet-tests");
}

TEST_CASE("onnx import: integer and bool initializers") {
  OnnxBuilder b;
  b.input("x", {3});
  auto add_int32_field = [&](const std::string& name, int type, std::vector<int32_t> values) {
    onnx::TensorProto* t = b.graph->add_initializer();
    OnnxBuilder::fill(t, name, {static_cast<int64_t>(values.size())}, type);
    for (int32_t v : values) t->add_int32_data(v);
  };
  add_int32_field("i8", onnx::TensorProto::INT8, {-1, 2, -128});
  add_int32_field("u8", onnx::TensorProto::UINT8, {255, 0, 7});
  add_int32_field("b", onnx::TensorProto::BOOL, {1, 0, 5});
  add_int32_field("i32", onnx::TensorProto::INT32, {-7, 8, 9});
  b.weight_s64("i64", {3}, {1, -2, int64_t{1} << 40});
  b.node("Where", {"b", "x", "x"}, {"y"}, "where");
  for (const char* name : {"i8", "u8", "i32", "i64"}) b.output(name);
  b.output("y");
  const Graph g = b.import().graph;
  const int8_t* i8 = value_named(g, "i8").data.data<int8_t>();
  CHECK((i8[0] == -1 && i8[1] == 2 && i8[2] == -128));
  const uint8_t* u8 = value_named(g, "u8").data.data<uint8_t>();
  CHECK((u8[0] == 255 && u8[1] == 0 && u8[2] == 7));
  const auto* bools = static_cast<const uint8_t*>(value_named(g, "b").data.raw());
  CHECK(value_named(g, "b").data.dtype() == DataType::boolean);
  CHECK((bools[0] == 1 && bools[1] == 0 && bools[2] == 1));  // non-zero is stored as 1
  const int32_t* i32 = value_named(g, "i32").data.data<int32_t>();
  CHECK((i32[0] == -7 && i32[1] == 8 && i32[2] == 9));
  const int64_t* i64 = value_named(g, "i64").data.data<int64_t>();
  CHECK((i64[0] == 1 && i64[1] == -2 && i64[2] == (int64_t{1} << 40)));
}

TEST_CASE("onnx import: Constant nodes become initializers") {
  OnnxBuilder b;
  b.input("x", {2});
  onnx::NodeProto* c1 = b.node("Constant", {}, {"c1"}, "const1");
  onnx::TensorProto* t = OnnxBuilder::attr(c1, "value", onnx::AttributeProto::TENSOR)->mutable_t();
  OnnxBuilder::fill(t, "", {2}, onnx::TensorProto::FLOAT);
  t->add_float_data(1.5f);
  t->add_float_data(2.5f);
  OnnxBuilder::attr_float(b.node("Constant", {}, {"c2"}), "value_float", 0.25f);
  OnnxBuilder::attr_ints(b.node("Constant", {}, {"c3"}), "value_ints", {2});
  OnnxBuilder::attr_int(b.node("Constant", {}, {"c4"}), "value_int", 9);
  b.node("Add", {"x", "c1"}, {"a"}, "add1");
  b.node("Add", {"a", "c2"}, {"s"}, "add2");
  b.node("Reshape", {"s", "c3"}, {"y"}, "reshape");
  b.output("y", {2});
  b.output("c4");
  const ImportResult r = b.import();
  const Graph& g = r.graph;
  CHECK(count_ops(g, "Constant") == 0);
  CHECK(g.nodes.size() == 3);
  CHECK(floats_of(value_named(g, "c1").data) == std::vector<float>{1.5f, 2.5f});
  const Tensor& c2 = value_named(g, "c2").data;
  CHECK(c2.shape().empty());
  CHECK(floats_of(c2) == std::vector<float>{0.25f});
  const Tensor& c3 = value_named(g, "c3").data;
  CHECK(c3.shape() == Shape{1});
  CHECK(c3.data<int64_t>()[0] == 2);
  CHECK(value_named(g, "c4").data.data<int64_t>()[0] == 9);
  REQUIRE(!r.log.empty());
  CHECK(r.log[0] == "turned 4 Constant nodes into initializers");
}

TEST_CASE("onnx import: ConstantOfShape value becomes value + dtype attributes") {
  OnnxBuilder b;
  b.input("shape", {1}, onnx::TensorProto::INT64);
  onnx::NodeProto* fill = b.node("ConstantOfShape", {"shape"}, {"f"}, "fill");
  onnx::TensorProto* t =
      OnnxBuilder::attr(fill, "value", onnx::AttributeProto::TENSOR)->mutable_t();
  OnnxBuilder::fill(t, "", {1}, onnx::TensorProto::INT64);
  t->add_int64_data(7);
  b.node("ConstantOfShape", {"shape"}, {"z"}, "zeros");
  b.output("f", {}, onnx::TensorProto::INT64);
  b.output("z");
  const Graph g = b.import().graph;
  REQUIRE(g.nodes.size() == 2);
  const Node& f = g.nodes[0].name == "fill" ? g.nodes[0] : g.nodes[1];
  const Node& z = g.nodes[0].name == "fill" ? g.nodes[1] : g.nodes[0];
  CHECK(std::get<int64_t>(f.attrs.at("value")) == 7);
  CHECK(std::get<std::string>(f.attrs.at("dtype")) == "s64");
  CHECK(std::get<double>(z.attrs.at("value")) == 0.0);
  CHECK(std::get<std::string>(z.attrs.at("dtype")) == "f32");
}

TEST_CASE("onnx import: attribute types") {
  OnnxBuilder b;
  b.input("x", {1, 1, 4, 4});
  b.weight("w", {1, 1, 1, 1}, {1});
  onnx::NodeProto* conv = b.node("Conv", {"x", "w"}, {"y"}, "conv");
  OnnxBuilder::attr_ints(conv, "strides", {1, 1});
  OnnxBuilder::attr_int(conv, "group", 1);
  OnnxBuilder::attr_string(conv, "auto_pad", "NOTSET");
  OnnxBuilder::attr_float(conv, "alpha", 0.5f);
  OnnxBuilder::attr_floats(conv, "betas", {0.25f, 2.0f});
  onnx::AttributeProto* s = OnnxBuilder::attr(conv, "names", onnx::AttributeProto::STRINGS);
  s->add_strings("a");
  s->add_strings("b");
  b.output("y", {1, 1, 4, 4});
  const Graph g = b.import().graph;
  const Node& n = g.nodes.at(0);
  CHECK(n.attr_ints("strides") == std::vector<int64_t>{1, 1});
  CHECK(std::get<int64_t>(n.attrs.at("group")) == 1);
  CHECK(std::get<std::string>(n.attrs.at("auto_pad")) == "NOTSET");
  CHECK(std::get<double>(n.attrs.at("alpha")) == 0.5);
  CHECK(std::get<std::vector<double>>(n.attrs.at("betas")) == std::vector<double>{0.25, 2.0});
  CHECK(std::get<std::vector<std::string>>(n.attrs.at("names")) ==
        std::vector<std::string>{"a", "b"});
}

TEST_CASE("onnx import: node names are generated and made unique") {
  OnnxBuilder b;
  b.input("x", {4});
  b.node("Relu", {"x"}, {"a"});            // Relu_0
  b.node("Relu", {"a"}, {"b"}, "Relu_0");  // the explicit name wins...
  b.node("Relu", {"b"}, {"c"}, "dup");
  b.node("Relu", {"c"}, {"y"}, "dup");
  b.output("y", {4});
  const Graph g = b.import().graph;
  std::vector<std::string> names;
  for (const Node& n : g.nodes) names.push_back(n.name);
  // ...so the generated name steps aside; a duplicate explicit name gets a suffix.
  CHECK(names == std::vector<std::string>{"Relu_0_1", "Relu_0", "dup", "dup_1"});
}

TEST_CASE("onnx import: nodes in any file order are sorted") {
  OnnxBuilder b;
  b.input("x", {4});
  b.node("Relu", {"a"}, {"y"}, "second");
  b.node("Relu", {"x"}, {"a"}, "first");
  b.output("y", {4});
  const Graph g = b.import().graph;
  REQUIRE(g.nodes.size() == 2);
  CHECK(g.nodes[0].name == "first");
  CHECK(g.nodes[1].name == "second");
}

TEST_CASE("onnx import: opsets 7 to 17 of the default domain") {
  for (int64_t opset = 7; opset <= 17; ++opset) {
    CAPTURE(opset);
    CHECK_NOTHROW(relu_model(opset).import());
  }
  OnnxBuilder ai = relu_model(13);
  ai.model.mutable_opset_import(0)->set_domain("ai.onnx");
  CHECK_NOTHROW(ai.import());
  for (int64_t opset : {6, 18}) {
    const Failure f = import_failure(relu_model(opset));
    CHECK(f.code == ErrorCode::unsupported);
    CHECK(f.has("'test.onnx'"));
    CHECK(f.has("opset " + std::to_string(opset)));
  }
  OnnxBuilder none = relu_model();
  none.model.mutable_opset_import(0)->set_domain("com.example");
  CHECK(import_failure(none).code == ErrorCode::invalid_model);
}

TEST_CASE("onnx import: not an ONNX file") {
  const std::string text = "this is not an onnx model";
  const Failure f = failure_of([&] { import_onnx_bytes(text.data(), text.size(), "x.onnx"); });
  CHECK(f.code == ErrorCode::invalid_model);
  CHECK(f.message == "'x.onnx' is not an ONNX model: protobuf parse failed");
  const Failure empty = failure_of([&] { import_onnx_bytes(nullptr, 0, "empty.onnx"); });
  CHECK(empty.code == ErrorCode::invalid_model);
  CHECK(empty.has("'empty.onnx' is not an ONNX model"));
  const Failure missing = failure_of([] { import_onnx_file("/nonexistent/dir/m.onnx"); });
  CHECK(missing.code == ErrorCode::io);
  CHECK(missing.has("'/nonexistent/dir/m.onnx'"));
}

TEST_CASE("onnx import: unsupported op types are all listed") {
  OnnxBuilder b;
  b.input("x", {4});
  b.node("Relu", {"x"}, {"a"}, "relu");
  b.node("FooOp", {"a"}, {"b"}, "foo1");
  b.node("BarOp", {"b"}, {"c"}, "bar");
  b.node("FooOp", {"c"}, {"y"}, "foo2");
  b.output("y");
  // The importer reads any op type; Model::import_onnx then refuses the model
  // with one error naming every type octet lacks.
  TempDir dir;
  dir.write("test.onnx", b.bytes());
  const Failure f = failure_of([&] { Model::import_onnx((dir.path / "test.onnx").string()); });
  CHECK(f.code == ErrorCode::unsupported);
  CHECK(f.has("/test.onnx'"));
  CHECK(f.has("node 'foo1' (FooOp)"));
  CHECK(f.has("BarOp, FooOp"));
}

TEST_CASE("onnx import: other domains, subgraphs and tensor attributes are unsupported") {
  OnnxBuilder ms = relu_model();
  ms.graph->mutable_node(0)->set_domain("com.microsoft");
  Failure f = import_failure(ms);
  CHECK(f.code == ErrorCode::unsupported);
  CHECK(f.has("node 'relu' (Relu)"));
  CHECK(f.has("com.microsoft"));

  OnnxBuilder control;
  control.input("cond", {}, onnx::TensorProto::BOOL);
  onnx::NodeProto* n = control.node("If", {"cond"}, {"y"}, "branch");
  OnnxBuilder::attr(n, "then_branch", onnx::AttributeProto::GRAPH)->mutable_g()->set_name("t");
  control.output("y");
  f = import_failure(control);
  CHECK(f.code == ErrorCode::unsupported);
  CHECK(f.has("node 'branch' (If): attribute 'then_branch' of type GRAPH"));

  OnnxBuilder tensor_attr = relu_model();
  onnx::TensorProto* t =
      OnnxBuilder::attr(tensor_attr.graph->mutable_node(0), "weird", onnx::AttributeProto::TENSOR)
          ->mutable_t();
  OnnxBuilder::fill(t, "", {1}, onnx::TensorProto::FLOAT);
  t->add_float_data(1);
  f = import_failure(tensor_attr);
  CHECK(f.code == ErrorCode::unsupported);
  CHECK(f.has("node 'relu' (Relu): attribute 'weird' of type TENSOR"));
}

TEST_CASE("onnx import: bad initializers") {
  SUBCASE("f64") {
    OnnxBuilder b = relu_model();
    onnx::TensorProto* t = b.graph->add_initializer();
    OnnxBuilder::fill(t, "w64", {1}, onnx::TensorProto::DOUBLE);
    t->add_double_data(1.0);
    const Failure f = import_failure(b);
    CHECK(f.code == ErrorCode::unsupported);
    CHECK(f.has("initializer 'w64'"));
    CHECK(f.has("DOUBLE"));
  }
  SUBCASE("raw_data size") {
    OnnxBuilder b = relu_model();
    b.weight_raw("w", {3}, {1, 2})->set_raw_data(std::string(9, '\0'));
    const Failure f = import_failure(b);
    CHECK(f.code == ErrorCode::invalid_model);
    CHECK(f.has("initializer 'w' has 9 bytes of raw_data, expected 12"));
  }
  SUBCASE("float_data count") {
    OnnxBuilder b = relu_model();
    b.weight("w", {2, 2}, {1, 2, 3});
    const Failure f = import_failure(b);
    CHECK(f.code == ErrorCode::invalid_model);
    CHECK(f.has("initializer 'w' has 3 values in float_data, expected 4"));
  }
  SUBCASE("negative or huge dims") {
    OnnxBuilder b = relu_model();
    b.weight("w", {-1}, {});
    CHECK(import_failure(b).has("initializer 'w' has a negative dimension"));
    OnnxBuilder h = relu_model();
    h.weight("w", {int64_t{1} << 40, int64_t{1} << 40, 0}, {});
    CHECK(import_failure(h).has("initializer 'w' has too many elements"));
  }
}

TEST_CASE("onnx import: dangling and duplicate values") {
  OnnxBuilder dangling;
  dangling.input("x", {4});
  dangling.node("Add", {"x", "nope"}, {"y"}, "add");
  dangling.output("y");
  Failure f = import_failure(dangling);
  CHECK(f.code == ErrorCode::invalid_model);
  CHECK(f.has("'test.onnx': node 'add' (Add): input 'nope'"));

  OnnxBuilder no_output = relu_model();
  no_output.output("ghost");
  f = import_failure(no_output);
  CHECK(f.code == ErrorCode::invalid_model);
  CHECK(f.has("graph output 'ghost'"));

  OnnxBuilder twice = relu_model();
  twice.node("Relu", {"x"}, {"y"}, "relu2");
  f = import_failure(twice);
  CHECK(f.code == ErrorCode::invalid_model);
  CHECK(f.has("value 'y' is defined twice"));
  CHECK(f.has("node 'relu2' (Relu)"));

  OnnxBuilder cycle;
  cycle.input("x", {4});
  cycle.node("Add", {"x", "b"}, {"a"}, "add");
  cycle.node("Relu", {"a"}, {"b"}, "relu");
  cycle.output("b");
  f = import_failure(cycle);
  CHECK(f.code == ErrorCode::invalid_model);
  CHECK(f.has("'test.onnx'"));
  CHECK(f.has("cycle"));
}

TEST_CASE("onnx import: external data") {
  TempDir dir;
  dir.write("weights.bin", float_bytes({0, 1, 2, 3, 4, 5, 6, 7}));
  auto import_file = [&](const OnnxBuilder& b) {
    dir.write("model.onnx", b.bytes());
    return import_onnx_file((dir.path / "model.onnx").string());
  };
  const Graph g = import_file(external_model("weights.bin", "16", "16")).graph;
  CHECK(floats_of(value_named(g, "w").data) == std::vector<float>{4, 5, 6, 7});
  // Without a length the data runs to the end of the file.
  const Graph g2 = import_file(external_model("weights.bin", "16", "")).graph;
  CHECK(floats_of(value_named(g2, "w").data) == std::vector<float>{4, 5, 6, 7});

  Failure f = failure_of([&] { import_file(external_model("missing.bin", "", "")); });
  CHECK(f.code == ErrorCode::io);
  CHECK(f.has("model.onnx'"));
  CHECK(f.has("initializer 'w'"));
  CHECK(f.has("missing.bin"));

  f = failure_of([&] { import_file(external_model("../weights.bin", "", "")); });
  CHECK(f.code == ErrorCode::invalid_model);
  CHECK(f.has("escapes the model's folder"));

  f = failure_of([&] { import_file(external_model("/etc/passwd", "", "")); });
  CHECK(f.code == ErrorCode::invalid_model);
  CHECK(f.has("absolute"));

  f = failure_of([&] { import_file(external_model("weights.bin", "64", "")); });
  CHECK(f.code == ErrorCode::invalid_model);
  CHECK(f.has("beyond the end"));

  f = failure_of([&] { import_file(external_model("weights.bin", "24", "16")); });
  CHECK(f.code == ErrorCode::invalid_model);
  CHECK(f.has("beyond the end"));

  f = failure_of([&] { import_file(external_model("weights.bin", "0", "")); });
  CHECK(f.code == ErrorCode::invalid_model);
  CHECK(f.has("32 bytes of external data, expected 16"));

  f = failure_of([&] { import_file(external_model("weights.bin", "-4", "")); });
  CHECK(f.code == ErrorCode::invalid_model);

  // From bytes, with no folder to resolve the path against.
  f = import_failure(external_model("weights.bin", "", ""));
  CHECK(f.code == ErrorCode::invalid_argument);
}

TEST_CASE("onnx import: omitted outputs") {
  OnnxBuilder b;
  b.input("x", {1, 1, 4, 4});
  onnx::NodeProto* pool = b.node("MaxPool", {"x"}, {"", "indices", ""}, "pool");
  OnnxBuilder::attr_ints(pool, "kernel_shape", {2, 2});
  b.output("indices", {}, onnx::TensorProto::INT64);
  const Graph g = b.import().graph;
  REQUIRE(g.nodes.size() == 1);
  // A missing output before a present one gets a name; trailing ones are dropped.
  REQUIRE(g.nodes[0].outputs.size() == 2);
  CHECK(value_name(g, g.nodes[0].outputs[0]) == "pool_unused_output_0");
  CHECK(value_name(g, g.nodes[0].outputs[1]) == "indices");
}

namespace {

void append_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

// A length-delimited protobuf field.
std::string field(int number, const std::string& payload) {
  std::string out;
  append_varint(out, static_cast<uint64_t>(number) << 3 | 2);
  append_varint(out, payload.size());
  return out + payload;
}

}  // namespace

TEST_CASE("onnx import: hostile nesting is rejected, not recursed into") {
  // GraphProto.node(1) -> NodeProto.attribute(5) -> AttributeProto.g(6) -> ...
  // 3000 levels deep, written by hand (the protobuf API would itself recurse).
  std::string graph;
  for (int i = 0; i < 3000; ++i) graph = field(1, field(5, field(6, graph)));
  const std::string model = field(7, graph);
  const Failure f = failure_of([&] { import_onnx_bytes(model.data(), model.size(), "deep.onnx"); });
  CHECK(f.code == ErrorCode::invalid_model);
  CHECK(f.has("'deep.onnx' is not an ONNX model"));
}

TEST_CASE("onnx import: metadata_props become the model's metadata") {
  OnnxBuilder b;
  b.input("x", {4});
  b.node("Relu", {"x"}, {"y"}, "relu");
  b.output("y", {4});
  auto add = [&](const std::string& key, const std::string& value) {
    onnx::StringStringEntryProto* e = b.model.add_metadata_props();
    e->set_key(key);
    e->set_value(value);
  };
  add("octet.preprocess", R"({"resize": 32, "mean": [0.5, 0.5, 0.5]})");
  add("octet.labels", R"(["cat", "dog"])");
  add("author", "someone");
  const nlohmann::json m = nlohmann::json::parse(b.import().graph.metadata_json);
  CHECK(m["preprocess"]["resize"] == 32);
  CHECK(m["preprocess"]["mean"].size() == 3);
  CHECK(m["labels"] == nlohmann::json({"cat", "dog"}));
  CHECK(m["onnx"]["author"] == "someone");

  add("octet.broken", "{not json");
  CHECK_THROWS_WITH_AS(b.import(), doctest::Contains("metadata_props 'octet.broken'"), Error);
}
