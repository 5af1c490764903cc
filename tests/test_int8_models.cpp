// Whole models in int8: the zoo architectures (seeded random weights) with
// activation ranges from a max pass over a few random inputs, against fp32.
// Thresholds: cosine >= 0.99 of the logits (the bar); the measured
// values are printed.
#ifdef OCTET_HAVE_ZOO
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>

#include "apps/zoo/zoo.hpp"
#include "runtime/model/model.hpp"
#include "tests/expected_isa.hpp"
#include "tests/op_harness.hpp"

using namespace octet;

namespace {

bool is_bert(const std::string& name) {
  return name.rfind("bert", 0) == 0;
}

std::vector<Tensor> random_inputs(const Model& m, const std::string& name, int64_t batch,
                                  uint32_t seed) {
  std::vector<Tensor> inputs;
  std::mt19937 rng(seed);
  for (const TensorInfo& info : m.inputs()) {
    if (!is_bert(name)) {
      inputs.push_back(test::random_tensor(DataType::f32, {batch, 3, 224, 224}, rng(), -2.f, 2.f));
      continue;
    }
    const int64_t seq = 64;
    Tensor t(DataType::s64, {batch, seq});
    for (int64_t i = 0; i < t.numel(); ++i) {
      const int64_t pos = i % seq;
      int64_t v = 0;
      if (info.name == "input_ids") v = static_cast<int64_t>(rng() % 30000) + 100;
      if (info.name == "attention_mask") v = pos < seq - 8 * (i / seq) ? 1 : 0;
      if (info.name == "token_type_ids") v = pos >= seq / 2;
      t.data<int64_t>()[i] = v;
    }
    inputs.push_back(t);
  }
  return inputs;
}

Model zoo_model(const std::string& name) {
  return Model(detail::build_model(zoo::build(name, 0), "zoo:" + name));
}

Model calibrated(const Model& fp32, const std::string& name) {
  CalibrationOptions options;
  options.threads = 2;
  Calibrator calibrator(fp32, options);
  for (uint32_t seed = 100; seed < 103; ++seed) calibrator.add(random_inputs(fp32, name, 1, seed));
  return calibrator.quantized_model();
}

// int8 against fp32 on inputs the calibration never saw: the cosine of all
// logits of 8 batches of 2 pooled. Not the worst batch's: a batch is 2 x 2
// logits for BERT, of random weights, and the f32 residual rounded by an
// ulp differently is amplified by 12 int8 layers (fusing the residual Add
// into the Linear did that on the AVX2 path: the worst batch of seeds 7..26
// moved from 0.974 to 0.957, the pooled cosine from 0.9940 to 0.9938, and on
// VNNI the worst batch of the same seeds was 0.977 either way), so a
// worst-batch bar fails or passes by the seed.
double int8_cosine(const std::string& name, Session* int8_out = nullptr) {
  const Model fp32 = zoo_model(name);
  const Model int8 = calibrated(fp32, name);
  SessionOptions options;
  options.threads = 2;
  Session a(fp32, options), b(int8, options);
  std::vector<float> got, ref;
  for (uint32_t seed = 7; seed < 15; ++seed) {
    const std::vector<Tensor> inputs = random_inputs(fp32, name, 2, seed);
    const Tensor r = a.run(inputs)[0].clone();
    const Tensor g = b.run(inputs)[0].clone();
    ref.insert(ref.end(), r.data<float>(), r.data<float>() + r.numel());
    got.insert(got.end(), g.data<float>(), g.data<float>() + g.numel());
  }
  if (int8_out) *int8_out = std::move(b);
  const int64_t n = static_cast<int64_t>(got.size());
  Tensor pooled_got(DataType::f32, {n}), pooled_ref(DataType::f32, {n});
  std::copy(got.begin(), got.end(), pooled_got.data<float>());
  std::copy(ref.begin(), ref.end(), pooled_ref.data<float>());
  return test::cosine(pooled_got, pooled_ref);
}

}  // namespace

TEST_CASE("int8 models: resnet18 runs int8 end to end, cosine >= 0.99 against fp32") {
  Session s(zoo_model("resnet18"));
  const double cos = int8_cosine("resnet18", &s);
  MESSAGE("resnet18 int8 vs fp32 logits cosine " << cos);
  CHECK(cos >= 0.99);
  const std::map<std::string, int> n = test::count_layers(s);
  CHECK(n.count("Conv:fp32") == 0);  // every conv in int8
  CHECK(n.at("Conv:int8") == 20);
  CHECK(n.at("Quantize:int8") == 1);       // once, at the input
  CHECK(n.count("Dequantize:fp32") == 0);  // the classifier writes f32 logits itself
  CHECK(n.at("MaxPool:int8") == 1);
  CHECK(n.at("GlobalAveragePool:int8") == 1);
  CHECK(n.at("Gemm:int8") == 1);
}

TEST_CASE("int8 models: bert-tiny's Linear layers and attention matmuls run int8, cosine >= 0.99") {
  Session s(zoo_model("bert-tiny"));
  const double cos = int8_cosine("bert-tiny", &s);
  MESSAGE("bert-tiny int8 vs fp32 logits cosine " << cos);
  CHECK(cos >= 0.99);
  std::map<std::string, int> n = test::count_layers(s);
  // 2 layers x (Q, K, V, attention output, FFN in, FFN out), and the 2
  // attention matmuls of each layer where the CPU has VNNI (ops/matmul.cpp),
  // as its flags say (tests/expected_isa.hpp), not octet's detection.
  INFO(test::expected_isa().why);
  const int attention = test::expected_isa().vnni ? 4 : 0;
  CHECK(n.at("MatMul:int8") == 12 + attention);
  CHECK(n["MatMul:fp32"] == 4 - attention);
  CHECK(n.at("Gemm:int8") == 2);  // pooler and classifier
  // Each Softmax writes u8 itself when its reader, the context matmul, is
  // int8; each LayerNorm's output is also the residual, read in f32, but for
  // the last one's: the pooler's Gather picks the first token in int8 for
  // its int8 Gemm.
  CHECK(n.at(attention ? "Softmax:int8" : "Softmax:fp32") == 2);
  CHECK(n.at("LayerNormalization:fp32") == 4);
  CHECK(n.at("LayerNormalization:int8") == 1);
  CHECK(n.at("Gather:int8") == 1);
  CHECK(n["Quantize:int8"] == 1);  // the pooler's Tanh output, for the classifier
}

TEST_CASE("int8 models: blacklisting every quantizable layer gives the fp32 result") {
  const Model fp32 = zoo_model("resnet18");
  const Model int8 = calibrated(fp32, "resnet18");
  SessionOptions all_fp32;
  all_fp32.fp32_ops = {"Conv", "MatMul", "Gemm"};
  Session a(fp32), b(int8, all_fp32);
  const std::vector<Tensor> inputs = random_inputs(fp32, "resnet18", 1, 5);
  const Tensor ref = a.run(inputs)[0].clone();
  const Tensor got = b.run(inputs)[0].clone();
  CHECK(test::max_abs_diff(got, ref) <= 1e-5);
  for (const LayerInfo& l : b.layers()) CHECK(l.precision != "int8");
}

// Pooled cosines measured on an AMD EPYC Zen 4 (2 threads): with VNNI
// resnet50 0.99985, bert-base 0.99840; on its AVX2 path (7-bit weights)
// resnet50 0.99949, bert-base 0.99635.
TEST_CASE("zoo (large): resnet50 and bert-base int8, cosine >= 0.99 against fp32") {
  for (const char* name : {"resnet50", "bert-base"}) {
    const double cos = int8_cosine(name);
    MESSAGE(std::string(name) << " int8 vs fp32 logits cosine " << cos);
    CHECK(cos >= 0.99);
  }
}

#endif  // OCTET_HAVE_ZOO
