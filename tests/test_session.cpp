// Session preparation and execution: memory planning, buffer sharing for
// fused residuals, layouts kept between oneDNN kernels, input validation, and
// a run() that allocates nothing.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include "runtime/model/model.hpp"
#include "runtime/session/memory_plan.hpp"
#include "runtime/session/session_state.hpp"
#include "tests/alloc_counter.hpp"
#include "tests/op_harness.hpp"

using namespace octet;

namespace {

// A builder for small conv chains: x -> conv -> conv -> ... with optional
// residuals, all weights random but seeded.
struct ChainBuilder {
  Graph g;
  uint32_t seed = 1;

  int input(const std::string& name, std::vector<Dim> dims) {
    Value v;
    v.name = name;
    v.shape = std::move(dims);
    g.inputs.push_back(g.add_value(v));
    return g.inputs.back();
  }
  int constant(const std::string& name, Tensor t) {
    Value v;
    v.name = name;
    v.data = std::move(t);
    return g.add_value(v);
  }
  int conv(const std::string& name, int src, int64_t ic, int64_t oc, int residual = kNoValue,
           bool relu = true) {
    const float bound = 1.f / std::sqrt(static_cast<float>(ic * 9));
    const int w = constant(
        name + ".w", test::random_tensor(DataType::f32, {oc, ic, 3, 3}, seed++, -bound, bound));
    const int b = constant(name + ".b", test::random_tensor(DataType::f32, {oc}, seed++));
    Value out;
    out.name = name + ".out";
    const int dst = g.add_value(out);
    Node n;
    n.op = "Conv";
    n.name = name;
    n.inputs = {src, w, b};
    if (residual != kNoValue) n.inputs.push_back(residual);
    n.outputs = {dst};
    n.attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
    if (relu) n.attrs["activation"] = std::string("relu");
    g.nodes.push_back(n);
    return dst;
  }
  Model model() { return Model(detail::build_model(g, "test")); }
};

// Runs the graph node by node with the reference kernels.
std::vector<Tensor> reference_run(const Graph& g, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> values(g.values.size());
  for (size_t i = 0; i < g.inputs.size(); ++i) values[g.inputs[i]] = inputs[i];
  for (size_t v = 0; v < g.values.size(); ++v) {
    if (g.values[v].is_initializer()) values[v] = g.values[v].data;
  }
  for (const Node& n : g.nodes) {
    test::OpCase c{n.op, n.attrs, {}, {}, n.outputs.size()};
    for (int id : n.inputs) c.inputs.push_back(id == kNoValue ? Tensor() : values[id]);
    std::vector<Tensor> out = test::run_reference(c);
    for (size_t k = 0; k < out.size(); ++k) values[n.outputs[k]] = out[k];
  }
  std::vector<Tensor> outputs;
  for (int id : g.outputs) outputs.push_back(values[id]);
  return outputs;
}

size_t count_pre_copies(const detail::Plan& plan) {
  size_t n = 0;
  for (const detail::Step& s : plan.steps) n += s.pre_copies.size();
  return n;
}

}  // namespace

TEST_CASE("memory plan: tensors alive together never overlap") {
  std::mt19937 rng(42);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<Lifetime> lifetimes;
    for (int i = 0; i < 40; ++i) {
      const int first = static_cast<int>(rng() % 30);
      lifetimes.push_back({rng() % 5000, first, first + static_cast<int>(rng() % 6)});
    }
    const MemoryPlan plan = plan_memory(lifetimes);
    size_t sum = 0;
    for (size_t i = 0; i < lifetimes.size(); ++i) {
      CHECK(plan.offsets[i] % kArenaAlignment == 0);
      sum += (lifetimes[i].bytes + 63) / 64 * 64;
      for (size_t j = 0; j < i; ++j) {
        const bool together =
            lifetimes[i].first <= lifetimes[j].last && lifetimes[j].first <= lifetimes[i].last;
        const bool disjoint = plan.offsets[i] + lifetimes[i].bytes <= plan.offsets[j] ||
                              plan.offsets[j] + lifetimes[j].bytes <= plan.offsets[i];
        if (together && lifetimes[i].bytes && lifetimes[j].bytes) CHECK(disjoint);
      }
    }
    CHECK(plan.total <= sum);
  }
}

TEST_CASE("memory plan: a chain reuses memory (two buffers' worth)") {
  std::vector<Lifetime> chain;
  for (int i = 0; i < 10; ++i) chain.push_back({1024, i, i + 1});
  CHECK(plan_memory(chain).total == 2048);
}

TEST_CASE("session: a conv chain matches the reference and keeps oneDNN's layout between convs") {
  ChainBuilder b;
  const int x = b.input("x", {{-1, "batch"}, {16, ""}, {12, ""}, {12, ""}});
  int t = b.conv("c1", x, 16, 32);
  t = b.conv("c2", t, 32, 32);
  t = b.conv("c3", t, 32, 16);
  b.g.outputs.push_back(t);
  Session s(b.model());
  for (int64_t batch : {1, 3}) {
    CAPTURE(batch);
    const Tensor in = test::random_tensor(DataType::f32, {batch, 16, 12, 12}, 9);
    const Tensor got = s.run({in})[0].clone();
    const Tensor ref = reference_run(b.g, {in})[0];
    CHECK(test::max_abs_diff(got, ref) <= 1e-5 * test::max_abs(ref));
    int reorders = 0;
    for (const LayerInfo& l : s.layers()) reorders += l.op == "Reorder";
    CHECK(reorders <= 2);  // at most into the blocked layout and back out
  }
}

TEST_CASE("session: a fused residual shares its buffer when nothing reads it later") {
  ChainBuilder b;
  const int x = b.input("x", {{1, ""}, {8, ""}, {10, ""}, {10, ""}});
  const int t = b.conv("c1", x, 8, 8);
  const int y = b.conv("c2", x, 8, 8, /*residual=*/t);
  b.g.outputs.push_back(y);
  SUBCASE("shared") {
    Model m = b.model();
    Session s(m);
    const Tensor in = test::random_tensor(DataType::f32, {1, 8, 10, 10}, 5);
    const Tensor got = s.run({in})[0].clone();
    CHECK(test::max_abs_diff(got, reference_run(b.g, {in})[0]) <= 1e-5);
    SessionState state(m, {});
    CHECK(count_pre_copies(*detail::make_plan(state, {})) == 0);
  }
  SUBCASE("copied, because the residual is also a graph output") {
    b.g.outputs.push_back(t);
    Model m = b.model();
    Session s(m);
    const Tensor in = test::random_tensor(DataType::f32, {1, 8, 10, 10}, 5);
    const std::vector<Tensor> got = s.run({in});
    const std::vector<Tensor> ref = reference_run(b.g, {in});
    CHECK(test::max_abs_diff(got[0], ref[0]) <= 1e-5);
    CHECK(test::max_abs_diff(got[1], ref[1]) <= 1e-5);  // not clobbered by the sum
    SessionState state(m, {});
    CHECK(count_pre_copies(*detail::make_plan(state, {})) == 1);
  }
}

TEST_CASE("session: run() allocates nothing once prepared") {
  ChainBuilder b;
  const int x = b.input("x", {{1, ""}, {8, ""}, {10, ""}, {10, ""}});
  const int t = b.conv("c1", x, 8, 8);
  b.g.outputs.push_back(t);
  b.g.outputs.push_back(b.conv("c2", x, 8, 8, t));  // residual copied: exercises pre-copies
  SUBCASE("reference kernels: none at all") {
    SessionOptions ref_only;
    Graph& g = b.g;
    // Conv with a non-constant weight runs the reference kernel.
    for (Node& n : g.nodes) {
      Value w;
      w.name = n.name + ".w_input";
      w.shape = std::vector<Dim>{{8, ""}, {8, ""}, {3, ""}, {3, ""}};
      const int id = g.add_value(w);
      g.inputs.push_back(id);
      n.inputs[1] = id;
    }
    Session s(b.model(), ref_only);
    s.prepare();
    for (const LayerInfo& l : s.layers()) CHECK(l.kernel == "ref");
    s.run();
    test::AllocCounter counter;
    s.run();
    CHECK(counter.count() == 0);
  }
  SUBCASE("oneDNN kernels: only oneDNN's own per-execute bookkeeping") {
    // oneDNN 2.6 builds a small argument map inside every primitive execute;
    // octet itself adds nothing, so the count is the same on every run and
    // bounded per primitive.
    Session s(b.model());
    s.prepare();
    s.run();
    size_t first = 0;
    {
      test::AllocCounter counter;
      s.run();
      first = counter.count();
    }
    test::AllocCounter counter;
    s.run();
    CHECK(counter.count() == first);
    CHECK(counter.count() <= 16 * s.layers().size());
  }
}

TEST_CASE("session: input errors name the input and the problem") {
  ChainBuilder b;
  const int x = b.input("x", {{-1, "batch"}, {8, ""}, {-1, "h"}, {-1, "h"}});
  b.g.outputs.push_back(b.conv("c1", x, 8, 8));
  Session s(b.model());
  CHECK_THROWS_WITH_AS(s.run(), doctest::Contains("not prepared"), Error);
  CHECK_THROWS_WITH_AS(s.prepare(),
                       doctest::Contains("input 'x' has the symbolic dimension 'batch'"), Error);
  CHECK_THROWS_WITH_AS(s.prepare({{"y", {1, 8, 4, 4}}}),
                       doctest::Contains("no input 'y' (inputs: x)"), Error);
  CHECK_THROWS_WITH_AS(s.prepare({{"x", {1, 8, 4}}}), doctest::Contains("expected rank 4"), Error);
  CHECK_THROWS_WITH_AS(s.prepare({{"x", {1, 7, 4, 4}}}), doctest::Contains("dimension 1 must be 8"),
                       Error);
  CHECK_THROWS_WITH_AS(s.prepare({{"x", {1, 8, 4, 5}}}), doctest::Contains("dimension 'h' is 4"),
                       Error);
  CHECK_THROWS_WITH_AS(s.run({Tensor(DataType::s64, {1, 8, 4, 4})}),
                       doctest::Contains("input 'x' must be f32"), Error);
  // A failed prepare leaves a prepared session as it was.
  s.prepare({{"x", {1, 8, 4, 4}}});
  CHECK_THROWS_AS(s.prepare({{"x", {1, 8, 4, 5}}}), Error);
  CHECK(s.prepared());
  CHECK(s.input("x").shape() == Shape{1, 8, 4, 4});
  s.run();
}

TEST_CASE("session: a memory limit turns a too-large prepare into out_of_memory, harming nothing") {
  ChainBuilder b;
  const int x = b.input("x", {{-1, "batch"}, {8, ""}, {32, ""}, {32, ""}});
  b.g.outputs.push_back(b.conv("c1", x, 8, 8));
  SessionOptions options;
  options.memory_limit = 200 << 10;  // 200 KiB: batch 1 fits (2 x 32 KiB), batch 8 does not
  Session s(b.model(), options);
  s.prepare({{"x", {1, 8, 32, 32}}});
  try {
    s.prepare({{"x", {8, 8, 32, 32}}});
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::out_of_memory);
    CHECK(std::string(e.what()).find("memory limit") != std::string::npos);
  }
  CHECK(s.input("x").shape() == Shape{1, 8, 32, 32});  // still prepared as before
  s.run();
}

TEST_CASE(
    "session: an allocation failure anywhere in prepare() is out_of_memory, harming nothing") {
  ChainBuilder b;
  const int x = b.input("x", {{-1, "batch"}, {8, ""}, {8, ""}, {8, ""}});
  const int c1 = b.conv("c1", x, 8, 8);
  b.g.outputs.push_back(b.conv("c2", c1, 8, 8, x));
  const Model model = b.model();
  const Tensor in1 = test::random_tensor(DataType::f32, {1, 8, 8, 8}, 5);
  const Tensor in2 = test::random_tensor(DataType::f32, {2, 8, 8, 8}, 6);
  Session ref(model);
  const Tensor want1 = ref.run({in1})[0].clone();
  const Tensor want2 = ref.run({in2})[0].clone();

  size_t total = 0;
  {
    Session counted(model);
    counted.prepare({{"x", {1, 8, 8, 8}}});
    test::AllocCounter counter;
    counted.prepare({{"x", {2, 8, 8, 8}}});
    total = counter.count();
  }
  REQUIRE(total > 10);
  // Allocation k of the prepare fails, for k spread over all of them.
  int failed = 0;
  for (size_t k = 0; k < total; k += std::max<size_t>(1, total / 40)) {
    CAPTURE(k);
    Session s(model);
    s.run({in1});
    bool threw = false;
    const std::map<std::string, Shape> batch2 = {{"x", {2, 8, 8, 8}}};
    {
      test::AllocFailure failure(k);
      try {
        s.prepare(batch2);
      } catch (const Error& e) {
        threw = true;
        CHECK(e.code() == ErrorCode::out_of_memory);
        CHECK(std::string(e.what()).find("out of memory") != std::string::npos);
      }
      CHECK(threw == (failure.failures() > 0));
    }
    failed += threw;
    // As it was before: prepared for batch 1, the same results.
    if (threw) {
      CHECK(s.input("x").shape() == Shape{1, 8, 8, 8});
      s.run();
      CHECK(test::max_abs_diff(s.outputs()[0], want1) == 0);
    }
    CHECK(test::max_abs_diff(s.run({in2})[0], want2) == 0);
  }
  CHECK(failed > 0);
}

TEST_CASE("session: plans of earlier shapes are kept and swapped back in, within their bounds") {
  ChainBuilder b;
  const int x = b.input("x", {{-1, "batch"}, {8, ""}, {-1, "h"}, {-1, "h"}});
  b.g.outputs.push_back(b.conv("c2", b.conv("c1", x, 8, 8), 8, 8));
  const Model model = b.model();
  const auto shape_of = [](int64_t h) { return Shape{1, 8, h, h}; };
  const auto input_of = [&](int64_t h) {
    return test::random_tensor(DataType::f32, shape_of(h), static_cast<uint32_t>(h));
  };
  std::map<int64_t, Tensor> want;
  for (int64_t h : {4, 6, 8, 10}) {
    SessionOptions fresh;
    fresh.kept_plans = 0;
    Session ref(model, fresh);
    want[h] = ref.run({input_of(h)})[0].clone();
  }

  SessionOptions options;
  options.kept_plans = 2;
  Session s(model, options);
  CHECK(s.prepared_shapes().empty());
  s.run({input_of(4)});
  const void* plan4_input = s.input(0).raw();
  s.run({input_of(6)});
  s.run({input_of(8)});
  REQUIRE(s.prepared_shapes().size() == 3);  // current + 2 kept, most recent first
  CHECK(s.prepared_shapes()[0].at("x") == shape_of(8));
  CHECK(s.prepared_shapes()[1].at("x") == shape_of(6));
  CHECK(s.prepared_shapes()[2].at("x") == shape_of(4));
  // Back to 4: its own plan (same buffers), not a new one, and right.
  CHECK(test::max_abs_diff(s.run({input_of(4)})[0], want[4]) <= 1e-5);
  CHECK(s.input(0).raw() == plan4_input);
  CHECK(s.prepared_shapes()[0].at("x") == shape_of(4));
  CHECK(s.prepared_shapes()[1].at("x") == shape_of(8));
  // A fifth shape drops the least recently used (6).
  CHECK(test::max_abs_diff(s.run({input_of(10)})[0], want[10]) <= 1e-5);
  REQUIRE(s.prepared_shapes().size() == 3);
  for (const auto& shapes : s.prepared_shapes()) CHECK(shapes.at("x") != shape_of(6));
  for (int64_t h : {8, 6, 4, 10}) {
    CAPTURE(h);
    CHECK(test::max_abs_diff(s.run({input_of(h)})[0], want[h]) <= 1e-5);
  }

  // kept_plans 0 keeps nothing; a memory limit drops kept plans to fit.
  SessionOptions none;
  none.kept_plans = 0;
  Session one(model, none);
  one.run({input_of(4)});
  one.run({input_of(6)});
  CHECK(one.prepared_shapes().size() == 1);
  // 200 KiB: a 32x32 plan (an arena of 4 x 32 KiB) fits, and so does a
  // 30x30 one, but not both.
  SessionOptions limited;
  limited.kept_plans = 3;
  limited.memory_limit = 200 << 10;
  Session small(model, limited);
  small.run({input_of(4)});
  small.run({input_of(6)});
  CHECK(small.prepared_shapes().size() == 2);  // tiny plans: both kept
  small.run({input_of(32)});
  small.run({input_of(30)});
  REQUIRE(!small.prepared_shapes().empty());
  for (const auto& shapes : small.prepared_shapes()) CHECK(shapes.at("x") != shape_of(32));
  CHECK(test::max_abs_diff(small.outputs()[0], Session(model).run({input_of(30)})[0]) <= 1e-5);

  SessionOptions bad;
  bad.kept_plans = -1;
  CHECK_THROWS_WITH_AS(Session(model, bad), doctest::Contains("kept_plans must be >= 0"), Error);
}
