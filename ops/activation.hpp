// The activation a Conv, MatMul or Gemm applies to its result, fused into it
// by the importer (loaders/onnx/pass_fuse_activation.cpp):
//   attribute "activation": none | relu | clip | sigmoid | hardsigmoid |
//                           hardswish | swish | gelu
//   attribute "activation_params" (floats): clip [min, max], hardsigmoid
//                           [alpha, beta]; none for the others.
// swish is SiLU, x * sigmoid(x); gelu the exact (erf) GELU; hardswish ONNX's
// x * max(0, min(1, x / 6 + 0.5)).
//
// In oneDNN each becomes eltwise post-ops (hardsigmoid, which oneDNN 2.6
// lacks, as linear then clip). oneDNN 2.x applies output scales before the
// post-ops, so an int8 destination on scale s_y needs care: relu and clip
// commute with the positive factor 1/s_y (clip with its bounds divided by
// s_y), so the output scales may include it; the others must see real
// values, and the eltwise post-op's own scale argument applies 1/s_y after
// them.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <string>

#include "runtime/ir/graph.hpp"

namespace octet {

class FusedActivation {
 public:
  enum class Kind { none, relu, clip, sigmoid, hardsigmoid, hardswish, swish, gelu };

  FusedActivation() = default;
  FusedActivation(Kind kind, float alpha = 0.f, float beta = 0.f)
      : kind_(kind), alpha_(alpha), beta_(beta) {}
  // From the node's attributes; an unknown name or a wrong parameter count
  // fails naming the node.
  static FusedActivation of(const Node& node);

  Kind kind() const { return kind_; }
  bool none() const { return kind_ == Kind::none; }
  std::string name() const;

  // The reference: the activation of one value, in double.
  double apply(double x) const;
  // Whether act(x) / s == act'(x / s) for s > 0, so that the output scales
  // may divide by the destination scale before the post-ops.
  bool commutes_with_scale() const {
    return kind_ == Kind::none || kind_ == Kind::relu || kind_ == Kind::clip;
  }
  // The factor the output scales may already divide by: `dst_scale` when the
  // activation commutes with it, else 1 (then append() divides afterwards).
  float scale_before(float dst_scale) const { return commutes_with_scale() ? dst_scale : 1.f; }
  // Appends the post-ops that turn the oneDNN value (x / scale_before(s_y))
  // into act(x) / s_y; s_y = 1 for an f32 destination.
  void append(dnnl::post_ops& ops, float dst_scale) const;
  // Whether every output is >= 0 whatever the input (for u8 calibration).
  bool non_negative() const;

 private:
  Kind kind_ = Kind::none;
  float alpha_ = 0.f, beta_ = 0.f;  // clip: min, max; hardsigmoid: alpha, beta
};

}  // namespace octet
