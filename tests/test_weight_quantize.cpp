// quantize_weights (ops/quantize.hpp): the s8 weights every int8 kernel uses,
// against the plain per-element formula: round half to even of w / scale_c,
// clamped to the levels, with exact ties, clamping and bad values.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>

#include "ops/quantize.hpp"

using namespace octet;

namespace {

int8_t reference(float w, float scale, float levels) {
  const float v = std::nearbyint(w / scale);  // half to even in the default mode
  return static_cast<int8_t>(std::min(std::max(v, -levels), levels));
}

}  // namespace

TEST_CASE("weight quantization: ties to even, clamping, per-channel scales along any axis") {
  // Exact ties: k + 0.5 times a power-of-two scale.
  Tensor w(DataType::f32, {2, 6});
  const float ties[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f};
  for (int i = 0; i < 6; ++i) {
    w.data<float>()[i] = ties[i] * 0.25f;                        // channel 0, scale 0.25
    w.data<float>()[6 + i] = ties[i] * 4.f + 1000.f * (i == 5);  // channel 1, scale 4
  }
  const Tensor q = quantize_weights(w, 0, {0.25f, 4.f}, 63.f);
  const int8_t want[] = {0, 2, 2, 0, -2, -2, 0, 2, 2, 0, -2, 63};
  for (int i = 0; i < 12; ++i) {
    CAPTURE(i);
    CHECK(q.data<int8_t>()[i] == want[i]);
  }

  // Random weights, outliers past the levels, every axis of a 4-D tensor:
  // bit for bit the reference.
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.f, 1.f);
  Tensor c(DataType::f32, {5, 3, 4, 7});
  for (int64_t i = 0; i < c.numel(); ++i) c.data<float>()[i] = normal(rng) * (i % 17 == 0 ? 9 : 1);
  for (int axis = 0; axis < 4; ++axis) {
    CAPTURE(axis);
    const Shape& s = c.shape();
    int64_t inner = 1;
    for (int d = axis + 1; d < 4; ++d) inner *= s[d];
    std::vector<float> scales(static_cast<size_t>(s[axis]));
    for (size_t k = 0; k < scales.size(); ++k) scales[k] = 0.01f + 0.007f * static_cast<float>(k);
    for (float levels : {63.f, 127.f}) {
      const Tensor got = quantize_weights(c, axis, scales, levels);
      int mismatches = 0;
      for (int64_t i = 0; i < c.numel(); ++i) {
        const float scale = scales[static_cast<size_t>((i / inner) % s[axis])];
        mismatches += got.data<int8_t>()[i] != reference(c.data<float>()[i], scale, levels);
      }
      CHECK(mismatches == 0);
    }
  }
}

TEST_CASE("weight quantization: a NaN or infinite weight is an error naming its index") {
  Tensor w(DataType::f32, {2, 3});
  for (int i = 0; i < 6; ++i) w.data<float>()[i] = 0.1f * static_cast<float>(i);
  w.data<float>()[4] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH_AS(quantize_weights(w, 0, {1.f, 1.f}, 127.f),
                       doctest::Contains("NaN or infinite value at index 4"), Error);
  w.data<float>()[4] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH_AS(quantize_weights(w, 0, {1.f, 1.f}, 127.f), doctest::Contains("index 4"),
                       Error);
  // Finite, but its quotient overflows: also refused, as before.
  w.data<float>()[4] = 3e38f;
  CHECK_THROWS_AS(quantize_weights(w, 0, {1e-3f, 1e-3f}, 127.f), Error);
}
