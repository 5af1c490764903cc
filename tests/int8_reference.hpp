// The integer reference for octet's int8 kernels: quantize, accumulate in
// int32, requantize, written as plainly as possible. The int8 oneDNN paths
// must agree with it to within one unit of the last place.
#pragma once

#include <vector>

#include "octet/octet.hpp"

namespace octet::test {

// q = saturate(round_half_even(x * (1 / scale))) into s8 [-128, 127] or u8 [0, 255].
Tensor quantize_ref(const Tensor& x, float scale, DataType dtype);
// Per output channel (axis 0, or `axis`): scale_c = max|w_c| / levels, q in
// [-levels, levels].
std::vector<float> weight_scales_ref(const Tensor& w, int axis = 0, int levels = 127);
Tensor quantize_weights_ref(const Tensor& w, const std::vector<float>& scales, int axis = 0,
                            int levels = 127);

// The weights an int8 kernel really multiplies with on this CPU, as its
// flags say it should (tests/expected_isa.hpp). Without VNNI octet keeps
// weights to 7 bits (ops/quantize.hpp), derived from the 8-bit integers,
// except for a convolution with an s8 source, whose weights oneDNN halves
// itself (rounding half to even). Scales are adjusted to match.
struct EffectiveWeights {
  Tensor q;
  std::vector<float> scales;
};
enum class Kernel { conv, linear };
EffectiveWeights effective_weights_ref(const Tensor& w, DataType src, Kernel kernel, int axis = 0);

struct ConvParams {
  int64_t stride = 1, pad = 0, group = 1;
  bool relu = false;
};

// The real-valued result of an int8 convolution before requantization:
// s_x * s_w[c] * sum(q_x * q_w) + b[c] (+ s_z * q_z) (relu). The sums are exact int32.
Tensor conv_int8_ref(const Tensor& qx, float sx, const Tensor& qw, const std::vector<float>& sw,
                     const Tensor& bias, const ConvParams& p, const Tensor* qz = nullptr,
                     float sz = 1.f);

// [M,K] x [K,N] (B quantized per column n): s_a * s_b[n] * sum(q_a * q_b) + bias[n].
Tensor matmul_int8_ref(const Tensor& qa, float sa, const Tensor& qb, const std::vector<float>& sb,
                       const Tensor* bias);

// [..., M, K] x [..., K, N] with the same batch dims and one scale per
// operand (the attention matmuls): s_a * s_b * sum(q_a * q_b).
Tensor batched_matmul_int8_ref(const Tensor& qa, float sa, const Tensor& qb, float sb);

// Integers moved from one scale to another as the session's int8 reorders
// move them: sat(round_half_even(q * (from / to))) in `dtype`, the factor in float.
Tensor requantize_ref(const Tensor& q, float from_scale, float to_scale, DataType dtype);

// The integers of an int8 tensor that the session exposed as f32 (scale x q).
std::vector<int> integers_of(const Tensor& dequantized, float scale);

// Checks (doctest) that the integers of `dequantized` equal `reference_q`'s,
// or are one apart where the real value sits on a rounding boundary (float vs
// double scaling), on at most 0.1% of them plus `slack`.
void check_integers(const Tensor& dequantized, const Tensor& reference_q, float scale,
                    int slack = 0);

}  // namespace octet::test
