// Range: [start, start + delta, ...) up to limit; inputs start, limit, delta
// are one-element tensors (scalars) of one dtype, f32, s32 or s64, constant at
// prepare (the output's length depends on them). Length
// max(ceil((limit - start) / delta), 0), computed exactly for integers (no
// overflow) and in double for f32; element i is start + i * delta (in double,
// rounded to f32, for f32). delta 0, non-finite values or more than 2^31
// elements fail.
#include <cmath>
#include <cstring>

#include "ops/broadcast.hpp"

namespace octet {
namespace {

// ceil((limit - start) / delta) clamped at 0, exactly, for delta != 0.
uint64_t int_count(int64_t start, int64_t limit, int64_t delta) {
  if (delta > 0 ? limit <= start : limit >= start) return 0;
  const uint64_t span = delta > 0 ? static_cast<uint64_t>(limit) - static_cast<uint64_t>(start)
                                  : static_cast<uint64_t>(start) - static_cast<uint64_t>(limit);
  const uint64_t mag = delta > 0 ? static_cast<uint64_t>(delta) : 0 - static_cast<uint64_t>(delta);
  return span / mag + (span % mag != 0);
}

class Range final : public Op {
 public:
  explicit Range(const Node& node) : Op(node) { check_arity(node, 3, 3); }

  void infer(InferContext& ctx) const override {
    const DataType dt = ctx.dtype(0);
    if (dt != DataType::f32 && dt != DataType::s32 && dt != DataType::s64) {
      node().fail(ErrorCode::unsupported,
                  std::string("supports f32, s32 and s64, got ") + to_string(dt));
    }
    const char* names[3] = {"start", "limit", "delta"};
    std::vector<const Tensor*> values;
    for (size_t i = 0; i < 3; ++i) {
      if (ctx.dtype(i) != dt) {
        ctx.fail(std::string("start, limit and delta must have one dtype, got ") + to_string(dt) +
                 " and " + to_string(ctx.dtype(i)));
      }
      if (numel(ctx.shape(i)) != 1) {
        ctx.fail(std::string(names[i]) + " must be a scalar, got shape " + to_string(ctx.shape(i)));
      }
      if (!ctx.src[i].constant) {
        ctx.fail(std::string(names[i]) + " must be a constant known when the session is prepared");
      }
      values.push_back(ctx.src[i].constant);
    }
    ctx.set(0, {count(values)}, dt);
  }

  void reference(const std::vector<const Tensor*>& src, std::vector<Tensor>& dst) const override {
    Tensor& y = dst[0];
    const int64_t n = y.numel();
    if (y.dtype() == DataType::f32) {
      const double start = *src[0]->data<float>(), delta = *src[2]->data<float>();
      float* out = y.data<float>();
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(start + i * delta);
      return;
    }
    visit_dtype(y.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T v = *static_cast<const T*>(src[0]->raw());
      const T delta = *static_cast<const T*>(src[2]->raw());
      T* out = static_cast<T*>(y.raw());
      for (int64_t i = 0; i < n; ++i) {
        out[i] = v;
        if (i + 1 < n) v = static_cast<T>(v + delta);  // stays within [start, limit)
      }
    });
  }

 private:
  int64_t count(const std::vector<const Tensor*>& v) const {
    auto fail = [&](const std::string& msg) { node().fail(ErrorCode::invalid_argument, msg); };
    uint64_t n = 0;
    if (v[0]->dtype() == DataType::f32) {
      const double start = *v[0]->data<float>(), limit = *v[1]->data<float>(),
                   delta = *v[2]->data<float>();
      if (!std::isfinite(start) || !std::isfinite(limit) || !std::isfinite(delta)) {
        fail("start, limit and delta must be finite");
      }
      if (delta == 0) fail("delta must not be 0");
      const double c = std::ceil((limit - start) / delta);
      if (c > static_cast<double>(kMaxElements)) fail("the range has more than 2^31 elements");
      n = c > 0 ? static_cast<uint64_t>(c) : 0;
    } else {
      const std::vector<int64_t> s = read_ints(node(), *v[0], "start"),
                                 l = read_ints(node(), *v[1], "limit"),
                                 d = read_ints(node(), *v[2], "delta");
      if (d[0] == 0) fail("delta must not be 0");
      n = int_count(s[0], l[0], d[0]);
    }
    if (n > static_cast<uint64_t>(kMaxElements)) fail("the range has more than 2^31 elements");
    return static_cast<int64_t>(n);
  }
};

}  // namespace

std::unique_ptr<Op> make_range(const Node& node) {
  return std::make_unique<Range>(node);
}

}  // namespace octet
