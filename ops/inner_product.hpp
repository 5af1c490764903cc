// The int8 Linear layer shared by MatMul (constant 2-D B) and Gemm: a oneDNN
// inner product of a u8/s8 source [M,K] and s8 weights quantized per output
// channel, requantized by output scales into u8/s8 or f32. Without VNNI an s8
// source runs as u8 = s8 + 128 on a matmul with a source zero point of 128
// (inner_product.cpp says why).
#pragma once

#include <vector>

#include "ops/activation.hpp"
#include "ops/dnnl_kernel.hpp"

namespace octet {

struct Int8Linear {
  int64_t m = 0, k = 0, n = 0;
  const Tensor* weights = nullptr;   // f32 constant
  int weight_axis = 0;               // the axis of `weights` that indexes the N outputs
  dnnl::memory::desc weights_as_nk;  // `weights` viewed as f32 [N,K] (strides may transpose)
  float alpha = 1.f;                 // dst = alpha * (src . W^T) + bias
  std::vector<float> bias;           // empty or length N
  FusedActivation activation;
  // dst += Z before the activation (a sum post-op; the caller makes the
  // destination hold an f32 Z), and the destination is then f32.
  bool residual = false;
};

// Builds the kernel for node input 0 (the source, read plain in ctx.src[0].int8's
// dtype) and output 0 (plain; int8 when ctx.dst[0].int8 says so).
std::unique_ptr<Kernel> make_int8_linear(KernelContext& ctx, const Int8Linear& spec);

}  // namespace octet
