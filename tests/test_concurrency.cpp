// One Model shared by 8 threads, each with its own Session: every output is
// bit-identical to the single-threaded result (a Model is immutable; a
// Session owns all mutable state). Sessions with different shapes are
// prepared concurrently too. Each Session runs on one thread, so that the
// result does not depend on how oneDNN splits work between threads.
#ifdef OCTET_HAVE_ZOO
#include <doctest/doctest.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "apps/zoo/zoo.hpp"
#include "loaders/data/image.hpp"
#include "ops/constant_cache.hpp"
#include "runtime/model/model.hpp"
#include "tests/op_harness.hpp"

using namespace octet;

namespace {

constexpr int kThreads = 8;

std::vector<Tensor> bert_inputs(const Model& m, int64_t seq, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Tensor> inputs;
  for (const TensorInfo& info : m.inputs()) {
    Tensor t(DataType::s64, {1, seq});
    for (int64_t i = 0; i < seq; ++i) {
      int64_t v = static_cast<int64_t>(rng() % 30000) + 100;
      if (info.name == "attention_mask") v = i < seq - 3;
      if (info.name == "token_type_ids") v = i >= seq / 2;
      t.data<int64_t>()[i] = v;
    }
    inputs.push_back(t);
  }
  return inputs;
}

Model calibrated(const Model& fp32, const std::vector<std::vector<Tensor>>& samples) {
  CalibrationOptions options;
  options.threads = 1;
  Calibrator calibrator(fp32, options);
  for (const auto& s : samples) calibrator.add(s);
  return calibrator.quantized_model();
}

SessionOptions one_thread(Precision p) {
  SessionOptions o;
  o.threads = 1;
  o.precision = p;
  return o;
}

// Every thread runs `runs` times over `inputs` (round robin) in its own
// Session and compares each output with `want` byte for byte.
int mismatches(const Model& model, Precision p, const std::vector<std::vector<Tensor>>& inputs,
               const std::vector<Tensor>& want, int runs) {
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Session s(model, one_thread(p));
      for (int r = 0; r < runs; ++r) {
        const size_t k = static_cast<size_t>(r + t) % inputs.size();
        const Tensor& got = s.run(inputs[k]).at(0);
        if (got.nbytes() != want[k].nbytes() ||
            std::memcmp(got.raw(), want[k].raw(), got.nbytes()) != 0) {
          ++bad;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  return bad.load();
}

std::vector<Tensor> reference(const Model& model, Precision p,
                              const std::vector<std::vector<Tensor>>& inputs) {
  Session s(model, one_thread(p));
  std::vector<Tensor> out;
  for (const auto& in : inputs) out.push_back(s.run(in).at(0).clone());
  return out;
}

}  // namespace

TEST_CASE("concurrency: 8 threads share a bert-tiny Model, 200 runs each, fp32 and int8") {
  const Model fp32(detail::build_model(zoo::build("bert-tiny", 0), "zoo:bert-tiny"));
  std::vector<std::vector<Tensor>> inputs;
  for (uint32_t seed = 1; seed <= 4; ++seed) inputs.push_back(bert_inputs(fp32, 32, seed));
  const Model int8 = calibrated(fp32, inputs);
  for (Precision p : {Precision::fp32, Precision::int8}) {
    const Model& m = p == Precision::fp32 ? fp32 : int8;
    CAPTURE(p == Precision::fp32 ? "fp32" : "int8");
    CHECK(mismatches(m, p, inputs, reference(m, p, inputs), 200) == 0);
  }
}

TEST_CASE("concurrency: 8 threads share the demo's ResNet-20, 200 runs each, fp32 and int8") {
  // The committed Fashion-MNIST model with its calibrated ranges, on the
  // bundled real images, preprocessed as its metadata says.
  const std::string dir = std::string(OCTET_SOURCE_DIR) + "/apps/models";
  const Model model = Model::load(dir + "/fashion-resnet20");
  const ImagePreprocess p =
      preprocess_from_json(nlohmann::json::parse(model.metadata_json()).at("preprocess"));
  std::vector<std::vector<Tensor>> inputs;
  for (const char* image : {"0000-ankle-boot", "0002-trouser", "0004-shirt", "0018-bag"}) {
    inputs.push_back({load_image(dir + "/images/" + image + ".png", p)});
  }
  REQUIRE(model.activation_range_count() > 0);
  for (Precision precision : {Precision::fp32, Precision::int8}) {
    CAPTURE(precision == Precision::fp32 ? "fp32" : "int8");
    CHECK(mismatches(model, precision, inputs, reference(model, precision, inputs), 200) == 0);
  }
}

TEST_CASE("concurrency: 8 threads share a resnet18 Model in int8") {
  const Model fp32(detail::build_model(zoo::build("resnet18", 0), "zoo:resnet18"));
  std::vector<std::vector<Tensor>> inputs;
  for (uint32_t seed = 1; seed <= 2; ++seed) {
    inputs.push_back({test::random_tensor(DataType::f32, {1, 3, 224, 224}, seed, -2.f, 2.f)});
  }
  const Model int8 = calibrated(fp32, inputs);
  // 8 runs a thread: ResNet-18 is 2 GFLOP a run, and the suite also runs
  // under the sanitizers.
  CHECK(mismatches(int8, Precision::int8, inputs, reference(int8, Precision::int8, inputs), 8) ==
        0);
}

TEST_CASE("concurrency: sessions of one Model prepared for different shapes at the same time") {
  const Model m(detail::build_model(zoo::build("bert-tiny", 0), "zoo:bert-tiny"));
  const int64_t seqs[kThreads] = {8, 16, 24, 32, 40, 48, 56, 64};
  std::vector<Tensor> want;
  for (int64_t seq : seqs) {
    Session s(m, one_thread(Precision::fp32));
    want.push_back(s.run(bert_inputs(m, seq, 9)).at(0).clone());
  }
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        Session s(m, one_thread(Precision::fp32));
        // Each thread cycles through every shape, so that prepares of the
        // same and of different shapes overlap.
        const int k = (t + round) % kThreads;
        const std::vector<Tensor> in = bert_inputs(m, seqs[k], 9);
        s.prepare({{"input_ids", {1, seqs[k]}},
                   {"attention_mask", {1, seqs[k]}},
                   {"token_type_ids", {1, seqs[k]}}});
        const Tensor& got = s.run(in).at(0);
        bad += std::memcmp(got.raw(), want[k].raw(), got.nbytes()) != 0;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  CHECK(bad.load() == 0);
}

TEST_CASE(
    "concurrency: 8 sessions of one int8 Model prepared at once share one copy of the weights") {
  const Model fp32(detail::build_model(zoo::build("bert-tiny", 0), "zoo:bert-tiny"));
  std::vector<std::vector<Tensor>> inputs;
  for (uint32_t seed = 1; seed <= 2; ++seed) inputs.push_back(bert_inputs(fp32, 32, seed));
  const Model m = calibrated(fp32, inputs);
  const ConstantStore& store = *model_data(m).constants;
  ConstantStore::Stats one;
  std::vector<Tensor> want;
  {
    Session s(m, one_thread(Precision::int8));
    for (const auto& in : inputs) want.push_back(s.run(in).at(0).clone());
    one = store.stats();
  }
  REQUIRE(one.entries > 0);
  REQUIRE(store.stats().entries == 0);  // the store is empty again: the threads race to fill it
  std::atomic<int> ready{0}, prepared{0}, bad{0};
  ConstantStore::Stats shared;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Session s(m, one_thread(Precision::int8));
      // All threads start preparing together, so that they miss the same
      // weights at the same time.
      ++ready;
      while (ready.load() < kThreads) std::this_thread::yield();
      s.prepare({{"input_ids", {1, 32}}, {"attention_mask", {1, 32}}, {"token_type_ids", {1, 32}}});
      ++prepared;
      while (prepared.load() < kThreads) std::this_thread::yield();
      if (t == 0) shared = store.stats();  // every session alive and prepared
      for (size_t k = 0; k < inputs.size(); ++k) {
        const Tensor& got = s.run(inputs[k]).at(0);
        bad += std::memcmp(got.raw(), want[k].raw(), got.nbytes()) != 0;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  CHECK(bad.load() == 0);
  CHECK(shared.entries == one.entries);
  CHECK(shared.bytes == one.bytes);
  CHECK(shared.made == 2 * one.made);  // the reference's, then one set for all 8
}

#endif  // OCTET_HAVE_ZOO
