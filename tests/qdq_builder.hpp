// Building QuantizeLinear / DequantizeLinear patterns with OnnxBuilder, for
// tests/test_onnx_qdq*.cpp.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/onnx_builder.hpp"

namespace octet::test::qdq {

using TP = onnx::TensorProto;

inline bool has_line_containing(const ImportResult& r, const std::string& part) {
  for (const std::string& l : r.log) {
    if (l.find(part) != std::string::npos) return true;
  }
  return false;
}

// An INT8 / UINT8 / INT32 initializer (int8 values are stored widened in int32_data).
inline void int_weight(OnnxBuilder& b, const std::string& name, const std::vector<int64_t>& dims,
                       const std::vector<int32_t>& values, int type = TP::INT8) {
  TP* t = b.graph->add_initializer();
  OnnxBuilder::fill(t, name, dims, type);
  for (int32_t v : values) t->add_int32_data(v);
}

enum class Zp { s8, u8, none };

// Scale (and zero point) initializers named prefix_s, prefix_zp.
inline std::vector<std::string> qparams(OnnxBuilder& b, const std::string& prefix,
                                        const std::vector<float>& scale, Zp zp,
                                        const std::vector<int32_t>& zp_values = {}) {
  const std::vector<int64_t> dims =
      scale.size() == 1 ? std::vector<int64_t>{} : std::vector<int64_t>{int64_t(scale.size())};
  b.weight(prefix + "_s", dims, scale);
  if (zp == Zp::none) return {prefix + "_s"};
  std::vector<int32_t> values = zp_values;
  values.resize(scale.size(), 0);
  int_weight(b, prefix + "_zp", dims, values, zp == Zp::s8 ? TP::INT8 : TP::UINT8);
  return {prefix + "_s", prefix + "_zp"};
}

inline std::vector<std::string> with(const std::string& first,
                                     const std::vector<std::string>& rest) {
  std::vector<std::string> v{first};
  v.insert(v.end(), rest.begin(), rest.end());
  return v;
}

// x -> QuantizeLinear 'name/q' -> DequantizeLinear 'name/dq' -> y.
inline void add_qdq(OnnxBuilder& b, const std::string& x, const std::string& y,
                    const std::string& name, const std::vector<float>& scale, Zp zp = Zp::s8,
                    int64_t axis = -99, const std::vector<int32_t>& zp_values = {}) {
  const std::vector<std::string> p = qparams(b, name, scale, zp, zp_values);
  onnx::NodeProto* q = b.node("QuantizeLinear", with(x, p), {name + "/t"}, name + "/q");
  onnx::NodeProto* dq = b.node("DequantizeLinear", with(name + "/t", p), {y}, name + "/dq");
  if (axis != -99) {
    OnnxBuilder::attr_int(q, "axis", axis);
    OnnxBuilder::attr_int(dq, "axis", axis);
  }
}

// Wq (int8 initializer) -> DequantizeLinear 'name/dq' -> y.
inline void add_dq_weight(OnnxBuilder& b, const std::string& wq, const std::string& y,
                          const std::string& name, const std::vector<float>& scale,
                          int64_t axis = -99) {
  const std::vector<std::string> p = qparams(b, name, scale, Zp::s8);
  onnx::NodeProto* dq = b.node("DequantizeLinear", with(wq, p), {y}, name + "/dq");
  if (axis != -99) OnnxBuilder::attr_int(dq, "axis", axis);
}

inline void expect_unsupported(const OnnxBuilder& b, const std::vector<std::string>& parts) {
  try {
    b.import();
    FAIL("import succeeded");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::unsupported);
    const std::string what = e.what();
    for (const std::string& part : parts) {
      CHECK_MESSAGE(what.find(part) != std::string::npos, what);
    }
  }
}

inline int ulps_apart(float a, float b) {
  int n = 0;
  while (a != b && n < 100) {
    a = std::nextafter(a, b);
    ++n;
  }
  return n;
}

// Whether some float amax gives amax / levels == s exactly (the quotient is
// monotonic in amax, so the candidates are near s * levels).
inline bool reachable(float s, float levels) {
  float a = static_cast<float>(static_cast<double>(s) * levels);
  for (int i = 0; i < 32; ++i) a = std::nextafter(a, 0.f);
  for (int i = 0; i < 64; ++i, a = std::nextafter(a, INFINITY)) {
    if (a / levels == s) return true;
  }
  return false;
}

inline void check_no_qdq(const Graph& g) {
  CHECK(count_ops(g, "QuantizeLinear") == 0);
  CHECK(count_ops(g, "DequantizeLinear") == 0);
}

}  // namespace octet::test::qdq
