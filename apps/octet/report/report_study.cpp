// `octet study`'s file in the report: reading it (json_fields.hpp's rules)
// and its section, the study's table as `octet study` printed it.
#include "apps/octet/report/json_fields.hpp"
#include "apps/octet/report/report_charts.hpp"
#include "apps/octet/report/report_html.hpp"
#include "runtime/ir/file_io.hpp"

namespace octet::cli {
namespace {

using json = nlohmann::json;
using report::fixed;

constexpr const char* kDash = "\xE2\x80\x93";

StudyEntry entry(const JsonFields& f, const json& r, const std::string& p) {
  if (!r.is_object()) f.fail(JsonFields::quoted(p) + " must be an object");
  StudyEntry e;
  e.name = f.string(r, "name", p);
  if (e.name.empty())
    f.fail(JsonFields::quoted(JsonFields::path(p, "name")) + " must be a non-empty string");
  e.group = f.string(r, "group", p);
  e.weights = f.string(r, "weights", p);
  e.batchnorm = f.string(r, "batchnorm", p);
  e.activations = f.string(r, "activations", p);
  e.method = f.string(r, "method", p);
  e.note = f.string(r, "note", p);
  e.metric = f.number(r, "metric", p);
  e.drop = f.number(r, "drop", p);
  e.top1 = f.number(r, "top1", p);
  e.sqnr_db = f.number(r, "output_sqnr_db", p);
  e.cosine = f.number(r, "output_cosine", p);
  // A row without the flag is available when it has a number.
  e.available = f.boolean(r, "available", p).value_or(e.metric || e.sqnr_db || e.cosine);
  return e;
}

// "+0.67", "-14.33", "0.00" (never "-0.00").
std::string signed_fixed(double v) {
  const std::string s = fixed(v, 2);
  if (s.find_first_not_of("-0.") == std::string::npos) return "0.00";
  return (v > 0 ? "+" : "") + s;
}

std::string esc(const std::string& s) {
  return escape_html(s);
}

}  // namespace

Study parse_study(const std::string& json_text, const std::string& file) {
  const JsonFields f(file);
  const json doc = f.document(json_text, "octet-study", "study file");
  Study s;
  s.metric = f.string(doc, "metric", "");
  if (s.metric.empty()) f.fail("\"metric\" must be a non-empty string");
  const json* rows = f.find(doc, "rows");
  if (!rows || !rows->is_array()) f.fail("\"rows\" must be an array");
  for (size_t i = 0; i < rows->size(); ++i) {
    s.rows.push_back(entry(f, (*rows)[i], "rows[" + std::to_string(i) + "]"));
  }
  s.model = f.string(doc, "model", "");
  s.model_hash = f.string(doc, "model_hash", "");
  s.data = f.string(doc, "data", "");
  s.metric_unit = f.string(doc, "metric_unit", "");
  s.cpu_isa = f.string(doc, "cpu_isa", "");
  s.auto_method = f.string(doc, "auto_method", "");
  s.best_method = f.string(doc, "best_method", "");
  s.samples = f.number(doc, "samples", "");
  s.seconds = f.number(doc, "seconds", "");
  if (const json* sens = f.object(doc, "sensitivity", "")) {
    s.sensitivity = parse_sensitivity(sens->dump(), file + ": \"sensitivity\"");
  }
  return s;
}

Study load_study(const std::string& path) {
  return parse_study(read_text_file(path), path);
}

std::string study_section_html(const Study& s, const std::string& file) {
  const bool labeled = [&] {
    for (const StudyEntry& e : s.rows) {
      if (e.top1) return true;
    }
    return false;
  }();
  const std::string unit = s.metric_unit.empty() ? "" : " " + esc(s.metric_unit);
  std::string h =
      "<section id=\"study\"><h2>Study</h2><p class=\"muted\">The paper's experiments "
      "(<code>octet study</code>, from <code>" +
      esc(file) + "</code>" + (s.samples ? ", " + fixed(s.samples, 0) + " samples" : "") +
      (s.data.empty() ? "" : " of " + esc(s.data)) +
      (s.cpu_isa.empty() ? "" : ", CPU ISA " + esc(s.cpu_isa)) +
      "): every row against fp32's outputs on the same samples.</p>"
      "<table id=\"study-table\"><thead><tr><th>experiment</th><th>weights</th>"
      "<th>activations</th>" +
      (labeled ? "<th class=\"num\">top-1 %</th>" : "") + "<th class=\"num\">" + esc(s.metric) +
      unit +
      " vs fp32</th><th class=\"num\">SQNR dB</th><th class=\"num\">cosine</th>"
      "<th>note</th></tr></thead><tbody id=\"study-rows\">";
  for (const StudyEntry& e : s.rows) {
    const std::string na = "<td class=\"num\">n/a</td>";
    h += "<tr class=\"g-" + esc(e.group) + "\"><td>" + esc(e.name) + "</td><td>" + esc(e.weights) +
         "</td><td>" + esc(e.activations) + "</td>";
    if (!e.available) {
      h += (labeled ? na : "") + na + na + na;
    } else {
      if (labeled) h += "<td class=\"num\">" + fixed(e.top1, 2) + "</td>";
      h += "<td class=\"num\">" +
           (e.group == "fp32" || !e.drop ? std::string(kDash) : signed_fixed(-*e.drop)) +
           "</td><td class=\"num\">" + (e.sqnr_db ? fixed(e.sqnr_db, 2) : "inf") +
           "</td><td class=\"num\">" + fixed(e.cosine, 5) + "</td>";
    }
    h += "<td class=\"note muted\">" + esc(e.note) + "</td></tr>";
  }
  h += "</tbody></table>";
  if (!s.best_method.empty()) {
    h += "<p>PTQ: <b>" + esc(s.best_method) + "</b> is best by " + esc(s.metric) +
         "; <code>--choose auto</code>'s rule (highest output SQNR against fp32, no labels) "
         "picks <b>" +
         esc(s.auto_method) + "</b>.</p>";
  }
  return h + "</section>";
}

}  // namespace octet::cli
