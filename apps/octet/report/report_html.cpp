// The report page: one HTML file with its CSS, SVG and script inline, so it
// can be mailed, attached to a CI run or opened offline. The charts are
// static SVG (report_charts.cpp); the script only adds filters and
// tooltips, and checks that the page holds what its embedded data says.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "apps/octet/report/report_charts.hpp"
#include "apps/octet/report/report_html.hpp"

namespace octet::cli {
namespace {

using report::fixed;
using report::general;
using Json = nlohmann::ordered_json;

constexpr const char* kDash = "\xE2\x80\x93";

const char* const kStyle = R"css(
:root { --int8: #2b8a3e; --fp32: #e8590c; --reorder: #868e96; --other: #ced4da; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #212529;
  margin: 0 auto; max-width: 1320px; padding: 0 24px 48px; }
h1 { font-size: 22px; margin: 20px 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #dee2e6; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
nav a { margin-right: 14px; } .muted { color: #6c757d; } code { font-size: 12px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { text-align: left; padding: 3px 10px 3px 0; vertical-align: top; }
thead th { border-bottom: 1px solid #adb5bd; position: sticky; top: 0; background: #fff; }
tbody tr:nth-child(even) { background: #f8f9fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.kv th { font-weight: 600; color: #495057; }
#layers { width: 100%; } #layers td, #study-table td, #study-table th { white-space: nowrap; }
#study-table td.note { white-space: normal; min-width: 240px; }
#layers td.reason { white-space: normal; overflow-wrap: anywhere; min-width: 160px; }
.scroll { max-height: 640px; overflow: auto; border: 1px solid #e9ecef; }
.swatch { display: inline-block; width: 11px; height: 11px; margin: 0 4px 0 12px;
  vertical-align: -1px; border-radius: 2px; }
.s-int8, .c-int8 .pill { background: var(--int8); }
.s-fp32, .c-fp32 .pill { background: var(--fp32); }
.s-reorder, .c-reorder .pill { background: var(--reorder); }
.s-other, .c-other .pill { background: var(--other); }
.pill { color: #fff; border-radius: 3px; padding: 0 5px; font-size: 12px; }
.c-other .pill { color: #212529; }
rect.cell { cursor: pointer; } rect.cell:hover { stroke: #000; stroke-width: 1.5; }
rect.c-int8 { fill: var(--int8); } rect.c-fp32 { fill: var(--fp32); }
rect.c-reorder { fill: var(--reorder); } rect.c-other { fill: var(--other); }
tr.flash { outline: 2px solid #1c7ed6; }
svg { max-width: 100%; height: auto; }
svg text { font: 10px system-ui, sans-serif; fill: #495057; }
svg text.e { text-anchor: end; } svg text.m { text-anchor: middle; }
svg .label { font-size: 11px; fill: #212529; } svg .value { font-size: 10px; }
svg .note { font-size: 12px; }
svg .grid { stroke: #f1f3f5; fill: none; } svg .axis { stroke: #868e96; fill: none; }
svg .bars { fill: #74c0fc; stroke: #339af0; stroke-width: 0.4; }
svg .amax { stroke-width: 1.2; opacity: 0.85; } svg .amax.chosen { stroke-width: 2.8; opacity: 1; }
svg .chosen-label { font-weight: 700; fill: #212529; }
rect.bar.pos { fill: #e03131; } rect.bar.neg { fill: #1c7ed6; } rect.bar.fp32 { fill: var(--fp32); }
.hists { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 14px; }
figure.hist { margin: 0; border: 1px solid #e9ecef; border-radius: 4px; padding: 6px 8px;
  content-visibility: auto; contain-intrinsic-size: 420px 260px; }
figure.hist figcaption { font-size: 12px; overflow-wrap: anywhere; }
figure.hist svg { width: 100%; height: auto; }
.amaxes { font-size: 11px; color: #495057; } .amaxes b { font-weight: 700; }
input.filter { font: inherit; padding: 3px 6px; width: 320px; margin: 6px 0; }
#tip { position: fixed; pointer-events: none; background: #212529; color: #fff; font-size: 12px;
  padding: 3px 6px; border-radius: 3px; }
#banner { background: #ffe3e3; border: 1px solid #e03131; padding: 8px; margin-top: 12px; }
)css";

// Checks the page against its data first: a row or figure missing from the
// page is an error the headless-browser test sees in data-status.
const char* const kScript = R"js(
(function () {
  'use strict';
  var body = document.body;
  function check(what, have, want) {
    if (have !== want) throw new Error(what + ': the page has ' + have + ', the data ' + want);
  }
  function filter(inputId, items) {
    var input = document.getElementById(inputId);
    if (!input) return;
    input.addEventListener('input', function () {
      var q = input.value.toLowerCase();
      for (var i = 0; i < items.length; ++i) {
        items[i].hidden = q !== '' && items[i].textContent.toLowerCase().indexOf(q) < 0;
      }
    });
  }
  try {
    var data = JSON.parse(document.getElementById('octet-data').textContent);
    var rows = document.querySelectorAll('#layer-rows > tr');
    var figures = document.querySelectorAll('#hists > figure.hist');
    check('layer rows', rows.length, data.layers.length);
    check('precision map cells', document.querySelectorAll('#strip rect.cell').length,
          data.layers.length);
    check('histograms', figures.length, data.tensors.length);
    if (data.sensitivity) {
      check('sensitivity rows', document.querySelectorAll('#sensitivity-rows > tr').length,
            data.sensitivity.layers);
    }
    if (data.study) {
      check('study rows', document.querySelectorAll('#study-rows > tr').length, data.study.rows);
    }
    filter('layer-filter', rows);
    filter('tensor-filter', figures);

    document.getElementById('strip').addEventListener('click', function (e) {
      var i = e.target.getAttribute('data-i');
      if (i === null) return;
      var row = document.getElementById('layer-' + i);
      row.hidden = false;
      row.scrollIntoView({block: 'center'});
      row.classList.add('flash');
      setTimeout(function () { row.classList.remove('flash'); }, 1500);
    });

    // Histogram tooltips: the mouse's |x| with the same geometry the bars were drawn with.
    var tip = document.getElementById('tip'), plot = data.histogram_plot;
    document.getElementById('hists').addEventListener('mousemove', function (e) {
      var svg = e.target.closest ? e.target.closest('svg.hsvg') : null;
      var t = svg ? data.tensors[+svg.getAttribute('data-t')] : null;
      var box = svg ? svg.getBoundingClientRect() : null;
      var f = box ? ((e.clientX - box.left) * plot.width / box.width - plot.left) /
                    (plot.right - plot.left) : -1;
      if (!t || !t.counts.length || !(t.range > 0) || f < 0 || f > 1) { tip.hidden = true; return; }
      var bin = Math.floor(f * t.x_max / t.range * t.bins);
      var bar = Math.floor(bin / t.group);
      if (bar >= t.counts.length) { tip.hidden = true; return; }
      var lo = bar * t.group * t.range / t.bins;
      var hi = Math.min((bar + 1) * t.group, t.bins) * t.range / t.bins;
      tip.textContent = '|x| in [' + lo.toPrecision(4) + ', ' + hi.toPrecision(4) + '): ' +
          t.counts[bar].toLocaleString('en-US');
      tip.style.left = (e.clientX + 12) + 'px';
      tip.style.top = (e.clientY + 12) + 'px';
      tip.hidden = false;
    });
    body.setAttribute('data-status', 'ok');
  } catch (err) {
    var message = (err && err.message) ? err.message : String(err);
    body.setAttribute('data-status', 'error: ' + message);
    var banner = document.getElementById('banner');
    banner.textContent = 'This page did not render completely: ' + message;
    banner.hidden = false;
  }
})();
)js";

std::string esc(const std::string& s) {
  return escape_html(s);
}

std::string row(const std::string& key, const std::string& value_html) {
  return "<tr><th>" + esc(key) + "</th><td>" + value_html + "</td></tr>";
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

// The float a table holds, as the double with the same shortest decimal:
// 4.276f goes into the JSON as 4.276, not 4.276000022888184.
double decimal(float f) {
  char buf[32];
  for (int digits = 6; digits < 9; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, f);
    if (std::strtof(buf, nullptr) == f) return std::strtod(buf, nullptr);
  }
  return f;
}

Json page_data(const ReportData& d) {
  using P = report::HistogramPlot;
  Json j;
  j["format"] = "octet-report";
  j["version"] = 1;
  j["model"] = d.model_name;
  j["model_hash"] = d.model_hash;
  j["table"] = d.table_file;
  j["method"] = d.method;
  if (!d.table.score_by_method.empty()) {
    Json by_method = Json::object();
    for (const auto& [m, db] : d.table.score_by_method)
      by_method[m] = decimal(static_cast<float>(db));
    j["method_scores"] = {{"metric", "output_sqnr_db"},
                          {"samples", d.table.scored_samples},
                          {"chosen", d.table.method},
                          {"by_method", by_method}};
  }
  j["fp32_layers"] = d.fp32_layers;
  j["layers"] = Json::array();
  for (const LayerInfo& l : d.layers) {
    j["layers"].push_back({{"name", l.name},
                           {"op", l.op},
                           {"precision", l.precision},
                           {"category", layer_category(l)},
                           {"kernel", l.kernel},
                           {"shape", l.shape},
                           {"reason", l.reason}});
  }
  j["histogram_plot"] = {{"width", P::width}, {"left", P::left}, {"right", P::right}};
  j["tensors"] = Json::array();
  for (const TensorCalibration& t : d.table.tensors) {
    const HistogramBars bars = downsample_histogram(t.histogram, report::kMaxHistogramBars);
    const report::Chosen chosen = report::chosen_amax(t, d.method);
    Json by_method = Json::object();
    for (const auto& [m, amax] : t.amax_by_method) by_method[m] = decimal(amax);
    j["tensors"].push_back({{"name", t.name},
                            {"dtype", to_string(t.dtype)},
                            {"min", decimal(t.min)},
                            {"max", decimal(t.max)},
                            {"method", chosen.label},
                            {"amax", decimal(static_cast<float>(chosen.amax))},
                            {"amax_by_method", by_method},
                            {"range", decimal(std::max(std::fabs(t.min), std::fabs(t.max)))},
                            {"x_max", decimal(static_cast<float>(report::histogram_x_max(t)))},
                            {"bins", t.histogram.size()},
                            {"group", bars.group},
                            {"counts", bars.counts}});
  }
  if (d.sensitivity) {
    j["sensitivity"] = {{"file", d.sensitivity_file},
                        {"metric", d.sensitivity->metric},
                        {"layers", d.sensitivity->layers.size()}};
  }
  if (d.study) j["study"] = {{"file", d.study_file}, {"rows", d.study->rows.size()}};
  j["latency_ms"] = Json::object();
  for (const Latency& l : d.latency) j["latency_ms"][l.label] = l.median_ms;
  return j;
}

std::string summary_section(const ReportData& d) {
  std::map<std::string, int> counts;
  for (const LayerInfo& l : d.layers) ++counts[layer_category(l)];
  const std::string method =
      d.method.empty() ? "each tensor's choice in the table (default " + esc(d.table.method) + ")"
                       : "<b>" + esc(d.method) + "</b> for every tensor";
  std::string s = "<section id=\"summary\"><h2>Summary</h2><table class=\"kv\">";
  s += row("model", "<code>" + esc(d.model_name) + "</code>");
  s += row("model hash", "<code>" + esc(d.model_hash) + "</code>");
  s += row("calibration table", "<code>" + esc(d.table_file) + "</code>, " +
                                    esc(d.table.date.empty() ? "undated" : d.table.date));
  s += row("calibration data",
           std::to_string(d.table.samples) + " samples: " + esc(d.table.data_source));
  s += row("calibration method", method + "; computed: " + esc(join(d.table.methods, ", ")));
  if (!d.table.score_by_method.empty()) {
    // `octet calibrate --choose auto`: how each method's int8 model matched fp32.
    std::vector<std::string> scores;
    for (const auto& [m, db] : d.table.score_by_method) {
      char text[32];
      std::snprintf(text, sizeof text, "%.2f dB", db);
      const std::string item = esc(m) + " " + text;
      scores.push_back(m == d.table.method ? "<b>" + item + "</b>" : item);
    }
    s += row("method scores",
             "int8 output SQNR vs fp32 on " + std::to_string(d.table.scored_samples) +
                 " samples (the worst output), the chosen one bold: " + join(scores, ", "));
  }
  s += row("layers", std::to_string(d.layers.size()) + " executed for " + esc(d.input_shapes) +
                         ": " + std::to_string(counts["int8"]) + " int8, " +
                         std::to_string(counts["fp32"]) + " fp32, " +
                         std::to_string(counts["reorder"]) + " reorders, " +
                         std::to_string(counts["other"]) + " other");
  s += row("octet", esc(d.octet_version) + ", oneDNN " + esc(d.onednn_version) + ", CPU ISA " +
                        esc(d.cpu_isa));
  s += "</table>";

  s += "<h3>Accuracy</h3>";
  const Sensitivity* sens = d.sensitivity ? &*d.sensitivity : nullptr;
  if (!sens) {
    s += "<p class=\"muted\">Not measured: <code>octet sensitivity</code> measures it; pass its "
         "file with <code>--sensitivity</code>.</p>";
  } else {
    const SensitivityFallback* fb = sens->fallback ? &*sens->fallback : nullptr;
    const FallbackStep* last = fb && !fb->steps.empty() ? &fb->steps.back() : nullptr;
    const std::string unit = sens->metric_unit.empty() ? "" : " (" + esc(sens->metric_unit) + ")";
    s += "<table id=\"accuracy\"><thead><tr><th>" + esc(sens->metric) + unit +
         "</th><th class=\"num\">fp32</th><th class=\"num\">int8</th>" +
         (fb ? "<th class=\"num\">int8 + fallback</th>" : "") + "</tr></thead><tbody>";
    MaybeNumber drop = sens->int8_drop;
    if (!drop && sens->fp32_metric && sens->int8_metric) {
      drop = sens->higher_is_better.value_or(true) ? *sens->fp32_metric - *sens->int8_metric
                                                   : *sens->int8_metric - *sens->fp32_metric;
    }
    s +=
        "<tr><th>metric</th><td class=\"num\">" + fixed(sens->fp32_metric, 2) +
        "</td><td class=\"num\">" + fixed(sens->int8_metric, 2) + "</td>" +
        (fb ? "<td class=\"num\">" + fixed(last ? last->metric : MaybeNumber(), 2) + "</td>" : "") +
        "</tr><tr><th>drop from fp32</th><td class=\"num\">" + kDash + "</td><td class=\"num\">" +
        fixed(drop, 2) + "</td>" +
        (fb ? "<td class=\"num\">" + fixed(last ? last->drop : MaybeNumber(), 2) + "</td>" : "") +
        "</tr></tbody></table>";
    s += "<p class=\"muted\">From <code>" + esc(d.sensitivity_file) + "</code>" +
         (sens->samples ? ", " + fixed(sens->samples, 0) + " samples" : "") +
         (sens->data.empty() ? "" : " of " + esc(sens->data)) +
         (sens->seconds ? ", measured in " + fixed(sens->seconds, 1) + " s" : "") + ".";
    if (fb) {
      s += " Fallback: target " + fixed(fb->target, 2) + ", " +
           (fb->reached ? (*fb->reached ? "reached" : "<b>not reached</b>") : "outcome unknown") +
           " with " + std::to_string(fb->fp32_layers.size()) + " layer(s) in fp32" +
           (fb->int8_layers && fb->layers
                ? " (" + fixed(fb->int8_layers, 0) + " of " + fixed(fb->layers, 0) + " in int8)"
                : "") +
           ".";
    }
    s += "</p>";
  }

  s += "<h3>Latency</h3>";
  if (d.latency.empty()) {
    s += "<p class=\"muted\">Not measured here (<code>--no-bench</code>).</p>";
  } else {
    s += "<table id=\"latency\"><thead><tr><th>session</th><th class=\"num\">median ms</th>"
         "<th class=\"num\">speed-up over fp32</th></tr></thead><tbody>";
    for (const Latency& l : d.latency) {
      s += "<tr><td>" + esc(l.label) + "</td><td class=\"num\">" + fixed(l.median_ms, 3) +
           "</td><td class=\"num\">" +
           (l.median_ms > 0 ? fixed(d.latency.front().median_ms / l.median_ms, 2) + "x" : kDash) +
           "</td></tr>";
    }
    s += "</tbody></table><p class=\"muted\">Synthetic input " + esc(d.input_shapes) +
         ", median of " + std::to_string(d.runs) +
         " runs each after a warm-up, the sessions timed alternately; " +
         (d.threads > 0 ? std::to_string(d.threads) + " thread(s)" : std::string("every core")) +
         ".</p>";
  }
  if (sens && sens->fallback &&
      (sens->fallback->latency_fp32_ms || sens->fallback->latency_int8_ms ||
       sens->fallback->latency_fallback_ms)) {
    const SensitivityFallback& fb = *sens->fallback;
    s += "<p>Measured by <code>octet sensitivity</code>" +
         (fb.batch ? " (batch " + fixed(fb.batch, 0) + ")" : std::string()) + ": fp32 " +
         fixed(fb.latency_fp32_ms, 3) + " ms, int8 " + fixed(fb.latency_int8_ms, 3) +
         " ms, int8 + fallback " + fixed(fb.latency_fallback_ms, 3) + " ms.</p>";
  }
  return s + "</section>";
}

std::string precision_section(const ReportData& d) {
  std::map<std::string, int> counts;
  for (const LayerInfo& l : d.layers) ++counts[layer_category(l)];
  std::map<std::string, const SensitivityLayer*> by_name;
  if (d.sensitivity) {
    for (const SensitivityLayer& l : d.sensitivity->layers) by_name.emplace(l.name, &l);
  }
  std::string s = "<section id=\"precision\"><h2>Per-layer precision</h2><p>";
  for (const char* c : {"int8", "fp32", "reorder", "other"}) {
    s += std::string("<span class=\"swatch s-") + c + "\"></span>" + c + " (" +
         std::to_string(counts[c]) + ")";
  }
  s += "</p><p class=\"muted\">Every step the int8 session runs, in order (click a square for "
       "its row). Reorders convert between fp32 and int8 or between layouts; other: integer "
       "shape arithmetic.</p>" +
       report::precision_strip_svg(d.layers);
  if (!d.fp32_layers.empty()) {
    std::vector<std::string> names;
    for (const std::string& n : d.fp32_layers) names.push_back("<code>" + esc(n) + "</code>");
    s += "<p>Kept in fp32 by the sensitivity file's fallback: " + join(names, ", ") + ".</p>";
  }
  s += "<input class=\"filter\" id=\"layer-filter\" type=\"search\" "
       "placeholder=\"filter by name, op, precision, kernel\"><div class=\"scroll\"><table "
       "id=\"layers\"><thead><tr><th class=\"num\">#</th><th>name</th><th>op</th>"
       "<th>precision</th><th>kernel</th><th>shape</th><th>reason</th>";
  if (d.sensitivity) s += "<th class=\"num\">sensitivity</th>";
  s += "</tr></thead><tbody id=\"layer-rows\">";
  for (size_t k = 0; k < d.layers.size(); ++k) {
    const LayerInfo& l = d.layers[k];
    s += "<tr id=\"layer-" + std::to_string(k) + "\" class=\"c-" + layer_category(l) +
         "\"><td class=\"num\">" + std::to_string(k + 1) + "</td><td>" + esc(l.name) + "</td><td>" +
         esc(l.op) + "</td><td><span class=\"pill\">" + esc(l.precision) + "</span></td><td>" +
         esc(l.kernel) + "</td><td>" + esc(l.shape) + "</td><td class=\"reason\">" + esc(l.reason) +
         "</td>";
    if (d.sensitivity) {
      const auto it = by_name.find(l.name);
      s += "<td class=\"num\">" +
           (it == by_name.end() ? std::string() : fixed(it->second->sensitivity, 3)) + "</td>";
    }
    s += "</tr>";
  }
  return s + "</tbody></table></div></section>";
}

std::string sensitivity_section(const ReportData& d) {
  const Sensitivity& sens = *d.sensitivity;
  const std::set<std::string> fp32(d.fp32_layers.begin(), d.fp32_layers.end());
  std::string s =
      "<section id=\"sensitivity\"><h2>Sensitivity</h2><p class=\"muted\">" +
      esc(sens.sensitivity_unit.empty() ? "sensitivity of " + sens.metric : sens.sensitivity_unit) +
      "; largest first" + (fp32.empty() ? "" : ", [fp32]: kept in fp32") + ".</p>" +
      report::sensitivity_chart_svg(sens.layers, fp32) +
      "<div class=\"scroll\"><table id=\"sensitivity-table\"><thead><tr>"
      "<th class=\"num\">rank</th><th>name</th><th>op</th>"
      "<th class=\"num\">sensitivity</th><th class=\"num\">only this int8</th>"
      "<th class=\"num\">drop</th><th class=\"num\">all but this int8</th>"
      "<th class=\"num\">drop</th><th class=\"num\">SQNR dB</th>"
      "<th class=\"num\">cosine</th></tr></thead><tbody id=\"sensitivity-rows\">";
  for (const SensitivityLayer& l : sens.layers) {
    s += "<tr><td class=\"num\">" + fixed(l.rank, 0) + "</td><td>" + esc(l.name) +
         (fp32.count(l.name) ? " <span class=\"pill c-fp32\">fp32</span>" : "") + "</td><td>" +
         esc(l.op) + "</td><td class=\"num\">" + fixed(l.sensitivity, 3) +
         "</td><td class=\"num\">" + fixed(l.only_this_metric, 2) + "</td><td class=\"num\">" +
         fixed(l.only_this_drop, 3) + "</td><td class=\"num\">" + fixed(l.all_but_this_metric, 2) +
         "</td><td class=\"num\">" + fixed(l.all_but_this_drop, 3) + "</td><td class=\"num\">" +
         fixed(l.sqnr_db, 1) + "</td><td class=\"num\">" + fixed(l.cosine, 5) + "</td></tr>";
  }
  s += "</tbody></table></div>";
  if (sens.fallback && !sens.fallback->steps.empty()) {
    s += "<h3>Fallback steps</h3><table id=\"fallback-steps\"><thead><tr><th class=\"num\">step"
         "</th><th>layers in fp32</th><th class=\"num\">" +
         esc(sens.metric) + "</th><th class=\"num\">drop</th></tr></thead><tbody>";
    for (size_t k = 0; k < sens.fallback->steps.size(); ++k) {
      const FallbackStep& step = sens.fallback->steps[k];
      std::vector<std::string> names;
      for (const std::string& n : step.fp32_layers) names.push_back(esc(n));
      s += "<tr><td class=\"num\">" + std::to_string(k + 1) + "</td><td>" + join(names, ", ") +
           "</td><td class=\"num\">" + fixed(step.metric, 2) + "</td><td class=\"num\">" +
           fixed(step.drop, 3) + "</td></tr>";
    }
    s += "</tbody></table>";
  }
  return s + "</section>";
}

std::string histograms_section(const ReportData& d) {
  std::string s =
      "<section id=\"histograms\"><h2>Activation histograms</h2><p class=\"muted\">" +
      std::to_string(d.table.tensors.size()) +
      " calibrated tensors. Counts of |x| over [0, max(|min|, |max|)] (" +
      std::to_string(d.table.bins) + " bins, summed into at most " +
      std::to_string(report::kMaxHistogramBars) +
      " bars), on a log scale; a line at each method's amax, the applied one heavy.</p><p>";
  for (const std::string& m : d.table.methods) {
    s += "<span class=\"swatch\" style=\"background:" + report::method_color(d.table.methods, m) +
         "\"></span>" + esc(m);
  }
  s += "</p><input class=\"filter\" id=\"tensor-filter\" type=\"search\" "
       "placeholder=\"filter by tensor name\"><div class=\"hists\" id=\"hists\">";
  for (size_t k = 0; k < d.table.tensors.size(); ++k) {
    const TensorCalibration& t = d.table.tensors[k];
    const report::Chosen chosen = report::chosen_amax(t, d.method);
    const double levels = t.dtype == DataType::u8 ? 255 : 127;
    s += "<figure class=\"hist\" id=\"tensor-" + std::to_string(k) + "\"><figcaption><b>" +
         esc(t.name) + "</b> <span class=\"muted\">" + to_string(t.dtype) + ", min " +
         general(t.min) + ", max " + general(t.max) + "; " + esc(chosen.label) + " amax " +
         general(chosen.amax) + ", scale " + general(chosen.amax / levels) +
         "</span></figcaption>" + report::histogram_svg(t, k, d.table.methods, chosen) +
         "<div class=\"amaxes\">";
    std::vector<std::string> parts;
    for (const auto& [m, amax] : t.amax_by_method) {
      const std::string text = esc(m) + " " + general(amax);
      parts.push_back(m == chosen.label ? "<b>" + text + "</b>" : text);
    }
    s += join(parts, " &middot; ") + "</div></figure>";
  }
  return s + "</div></section>";
}

}  // namespace

std::string escape_html(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string script_safe_json(const std::string& json_text) {
  std::string out;
  out.reserve(json_text.size());
  for (size_t i = 0; i < json_text.size(); ++i) {
    if (json_text[i] == '<' && json_text.compare(i, 4, "<!--") == 0) {
      out += "\\u003c";
    } else if (json_text[i] == '<' && i + 1 < json_text.size() && json_text[i + 1] == '/') {
      out += "<\\";
    } else {
      out += json_text[i];
    }
  }
  return out;
}

std::string render_report_html(const ReportData& d) {
  // Names come from models and files: invalid UTF-8 is replaced rather than
  // failing the report.
  const std::string data =
      page_data(d).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string s =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>octet report: " +
      esc(d.model_name) + "</title><style>" + kStyle +
      "</style></head>\n<body data-status=\"loading\"><h1>octet quantization "
      "report</h1><p class=\"muted\"><code>" +
      esc(d.model_name) + "</code> &middot; " + std::to_string(d.layers.size()) +
      " layers &middot; " + std::to_string(d.table.tensors.size()) +
      " calibrated tensors</p><nav><a href=\"#summary\">summary</a><a "
      "href=\"#precision\">precision</a>" +
      (d.study ? "<a href=\"#study\">study</a>" : "") +
      (d.sensitivity ? "<a href=\"#sensitivity\">sensitivity</a>" : "") +
      "<a href=\"#histograms\">histograms</a></nav><div id=\"banner\" hidden></div>\n";
  s += summary_section(d) + "\n";
  if (d.study) s += study_section_html(*d.study, d.study_file) + "\n";
  s += precision_section(d) + "\n";
  if (d.sensitivity) s += sensitivity_section(d) + "\n";
  s += histograms_section(d) + "\n<div id=\"tip\" hidden></div>\n";
  s += "<script type=\"application/json\" id=\"octet-data\">" + script_safe_json(data) +
       "</script>\n<script>" + kScript + "</script>\n</body></html>\n";
  return s;
}

}  // namespace octet::cli
