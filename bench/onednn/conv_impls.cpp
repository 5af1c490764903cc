// Every oneDNN 2.6 implementation of ResNet-50's int8 convolutions on this
// CPU, timed side by side: which one does oneDNN pick, and is another faster?
//
// Each of the 23 distinct convolutions of torchvision's ResNet-50 (batch N):
// u8 source (s8 for the first, whose input is signed), s8 weights, per-channel
// output scales, ReLU, u8 destination, layouts `any`, as octet builds them.
// oneDNN's primitive_desc iterates over the implementations that accept the
// problem (next_impl()); each is timed, alternating, and the medians are
// printed with the sum over the network (each shape x its count), beside
// Winograd's (where oneDNN 2.6 has it: AVX512 only) and what
// convolution_auto picks (issue 19 item 6). On a busy
// machine compare the minima: a compute-bound kernel is only ever slowed.
//
//   g++ -O2 -std=c++17 -Wall -Wextra bench/onednn/conv_impls.cpp -ldnnl -o /tmp/conv_impls
//   OMP_NUM_THREADS=2 /tmp/conv_impls [N (1)] [ROUNDS (5)] [RUNS PER ROUND (3)] [MODE]
// MODE: u8 (default: octet's sources, u8 but for conv1's s8), s8 (every
// source s8: without VNNI oneDNN then halves the weights itself, its
// "scale_adjust" route to exact products), f32.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

dnnl::engine eng(dnnl::engine::kind::cpu, 0);
dnnl::stream strm(eng);
int winograd_refused = 0;  // shapes for which oneDNN has no convolution_winograd here

struct Conv {
  int ic, oc, ih, k, s, p, count;
};

// torchvision ResNet-50 v1.5 (stride in the 3x3), batch 1 at 224x224.
const Conv kResNet50[] = {
    {3, 64, 224, 7, 2, 3, 1},    {64, 64, 56, 1, 1, 0, 1},    {64, 64, 56, 3, 1, 1, 3},
    {64, 256, 56, 1, 1, 0, 4},   {256, 64, 56, 1, 1, 0, 2},   {256, 128, 56, 1, 1, 0, 1},
    {128, 128, 56, 3, 2, 1, 1},  {128, 512, 28, 1, 1, 0, 4},  {256, 512, 56, 1, 2, 0, 1},
    {512, 128, 28, 1, 1, 0, 3},  {128, 128, 28, 3, 1, 1, 3},  {512, 256, 28, 1, 1, 0, 1},
    {256, 256, 28, 3, 2, 1, 1},  {256, 1024, 14, 1, 1, 0, 6}, {512, 1024, 28, 1, 2, 0, 1},
    {1024, 256, 14, 1, 1, 0, 5}, {256, 256, 14, 3, 1, 1, 5},  {1024, 512, 14, 1, 1, 0, 1},
    {512, 512, 14, 3, 2, 1, 1},  {512, 2048, 7, 1, 1, 0, 3},  {1024, 2048, 14, 1, 2, 0, 1},
    {2048, 512, 7, 1, 1, 0, 2},  {512, 512, 7, 3, 1, 1, 2},
};

struct Impl {
  std::string name;
  dnnl::primitive prim;
  std::unordered_map<int, dnnl::memory> args;
  std::vector<double> ms;
};

double now_ms() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
}

// With activations in layout `act` (any: oneDNN's blocked choice; nhwc: the
// plain layout that oneDNN's GEMM-based convolution wants) and algorithm
// `alg` (direct; winograd, which oneDNN 2.6 implements only for AVX512 and
// refuses elsewhere: then nothing is added and the refusal is counted).
void add_implementations(std::vector<Impl>& impls, const Conv& c, int n, const std::string& mode,
                         tag act, dnnl::algorithm alg = dnnl::algorithm::convolution_direct) {
  const bool f32 = mode == "f32";
  const int oh = (c.ih + 2 * c.p - c.k) / c.s + 1;
  const dt src_t = f32 ? dt::f32 : (c.ic == 3 || mode == "s8" ? dt::s8 : dt::u8);
  const dt wei_t = f32 ? dt::f32 : dt::s8, dst_t = f32 ? dt::f32 : dt::u8;
  const dnnl::memory::desc src({n, c.ic, c.ih, c.ih}, src_t, act),
      wei({c.oc, c.ic, c.k, c.k}, wei_t, tag::any), bias({c.oc}, dt::f32, tag::a),
      dst({n, c.oc, oh, oh}, dst_t, act);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (!f32) attr.set_output_scales(1 << 1, std::vector<float>(c.oc, 0.01f));
  dnnl::post_ops ops;
  ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
  attr.set_post_ops(ops);
  // The iterator behind next_impl() reads the op descriptor: keep it alive.
  const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, alg, src, wei,
                                             bias, dst, {c.s, c.s}, {c.p, c.p}, {c.p, c.p});
  dnnl::convolution_forward::primitive_desc pd;
  try {
    pd = dnnl::convolution_forward::primitive_desc(desc, attr, eng);
  } catch (const dnnl::error&) {
    if (alg != dnnl::algorithm::convolution_winograd) throw;
    ++winograd_refused;
    return;
  }
  do {
    Impl im;
    im.name = std::string(act == tag::nhwc ? "nhwc/" : "") +
              (alg == dnnl::algorithm::convolution_winograd ? "wino/" : "") +
              std::string(pd.impl_info_str());
    // The reference and SSE4.1 kernels are far slower on an AVX2 CPU.
    if (im.name.find("ref") != std::string::npos || im.name.find("sse41") != std::string::npos)
      continue;
    im.prim = dnnl::convolution_forward(pd);
    for (auto [arg, md] : {std::pair{DNNL_ARG_SRC, pd.src_desc()},
                           {DNNL_ARG_WEIGHTS, pd.weights_desc()},
                           {DNNL_ARG_BIAS, pd.bias_desc()},
                           {DNNL_ARG_DST, pd.dst_desc()},
                           {DNNL_ARG_SCRATCHPAD, pd.scratchpad_desc()}}) {
      im.args[arg] = dnnl::memory(md, eng);
      if (md.get_size() > 0) std::memset(im.args[arg].get_data_handle(), 1, md.get_size());
    }
    impls.push_back(std::move(im));
  } while (pd.next_impl());
}

// What convolution_auto picks for this problem (octet's layouts: any).
std::string auto_pick(const Conv& c, int n, const std::string& mode) {
  std::vector<Impl> impls;
  add_implementations(impls, c, n, mode, tag::any, dnnl::algorithm::convolution_auto);
  return impls.empty() ? "none" : impls[0].name;
}

std::vector<Impl> implementations(const Conv& c, int n, const std::string& mode) {
  std::vector<Impl> impls;
  add_implementations(impls, c, n, mode, tag::any);
  add_implementations(impls, c, n, mode, tag::nhwc);
  add_implementations(impls, c, n, mode, tag::any, dnnl::algorithm::convolution_winograd);
  return impls;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 1;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  const int runs = argc > 3 ? std::atoi(argv[3]) : 3;
  const std::string mode = argc > 4 ? argv[4] : "u8";
  if (mode != "u8" && mode != "s8" && mode != "f32") {
    std::fprintf(stderr, "conv_impls: MODE is u8, s8 or f32\n");
    return 2;
  }
  std::printf("oneDNN %d.%d.%d, ISA %d, batch %d, %s, %d rounds x %d runs\n", dnnl_version()->major,
              dnnl_version()->minor, dnnl_version()->patch,
              static_cast<int>(dnnl::get_effective_cpu_isa()), n, mode.c_str(), rounds, runs);
  // Sums of each convolution's time x its count: oneDNN's pick, and the
  // fastest implementation of each; medians and minima.
  double picked[2] = {0, 0}, best[2] = {0, 0};
  for (const Conv& c : kResNet50) {
    std::vector<Impl> impls = implementations(c, n, mode);
    for (Impl& im : impls) im.prim.execute(strm, im.args);
    strm.wait();
    for (int r = 0; r < rounds; ++r) {
      for (Impl& im : impls) {
        for (int i = 0; i < runs; ++i) {
          const double t0 = now_ms();
          im.prim.execute(strm, im.args);
          strm.wait();
          im.ms.push_back(now_ms() - t0);
        }
      }
    }
    std::printf("ic%-4d oc%-4d ih%-3d k%d s%d x%d:", c.ic, c.oc, c.ih, c.k, c.s, c.count);
    double fastest[2] = {1e30, 1e30};
    for (size_t i = 0; i < impls.size(); ++i) {
      const double m = median(impls[i].ms);
      const double lo = *std::min_element(impls[i].ms.begin(), impls[i].ms.end());
      std::printf("  %s%s %.3f (min %.3f)", i == 0 ? "*" : "", impls[i].name.c_str(), m, lo);
      if (i == 0) picked[0] += m * c.count, picked[1] += lo * c.count;
      fastest[0] = std::min(fastest[0], m);
      fastest[1] = std::min(fastest[1], lo);
    }
    std::printf("  auto: %s\n", auto_pick(c, n, mode).c_str());
    best[0] += fastest[0] * c.count;
    best[1] += fastest[1] * c.count;
  }
  std::printf("sum over ResNet-50, medians: oneDNN's pick %.2f ms, the fastest of each %.2f ms\n",
              picked[0], best[0]);
  std::printf("sum over ResNet-50, minima:  oneDNN's pick %.2f ms, the fastest of each %.2f ms\n",
              picked[1], best[1]);
  std::printf(
      "convolution_winograd refused for %d of %zu shapes; auto: oneDNN's pick for "
      "convolution_auto\n",
      winograd_refused, sizeof(kResNet50) / sizeof(kResNet50[0]));
  return 0;
}
