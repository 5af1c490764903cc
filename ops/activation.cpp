#include "ops/activation.hpp"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

namespace octet {
namespace {

const std::pair<const char*, FusedActivation::Kind> kNames[] = {
    {"none", FusedActivation::Kind::none},
    {"relu", FusedActivation::Kind::relu},
    {"clip", FusedActivation::Kind::clip},
    {"sigmoid", FusedActivation::Kind::sigmoid},
    {"hardsigmoid", FusedActivation::Kind::hardsigmoid},
    {"hardswish", FusedActivation::Kind::hardswish},
    {"swish", FusedActivation::Kind::swish},
    {"gelu", FusedActivation::Kind::gelu},
};

size_t param_count(FusedActivation::Kind kind) {
  return kind == FusedActivation::Kind::clip || kind == FusedActivation::Kind::hardsigmoid ? 2 : 0;
}

}  // namespace

FusedActivation FusedActivation::of(const Node& node) {
  const std::string name = node.attr_string("activation", "none");
  const auto* it = std::find_if(std::begin(kNames), std::end(kNames),
                                [&](const auto& entry) { return name == entry.first; });
  if (it == std::end(kNames)) {
    std::string known;
    for (const auto& entry : kNames)
      known += (known.empty() ? "" : ", ") + std::string(entry.first);
    node.fail(ErrorCode::unsupported, "activation '" + name + "' (expected one of " + known + ")");
  }
  const std::vector<double> params = node.has_attr("activation_params")
                                         ? node.attr_floats("activation_params")
                                         : std::vector<double>{};
  if (params.size() != param_count(it->second)) {
    node.fail(ErrorCode::invalid_model,
              "activation '" + name + "' takes " + std::to_string(param_count(it->second)) +
                  " activation_params, got " + std::to_string(params.size()));
  }
  if (it->second == Kind::clip && !(params[0] <= params[1])) {
    node.fail(ErrorCode::invalid_model, "clip activation with min > max");
  }
  return params.empty() ? FusedActivation(it->second)
                        : FusedActivation(it->second, static_cast<float>(params[0]),
                                          static_cast<float>(params[1]));
}

std::string FusedActivation::name() const {
  for (const auto& entry : kNames) {
    if (entry.second == kind_) return entry.first;
  }
  return "?";
}

double FusedActivation::apply(double x) const {
  switch (kind_) {
    case Kind::none:
      return x;
    case Kind::relu:
      return x > 0 ? x : 0.0;
    case Kind::clip:
      return std::min<double>(std::max<double>(x, alpha_), beta_);
    case Kind::sigmoid:
      return 1.0 / (1.0 + std::exp(-x));
    case Kind::hardsigmoid:
      return std::max(0.0, std::min(1.0, alpha_ * x + beta_));
    case Kind::hardswish:
      return x * std::max(0.0, std::min(1.0, x / 6.0 + 0.5));
    case Kind::swish:
      return x / (1.0 + std::exp(-x));
    case Kind::gelu:
      return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
  }
  return x;
}

void FusedActivation::append(dnnl::post_ops& ops, float dst_scale) const {
  using alg = dnnl::algorithm;
  const float after = 1.f / dst_scale;  // the eltwise post-op's own output scale
  switch (kind_) {
    case Kind::none:
      return;
    case Kind::relu:
      ops.append_eltwise(1.f, alg::eltwise_relu, 0.f, 0.f);
      return;
    case Kind::clip:
      ops.append_eltwise(1.f, alg::eltwise_clip, alpha_ / dst_scale, beta_ / dst_scale);
      return;
    case Kind::sigmoid:
      ops.append_eltwise(after, alg::eltwise_logistic, 0.f, 0.f);
      return;
    case Kind::hardsigmoid:
      ops.append_eltwise(1.f, alg::eltwise_linear, alpha_, beta_);
      ops.append_eltwise(after, alg::eltwise_clip, 0.f, 1.f);
      return;
    case Kind::hardswish:
      ops.append_eltwise(after, alg::eltwise_hardswish, 0.f, 0.f);
      return;
    case Kind::swish:
      ops.append_eltwise(after, alg::eltwise_swish, 1.f, 0.f);
      return;
    case Kind::gelu:
      ops.append_eltwise(after, alg::eltwise_gelu_erf, 0.f, 0.f);
      return;
  }
}

bool FusedActivation::non_negative() const {
  switch (kind_) {
    case Kind::relu:
    case Kind::sigmoid:
    case Kind::hardsigmoid:
      return true;
    case Kind::clip:
      return alpha_ >= 0.f;
    default:
      return false;
  }
}

}  // namespace octet
