// The report's charts, written as SVG by C++ rather than drawn by the page's
// script: the page shows everything even where scripts are off (a mail
// client, a CI artifact viewer), and the scales are unit-tested here.
#include "apps/octet/report/report_charts.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace octet::cli {

HistogramBars downsample_histogram(const std::vector<int64_t>& counts, size_t max_bars) {
  HistogramBars out;
  if (counts.empty()) return out;
  max_bars = std::max<size_t>(max_bars, 1);
  out.group = (counts.size() + max_bars - 1) / max_bars;
  out.counts.assign((counts.size() + out.group - 1) / out.group, 0);
  for (size_t i = 0; i < counts.size(); ++i) out.counts[i / out.group] += counts[i];
  return out;
}

double log_axis_top(int64_t max_count) {
  double top = 10;
  while (top < static_cast<double>(max_count)) top *= 10;
  return top;
}

double log_axis_fraction(double count, double top) {
  constexpr double kFloor = 0.5;
  if (!(count > 0) || !(top > kFloor)) return 0;
  const double f = std::log10(count / kFloor) / std::log10(top / kFloor);
  return std::clamp(f, 0.0, 1.0);
}

std::vector<double> linear_ticks(double max, int target) {
  if (!(max > 0) || !std::isfinite(max) || target < 1) return {0};
  const double raw = max / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * magnitude;
  for (double m : {1.0, 2.0, 5.0}) {
    if (m * magnitude >= raw) {
      step = m * magnitude;
      break;
    }
  }
  std::vector<double> ticks;
  // Multiples rather than repeated addition, so that 0.3 prints as 0.3.
  for (int k = 0; k * step <= max * (1 + 1e-9); ++k) ticks.push_back(k * step);
  return ticks;
}

std::string layer_category(const LayerInfo& layer) {
  if (layer.op == "Quantize" || layer.op == "Dequantize" || layer.op == "Reorder") {
    return "reorder";
  }
  if (layer.precision == "int8" || layer.precision == "fp32") return layer.precision;
  return "other";
}

namespace report {
namespace {

// SVG coordinates: a tenth of a pixel at 1:1 is enough, and "12" is shorter
// than "12.0" (hundreds of histograms of 256 bars add up).
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", std::round(v * 10) / 10 + 0.0);
  std::string s = buf;
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  return s == "-0" ? "0" : s;
}

// The tail of a long layer name: "bert.encoder.layer.11.attention.output"
// differs from its neighbours at the end. Counts UTF-8 characters.
std::string shorten(const std::string& name, size_t max_chars) {
  size_t chars = 0;
  for (char c : name) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  if (chars <= max_chars) return name;
  size_t skip = chars - (max_chars - 1), at = 0;
  for (; at < name.size(); ++at) {
    if ((static_cast<unsigned char>(name[at]) & 0xC0) != 0x80 && skip-- == 0) break;
  }
  return "\xE2\x80\xA6" + name.substr(at);  // U+2026 HORIZONTAL ELLIPSIS
}

std::string decade_label(double d) {
  const int k = static_cast<int>(std::lround(std::log10(d)));
  return k <= 3 ? std::to_string(static_cast<int64_t>(std::llround(d))) : "1e" + std::to_string(k);
}

}  // namespace

std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) return "\xE2\x80\x93";  // U+2013 EN DASH
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string fixed(const MaybeNumber& v, int decimals) {
  return v ? fixed(*v, decimals) : "\xE2\x80\x93";
}

std::string general(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

Chosen chosen_amax(const TensorCalibration& t, const std::string& method) {
  if (!method.empty()) {
    const auto it = t.amax_by_method.find(method);
    if (it != t.amax_by_method.end()) return {method, it->second};
  }
  const auto it = t.amax_by_method.find(t.method);
  if (it != t.amax_by_method.end() && it->second == t.amax) return {t.method, t.amax};
  return {"table (edited)", t.amax};
}

double histogram_x_max(const TensorCalibration& t) {
  double x = std::max(std::fabs(t.min), std::fabs(t.max));
  x = std::max<double>(x, t.amax);
  for (const auto& m : t.amax_by_method) x = std::max<double>(x, m.second);
  return x > 0 ? x : 1;
}

std::string method_color(const std::vector<std::string>& methods, const std::string& method) {
  if (method == "max") return "#d62728";
  if (method == "entropy") return "#1f77b4";
  if (method == "mse") return "#2ca02c";
  static const char* const kOthers[] = {"#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"};
  size_t k = 0;
  for (const std::string& m : methods) {
    if (m == method) return kOthers[k % 5];
    if (m != "max" && m != "entropy" && m != "mse") ++k;
  }
  return "#555555";
}

std::string histogram_svg(const TensorCalibration& t, size_t index,
                          const std::vector<std::string>& methods, const Chosen& chosen) {
  using P = HistogramPlot;
  const double range = std::max(std::fabs(t.min), std::fabs(t.max));
  const double x_max = histogram_x_max(t);
  const HistogramBars bars = downsample_histogram(t.histogram, kMaxHistogramBars);
  const int64_t peak =
      bars.counts.empty() ? 0 : *std::max_element(bars.counts.begin(), bars.counts.end());
  const double top = log_axis_top(peak);
  auto X = [&](double v) { return P::left + (P::right - P::left) * v / x_max; };
  auto Y = [&](double c) { return P::bottom - (P::bottom - P::top) * log_axis_fraction(c, top); };

  std::string s = "<svg class=\"hsvg\" data-t=\"" + std::to_string(index) + "\" viewBox=\"0 0 " +
                  num(P::width) + " " + num(P::height) + "\" width=\"" + num(P::width) +
                  "\" height=\"" + num(P::height) + "\" role=\"img\">";
  // Decades on the count axis, every other one labelled when there are many;
  // the grid and the tick marks are one path each (hundreds of figures).
  const int decades = static_cast<int>(std::lround(std::log10(top)));
  const int label_every = std::max(1, (decades + 6) / 7);
  std::string grid, labels;
  for (int k = 0; k <= decades; ++k) {
    const double d = std::pow(10.0, k);
    grid += "M" + num(P::left) + " " + num(Y(d)) + "H" + num(P::right);
    if (k % label_every == 0) {
      labels += "<text class=\"e\" x=\"" + num(P::left - 4) + "\" y=\"" + num(Y(d) + 3) + "\">" +
                decade_label(d) + "</text>";
    }
  }
  std::string axis = "M" + num(P::left) + " " + num(P::bottom) + "H" + num(P::right);
  for (double v : linear_ticks(x_max, 5)) {
    const std::string x = num(X(v));
    axis += "M" + x + " " + num(P::bottom) + "v4";
    // A label at the right end would be cut off if centred.
    labels += std::string("<text class=\"") + (X(v) > P::right - 12 ? "e" : "m") + "\" x=\"" + x +
              "\" y=\"" + num(P::bottom + 15) + "\">" + general(v) + "</text>";
  }
  s += "<path class=\"grid\" d=\"" + grid + "\"/>" + labels + "<text class=\"e\" x=\"" +
       num(P::right) + "\" y=\"" + num(P::height - 2) + "\">|x|</text>";
  if (bars.counts.empty() || !(range > 0)) {
    s += "<text class=\"note\" x=\"" + num((P::left + P::right) / 2) + "\" y=\"" +
         num((P::top + P::bottom) / 2) + "\" text-anchor=\"middle\">" +
         (bars.counts.empty() ? "no histogram in the table (max only)" : "every value is 0") +
         "</text>";
  } else {
    // One closed outline for all bars, one element per tensor. Steps are
    // relative ("h1.4") but taken between rounded absolute positions, so
    // rounding never accumulates; a height repeated is not written again.
    const size_t n = t.histogram.size();
    auto tenths = [](double v) { return std::lround(v * 10); };
    std::string d = "M" + num(X(0)) + " " + num(P::bottom);
    long x = tenths(X(0)), y = tenths(P::bottom);
    for (size_t i = 0; i < bars.counts.size(); ++i) {
      const double end = range * static_cast<double>(std::min((i + 1) * bars.group, n)) / n;
      const long bar_y = tenths(Y(static_cast<double>(bars.counts[i])));
      const long bar_x = tenths(X(end));
      if (bar_y != y) d += "V" + num(bar_y / 10.0);
      d += "h" + num((bar_x - x) / 10.0);
      x = bar_x;
      y = bar_y;
    }
    s += "<path class=\"bars\" d=\"" + d + "V" + num(P::bottom) + "Z\"/>";
  }
  s += "<path class=\"axis\" d=\"" + axis + "\"/>";
  auto amax_line = [&](const std::string& method, double amax, bool heavy) {
    const std::string x = num(X(amax));
    return "<line class=\"amax" + std::string(heavy ? " chosen" : "") + "\" x1=\"" + x +
           "\" x2=\"" + x + "\" y1=\"" + num(P::top) + "\" y2=\"" + num(P::bottom) +
           "\" stroke=\"" + method_color(methods, method) + "\"><title>" + escape_html(method) +
           ": amax " + general(amax) + "</title></line>";
  };
  for (const auto& [method, amax] : t.amax_by_method) {
    if (method != chosen.label) s += amax_line(method, amax, false);
  }
  s += amax_line(chosen.label, chosen.amax, true);
  const bool right_half = X(chosen.amax) > (P::left + P::right) / 2;
  s += "<text class=\"chosen-label\" x=\"" + num(X(chosen.amax) + (right_half ? -4 : 4)) +
       "\" y=\"" + num(P::top + 9) + "\" text-anchor=\"" + (right_half ? "end" : "start") + "\">" +
       escape_html(chosen.label) + "</text></svg>";
  return s;
}

std::string precision_strip_svg(const std::vector<LayerInfo>& layers) {
  constexpr int kCell = 12, kStep = 14, kColumns = 80;
  const int rows = std::max<int>(1, (static_cast<int>(layers.size()) + kColumns - 1) / kColumns);
  const int width = kColumns * kStep, height = rows * kStep;
  std::string s = "<svg id=\"strip\" viewBox=\"0 0 " + std::to_string(width) + " " +
                  std::to_string(height) + "\" width=\"" + std::to_string(width) + "\" height=\"" +
                  std::to_string(height) + "\" role=\"img\">";
  for (size_t k = 0; k < layers.size(); ++k) {
    const LayerInfo& l = layers[k];
    const int x = static_cast<int>(k % kColumns) * kStep,
              y = static_cast<int>(k / kColumns) * kStep;
    s += "<rect class=\"cell c-" + layer_category(l) + "\" x=\"" + std::to_string(x) + "\" y=\"" +
         std::to_string(y) + "\" width=\"" + std::to_string(kCell) + "\" height=\"" +
         std::to_string(kCell) + "\" data-i=\"" + std::to_string(k) + "\"><title>" +
         std::to_string(k + 1) + ". " + escape_html(l.name) + " (" + escape_html(l.op) + ", " +
         escape_html(l.precision) + ")</title></rect>";
  }
  return s + "</svg>";
}

std::string sensitivity_chart_svg(const std::vector<SensitivityLayer>& layers,
                                  const std::set<std::string>& fp32_layers) {
  constexpr double kWidth = 1000, kLabel = 330, kValue = 70, kRow = 18, kTop = 6;
  std::vector<const SensitivityLayer*> shown;
  for (const SensitivityLayer& l : layers) {
    if (l.sensitivity && std::isfinite(*l.sensitivity)) shown.push_back(&l);
  }
  std::stable_sort(shown.begin(), shown.end(),
                   [](const auto* a, const auto* b) { return *a->sensitivity > *b->sensitivity; });
  double lo = 0, hi = 0;
  for (const auto* l : shown) {
    lo = std::min(lo, *l->sensitivity);
    hi = std::max(hi, *l->sensitivity);
  }
  if (hi == lo) hi = lo + 1;
  auto X = [&](double v) { return kLabel + (kWidth - kLabel - kValue) * (v - lo) / (hi - lo); };
  const double height = kTop * 2 + kRow * static_cast<double>(std::max<size_t>(shown.size(), 1));
  std::string s = "<svg id=\"sensitivity-chart\" viewBox=\"0 0 " + num(kWidth) + " " + num(height) +
                  "\" width=\"" + num(kWidth) + "\" height=\"" + num(height) + "\" role=\"img\">";
  for (size_t k = 0; k < shown.size(); ++k) {
    const SensitivityLayer& l = *shown[k];
    const double v = *l.sensitivity, y = kTop + kRow * static_cast<double>(k);
    const bool fp32 = fp32_layers.count(l.name) > 0;
    const double x0 = std::min(X(0), X(v)), x1 = std::max(X(0), X(v));
    const std::string cls = fp32 ? "fp32" : v >= 0 ? "pos" : "neg";
    s += "<g class=\"srow\"><title>" + escape_html(l.name) + ": " + general(v) +
         (fp32 ? " (kept in fp32 by the fallback)" : "") + "</title><text class=\"label\" x=\"" +
         num(kLabel - 6) + "\" y=\"" + num(y + 12) + "\" text-anchor=\"end\">" +
         escape_html(shorten(l.name, 44)) + (fp32 ? " [fp32]" : "") + "</text><rect class=\"bar " +
         cls + "\" x=\"" + num(x0) + "\" y=\"" + num(y + 3) + "\" width=\"" +
         num(std::max(x1 - x0, 0.5)) + "\" height=\"12\"/><text class=\"value\" x=\"" +
         num(x1 + 4) + "\" y=\"" + num(y + 12) + "\">" + general(v) + "</text></g>";
  }
  s += "<line class=\"axis\" x1=\"" + num(X(0)) + "\" x2=\"" + num(X(0)) + "\" y1=\"0\" y2=\"" +
       num(height) + "\"/></svg>";
  return s;
}

}  // namespace report
}  // namespace octet::cli
