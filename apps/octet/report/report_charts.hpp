// The report's SVG charts and number formats, shared by report_html.cpp and
// report_charts.cpp only. The geometry constants are also written into the
// page's data so that its script maps a mouse position to a histogram bin
// with the same numbers the bars were drawn with.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "apps/octet/report/report_html.hpp"

namespace octet::cli::report {

// The drawing box of one histogram (SVG user units).
struct HistogramPlot {
  static constexpr double width = 420, height = 190;
  static constexpr double left = 48, right = 410, top = 10, bottom = 160;
};
constexpr size_t kMaxHistogramBars = 256;

// "%.*f"; "–" for an absent number.
std::string fixed(double v, int decimals);
std::string fixed(const MaybeNumber& v, int decimals);
// Four significant digits ("0.01234", "1.235e+04").
std::string general(double v);

// The method whose amax quantize() applies to `t` (`method`, or the
// tensor's own choice when that is empty), and that amax. An amax edited in
// the table matches no method: the label is then "table (edited)".
struct Chosen {
  std::string label;
  double amax = 0;
};
Chosen chosen_amax(const TensorCalibration& t, const std::string& method);

// The right end of a histogram's x axis: its range max(|min|, |max|), or
// further if some method's amax lies beyond it.
double histogram_x_max(const TensorCalibration& t);

// Colour of a method's amax line, by its place in the table's method list.
std::string method_color(const std::vector<std::string>& methods, const std::string& method);

// <svg> of |x| counts (downsampled) on a log axis, with a vertical line at
// each method's amax and the chosen one drawn heavier and labelled.
std::string histogram_svg(const TensorCalibration& t, size_t index,
                          const std::vector<std::string>& methods, const Chosen& chosen);

// One square per executed layer, in order, coloured by layer_category();
// square k has data-i="k" (the table row it links to).
std::string precision_strip_svg(const std::vector<LayerInfo>& layers);

// Horizontal bars of each layer's sensitivity (largest first; layers
// without one are left out), the layers kept in fp32 marked.
std::string sensitivity_chart_svg(const std::vector<SensitivityLayer>& layers,
                                  const std::set<std::string>& fp32_layers);

}  // namespace octet::cli::report
