// Symmetric int8 quantization shared by the int8 kernels: per-channel
// weights (scale_c = amax_c / 127, values in [-127, 127]), and the scale
// arithmetic that folds source, weight and destination scales into oneDNN's
// output scales.
#pragma once

#include <cmath>
#include <vector>

#include "ops/dnnl_kernel.hpp"

namespace octet {

// Round half to even, as ONNX QuantizeLinear and oneDNN's conversions do.
inline float round_half_even(float x) {
  return std::nearbyint(x);
}

// The largest weight integer. 127 on CPUs with VNNI. Without VNNI oneDNN
// multiplies u8 by s8 with vpmaddubsw, whose s16 sum of two 255 x 127
// products overflows, so weights keep to [-63, 63] there; except that for a
// convolution with an s8 source oneDNN halves the weights itself.
int conv_weight_levels(DataType src);
int linear_weight_levels();

// Whether a matmul of two activations (attention's Q.K^T and P.V) may run in
// int8: only with VNNI, since neither operand can be kept to 7 bits the way
// weights are (ops/matmul.cpp). Tests force it on other CPUs to check the
// kernel against the integer reference there, with the s8 operand's integers
// kept within [-64, 64] so that vpmaddubsw cannot saturate
// (tests/test_int8_attention.cpp); never set outside tests.
bool int8_activation_matmul_available();
void force_int8_activation_matmul_for_tests(bool force);

// Per-channel weight ranges along `axis`: `given` (a QAT model's learned
// ranges, or those a model stored with its int8 weights), else max|w_c| of
// the f32 `w`.
std::vector<float> weight_amax(const Tensor& w, int axis, const WeightQuant* given);
// scale_c = amax_c / levels; 1 for an all-zero channel, which quantizes to
// zeros with any scale.
std::vector<float> weight_scales(const std::vector<float>& amax, int levels);

// s8 weights: round_half_even(w / scale_c), clamped to [-levels, levels],
// scale_c = scales[c] along `axis`. A NaN or infinite quotient is an Error.
Tensor quantize_weights(const Tensor& w, int axis, const std::vector<float>& scales, float levels);

// The integers an int8 kernel multiplies with, in [-levels, levels]. Always
// by way of the 8-bit integers q8 = quantize_weights(w, amax_c / 127, 127)
// -- or the q8 a model stored (`w` s8, Model::with_int8_weights) -- and for
// fewer levels round_half_even(q8 x levels / 127) (never a tie for 63), so
// that a model saved with int8 weights computes the same bits as with its
// f32 weights on every CPU.
Tensor weight_integers(const Tensor& w, int axis, const std::vector<float>& amax, int levels);

// weight_integers() reordered into `want`, an s8 layout chosen by a
// primitive. `plain` describes the s8 copy of `w` in the primitive's dims (it
// may view `w` transposed or grouped). Cached like reorder_constant(): one
// copy for all the sessions of a Model.
dnnl::memory int8_weights(const KernelContext& ctx, const Tensor& w, int axis,
                          const std::vector<float>& amax, int levels,
                          const dnnl::memory::desc& plain, const dnnl::memory::desc& want);

// A stored int8 weight as f32, q x amax_c / 127 (what an fp32 kernel of a
// model saved with int8 weights multiplies with); an f32 `w` as it is.
Tensor f32_weights(const Tensor& w, const WeightQuant* quant);

// f32_weights() reordered from `src_md` (f32) into `want`, cached by the
// stored tensor like reorder_constant(): one copy for all the sessions of a
// Model, also for an fp32 layer whose weight is stored as s8.
dnnl::memory reorder_f32_weights(const KernelContext& ctx, const Tensor& w,
                                 const WeightQuant* quant, const dnnl::memory::desc& src_md,
                                 const dnnl::memory::desc& want);

// Bias in the units of the s32 accumulator, where oneDNN 2.x adds it before
// the output scale: b_c / (src_scale x weight_scale_c).
// `md` describes the f32 memory made (default: {n}; a matmul wants {1, n}).
dnnl::memory int8_bias(const dnnl::engine& engine, const Tensor& bias, float src_scale,
                       const std::vector<float>& weight_scales, dnnl::memory::desc md = {});

// oneDNN output scales: src_scale x weight_scale_c / dst_scale (dst_scale 1
// for an f32 destination). A single value when all channels agree.
std::vector<float> output_scales(float src_scale, const std::vector<float>& weight_scales,
                                 float dst_scale);

}  // namespace octet
