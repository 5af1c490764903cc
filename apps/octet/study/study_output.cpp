// The study as JSON ("octet-study", version 1) and as the printed table.
#include <cmath>

#include "apps/octet/common/common.hpp"
#include "apps/octet/sensitivity/ablation.hpp"
#include "apps/octet/study/study.hpp"

namespace octet::cli {
namespace {

using json = nlohmann::ordered_json;

json row_json(const StudyRow& row, const StudyResult& s) {
  json j;
  j["group"] = row.group;
  j["name"] = row.name;
  j["weights"] = row.weights;
  j["batchnorm"] = row.batchnorm.empty() ? json(nullptr) : json(row.batchnorm);
  j["activations"] = row.activations;
  j["method"] = row.method.empty() ? json(nullptr) : json(row.method);
  j["available"] = row.result.has_value();
  const Metric m = s.metric;
  if (row.result) {
    const TrialResult& r = *row.result;
    j["metric"] = json_number(r.value(m));
    j["drop"] = m == Metric::sqnr ? json(nullptr) : json_number(s.fp32.value(m) - r.value(m));
    j["top1"] = s.labeled ? json(r.top1) : json(nullptr);
    j["output_sqnr_db"] = json_number(r.output.sqnr_db());
    j["output_cosine"] = r.output.cosine();
  } else {
    for (const char* key : {"metric", "drop", "top1", "output_sqnr_db", "output_cosine"}) {
      j[key] = nullptr;
    }
  }
  j["note"] = row.note;
  return j;
}

std::string signed_text(double v, Metric m) {
  const std::string s = metric_text(v, m);
  return (s[0] != '-' && s.find_first_not_of("0.") != std::string::npos ? "+" : "") + s;
}

}  // namespace

json study_json(const StudyResult& s) {
  json j;
  j["format"] = "octet-study";
  j["version"] = 1;
  j.update(s.header);
  j["metric"] = metric_name(s.metric);
  j["metric_unit"] = metric_unit(s.metric);
  j["labeled"] = s.labeled;
  json rows = json::array();
  for (const StudyRow& row : s.rows) rows.push_back(row_json(row, s));
  j["rows"] = rows;
  j["auto_method"] = s.auto_method;
  j["best_method"] = s.best_method;
  json scores = json::object();
  for (const auto& [method, db] : s.table_scores) scores[method] = json_number(db);
  j["table_scores_db"] = scores;
  j["sensitivity"] = s.sensitivity;
  return j;
}

std::string format_study(const StudyResult& s) {
  const Metric m = s.metric;
  std::vector<std::vector<std::string>> table;
  std::vector<std::string> header = {"experiment", "weights", "activations"};
  if (s.labeled) header.push_back("top-1 %");
  if (m != Metric::top1) header.push_back(std::string(metric_name(m)));
  header.insert(header.end(), {"vs fp32", "SQNR dB", "cosine"});
  table.push_back(header);
  std::vector<std::string> notes;
  for (const StudyRow& row : s.rows) {
    std::string name = row.name;
    if (!row.note.empty()) {
      notes.push_back(row.note);
      name += " [" + std::to_string(notes.size()) + "]";
    }
    std::vector<std::string> line = {name, row.weights, row.activations};
    if (row.result) {
      const TrialResult& r = *row.result;
      if (s.labeled) line.push_back(metric_text(r.top1, Metric::top1));
      if (m != Metric::top1) line.push_back(metric_text(r.value(m), m));
      line.push_back(row.group == "fp32" || m == Metric::sqnr
                         ? "-"
                         : signed_text(r.value(m) - s.fp32.value(m), m));
      line.push_back(metric_text(r.output.sqnr_db(), Metric::sqnr));
      line.push_back(format_ms(r.output.cosine(), 5));
    } else {
      line.push_back("n/a");
    }
    table.push_back(line);
  }
  std::string out = format_table(table);
  for (size_t i = 0; i < notes.size(); ++i) {
    out += "[" + std::to_string(i + 1) + "] " + notes[i] + "\n";
  }
  out += "\nPTQ: " + s.best_method + " is best by " + metric_name(m) +
         "; --choose auto's rule (highest output SQNR against fp32, no labels) picks " +
         s.auto_method + "\n";
  if (!s.sensitivity.is_null()) {
    const json& layers = s.sensitivity.at("layers");
    out += "most sensitive layers (only this layer int8, PTQ " +
           s.sensitivity.at("method").get<std::string>() + ", " + metric_name(m) + "):";
    for (size_t i = 0; i < layers.size() && i < 5; ++i) {
      const json& l = layers[i];
      const json& only = l.at("only_this_int8");
      out +=
          (i ? ", " : " ") + l.at("name").get<std::string>() + " (" + l.at("op").get<std::string>();
      if (!only.is_null() && only.at("metric").is_number()) {
        out += " " + metric_text(only.at("metric").get<double>(), m) + metric_unit(m);
      }
      out += ")";
    }
    out += "\n";
    if (s.sensitivity.contains("fallback")) {
      std::string list;
      for (const json& n : s.sensitivity["fallback"]["fp32_layers"]) {
        list += (list.empty() ? "" : ",") + n.get<std::string>();
      }
      if (!list.empty()) out += "the fallback's --fp32-layers " + list + "\n";
    }
  }
  const json& h = s.header;
  out += std::to_string(h.value("samples", 0)) + " samples of " + h.value("data", "") + "\n";
  if (h.contains("calibration")) {
    const json& c = h["calibration"];
    out += "calibration: " +
           (c["table"].is_null() ? std::string("on the study's samples")
                                 : c["table"].get<std::string>()) +
           ", " + std::to_string(c.value("samples", 0)) + " samples\n";
  }
  out +=
      "CPU ISA " + h.value("cpu_isa", "") + ", " + format_ms(h.value("seconds", 0.0), 1) + " s\n";
  return out;
}

}  // namespace octet::cli
