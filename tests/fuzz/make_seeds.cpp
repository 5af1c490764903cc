// fuzz_seeds OUT_DIR: writes the seed corpora of the fuzz targets, made at
// build/CI time rather than committed as binaries:
//   OUT_DIR/onnx_import/*.onnx   small ONNX models covering every op and fusion
//   OUT_DIR/model_format/*.seed  each of them imported and written with
//                                write_model, plus a hand-built quantized model
//                                (also with its weight stored as s8),
//                                in the harness's layout (fuzz_model_format.hpp)
//   OUT_DIR/npy/*.npy            write_npy of every dtype
//   OUT_DIR/image/*              PNG, JPEG and BMP files of every color type
//                                and bit depth octet reads (image_seeds.hpp)
//   OUT_DIR/tokenizer/*          texts for the built-in vocabulary, and
//                                vocabularies with a text (fuzz_tokenizer.hpp)
//   OUT_DIR/idx/*                IDX files of every type octet reads, plain
//                                and gzipped
// Every seed is valid: `fuzz_replay --expect ran --all OUT_DIR` checks it.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "loaders/data/npy.hpp"
#include "loaders/formats/model_format.hpp"
#include "runtime/model/model.hpp"
#include "tests/fuzz/fuzz_model_format.hpp"
#include "tests/fuzz/fuzz_tokenizer.hpp"
#include "tests/fuzz/image_seeds.hpp"
#include "tests/idx_fixtures.hpp"
#include "tests/onnx_builder.hpp"

namespace fs = std::filesystem;
using namespace octet;
using octet::test::OnnxBuilder;
using P = onnx::TensorProto;

namespace {

std::vector<float> ramp(size_t n, float step = 0.125f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = step * static_cast<float>(static_cast<int>(i % 7) - 3);
  return v;
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Conv + BatchNorm + Relu, MaxPool, Conv + Add + Relu, GAP, Flatten, Gemm.
void cnn(OnnxBuilder& b) {
  b.input("x", {1, 3, 8, 8});
  b.weight("w1", {4, 3, 3, 3}, ramp(108));
  b.weight("bn_s", {4}, {1, 0.5f, 2, 1});
  b.weight("bn_b", {4}, {0, 0.1f, -0.1f, 0});
  b.weight("bn_m", {4}, {0, 0.2f, 0, -0.2f});
  b.weight("bn_v", {4}, {1, 1, 0.5f, 2});
  OnnxBuilder::attr_ints(b.node("Conv", {"x", "w1"}, {"c1"}, "conv1"), "pads", {1, 1, 1, 1});
  b.node("BatchNormalization", {"c1", "bn_s", "bn_b", "bn_m", "bn_v"}, {"bn"}, "bn1");
  b.node("Relu", {"bn"}, {"r1"}, "relu1");
  auto* pool = b.node("MaxPool", {"r1"}, {"p1"}, "pool1");
  OnnxBuilder::attr_ints(pool, "kernel_shape", {2, 2});
  OnnxBuilder::attr_ints(pool, "strides", {2, 2});
  b.weight("w2", {4, 4, 1, 1}, ramp(16));
  b.weight("b2", {4}, ramp(4));
  b.node("Conv", {"p1", "w2", "b2"}, {"c2"}, "conv2");
  b.node("Add", {"c2", "p1"}, {"s"}, "add");
  b.node("Relu", {"s"}, {"r2"}, "relu2");
  b.node("GlobalAveragePool", {"r2"}, {"g"}, "gap");
  b.node("Flatten", {"g"}, {"f"}, "flatten");
  b.weight("fc_w", {2, 4}, ramp(8));
  b.weight("fc_b", {2}, {0.5f, -0.5f});
  OnnxBuilder::attr_int(b.node("Gemm", {"f", "fc_w", "fc_b"}, {"y"}, "fc"), "transB", 1);
  b.output("y", {1, 2});
}

// MatMul + Add (fused bias), then the erf GELU pattern and AveragePool-free tail.
void mlp(OnnxBuilder& b) {
  b.input("x", {"batch", 3, 8});
  b.weight("w", {8, 4}, ramp(32));
  b.weight("bias", {4}, ramp(4));
  b.node("MatMul", {"x", "w"}, {"m"}, "fc1");
  b.node("Add", {"m", "bias"}, {"h"}, "fc1_bias");
  b.scalar("sqrt2", 1.4142135f);
  b.scalar("one", 1.f);
  b.scalar("half", 0.5f);
  b.node("Div", {"h", "sqrt2"}, {"d"}, "gelu_div");
  b.node("Erf", {"d"}, {"e"}, "gelu_erf");
  b.node("Add", {"e", "one"}, {"e1"}, "gelu_add");
  b.node("Mul", {"h", "e1"}, {"he"}, "gelu_mul");
  b.node("Mul", {"he", "half"}, {"g"}, "gelu_half");
  b.node("Tanh", {"g"}, {"t"}, "tanh");
  OnnxBuilder::attr_int(b.node("Softmax", {"t"}, {"y"}, "softmax"), "axis", -1);
  b.output("y", {"batch", 3, 4});
}

// The LayerNorm pattern torch exports at opset 13.
void layernorm(OnnxBuilder& b) {
  b.input("x", {2, 4, 8});
  OnnxBuilder::attr_ints(b.node("ReduceMean", {"x"}, {"mu"}, "mean"), "axes", {-1});
  b.node("Sub", {"x", "mu"}, {"xc"}, "sub");
  b.scalar("two", 2.f);
  b.node("Pow", {"xc", "two"}, {"sq"}, "pow");
  OnnxBuilder::attr_ints(b.node("ReduceMean", {"sq"}, {"var"}, "var"), "axes", {-1});
  b.scalar("eps", 1e-5f);
  b.node("Add", {"var", "eps"}, {"ve"}, "add_eps");
  b.node("Sqrt", {"ve"}, {"sd"}, "sqrt");
  b.node("Div", {"xc", "sd"}, {"n"}, "div");
  b.weight("gamma", {8}, ramp(8, 0.5f));
  b.weight("beta", {8}, ramp(8));
  b.node("Mul", {"n", "gamma"}, {"ng"}, "mul_gamma");
  b.node("Add", {"ng", "beta"}, {"y"}, "add_beta");
  b.output("y", {2, 4, 8});
}

// Token ids -> Gather embedding -> LayerNormalization (opset 17) -> attention-like mix.
void embedding(OnnxBuilder& b) {
  b.input("ids", {1, 4}, P::INT64);
  b.input("mask", {1, 4}, P::INT64);
  b.weight("table", {10, 8}, ramp(80));
  b.node("Gather", {"table", "ids"}, {"emb"}, "embed");
  b.weight("ln_s", {8}, ramp(8, 0.25f));
  b.weight("ln_b", {8}, ramp(8));
  auto* ln = b.node("LayerNormalization", {"emb", "ln_s", "ln_b"}, {"h"}, "ln");
  OnnxBuilder::attr_int(ln, "axis", -1);
  OnnxBuilder::attr_float(ln, "epsilon", 1e-5f);
  OnnxBuilder::attr_ints(b.node("Transpose", {"h"}, {"ht"}, "t"), "perm", {0, 2, 1});
  b.node("MatMul", {"h", "ht"}, {"scores"}, "qk");
  b.weight_s64("zero", {}, {0});
  b.node("Equal", {"mask", "zero"}, {"pad"}, "eq");
  b.node("Unsqueeze", {"pad", "one"}, {"pad3"}, "unsq");
  b.weight_s64("one", {1}, {1});
  b.scalar("neg", -1e4f);
  b.node("Where", {"pad3", "neg", "scores"}, {"masked"}, "where");
  OnnxBuilder::attr_int(b.node("Softmax", {"masked"}, {"p"}, "softmax"), "axis", -1);
  b.node("MatMul", {"p", "h"}, {"ctx"}, "pv");
  OnnxBuilder::attr_int(b.node("Cast", {"mask"}, {"maskf"}, "cast"), "to", P::FLOAT);
  b.node("Unsqueeze", {"maskf", "two"}, {"mask3"}, "unsq2");
  b.weight_s64("two", {1}, {2});
  b.node("Mul", {"ctx", "mask3"}, {"y"}, "apply_mask");
  b.output("y", {1, 4, 8});
}

// Shape arithmetic with s64 initializers: Shape, Gather, Concat, Reshape,
// Transpose, Slice, Squeeze, Expand, ConstantOfShape, Range, Identity.
void shapes(OnnxBuilder& b) {
  b.input("x", {2, 3, 4});
  b.node("Shape", {"x"}, {"s"}, "shape");
  b.weight_s64("i0", {}, {0});
  OnnxBuilder::attr_int(b.node("Gather", {"s", "i0"}, {"n"}, "gather_n"), "axis", 0);
  b.weight_s64("ax0", {1}, {0});
  b.node("Unsqueeze", {"n", "ax0"}, {"n1"}, "unsq");
  b.weight_s64("m1", {1}, {-1});
  OnnxBuilder::attr_int(b.node("Concat", {"n1", "m1"}, {"shp"}, "concat"), "axis", 0);
  b.node("Reshape", {"x", "shp"}, {"r"}, "reshape");
  OnnxBuilder::attr_ints(b.node("Transpose", {"r"}, {"t"}, "transpose"), "perm", {1, 0});
  b.weight_s64("st", {1}, {1});
  b.weight_s64("en", {1}, {100});
  b.weight_s64("ax", {1}, {0});
  b.weight_s64("sp", {1}, {2});
  b.node("Slice", {"t", "st", "en", "ax", "sp"}, {"sl"}, "slice");
  b.weight_s64("shape3", {3}, {1, 2, 6});
  b.node("Reshape", {"sl", "shape3"}, {"r3"}, "reshape3");
  b.node("Squeeze", {"r3", "ax0"}, {"sq"}, "squeeze");
  b.weight_s64("big", {2}, {2, 6});
  b.node("Expand", {"sq", "big"}, {"ex"}, "expand");
  b.weight_s64("cshape", {2}, {2, 6});
  b.node("ConstantOfShape", {"cshape"}, {"c"}, "const_of_shape");
  b.node("Add", {"ex", "c"}, {"a"}, "add");
  b.weight("r0", {}, {0.f});
  b.weight("r1", {}, {6.f});
  b.weight("rd", {}, {1.f});
  b.node("Range", {"r0", "r1", "rd"}, {"rg"}, "range");
  b.node("Identity", {"rg"}, {"rgi"}, "identity");
  b.node("Sub", {"a", "rgi"}, {"y"}, "sub");
  b.output("y", {2, 6});
}

// Opset 11 forms: Squeeze/Unsqueeze axes as attributes, AveragePool, Dropout, Constant.
void opset11(OnnxBuilder& b) {
  b.input("x", {1, 2, 4, 4});
  auto* pool = b.node("AveragePool", {"x"}, {"p"}, "avgpool");
  OnnxBuilder::attr_ints(pool, "kernel_shape", {3, 3});
  OnnxBuilder::attr_ints(pool, "pads", {1, 1, 1, 1});
  OnnxBuilder::attr_int(pool, "count_include_pad", 1);
  b.node("Dropout", {"p"}, {"d"}, "dropout");
  auto* c = b.node("Constant", {}, {"k"}, "const");
  auto* t = OnnxBuilder::attr(c, "value", onnx::AttributeProto::TENSOR)->mutable_t();
  OnnxBuilder::fill(t, "k", {1}, P::FLOAT);
  t->add_float_data(3.f);
  b.node("Mul", {"d", "k"}, {"m"}, "mul");
  OnnxBuilder::attr_ints(b.node("Squeeze", {"m"}, {"s"}, "squeeze"), "axes", {0});
  OnnxBuilder::attr_ints(b.node("Unsqueeze", {"s"}, {"y"}, "unsqueeze"), "axes", {0});
  b.output("y", {1, 2, 4, 4});
}

// Opset 9 forms (pass_opset_forms.cpp): Slice with attributes, BatchNormalization
// with spatial, Softmax with the 2-D coercion.
void opset9(OnnxBuilder& b) {
  b.input("x", {1, 2, 3, 4});
  b.weight("g", {2}, {1.f, 2.f});
  b.weight("be", {2}, {0.f, 1.f});
  b.weight("mu", {2}, {0.5f, -0.5f});
  b.weight("va", {2}, {1.f, 4.f});
  auto* bn = b.node("BatchNormalization", {"x", "g", "be", "mu", "va"}, {"n"}, "bn");
  OnnxBuilder::attr_int(bn, "spatial", 1);
  auto* slice = b.node("Slice", {"n"}, {"s"}, "slice");
  OnnxBuilder::attr_ints(slice, "starts", {1, -3});
  OnnxBuilder::attr_ints(slice, "ends", {3, 1000});
  OnnxBuilder::attr_ints(slice, "axes", {2, 3});
  OnnxBuilder::attr_int(b.node("Softmax", {"s"}, {"y"}, "softmax"), "axis", 1);
  b.output("y", {1, 2, 2, 3});
}

// A hand-built octet model with a quantization section and symbolic batch.
Graph quantized_graph() {
  Graph g;
  Value x;
  x.name = "x";
  x.shape = std::vector<Dim>{{-1, "batch"}, {2, ""}, {4, ""}, {4, ""}};
  g.inputs.push_back(g.add_value(x));
  Value w;
  w.name = "w";
  w.data = Tensor(DataType::f32, {3, 2, 3, 3});
  const std::vector<float> values = ramp(54);
  std::copy(values.begin(), values.end(), w.data.data<float>());
  const int wid = g.add_value(w);
  Value y;
  y.name = "y";
  y.shape = std::vector<Dim>{{-1, "batch"}, {3, ""}, {4, ""}, {4, ""}};
  const int yid = g.add_value(y);
  Node n;
  n.op = "Conv";
  n.name = "conv";
  n.inputs = {0, wid};
  n.outputs = {yid};
  n.attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
  n.attrs["activation"] = std::string("relu");
  g.nodes.push_back(n);
  g.outputs.push_back(yid);
  g.values[0].quant = ActivationQuant{1.f, DataType::s8, "calibration:max"};
  g.values[yid].quant = ActivationQuant{2.f, DataType::u8, "calibration:entropy"};
  g.values[wid].weight_quant = WeightQuant{0, {0.375f, 0.375f, 0.375f}};
  g.quantization.fp32_ops = {"Softmax"};
  return g;
}

// quantized_graph() with its Conv weight stored as s8 (format version 2):
// q = round(w / (0.375 / 127)) within [-127, 127].
Graph stored_graph() {
  Graph g = quantized_graph();
  Value& w = g.values[static_cast<size_t>(g.find_value("w"))];
  Tensor q(DataType::s8, w.data.shape());
  for (int64_t i = 0; i < q.numel(); ++i) {
    const float v = std::nearbyint(w.data.data<float>()[i] / (0.375f / 127.f));
    q.data<int8_t>()[i] = static_cast<int8_t>(std::clamp(v, -127.f, 127.f));
  }
  w.data = q;
  w.weight_quant->stored_s8 = true;
  return g;
}

// The harness input for `graph`: write_model, then the JSON compacted.
std::string model_seed(const Graph& graph, const fs::path& tmp) {
  write_model(graph, (tmp / "m").string());
  const std::string json = read_bytes(tmp / "m.octet.json");
  return fuzz::model_format::encode(nlohmann::json::parse(json).dump(),
                                    read_bytes(tmp / "m.octet.bin"));
}

void npy_seeds(const fs::path& dir) {
  const std::vector<std::pair<DataType, Shape>> cases = {
      {DataType::f32, {2, 3}}, {DataType::s8, {4}},          {DataType::u8, {2, 2, 2}},
      {DataType::s32, {}},     {DataType::s64, {3, 1}},      {DataType::boolean, {5}},
      {DataType::f32, {0, 4}}, {DataType::f32, {1, 3, 2, 2}}};
  for (const auto& [dtype, shape] : cases) {
    Tensor t(dtype, shape);
    auto* p = static_cast<uint8_t*>(t.raw());
    for (size_t i = 0; i < t.nbytes(); ++i) p[i] = dtype == DataType::boolean ? i % 2 : i * 37;
    write_npy((dir / (std::string(to_string(dtype)) + "_" + to_string(shape) + ".npy")).string(),
              t);
  }
}

// Texts for kVocab (no 0 byte), then vocabularies of their own, a 0 byte
// and a text.
int tokenizer_seeds(const fs::path& dir) {
  const std::vector<std::string> texts = {
      "Hello, world! Don't.",
      "The unaffable cafe's creme: playing, hello.",
      "Cr\xc3\xa8me caf\xc3\xa9 \xce\x9f\xce\x94\xce\x9f\xce\xa3 "
      "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2",
      "\xe6\x88\x91\xe7\x88\xb1\xe5\x8c\x97\xe4\xba\xac \xed\x95\x9c \xe3\x81\x82",
      "tab\there\r\nzero\xe2\x80\x8bwidth \xef\xbf\xbd e\xcc\x81 \xf0\x9f\x98\x80",
      std::string(120, 'a') + " " + std::string(60, 'b') + "unaffable"};
  int count = 0;
  for (const std::string& text : texts) {
    write_bytes(dir / ("text" + std::to_string(count++)), text);
  }
  const std::string own = "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhello\r\n##s\r\nworld\r\n!";
  write_bytes(dir / "vocab-crlf", own + std::string(1, '\0') + "Hellos world!!");
  write_bytes(dir / "vocab-bom", "\xef\xbb\xbf" + std::string(fuzz::tokenizer::kVocab) +
                                     std::string(1, '\0') + "the creme, un");
  return count + 2;
}

// IDX files of every type octet reads: MNIST-like images and labels, plain
// and gzipped.
int idx_seeds(const fs::path& dir) {
  const std::string images = test::idx_images(3, 4, 5, [](uint32_t i) { return 80 * i + 7; });
  const std::string labels = test::idx_labels({0, 9, 3});
  const std::pair<std::string, std::string> seeds[] = {
      {"images-idx3-ubyte", images},
      {"images-idx3-ubyte.gz", test::gzip(images)},
      {"labels-idx1-ubyte", labels},
      {"labels-idx1-ubyte.gz", test::gzip(labels)},
      {"s8", test::idx_bytes(0x09, {2, 2}, "\x01\x80\xff\x7f")},
      {"i16.gz",
       test::gzip(test::idx_bytes(0x0B, {1, 3}, std::string("\x00\x01\xff\xfe\x80\x00", 6)))},
      {"i32", test::idx_bytes(0x0C, {2}, std::string("\x00\x00\x00\x05\x00\x01\x00\x00", 8))},
      {"f32", test::idx_bytes(0x0D, {1, 2}, std::string("\x3f\xc0\x00\x00\xc0\x10\x00\x00", 8))},
      {"empty-images", test::idx_bytes(0x08, {0, 28, 28}, "")}};
  for (const auto& [name, bytes] : seeds) write_bytes(dir / name, bytes);
  return static_cast<int>(sizeof seeds / sizeof *seeds);
}

}  // namespace

// A real calibration table of `graph` (every method, 128 bins to keep the
// seed small) from two deterministic samples.
std::string table_seed(const Graph& graph) {
  const Model model(detail::build_model(graph, "seed"));
  CalibrationOptions options;
  options.methods = {"all"};
  options.bins = 128;
  options.threads = 1;
  Calibrator calibrator(model, options);
  std::map<std::string, Shape> shapes;
  fuzz::small_input_shapes(model_data(model), shapes);
  for (int pass = 1; pass <= 2; ++pass) {
    if (pass == 2) calibrator.start_histograms();
    for (int sample = 0; sample < 2; ++sample) {
      std::vector<Tensor> inputs;
      for (const TensorInfo& in : model.inputs()) {
        Tensor t(in.dtype, shapes.at(in.name));
        if (t.dtype() == DataType::f32) {
          float* p = t.data<float>();
          for (int64_t k = 0; k < t.numel(); ++k) p[k] = float((k * 7 + sample * 3) % 11) - 5.f;
        }
        inputs.push_back(t);
      }
      calibrator.add(inputs);
    }
  }
  return calibrator.table().to_json();
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_seeds OUT_DIR\n";
    return 2;
  }
  const fs::path out = argv[1];
  for (const char* t :
       {"onnx_import", "model_format", "npy", "image", "calibration_table", "tokenizer", "idx"}) {
    fs::create_directories(out / t);
  }
  const fs::path tmp = out / "tmp";
  fs::create_directories(tmp);
  const std::vector<std::pair<std::string, std::function<void(OnnxBuilder&)>>> models = {
      {"cnn", cnn},       {"mlp", mlp},         {"layernorm", layernorm}, {"embedding", embedding},
      {"shapes", shapes}, {"opset11", opset11}, {"opset9", opset9}};
  int count = 0;
  try {
    for (const auto& [name, make] : models) {
      OnnxBuilder b(name == "opset11" ? 11 : name == "opset9" ? 9 : name == "embedding" ? 17 : 13);
      make(b);
      const std::string bytes = b.bytes();
      write_bytes(out / "onnx_import" / (name + ".onnx"), bytes);
      ImportResult imported = import_onnx_bytes(bytes.data(), bytes.size(), name + ".onnx");
      fold_constants(imported.graph, imported.log);
      write_bytes(out / "model_format" / (name + ".seed"), model_seed(imported.graph, tmp));
      count += 2;
      if (name == "cnn" || name == "mlp") {
        write_bytes(out / "calibration_table" / (name + ".json"), table_seed(imported.graph));
        ++count;
      }
    }
    write_bytes(out / "model_format" / "quantized.seed", model_seed(quantized_graph(), tmp));
    write_bytes(out / "model_format" / "stored.seed", model_seed(stored_graph(), tmp));
    npy_seeds(out / "npy");
    count += 10;
    count += fuzz::image::write_seeds(out / "image");
    count += tokenizer_seeds(out / "tokenizer");
    count += idx_seeds(out / "idx");
  } catch (const Error& e) {
    std::cerr << "fuzz_seeds: " << e.what() << "\n";
    return 1;
  }
  fs::remove_all(tmp);
  std::cout << "fuzz_seeds: wrote " << count << " seeds to " << out.string() << "\n";
  return 0;
}
