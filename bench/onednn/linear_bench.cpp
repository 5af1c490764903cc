// oneDNN 2.6 alone on BERT-base's Linear layers: which primitive and which
// int8 source type is fastest on this CPU, and which ones compute exactly.
//
// For each shape [M,K] x [K,N] (M = batch x 128 tokens) it times f32, s8 x s8
// and u8 x s8 in oneDNN's inner_product and matmul primitives (weights in the
// layout the primitive picks, f32 bias, per-channel output scales, f32
// destination, as octet's Linear layers), alternating the variants within
// each round, and prints medians, minima (on a busy machine, compare those:
// a compute-bound kernel is only ever slowed) and the ratios to f32
// inner_product. It also checks each int8 variant against an exact int32
// product, once with weights
// in [-127, 127] and once in [-63, 63] (octet's 7-bit weights without VNNI):
// without VNNI, vpmaddubsw adds two u8 x s8 products into a saturating s16,
// so a kernel can be fast and wrong.
//
//   g++ -O2 -std=c++17 -Wall -Wextra bench/onednn/linear_bench.cpp -ldnnl -o /tmp/linear_bench
//   OMP_NUM_THREADS=2 /tmp/linear_bench [M (128)] [ROUNDS (7)] [RUNS PER ROUND (5)] [K N]
//   (K N: that one shape instead of BERT-base's three)
//   ONEDNN_MAX_CPU_ISA=AVX2 ... on a VNNI machine gives the AVX2 figures.
//   POSTOPS=1 ... adds the u8 matmul with what octet's Linear layers add to
//   it: the source zero point 128 of the AVX2 path (ops/inner_product.cpp),
//   an s8 destination, BERT's GELU (erf; tanh for comparison) and the
//   residual's sum post-op.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

dnnl::engine eng(dnnl::engine::kind::cpu, 0);
dnnl::stream strm(eng);

struct Variant {
  std::string name;
  bool matmul;
  dt src;                                         // f32, s8 or u8; weights are s8 unless f32
  int zero_point = 0;                             // of the source, given at run time
  dnnl::algorithm post = dnnl::algorithm::undef;  // an eltwise post-op, or sum
  dt dst = dt::f32;
};

struct Built {
  dnnl::primitive prim;
  std::unordered_map<int, dnnl::memory> args;
  std::string impl;
  dnnl::memory user_wei;  // plain weights before the reorder (int8: s8 [K,N])
  dnnl::memory wei;       // as the primitive wants them
  std::vector<double> ms;
};

double now_ms() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// src [M,K] plain, weights [K,N] plain (reordered into the primitive's
// layout), bias [N], dst f32 [M,N]; output scales per channel (1 for the check).
Built build(const Variant& v, int64_t m, int64_t k, int64_t n, float scale) {
  const bool int8 = v.src != dt::f32;
  const dt wdt = int8 ? dt::s8 : dt::f32;
  dnnl::primitive_attr attr;
  if (int8) attr.set_output_scales(1 << 1, std::vector<float>(n, scale));
  if (v.zero_point) attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
  dnnl::post_ops ops;
  if (v.post == dnnl::algorithm::binary_add)
    ops.append_sum(1.f);  // binary_add marks the sum
  else if (v.post != dnnl::algorithm::undef)
    ops.append_eltwise(1.f, v.post, 0.f, 0.f);
  attr.set_post_ops(ops);
  Built b;
  const dnnl::memory::desc src_md({m, k}, v.src, tag::ab), dst_md({m, n}, v.dst, tag::ab);
  dnnl::memory::desc wei_want;
  if (v.matmul) {
    const dnnl::memory::desc bias_md({1, n}, dt::f32, tag::ab);
    const dnnl::matmul::primitive_desc pd(
        dnnl::matmul::desc(src_md, dnnl::memory::desc({k, n}, wdt, tag::any), bias_md, dst_md),
        attr, eng);
    b.prim = dnnl::matmul(pd);
    b.impl = pd.impl_info_str();
    wei_want = pd.weights_desc();
    b.args[DNNL_ARG_BIAS] = dnnl::memory(bias_md, eng);
    b.user_wei = dnnl::memory(dnnl::memory::desc({k, n}, wdt, tag::ab), eng);
  } else {
    const dnnl::memory::desc bias_md({n}, dt::f32, tag::a);
    const dnnl::inner_product_forward::primitive_desc pd(
        dnnl::inner_product_forward::desc(dnnl::prop_kind::forward_inference, src_md,
                                          dnnl::memory::desc({n, k}, wdt, tag::any), bias_md,
                                          dst_md),
        attr, eng);
    b.prim = dnnl::inner_product_forward(pd);
    b.impl = pd.impl_info_str();
    wei_want = pd.weights_desc();
    b.args[DNNL_ARG_BIAS] = dnnl::memory(bias_md, eng);
    // The same [K,N] bytes seen as [N,K] with strides {1,N}.
    b.user_wei = dnnl::memory(dnnl::memory::desc({n, k}, wdt, dnnl::memory::dims{1, n}), eng);
  }
  b.wei = dnnl::memory(wei_want, eng);
  b.args[DNNL_ARG_SRC] = dnnl::memory(src_md, eng);
  b.args[DNNL_ARG_WEIGHTS] = b.wei;
  b.args[DNNL_ARG_DST] = dnnl::memory(dst_md, eng);
  if (v.zero_point) {
    dnnl::memory zp({{1}, dt::s32, tag::x}, eng);
    *static_cast<int32_t*>(zp.get_data_handle()) = v.zero_point;
    b.args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC] = zp;
  }
  std::fill_n(static_cast<float*>(b.args[DNNL_ARG_BIAS].get_data_handle()), n, 0.f);
  return b;
}

void load_weights(Built& b) {
  dnnl::reorder(b.user_wei, b.wei).execute(strm, b.user_wei, b.wei);
  strm.wait();
}

// Max |dst - exact| with integer data: src full range of its type, weights in [-levels, levels].
double check(const Variant& v, int64_t m, int64_t k, int64_t n, int levels) {
  Built b = build(v, m, k, n, 1.f);
  std::mt19937 rng(1);
  std::vector<int32_t> a(m * k), w(k * n);
  const int lo = v.src == dt::u8 ? 0 : -128, hi = v.src == dt::u8 ? 255 : 127;
  std::uniform_int_distribution<int> da(lo, hi), dw(-levels, levels);
  for (auto& x : a) x = da(rng);
  for (auto& x : w) x = dw(rng);
  // Make saturation likely where it can happen: a run of extreme values.
  for (int64_t i = 0; i < std::min<int64_t>(k, 64); ++i) {
    a[i] = hi;
    w[i * n] = levels;
  }
  void* src = b.args[DNNL_ARG_SRC].get_data_handle();
  for (int64_t i = 0; i < m * k; ++i) {
    if (v.src == dt::u8)
      static_cast<uint8_t*>(src)[i] = static_cast<uint8_t>(a[i]);
    else
      static_cast<int8_t*>(src)[i] = static_cast<int8_t>(a[i]);
  }
  int8_t* uw = static_cast<int8_t*>(b.user_wei.get_data_handle());
  for (int64_t i = 0; i < k * n; ++i) uw[i] = static_cast<int8_t>(w[i]);
  load_weights(b);
  b.prim.execute(strm, b.args);
  strm.wait();
  const float* dst = static_cast<const float*>(b.args[DNNL_ARG_DST].get_data_handle());
  double worst = 0;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      int64_t acc = 0;
      for (int64_t kk = 0; kk < k; ++kk) acc += a[i * k + kk] * w[kk * n + j];
      worst = std::max(worst, std::abs(static_cast<double>(dst[i * n + j]) - acc));
    }
  }
  return worst;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t m = argc > 1 ? std::atoll(argv[1]) : 128;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 7;
  const int runs = argc > 3 ? std::atoi(argv[3]) : 5;
  const dnnl_version_t* ver = dnnl_version();
  std::printf("oneDNN %d.%d.%d, ISA %d, M=%lld, %d rounds x %d runs\n", ver->major, ver->minor,
              ver->patch, static_cast<int>(dnnl::get_effective_cpu_isa()),
              static_cast<long long>(m), rounds, runs);
  std::vector<Variant> variants = {
      {"ip f32", false, dt::f32},    {"ip s8s8", false, dt::s8},    {"ip u8s8", false, dt::u8},
      {"matmul f32", true, dt::f32}, {"matmul s8s8", true, dt::s8}, {"matmul u8s8", true, dt::u8},
  };
  if (std::getenv("POSTOPS")) {
    using alg = dnnl::algorithm;
    const std::vector<Variant> more = {
        {"matmul u8 zp128", true, dt::u8, 128},
        {"matmul u8 s8dst", true, dt::u8, 0, alg::undef, dt::s8},
        {"matmul u8 zp128 s8dst", true, dt::u8, 128, alg::undef, dt::s8},
        {"matmul u8 gelu_erf", true, dt::u8, 0, alg::eltwise_gelu_erf},
        {"matmul u8 zp128 gelu_erf", true, dt::u8, 128, alg::eltwise_gelu_erf},
        {"matmul u8 zp128 gelu_tanh", true, dt::u8, 128, alg::eltwise_gelu_tanh},
        {"matmul u8 sum", true, dt::u8, 0, alg::binary_add},
        {"matmul u8 zp128 sum", true, dt::u8, 128, alg::binary_add},
    };
    variants.insert(variants.end(), more.begin(), more.end());
  }
  struct Shape {
    int64_t k, n;
    int count;  // per BERT-base (12 layers)
  };
  std::vector<Shape> shapes = {{768, 768, 48}, {768, 3072, 12}, {3072, 768, 12}};
  if (argc > 5) shapes = {{std::atoll(argv[4]), std::atoll(argv[5]), 1}};
  std::vector<double> total(variants.size(), 0.), total_min(variants.size(), 0.);

  std::printf("\nexactness (max |dst - exact int32 sum|, M=32):\n");
  for (const Variant& v : variants) {
    if (v.src == dt::f32 || v.zero_point || v.post != dnnl::algorithm::undef || v.dst != dt::f32)
      continue;
    std::printf("  %-12s", v.name.c_str());
    for (const Shape& s : shapes) {
      std::printf("  K=%lld: w127 %-8.0f w63 %-8.0f", static_cast<long long>(s.k),
                  check(v, 32, s.k, s.n, 127), check(v, 32, s.k, s.n, 63));
    }
    std::printf("\n");
  }

  for (const Shape& s : shapes) {
    std::vector<Built> built;
    for (const Variant& v : variants) {
      built.push_back(build(v, m, s.k, s.n, 0.01f));
      load_weights(built.back());
      for (int i = 0; i < 3; ++i) built.back().prim.execute(strm, built.back().args);
      strm.wait();
    }
    for (int r = 0; r < rounds; ++r) {
      for (Built& b : built) {
        for (int i = 0; i < runs; ++i) {
          const double t0 = now_ms();
          b.prim.execute(strm, b.args);
          strm.wait();
          b.ms.push_back(now_ms() - t0);
        }
      }
    }
    const double base = median(built[0].ms);
    const double base_min = *std::min_element(built[0].ms.begin(), built[0].ms.end());
    std::printf("\n[%lld x %lld] x [%lld x %lld], x%d in BERT-base:\n", static_cast<long long>(m),
                static_cast<long long>(s.k), static_cast<long long>(s.k),
                static_cast<long long>(s.n), s.count);
    for (size_t i = 0; i < variants.size(); ++i) {
      const double med = median(built[i].ms);
      total[i] += med * s.count;
      const double lo = *std::min_element(built[i].ms.begin(), built[i].ms.end());
      total_min[i] += lo * s.count;
      std::printf("  %-26s %8.3f ms (min %8.3f)  %6.1f GOPS  f32-ip/this %.2fx (min %.2fx)  [%s]\n",
                  variants[i].name.c_str(), med, lo, 2e-6 * m * s.k * s.n / med, base / med,
                  base_min / lo, built[i].impl.c_str());
    }
  }
  std::printf("\nsum of medians x count:\n");
  for (size_t i = 0; i < variants.size(); ++i) {
    std::printf("  %-26s %8.2f ms  f32-ip/this %.2fx;  minima %8.2f ms  %.2fx\n",
                variants[i].name.c_str(), total[i], total[0] / total[i], total_min[i],
                total_min[0] / total_min[i]);
  }
  return 0;
}
