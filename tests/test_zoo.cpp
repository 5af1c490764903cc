// The zoo's hand-built architectures: they load, save, run and are seeded;
// their activations stay O(1); and, against the torch exports of
// tools/export, they run layer for layer what octet runs for the imported
// ONNX file.
//
// Test cases named "zoo (large): ..." build resnet50 / bert-base (110M
// random weights: slow in debug and ASan builds); exclude them with
//   octet_tests -tce="zoo (large)*"
// The torch comparison needs exports in $OCTET_TORCH_REF, made with
//   /usr/bin/python3 tools/export/export.py --model resnet50 --out DIR
//   /usr/bin/python3 tools/export/export.py --model bert-base --out DIR
// (resnet18.onnx and bert-tiny.onnx there are compared too.) Compiled only
// when the octet_zoo library is built (OCTET_HAVE_ZOO).
#include <doctest/doctest.h>

#ifdef OCTET_HAVE_ZOO

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "apps/zoo/architectures.hpp"
#include "apps/zoo/graph_builder.hpp"
#include "apps/zoo/zoo.hpp"
#include "loaders/formats/model_format.hpp"
#include "runtime/model/model.hpp"
#include "tests/op_harness.hpp"
#include "tests/skip.hpp"
#include "tests/temp_dir.hpp"

using namespace octet;

namespace {

bool is_bert(const std::string& name) {
  return name.rfind("bert", 0) == 0;
}

SessionOptions two_threads() {
  SessionOptions o;
  o.threads = 2;
  return o;
}

Model model_of(Graph g, const std::string& name) {
  return Model(detail::build_model(std::move(g), "zoo:" + name));
}

std::map<std::string, Shape> input_shapes(const std::string& name, int64_t batch, int64_t seq) {
  if (!is_bert(name)) return {{"input", {batch, 3, 224, 224}}};
  return {{"input_ids", {batch, seq}},
          {"attention_mask", {batch, seq}},
          {"token_type_ids", {batch, seq}}};
}

// resnet: N(0, 1) images. bert: rows like export.py's ([CLS] ids [SEP] ids
// [SEP], segment B of type 1); row 0 full, the others padded after `seq / 2`.
void fill_inputs(Session& s, const std::string& name, uint32_t seed) {
  if (!is_bert(name)) {
    Tensor& x = s.input("input");
    zoo::Rng rng(seed, "test input");
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = rng.normal(0.f, 1.f);
    return;
  }
  Tensor& ids = s.input("input_ids");
  Tensor& mask = s.input("attention_mask");
  Tensor& types = s.input("token_type_ids");
  const int64_t batch = ids.dim(0), seq = ids.dim(1);
  const Tensor words = test::random_tensor(DataType::s64, {batch, seq}, seed, 1000, 30000);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t length = b == 0 ? seq : std::max<int64_t>(2, seq / 2);
    for (int64_t t = 0; t < seq; ++t) {
      const int64_t i = b * seq + t;
      int64_t id = t < length ? words.data<int64_t>()[i] : 0;
      if (t == 0) id = 101;
      if (t == length - 1 || t == length / 2) id = 102;
      ids.data<int64_t>()[i] = id;
      mask.data<int64_t>()[i] = t < length;
      types.data<int64_t>()[i] = t > length / 2 && t < length;
    }
  }
}

bool all_finite(const Tensor& t) {
  const float* p = t.data<float>();
  return std::all_of(p, p + t.numel(), [](float v) { return std::isfinite(v); });
}

double stddev(const Tensor& t) {
  const std::vector<double> v = test::to_doubles(t);
  double mean = 0, sq = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  for (double x : v) sq += (x - mean) * (x - mean);
  return std::sqrt(sq / static_cast<double>(v.size()));
}

// Builds, validates, round-trips through the model format and runs one zoo
// model; the loaded model must compute bit for bit what the built one does.
void check_builds_and_runs(const std::string& name, int64_t batch, int64_t seq) {
  CAPTURE(name);
  Graph g = zoo::build(name, 1);
  test::TempDir dir;
  write_model(g, dir.file(name));
  const Model built = model_of(std::move(g), name);
  const Model loaded = Model::load(dir.file(name));
  CHECK(loaded.node_count() == built.node_count());
  REQUIRE(loaded.outputs().size() == 1);
  CHECK(loaded.outputs()[0].name == "logits");

  const int64_t classes = is_bert(name) ? 2 : 1000;
  std::vector<Tensor> logits;
  for (const Model& m : {built, loaded}) {
    Session s(m, two_threads());
    s.prepare(input_shapes(name, batch, seq));
    fill_inputs(s, name, 3);
    s.run();
    const Tensor& y = s.output("logits");
    CHECK(y.shape() == Shape{batch, classes});
    CHECK(all_finite(y));
    logits.push_back(y.clone());
  }
  CHECK(std::memcmp(logits[0].raw(), logits[1].raw(), logits[0].nbytes()) == 0);
}

// Initializers by name; equal graphs hold byte-identical data.
bool same_weights(const Graph& a, const Graph& b) {
  if (a.values.size() != b.values.size()) return false;
  for (size_t i = 0; i < a.values.size(); ++i) {
    const Value &x = a.values[i], &y = b.values[i];
    if (x.name != y.name || x.is_initializer() != y.is_initializer()) return false;
    if (!x.is_initializer()) continue;
    if (x.data.dtype() != y.data.dtype() || x.data.shape() != y.data.shape()) return false;
    if (std::memcmp(x.data.raw(), y.data.raw(), x.data.nbytes()) != 0) return false;
  }
  return true;
}

// ResNet: max |activation| after the stem and after each stage, and the
// logits' std, for N(0, 1) input (batch 2). Adds the stage outputs as graph
// outputs so that the session keeps them.
void check_resnet_activations(const std::string& name, int last_blocks[4]) {
  Graph g = zoo::build(name, 0);
  std::vector<std::string> taps = {"maxpool.output"};
  for (int stage = 0; stage < 4; ++stage) {
    taps.push_back("layer" + std::to_string(stage + 1) + "." + std::to_string(last_blocks[stage]) +
                   ".output");
  }
  for (const std::string& t : taps) {
    const int id = g.find_value(t);
    REQUIRE_MESSAGE(id != kNoValue, t);
    g.outputs.push_back(id);
  }
  Session s(model_of(std::move(g), name), two_threads());
  s.prepare(input_shapes(name, 2, 0));
  fill_inputs(s, name, 0);
  s.run();
  std::ostringstream report;
  report << name << " seed 0, N(0,1) input, batch 2: logits std " << stddev(s.outputs()[0])
         << ", max|logits| " << test::max_abs(s.outputs()[0]) << "; max|act| / std";
  for (size_t i = 0; i < taps.size(); ++i) {
    const Tensor& t = s.outputs()[i + 1];
    report << " | " << (i == 0 ? std::string("stem") : "layer" + std::to_string(i)) << " "
           << test::max_abs(t) << " / " << stddev(t);
    CHECK(all_finite(t));
    CHECK(test::max_abs(t) < 50);
  }
  MESSAGE(report.str());
  const double sd = stddev(s.outputs()[0]);
  CHECK(sd > 0.1);
  CHECK(sd < 10);
}

// BERT: the logits' spread, and how much the mask matters: row 1 is padded,
// so unmasking its padding must move its logits.
double mask_effect(const std::string& name, Graph g) {
  Session s(model_of(std::move(g), name), two_threads());
  s.prepare(input_shapes(name, 4, 64));
  fill_inputs(s, name, 0);
  s.run();
  const Tensor masked = s.output("logits").clone();
  Tensor& mask = s.input("attention_mask");
  for (int64_t i = 0; i < mask.numel(); ++i) mask.data<int64_t>()[i] = 1;
  s.run();
  const Tensor& unmasked = s.output("logits");
  // Rows 1..3 are padded; the change is relative to the logits' scale, since
  // a single logit may be near 0.
  double change = 0;
  for (int64_t i = 2; i < masked.numel(); ++i) {
    change =
        std::max(change, std::abs(double(masked.data<float>()[i]) - unmasked.data<float>()[i]));
  }
  change /= test::max_abs(masked);
  MESSAGE(name << ", batch 4 x 64: logits std " << stddev(masked) << ", max|logits| "
               << test::max_abs(masked) << ", padded rows' logits move by " << change
               << " x max|logits| when the mask is ignored");
  CHECK(all_finite(masked));
  return change;
}

}  // namespace

TEST_CASE("zoo: names, and an unknown name lists the valid ones") {
  CHECK(zoo::names() == std::vector<std::string>{"resnet18", "resnet50", "bert-tiny", "bert-base"});
  try {
    zoo::build("resnet34", 0);
    FAIL("no error for an unknown name");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::invalid_argument);
    const std::string msg = e.what();
    CHECK_MESSAGE(msg.find("'resnet34'") != std::string::npos, msg);
    for (const std::string& n : zoo::names()) CHECK_MESSAGE(msg.find(n) != std::string::npos, msg);
  }
}

TEST_CASE("zoo: resnet18 and bert-tiny build, round-trip through the model format and run") {
  check_builds_and_runs("resnet18", 2, 0);
  check_builds_and_runs("bert-tiny", 2, 128);
  // Any sequence length: the reshapes copy batch and sequence from their input.
  check_builds_and_runs("bert-tiny", 3, 17);
}

TEST_CASE(
    "zoo: a sequence longer than bert-tiny's 512 positions is an error naming the embedding") {
  const Model m(detail::build_model(zoo::build("bert-tiny", 0), "zoo:bert-tiny"));
  Session s(m);
  std::vector<Tensor> inputs;
  for (const TensorInfo& in : m.inputs()) {
    Tensor t(DataType::s64, {1, 513});
    std::fill(t.data<int64_t>(), t.data<int64_t>() + t.numel(), in.name == "attention_mask");
    inputs.push_back(t);
  }
  try {
    s.run(inputs);
    FAIL("no error for 513 tokens");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK_MESSAGE(msg.find("node 'embeddings.position_embeddings' (Gather)") != std::string::npos,
                  msg);
    CHECK_MESSAGE(msg.find("index 512") != std::string::npos, msg);
    CHECK_MESSAGE(msg.find("out of range for axis 0 of size 512") != std::string::npos, msg);
  }
  // 512 tokens are fine, on the same session.
  for (Tensor& t : inputs) {
    Tensor shorter(DataType::s64, {1, 512});
    std::copy(t.data<int64_t>(), t.data<int64_t>() + 512, shorter.data<int64_t>());
    t = shorter;
  }
  CHECK(s.run(inputs).at(0).numel() > 0);
}

TEST_CASE("zoo (large): resnet50 and bert-base build, round-trip and run") {
  check_builds_and_runs("resnet50", 2, 0);
  check_builds_and_runs("bert-base", 2, 128);
}

TEST_CASE("zoo: the seed determines the weights") {
  for (const std::string name : {"resnet18", "bert-tiny"}) {
    CAPTURE(name);
    const Graph a = zoo::build(name, 5);
    CHECK(same_weights(a, zoo::build(name, 5)));
    const Graph c = zoo::build(name, 6);
    CHECK_FALSE(same_weights(a, c));
    // Every weight changes with the seed, not just some.
    for (size_t i = 0; i < a.values.size(); ++i) {
      const Tensor& x = a.values[i].data;
      if (x.empty() || x.dtype() != DataType::f32 || x.numel() < 8) continue;
      CAPTURE(a.values[i].name);
      CHECK(std::memcmp(x.raw(), c.values[i].data.raw(), x.nbytes()) != 0);
    }
  }
}

TEST_CASE("zoo: resnet18 activations stay O(1) through every stage") {
  int last[4] = {1, 1, 1, 1};
  check_resnet_activations("resnet18", last);
}

TEST_CASE("zoo (large): resnet50 activations stay O(1) through every stage") {
  int last[4] = {2, 3, 5, 2};
  check_resnet_activations("resnet50", last);
}

TEST_CASE("zoo: bert-tiny's logits depend on attention and the mask") {
  CHECK(mask_effect("bert-tiny", zoo::build("bert-tiny", 0)) > 0.05);
  // Why the zoo's bert-tiny uses init std 0.1: at models.py's 0.02 the mask
  // (and attention as a whole) barely moves the logits.
  zoo::BertConfig c;
  c.name = "bert-tiny";
  c.hidden = 128;
  c.layers = c.heads = 2;
  c.intermediate = 512;
  c.init_std = 0.02f;
  MESSAGE("with init std 0.02:");
  mask_effect("bert-tiny", zoo::build_bert(c, 0));
}

TEST_CASE("zoo (large): bert-base's logits depend on attention and the mask") {
  CHECK(mask_effect("bert-base", zoo::build("bert-base", 0)) > 0.05);
}

namespace {

// What a session executes, without the layout conversions between kernels.
std::vector<LayerInfo> executed_layers(const Session& s) {
  std::vector<LayerInfo> out;
  for (const LayerInfo& l : s.layers()) {
    if (l.op != "Reorder") out.push_back(l);
  }
  return out;
}

size_t count_reorders(const Session& s) {
  const std::vector<LayerInfo> all = s.layers();
  return static_cast<size_t>(
      std::count_if(all.begin(), all.end(), [](const LayerInfo& l) { return l.op == "Reorder"; }));
}

// "Conv 53, Gemm 1" (ops), or per kernel name with `kernels`.
std::string histogram(const std::vector<LayerInfo>& layers, bool kernels = false) {
  std::map<std::string, int> count;
  for (const LayerInfo& l : layers) ++count[kernels ? l.kernel : l.op];
  std::string out;
  for (const auto& [op, n] : count) out += (out.empty() ? "" : ", ") + op + " " + std::to_string(n);
  return out;
}

// Executed layers (Session::layers() without Reorder steps) must agree one to
// one in op type, output shape and kernel. Shape arithmetic is deliberately
// not compared: the export computes every Reshape target with
// Shape/Gather/Unsqueeze/Concat nodes that the session folds at prepare,
// where the zoo uses constant targets, so graph node counts differ (they are
// reported) while the executed layers do not.
void compare_with_torch(const std::string& dir, const std::string& name, int64_t batch,
                        int64_t seq) {
  CAPTURE(name);
  // tests/CMakeLists.txt exports each model into its own folder.
  std::string path = dir + "/" + name + "/" + name + ".onnx";
  if (!std::filesystem::exists(path)) path = dir + "/" + name + ".onnx";
  if (!std::filesystem::exists(path)) {
    // The CTest fixtures export resnet50 and bert-base; without them (no
    // torch) the test reports itself skipped. The small models are optional.
    if (name == "resnet50" || name == "bert-base") {
      test::record_skip("no " + dir + "/" + name + "/" + name + ".onnx (torch absent?)");
    } else {
      MESSAGE("not compared: no " << path);
    }
    return;
  }
  SessionOptions options;
  options.threads = 2;
  options.precision = Precision::fp32;
  const Model imported = Model::import_onnx(path);
  const Model built = model_of(zoo::build(name, 0), name);
  Session torch(imported, options);
  Session zoo(built, options);
  torch.prepare(input_shapes(name, batch, seq));
  zoo.prepare(input_shapes(name, batch, seq));
  const std::vector<LayerInfo> a = executed_layers(zoo), b = executed_layers(torch);
  CHECK(a.size() == b.size());
  int mismatches = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (a[i].op == b[i].op && a[i].shape == b[i].shape && a[i].kernel == b[i].kernel) continue;
    if (++mismatches <= 10) {
      FAIL_CHECK("layer " << i << ": zoo " << a[i].name << " " << a[i].op << " " << a[i].shape
                          << " " << a[i].kernel << " vs torch " << b[i].name << " " << b[i].op
                          << " " << b[i].shape << " " << b[i].kernel);
    }
  }
  CHECK(mismatches == 0);
  CHECK(count_reorders(zoo) == count_reorders(torch));
  MESSAGE(name << ": " << a.size() << " executed layers in both (" << histogram(a)
               << "); reorders zoo " << count_reorders(zoo) << " / torch " << count_reorders(torch)
               << "; graph nodes zoo " << built.node_count() << " / imported "
               << imported.node_count() << "; kernels: " << histogram(a, true));
}

}  // namespace

TEST_CASE("torch: zoo matches the torch export layer for layer") {
  const char* dir = std::getenv("OCTET_TORCH_REF");
  if (!dir || !*dir)
    OCTET_SKIP("set OCTET_TORCH_REF to a folder with resnet50.onnx and bert-base.onnx");
  // resnet18 and bert-tiny are compared too when their exports are there.
  for (const std::string name : {"resnet50", "bert-base", "resnet18", "bert-tiny"}) {
    compare_with_torch(dir, name, 1, is_bert(name) ? 128 : 0);
  }
}

#endif  // OCTET_HAVE_ZOO
