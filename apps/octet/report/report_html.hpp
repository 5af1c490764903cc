// `octet report`'s page, built from plain structs so that the tests can check
// it without a model: a sensitivity file's contents (written by `octet
// sensitivity`), a study's (`octet study`), what the command measured, and
// the HTML that shows them.
// Built into octet_cli_lib; tests/test_report.cpp checks it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "octet/octet.hpp"

namespace octet::cli {

// ------------------------------------------------------- sensitivity file

// A number the file may leave out. JSON has no NaN or infinity (nlohmann
// writes them as null: the SQNR of an exact layer is +inf), so null reads as
// absent too.
using MaybeNumber = std::optional<double>;

struct SensitivityLayer {
  MaybeNumber rank;
  std::string name;  // required: a bar without a name says nothing
  std::string op, output;
  MaybeNumber sensitivity;
  MaybeNumber only_this_metric, only_this_drop;        // only_this_int8
  MaybeNumber all_but_this_metric, all_but_this_drop;  // all_but_this_int8
  MaybeNumber sqnr_db, cosine;                         // output_error
};

struct FallbackStep {
  std::vector<std::string> fp32_layers;
  MaybeNumber metric, drop;
};

struct SensitivityFallback {
  MaybeNumber target;
  std::optional<bool> reached;
  std::vector<FallbackStep> steps;
  std::vector<std::string> fp32_layers;  // the layers the final model keeps in fp32
  MaybeNumber int8_layers, layers, batch;
  MaybeNumber latency_fp32_ms, latency_int8_ms, latency_fallback_ms;
};

// The "octet-sensitivity" file, version 1. Only format, version, metric and
// layers are required.
struct Sensitivity {
  std::string model, model_hash, table, method, data, sensitivity_unit;
  std::string metric, metric_unit;
  std::optional<bool> higher_is_better;
  MaybeNumber samples, seconds;
  MaybeNumber fp32_metric, int8_metric, int8_drop;
  std::vector<SensitivityLayer> layers;
  std::optional<SensitivityFallback> fallback;
};

// Throws Error(invalid_model) naming `file` and the field: `S.json: "layers"
// must be an array`, `S.json: layers[2].output_error.cosine must be a number`.
Sensitivity parse_sensitivity(const std::string& json_text, const std::string& file);
Sensitivity load_sensitivity(const std::string& path);

// ------------------------------------------------------------ study file

// One row of `octet study`'s table.
struct StudyEntry {
  std::string group, name, weights, batchnorm, activations, method, note;
  bool available = false;
  MaybeNumber metric, drop, top1, sqnr_db, cosine;
};

// The "octet-study" file, version 1 (apps/octet/study/study.hpp). Only
// format, version, metric and rows are required.
struct Study {
  std::string model, model_hash, data, metric, metric_unit, cpu_isa;
  std::string auto_method, best_method;
  MaybeNumber samples, seconds;
  std::vector<StudyEntry> rows;
  std::optional<Sensitivity> sensitivity;  // its embedded octet-sensitivity document
};

// Throws Error(invalid_model) naming `file` and the field, as for sensitivity files.
Study parse_study(const std::string& json_text, const std::string& file);
Study load_study(const std::string& path);

// ------------------------------------------------------------ the page

struct Latency {
  std::string label;  // "fp32", "int8", "int8 + fallback"
  double median_ms = 0;
};

struct ReportData {
  std::string model_name;  // as given on the command line
  std::string model_hash;
  std::string table_file;
  CalibrationTable table;
  std::string method;  // applied to every tensor; empty: each tensor's own choice
  std::string sensitivity_file;
  std::optional<Sensitivity> sensitivity;
  std::string study_file;
  std::optional<Study> study;
  std::vector<std::string> fp32_layers;  // the fallback the int8 session honoured
  std::vector<LayerInfo> layers;         // of that session
  std::string input_shapes;              // "input_ids=1x128, ..."
  // Measured by the command, in the order shown; empty with --no-bench.
  std::vector<Latency> latency;
  int runs = 0;
  int threads = 0;
  std::string octet_version, onednn_version, cpu_isa;
};

// The self-contained page: inline CSS, SVG and script, no external
// resources. Its data is also embedded as JSON (`<script
// type="application/json" id="octet-data">`); the script adds filtering and
// tooltips, checks that the page matches the data, and sets `data-status`
// on <body> to "ok" or "error: ...".
std::string render_report_html(const ReportData& data);

// ------------------------------------------- pieces, exposed for the tests

// `&<>"'` as entities: safe in text and in quoted attributes.
std::string escape_html(const std::string& text);

// JSON text safe inside <script>: "</" becomes "<\/" (still the same JSON
// string) and "<!--" becomes "\u003c!--", so no name can end the element.
std::string script_safe_json(const std::string& json_text);

// At most `max_bars` bars from `counts`, each the sum of `group` consecutive
// bins (the last one may hold fewer): bar i covers bins [i*group,
// min((i+1)*group, counts.size())). The total is unchanged.
struct HistogramBars {
  size_t group = 1;
  std::vector<int64_t> counts;
};
HistogramBars downsample_histogram(const std::vector<int64_t>& counts, size_t max_bars);

// The top of a log-scale count axis: the smallest power of ten >= max_count,
// at least 10.
double log_axis_top(int64_t max_count);

// Height of a bar of `count` on a log axis from 0.5 (so that a count of 1
// still shows) to `top`, as a fraction in [0, 1]; 0 for a count <= 0.
double log_axis_fraction(double count, double top);

// About `target` round tick values (1, 2 or 5 times a power of ten) from 0
// to `max`, inclusive of 0.
std::vector<double> linear_ticks(double max, int target);

// The study's section: its table, with a note under each row that has one.
std::string study_section_html(const Study& study, const std::string& file);

// How the precision map colours a layer: "int8", "fp32", "reorder"
// (quantize, dequantize and layout reorders) or "other" (integer shape
// arithmetic, booleans).
std::string layer_category(const LayerInfo& layer);

}  // namespace octet::cli
