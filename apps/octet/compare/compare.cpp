#include "apps/octet/compare/compare.hpp"

#include <cmath>
#include <cstdio>
#include <set>

#include "apps/octet/common/common.hpp"

namespace octet::cli {
namespace {

double element(const Tensor& t, size_t i) {
  switch (t.dtype()) {
    case DataType::f32:
      return t.data<float>()[i];
    case DataType::s8:
      return t.data<int8_t>()[i];
    case DataType::u8:
      return t.data<uint8_t>()[i];
    case DataType::s32:
      return t.data<int32_t>()[i];
    case DataType::s64:
      return static_cast<double>(t.data<int64_t>()[i]);
    case DataType::boolean:
      return t.data<bool>()[i];
  }
  return 0;
}

std::string describe(const Tensor& t) {
  return std::string(to_string(t.dtype())) + " " + to_string(t.shape());
}

// "input (f32), mask (s64)" or "logits, pooled".
std::string names(const std::vector<TensorInfo>& infos, bool dtypes) {
  std::string s;
  for (const TensorInfo& i : infos) {
    s += (s.empty() ? "" : ", ") + i.name +
         (dtypes ? " (" + std::string(to_string(i.dtype)) + ")" : "");
  }
  return s.empty() ? "none" : s;
}

}  // namespace

void TensorDiff::add(const Tensor& a, const Tensor& b, size_t n, const std::string& what) {
  if (a.shape() != b.shape()) {
    throw Error(ErrorCode::invalid_argument,
                what + ": A gives " + describe(a) + ", B gives " + describe(b));
  }
  if (runs == 0) shape = a.shape();
  OutputError run;
  for (size_t i = 0; i < n; ++i) {
    const double r = element(a, i), g = element(b, i);
    if (!std::isfinite(r) || !std::isfinite(g)) ++non_finite;
    run.ref_energy += r * r;
    run.got_energy += g * g;
    run.dot += r * g;
    run.noise_energy += (r - g) * (r - g);
    const double err = std::fabs(r - g);
    if (!(err <= max_abs_error)) max_abs_error = err;  // NaN sticks
    abs_error_sum += err;
    max_abs_ref = std::max(max_abs_ref, std::fabs(r));
  }
  all.ref_energy += run.ref_energy;
  all.got_energy += run.got_energy;
  all.dot += run.dot;
  all.noise_energy += run.noise_energy;
  // `!(x >= worst)` so that a NaN run becomes the worst and stays it.
  if (!(run.cosine() >= worst_cosine) && !std::isnan(worst_cosine)) {
    worst_cosine = run.cosine();
    worst_cosine_run = runs;
  }
  if (!(run.sqnr_db() >= worst_sqnr_db) && !std::isnan(worst_sqnr_db)) {
    worst_sqnr_db = run.sqnr_db();
    worst_sqnr_run = runs;
  }
  elements += static_cast<int64_t>(n);
  ++runs;
}

void check_same_interface(const Model& a, const std::string& a_name, const Model& b,
                          const std::string& b_name) {
  const auto same = [](const std::vector<TensorInfo>& x, const std::vector<TensorInfo>& y,
                       bool dtypes) {
    std::set<std::pair<std::string, int>> sx, sy;
    for (const TensorInfo& i : x) sx.insert({i.name, dtypes ? int(i.dtype) : 0});
    for (const TensorInfo& i : y) sy.insert({i.name, dtypes ? int(i.dtype) : 0});
    return sx == sy;
  };
  if (!same(a.inputs(), b.inputs(), true)) {
    throw Error(ErrorCode::invalid_argument, "the models take different inputs: A (" + a_name +
                                                 ") takes " + names(a.inputs(), true) + ", B (" +
                                                 b_name + ") takes " + names(b.inputs(), true) +
                                                 "; compare feeds both the same inputs by name");
  }
  if (!same(a.outputs(), b.outputs(), false)) {
    throw Error(ErrorCode::invalid_argument, "the models give different outputs: A (" + a_name +
                                                 ") gives " + names(a.outputs(), false) + ", B (" +
                                                 b_name + ") gives " + names(b.outputs(), false) +
                                                 "; compare matches outputs by name");
  }
}

bool computes_value(const LayerInfo& l) {
  return (l.precision == "fp32" || l.precision == "int8") && l.op != "Reorder" &&
         l.op != "Quantize" && l.op != "Dequantize" && !l.output.empty();
}

std::vector<SharedValue> shared_values(const std::vector<LayerInfo>& a,
                                       const std::vector<LayerInfo>& b) {
  std::map<std::string, std::string> b_precision;
  for (const LayerInfo& l : b) {
    if (computes_value(l)) b_precision.emplace(l.output, l.precision);
  }
  std::vector<SharedValue> shared;
  std::set<std::string> seen;
  for (const LayerInfo& l : a) {
    const auto it = b_precision.find(l.output);
    if (!computes_value(l) || it == b_precision.end() || !seen.insert(l.output).second) continue;
    shared.push_back({l.output, l.name, l.op, l.precision, it->second});
  }
  return shared;
}

LayerMarks mark_layers(const std::vector<TensorDiff>& rows, double min_cosine) {
  const size_t n = rows.size();
  LayerMarks m{n, n, n};
  for (size_t k = 0; k < n; ++k) {
    const TensorDiff& d = rows[k];
    // `!(x >= y)` so that NaN counts as below anything.
    if (m.first_below == n && !(d.worst_cosine >= min_cosine)) m.first_below = k;
    if (m.lowest_cosine == n || !(d.worst_cosine >= rows[m.lowest_cosine].worst_cosine)) {
      m.lowest_cosine = k;
    }
    if (m.lowest_sqnr == n || !(d.all.sqnr_db() >= rows[m.lowest_sqnr].all.sqnr_db())) {
      m.lowest_sqnr = k;
    }
  }
  return m;
}

std::string threshold_failure(const TensorDiff& d, const Thresholds& t) {
  std::string why;
  if (t.min_cosine && !(d.worst_cosine >= *t.min_cosine)) {
    why = "worst cosine " + format_cosine(d.worst_cosine) + " < --min-cosine " +
          format_threshold(*t.min_cosine);
  }
  if (t.atol && !(d.max_abs_error <= *t.atol)) {
    why += (why.empty() ? "" : ", ") + std::string("max abs error ") + format_abs(d.max_abs_error) +
           " > --atol " + format_threshold(*t.atol);
  }
  return why;
}

std::string format_cosine(double c) {
  if (std::isnan(c)) return "nan";
  if (c == 1) return "1";
  char s[32];
  if (1 - c < 1e-6) {
    std::snprintf(s, sizeof s, "1 - %.2g", 1 - c);
  } else {
    std::snprintf(s, sizeof s, "%.6f", c);
  }
  return s;
}

std::string format_db(double db) {
  if (std::isnan(db)) return "nan";
  if (std::isinf(db)) return db > 0 ? "inf" : "-inf";
  char s[32];
  std::snprintf(s, sizeof s, "%.2f", db);
  return s;
}

std::string format_threshold(double v) {
  char s[32];
  std::snprintf(s, sizeof s, "%.10g", v);
  return s;
}

std::string format_abs(double v) {
  char s[32];
  std::snprintf(s, sizeof s, "%.4g", v);
  return s;
}

}  // namespace octet::cli
