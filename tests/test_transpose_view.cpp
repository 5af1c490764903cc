// A Transpose whose every reader is a MatMul of two activations becomes a view
// (ops/transpose.cpp): no kernel runs, and the MatMul reads the permuted
// strides in place (ops/matmul.cpp). Checked against a plain C++ attention on
// small multi-head shapes laid out as BERT's ([1, S, H, D] split into heads),
// and the cases where the view must not be taken or must be reordered.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tests/op_harness.hpp"
#include "tests/test_graph.hpp"

using namespace octet;
using test::layer_named;
using test::TestGraph;

namespace {

constexpr int64_t kSeq = 16, kHeads = 4, kDim = 8;

AttrValue perm(std::vector<int64_t> p) {
  return AttrValue(p);
}

// x [1, S, H, D] at (s, h, d).
float at(const Tensor& x, int64_t s, int64_t h, int64_t d) {
  return x.data<float>()[(s * kHeads + h) * kDim + d];
}

// softmax(Q_h . K_h^T) . V_h per head h, written back as [1, S, H, D]: the
// fp32 reference the session's result is held to.
Tensor attention_ref(const Tensor& q, const Tensor& k, const Tensor& v) {
  Tensor out(DataType::f32, {1, kSeq, kHeads, kDim});
  std::vector<double> p(kSeq);
  for (int64_t h = 0; h < kHeads; ++h) {
    for (int64_t i = 0; i < kSeq; ++i) {
      double top = -1e30, sum = 0;
      for (int64_t j = 0; j < kSeq; ++j) {
        p[j] = 0;
        for (int64_t d = 0; d < kDim; ++d) p[j] += double(at(q, i, h, d)) * at(k, j, h, d);
        top = std::max(top, p[j]);
      }
      for (int64_t j = 0; j < kSeq; ++j) sum += p[j] = std::exp(p[j] - top);
      for (int64_t d = 0; d < kDim; ++d) {
        double acc = 0;
        for (int64_t j = 0; j < kSeq; ++j) acc += p[j] / sum * at(v, j, h, d);
        out.data<float>()[(i * kHeads + h) * kDim + d] = static_cast<float>(acc);
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("transpose view: attention heads read in place by MatMul, against the reference") {
  const Shape in{1, kSeq, kHeads, kDim};
  const Tensor q = test::random_tensor(DataType::f32, in, 11, -1.f, 1.f);
  const Tensor k = test::random_tensor(DataType::f32, in, 12, -1.f, 1.f);
  const Tensor v = test::random_tensor(DataType::f32, in, 13, -1.f, 1.f);
  TestGraph tg;
  const int qi = tg.input("q", in), ki = tg.input("k", in), vi = tg.input("v", in);
  const int qt = tg.node("Transpose", "qt", {qi}, {{"perm", perm({0, 2, 1, 3})}});
  const int kt = tg.node("Transpose", "kt", {ki}, {{"perm", perm({0, 2, 3, 1})}});
  const int vt = tg.node("Transpose", "vt", {vi}, {{"perm", perm({0, 2, 1, 3})}});
  const int scores = tg.node("MatMul", "scores", {qt, kt});
  const int probs = tg.node("Softmax", "probs", {scores}, {{"axis", AttrValue(int64_t(-1))}});
  const int context = tg.node("MatMul", "context", {probs, vt});
  // A graph output: its reader is the caller, so it is copied to plain.
  tg.output(tg.node("Transpose", "merge", {context}, {{"perm", perm({0, 2, 1, 3})}}));
  Session s(tg.model());
  const std::vector<Tensor> got = s.run({q, k, v});

  for (const char* name : {"qt", "kt", "vt"}) {
    INFO(name);
    CHECK(layer_named(s, name).kernel == "view (no copy)");
  }
  CHECK(layer_named(s, "merge").kernel != "view (no copy)");
  // No reorder was put back in front of the MatMuls.
  for (const LayerInfo& l : s.layers()) CHECK(l.op != "Reorder");
  const Tensor want = attention_ref(q, k, v);
  REQUIRE(got[0].shape() == want.shape());
  // fp32 GEMMs of 8-term dot products and a softmax: a few ulps.
  CHECK(test::max_abs_diff(got[0], want) <= 1e-5);
}

TEST_CASE("transpose view: not taken for other readers, reordered for a Linear") {
  const Shape in{1, kSeq, kHeads, kDim};
  const Tensor x = test::random_tensor(DataType::f32, in, 21, -1.f, 1.f);
  const Tensor w = test::random_tensor(DataType::f32, {kSeq, 5}, 22, -1.f, 1.f);
  TestGraph tg;
  const int xi = tg.input("x", in);
  // Read by a MatMul and by Relu: Relu wants the copy, so no view.
  const int shared = tg.node("Transpose", "shared", {xi}, {{"perm", perm({0, 2, 3, 1})}});
  tg.output(tg.node("Relu", "relu", {shared}));
  // Read only by a Linear (constant B [S, 5]): a view, which the Linear's
  // inner product cannot read, so the session reorders it to plain.
  const int linear_in = tg.node("Transpose", "linear_in", {xi}, {{"perm", perm({0, 2, 3, 1})}});
  tg.output(tg.node("MatMul", "linear", {linear_in, tg.constant("w", w)}));
  tg.output(
      tg.node("MatMul", "self",
              {shared, tg.node("Transpose", "back", {shared}, {{"perm", perm({0, 1, 3, 2})}})}));
  Session s(tg.model());
  const std::vector<Tensor> got = s.run({x});

  CHECK(layer_named(s, "shared").kernel != "view (no copy)");
  CHECK(layer_named(s, "linear_in").kernel == "view (no copy)");
  CHECK(layer_named(s, "reorder:linear_in.out").op == "Reorder");

  // x^T per head: xt[h][d][s] = x[s][h][d].
  auto xt = [&](int64_t h, int64_t d, int64_t s_) { return at(x, s_, h, d); };
  double relu_err = 0, linear_err = 0, self_err = 0;
  for (int64_t h = 0; h < kHeads; ++h) {
    for (int64_t d = 0; d < kDim; ++d) {
      for (int64_t s_ = 0; s_ < kSeq; ++s_) {
        const float r = got[0].data<float>()[(h * kDim + d) * kSeq + s_];
        relu_err = std::max(relu_err, std::abs(double(r) - std::max(0.f, xt(h, d, s_))));
      }
      for (int64_t o = 0; o < 5; ++o) {
        double acc = 0;
        for (int64_t s_ = 0; s_ < kSeq; ++s_)
          acc += double(xt(h, d, s_)) * w.data<float>()[s_ * 5 + o];
        linear_err =
            std::max(linear_err, std::abs(got[1].data<float>()[(h * kDim + d) * 5 + o] - acc));
      }
      for (int64_t e = 0; e < kDim; ++e) {  // (x^T . x)[h][d][e]
        double acc = 0;
        for (int64_t s_ = 0; s_ < kSeq; ++s_) acc += double(xt(h, d, s_)) * xt(h, e, s_);
        self_err =
            std::max(self_err, std::abs(got[2].data<float>()[(h * kDim + d) * kDim + e] - acc));
      }
    }
  }
  CHECK(relu_err == 0);
  CHECK(linear_err <= 1e-5);
  CHECK(self_err <= 1e-5);
}
