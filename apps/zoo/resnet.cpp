// torchvision ResNet-18/50 (v1.5: the bottleneck strides on its 3x3 conv) in
// the form octet's ONNX importer gives the torch export after BatchNorm
// folding: every Conv carries its folded BN as bias, a following Relu as
// `activation`, and the last conv of each block reads the shortcut as its 4th
// input (dst = relu(conv + bias + shortcut)).
//
// Weights: every BatchNorm gets the non-trivial statistics of
// tools/export/models.py (gamma ~ U(0.5, 1.5), beta ~ N(0, 0.1), running mean
// ~ N(0, 0.1), running var ~ U(0.5, 1.5)), folded into its conv as
//   W' = W * gamma / sqrt(var + eps),  b' = beta - mean * gamma / sqrt(var + eps).
// The export then rescales every conv on a calibration batch (LSUV); here the
// scale must not depend on data, so:
//   - W is kaiming-normal over the fan-in, std sqrt(2 / fan_in), which keeps a
//     conv + ReLU at unit second moment, divided by the RMS of the folded BN
//     factor, sqrt(E[gamma^2] E[1 / (var + eps)]) = 1.091, which would
//     otherwise grow the second moment by 19% at every conv;
//   - the gamma of each block's last BN is multiplied by kResidualGamma, so
//     that the 16 residual additions of ResNet-50 grow the trunk slowly (like
//     torchvision's zero_init_residual, but non-zero so every branch counts).
// Measured on ResNet-50, seed 0, N(0, 1) input (tests/test_zoo.cpp prints
// it): the std after the stem and each stage stays within 1.1..3.1 and
// max |activation| under 35. kResidualGamma 0.1 gives up to 2.3 / 23 but
// halves the branches next to the trunk; 0.3 gives up to 5.2 / 52.
#include <cmath>

#include "apps/zoo/architectures.hpp"
#include "apps/zoo/graph_builder.hpp"

namespace octet::zoo {

namespace {

constexpr float kBatchNormEps = 1e-5f;  // torch's BatchNorm2d default
constexpr float kResidualGamma = 0.2f;

// sqrt(E[gamma^2] * E[1 / (var + eps)]) for gamma, var ~ U(0.5, 1.5).
float folded_bn_rms() {
  const double mean_gamma_sq = 13.0 / 12.0;  // E[g^2] = Var + E^2 = 1/12 + 1
  const double mean_inv_var = std::log((1.5 + kBatchNormEps) / (0.5 + kBatchNormEps));
  return static_cast<float>(std::sqrt(mean_gamma_sq * mean_inv_var));
}

struct ConvSpec {
  std::string name;     // torchvision module name of the conv, e.g. "layer1.0.conv1"
  std::string bn_name;  // ... and of its BatchNorm, e.g. "layer1.0.bn1"
  int64_t in = 0, out = 0, kernel = 1, stride = 1;
  bool relu = true;
  float gamma_scale = 1.f;
  int residual = kNoValue;  // value added before the activation
  std::string output;       // output value name ("" = "<name>.output")
};

// A conv + BN + ReLU; the fields after `stride` keep their defaults.
ConvSpec plain(std::string name, std::string bn_name, int64_t in, int64_t out, int64_t kernel,
               int64_t stride) {
  ConvSpec s;
  s.name = std::move(name);
  s.bn_name = std::move(bn_name);
  s.in = in;
  s.out = out;
  s.kernel = kernel;
  s.stride = stride;
  return s;
}

// A block's last conv: small BN gamma, shortcut added before the ReLU, and
// its output named "<block>.output" (the block's output).
ConvSpec last_of_block(const std::string& block, const std::string& conv, const std::string& bn,
                       int64_t in, int64_t out, int64_t kernel, int shortcut) {
  ConvSpec s = plain(block + conv, block + bn, in, out, kernel, 1);
  s.gamma_scale = kResidualGamma;
  s.residual = shortcut;
  s.output = block + "output";
  return s;
}

class ResNetBuilder {
 public:
  ResNetBuilder(const ResNetConfig& config, uint32_t seed)
      : config_(config), b_(config.name, seed) {}

  Graph build() {
    const int input =
        b_.input("input", DataType::f32, {sym("batch"), fixed(3), fixed(224), fixed(224)});
    int x = conv(plain("conv1", "bn1", 3, 64, 7, 2), input);
    x = b_.node("MaxPool", "maxpool", {x},
                {{"ceil_mode", int64_t{0}},
                 {"kernel_shape", std::vector<int64_t>{3, 3}},
                 {"pads", std::vector<int64_t>{1, 1, 1, 1}},
                 {"strides", std::vector<int64_t>{2, 2}}});
    int64_t channels = 64;
    const int64_t planes[4] = {64, 128, 256, 512};
    for (int stage = 0; stage < 4; ++stage) {
      for (int block = 0; block < config_.blocks.at(stage); ++block) {
        const int64_t stride = stage > 0 && block == 0 ? 2 : 1;
        const std::string prefix =
            "layer" + std::to_string(stage + 1) + "." + std::to_string(block) + ".";
        x = config_.bottleneck ? bottleneck(prefix, x, channels, planes[stage], stride)
                               : basic_block(prefix, x, channels, planes[stage], stride);
        channels = planes[stage] * (config_.bottleneck ? 4 : 1);
      }
    }
    x = b_.node("GlobalAveragePool", "avgpool", {x});
    x = b_.node("Flatten", "flatten", {x}, {{"axis", int64_t{1}}});
    // torch.nn.Linear's default init: U(-1/sqrt(in), 1/sqrt(in)) for both.
    const float bound = 1.f / std::sqrt(static_cast<float>(channels));
    const int w = b_.uniform("fc.weight", {1000, channels}, -bound, bound);
    const int bias = b_.uniform("fc.bias", {1000}, -bound, bound);
    const int logits = b_.node("Gemm", "fc", {x, w, bias},
                               {{"alpha", 1.0}, {"beta", 1.0}, {"transB", int64_t{1}}}, "logits");
    b_.output(logits, {sym("batch"), fixed(1000)});
    return b_.finish(R"({"source":"octet zoo","model":")" + config_.name + R"(","seed":)" +
                     std::to_string(b_.seed()) +
                     R"(,"weights":"random, BatchNorm folded","architecture":"torchvision v1.5"})");
  }

 private:
  // BasicBlock: conv3x3(stride) -> conv3x3 (+ shortcut).
  int basic_block(const std::string& p, int x, int64_t in, int64_t planes, int64_t stride) {
    const int h = conv(plain(p + "conv1", p + "bn1", in, planes, 3, stride), x);
    const int shortcut = downsample(p, x, in, planes, stride);
    return conv(last_of_block(p, "conv2", "bn2", planes, planes, 3, shortcut), h);
  }

  // Bottleneck: conv1x1 -> conv3x3(stride) -> conv1x1 to 4x planes (+ shortcut).
  int bottleneck(const std::string& p, int x, int64_t in, int64_t planes, int64_t stride) {
    int h = conv(plain(p + "conv1", p + "bn1", in, planes, 1, 1), x);
    h = conv(plain(p + "conv2", p + "bn2", planes, planes, 3, stride), h);
    const int shortcut = downsample(p, x, in, planes * 4, stride);
    return conv(last_of_block(p, "conv3", "bn3", planes, planes * 4, 1, shortcut), h);
  }

  // The shortcut: x itself, or conv1x1(stride) + BN when the shape changes.
  // It is emitted just before the conv that adds it, which is where the
  // importer's stable topological sort puts it, so that the node (and so the
  // layer) order equals the imported export's.
  int downsample(const std::string& p, int x, int64_t in, int64_t out, int64_t stride) {
    if (stride == 1 && in == out) return x;
    ConvSpec s = plain(p + "downsample.0", p + "downsample.1", in, out, 1, stride);
    s.relu = false;
    return conv(s, x);
  }

  int conv(const ConvSpec& s, int x) {
    const int64_t fan_in = s.in * s.kernel * s.kernel;
    static const float bn_rms = folded_bn_rms();
    const float w_std = std::sqrt(2.f / static_cast<float>(fan_in)) / bn_rms;
    Tensor w(DataType::f32, {s.out, s.in, s.kernel, s.kernel});
    Tensor bias(DataType::f32, {s.out});
    Rng w_rng = b_.rng(s.name + ".weight");
    float* wp = w.data<float>();
    for (int64_t i = 0; i < w.numel(); ++i) wp[i] = w_rng.normal(0.f, w_std);
    // One stream per BN, drawn per channel in a fixed order.
    Rng bn_rng = b_.rng(s.bn_name);
    const int64_t per_channel = s.in * s.kernel * s.kernel;
    for (int64_t c = 0; c < s.out; ++c) {
      const float gamma = bn_rng.uniform(0.5f, 1.5f) * s.gamma_scale;
      const float beta = bn_rng.normal(0.f, 0.1f);
      const float mean = bn_rng.normal(0.f, 0.1f);
      const float var = bn_rng.uniform(0.5f, 1.5f);
      const float scale = gamma / std::sqrt(var + kBatchNormEps);
      for (int64_t i = 0; i < per_channel; ++i) wp[c * per_channel + i] *= scale;
      bias.data<float>()[c] = beta - mean * scale;
    }
    // The folded tensors keep the conv's names (torch calls them onnx::Conv_N).
    std::vector<int> inputs = {x, b_.initializer(s.name + ".weight", w),
                               b_.initializer(s.name + ".bias", bias)};
    if (s.residual != kNoValue) inputs.push_back(s.residual);
    const int64_t pad = s.kernel / 2;
    std::map<std::string, AttrValue> attrs = {
        {"dilations", std::vector<int64_t>{1, 1}},
        {"group", int64_t{1}},
        {"kernel_shape", std::vector<int64_t>{s.kernel, s.kernel}},
        {"pads", std::vector<int64_t>{pad, pad, pad, pad}},
        {"strides", std::vector<int64_t>{s.stride, s.stride}}};
    if (s.relu) attrs["activation"] = std::string("relu");
    return b_.node("Conv", s.name, std::move(inputs), std::move(attrs), s.output);
  }

  const ResNetConfig& config_;
  GraphBuilder b_;
};

}  // namespace

Graph build_resnet(const ResNetConfig& config, uint32_t seed) {
  return ResNetBuilder(config, seed).build();
}

}  // namespace octet::zoo
