// One copy of the reordered weights per Model (ops/constant_cache.hpp): the
// sessions of a Model share the bytes they would all compute alike, never
// bytes another configuration computed differently, and their outputs are
// the ones a session with its own copy gives, to the bit.
#include <doctest/doctest.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <unordered_set>

#include "ops/constant_cache.hpp"
#include "ops/cpu_engine.hpp"
#include "runtime/model/model.hpp"
#include "tests/op_harness.hpp"

#ifdef OCTET_HAVE_ZOO
#include "apps/zoo/zoo.hpp"
#endif

using namespace octet;

namespace {

ConstantStore::Stats stats(const Model& m) {
  return model_data(m).constants->stats();
}

dnnl::memory filled(float value) {
  dnnl::memory m({{4}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a}, cpu_engine());
  for (int i = 0; i < 4; ++i) static_cast<float*>(m.get_data_handle())[i] = value;
  return m;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// The model's first output for `inputs` in a new session.
Tensor output_of(const Model& m, const SessionOptions& options, const std::vector<Tensor>& inputs) {
  Session s(m, options);
  return s.run(inputs).at(0).clone();
}

const std::string kModels = std::string(OCTET_SOURCE_DIR) + "/apps/models";

const std::map<std::string, Shape> kOneImage = {{"input", {1, 1, 28, 28}}};

std::vector<Tensor> image_input(uint32_t seed) {
  return {test::random_tensor(DataType::f32, {1, 1, 28, 28}, seed, 0.f, 1.f)};
}

}  // namespace

TEST_CASE("constant store: one entry per key, made once, published only when made") {
  const Tensor w = test::random_tensor(DataType::f32, {4}, 1, -1.f, 1.f);
  const Tensor computed = test::random_tensor(DataType::f32, {4}, 2, -1.f, 1.f);
  auto store = std::make_shared<ConstantStore>(std::unordered_set<const void*>{w.raw()});
  const dnnl::memory::desc plain({4}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a);
  const ConstantKey key{w.raw(), plain, plain, {0.5f}, 0, 127};
  size_t made = 0;
  auto make = [&] {
    ++made;
    return filled(static_cast<float>(made));
  };
  auto a = std::make_unique<ConstantCache>(store), b = std::make_unique<ConstantCache>(store);
  const dnnl::memory first = a->get(key, w, make);
  CHECK(b->get(key, w, make).get_data_handle() == first.get_data_handle());
  CHECK(made == 1);
  // Any difference in what the bytes depend on is another entry.
  std::vector<ConstantKey> others(6, key);
  others[0].scales = {0.25f};
  others[1].levels = 63;
  others[2].axis = 1;
  others[3].scales = {};  // not quantized
  others[4].src = dnnl::memory::desc({4}, dnnl::memory::data_type::s8, dnnl::memory::format_tag::a);
  others[5].want =
      dnnl::memory::desc({2, 2}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::ba);
  for (const ConstantKey& other : others) {
    CHECK(b->get(other, w, make).get_data_handle() != first.get_data_handle());
  }
  const size_t n = 1 + others.size();
  CHECK(made == n);
  CHECK(store->stats().entries == n);
  CHECK(store->stats().bytes == n * 16);
  // A tensor the store does not share (one computed at prepare) is made
  // for each kernel that asks, and not kept.
  ConstantKey of_computed = key;
  of_computed.data = computed.raw();
  CHECK(a->get(of_computed, computed, make).get_data_handle() !=
        a->get(of_computed, computed, make).get_data_handle());
  CHECK(made == n + 2);
  CHECK(store->stats().entries == n);
  // A make that throws publishes nothing.
  ConstantKey failing = key;
  failing.levels = 15;
  CHECK_THROWS_AS(a->get(failing, w, [&]() -> dnnl::memory { throw std::runtime_error("no"); }),
                  std::runtime_error);
  CHECK(store->stats().entries == n);
  // Entries live as long as a session holds them, not with the store.
  a.reset();
  CHECK(store->stats().entries == n);
  b.reset();
  CHECK(store->stats().entries == 0);
  CHECK(store->stats().made == n);
  CHECK(store->stats().bytes == 0);
}

TEST_CASE("shared weights: 8 sessions of the demo's int8 ResNet-20 hold one copy, same outputs") {
  const Model m = Model::load(kModels + "/fashion-resnet20");
  REQUIRE(m.activation_range_count() > 0);
  const std::vector<Tensor> in = image_input(3);
  for (Precision p : {Precision::int8, Precision::fp32}) {
    CAPTURE(p == Precision::int8 ? "int8" : "fp32");
    SessionOptions options;
    options.threads = 1;
    options.precision = p;
    // A separately loaded Model has a store of its own: its session makes
    // every reordered weight itself, as a session did before sharing.
    const Tensor own = output_of(Model::load(kModels + "/fashion-resnet20"), options, in);
    std::vector<std::unique_ptr<Session>> sessions;
    sessions.push_back(std::make_unique<Session>(m, options));
    sessions[0]->prepare(kOneImage);
    const ConstantStore::Stats one = stats(m);
    CHECK(one.entries >= 20);  // ResNet-20's convolutions and its classifier
    CHECK(one.bytes > 100000);
    for (int i = 1; i < 8; ++i) {
      sessions.push_back(std::make_unique<Session>(m, options));
      sessions.back()->prepare(kOneImage);
    }
    const ConstantStore::Stats eight = stats(m);
    CHECK(eight.entries == one.entries);
    CHECK(eight.bytes == one.bytes);
    CHECK(eight.made == one.made);
    for (auto& s : sessions) CHECK(same_bytes(s->run(in).at(0), own));
    sessions.clear();
    CHECK(stats(m).entries == 0);  // freed with the last session that used them
  }
}

TEST_CASE(
    "shared weights: sessions configured differently share nothing they compute differently") {
  const Model m = Model::load(kModels + "/fashion-resnet20");
  const std::vector<Tensor> in = image_input(5);
  SessionOptions int8, fp32, partial, two_threads;
  int8.threads = fp32.threads = partial.threads = 1;
  fp32.precision = Precision::fp32;
  partial.fp32_ops = {"Conv"};  // every conv in fp32, the rest as int8 has it
  two_threads.threads = 2;
  std::vector<Tensor> own;
  for (const SessionOptions* o : {&int8, &fp32, &partial, &two_threads}) {
    own.push_back(output_of(Model::load(kModels + "/fashion-resnet20"), *o, in));
  }
  CHECK(!same_bytes(own[0], own[1]));  // int8 and fp32 really differ
  // All four alive at once on one Model, each made after the others.
  std::vector<std::unique_ptr<Session>> sessions;
  size_t entries = 0;
  for (const SessionOptions* o : {&int8, &fp32, &partial, &two_threads}) {
    sessions.push_back(std::make_unique<Session>(m, *o));
    sessions.back()->prepare(kOneImage);
    const size_t now = stats(m).entries;
    if (o == &fp32) CHECK(now > entries);  // f32 weights: keys of their own
    entries = now;
  }
  for (size_t i = 0; i < sessions.size(); ++i) {
    CAPTURE(i);
    CHECK(same_bytes(sessions[i]->run(in).at(0), own[i]));
  }
}

TEST_CASE("shared weights: sessions outlive their Model and re-prepare on its weights") {
  std::unique_ptr<Session> a, b;
  Tensor want;
  {
    const Model m = Model::load(kModels + "/fashion-resnet20");
    want = output_of(m, {}, image_input(7));
    a = std::make_unique<Session>(m);
    b = std::make_unique<Session>(m);
    a->prepare(kOneImage);
  }
  // The Model's last handle is gone; the sessions keep its data and store.
  b->prepare(kOneImage);
  CHECK(same_bytes(a->run(image_input(7)).at(0), want));
  a.reset();
  b->prepare({{"input", {2, 1, 28, 28}}});
  b->prepare(kOneImage);
  CHECK(same_bytes(b->run(image_input(7)).at(0), want));
}

#ifdef OCTET_HAVE_ZOO
TEST_CASE("shared weights: int8 BERT-tiny, 1 session vs 4, one copy of the Linear weights") {
  const Model fp32(detail::build_model(zoo::build("bert-tiny", 0), "zoo:bert-tiny"));
  std::vector<Tensor> in;
  for (const TensorInfo& info : fp32.inputs()) {
    Tensor t(DataType::s64, {1, 16});
    for (int64_t i = 0; i < 16; ++i) {
      t.data<int64_t>()[i] =
          info.name == "input_ids" ? 100 + 37 * i : info.name == "attention_mask";
    }
    in.push_back(t);
  }
  CalibrationOptions co;
  co.threads = 1;
  Calibrator calibrator(fp32, co);
  calibrator.add(in);
  const Model m = calibrator.quantized_model();
  SessionOptions options;
  options.threads = 1;
  Session first(m, options);
  const Tensor want = first.run(in).at(0).clone();
  const ConstantStore::Stats one = stats(m);
  CHECK(one.entries > 0);
  std::vector<std::unique_ptr<Session>> more;
  for (int i = 0; i < 3; ++i) {
    more.push_back(std::make_unique<Session>(m, options));
    CHECK(same_bytes(more.back()->run(in).at(0), want));
  }
  // Each session folds its own slice of the position embeddings for its
  // sequence length at prepare: that one is not kept (ConstantStore::shares).
  CHECK(stats(m).made == one.made);
  CHECK(stats(m).bytes == one.bytes);
}
#endif
