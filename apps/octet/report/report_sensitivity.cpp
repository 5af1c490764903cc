// Reading `octet sensitivity`'s file for the report (json_fields.hpp says
// how: what is there is drawn, a wrong type is an error naming its path).
#include "apps/octet/report/json_fields.hpp"
#include "apps/octet/report/report_html.hpp"
#include "runtime/ir/file_io.hpp"

namespace octet::cli {
namespace {

constexpr const char* kFormat = "octet-sensitivity";

class Reader : public JsonFields {
 public:
  using JsonFields::JsonFields;

  SensitivityLayer layer(const json& l, const std::string& p) const {
    if (!l.is_object()) fail(quoted(p) + " must be an object");
    SensitivityLayer out;
    out.name = string(l, "name", p);
    if (out.name.empty()) fail(quoted(path(p, "name")) + " must be a non-empty string");
    out.rank = number(l, "rank", p);
    out.op = string(l, "op", p);
    out.output = string(l, "output", p);
    out.sensitivity = number(l, "sensitivity", p);
    if (const json* o = object(l, "only_this_int8", p)) {
      out.only_this_metric = number(*o, "metric", path(p, "only_this_int8"));
      out.only_this_drop = number(*o, "drop", path(p, "only_this_int8"));
    }
    if (const json* o = object(l, "all_but_this_int8", p)) {
      out.all_but_this_metric = number(*o, "metric", path(p, "all_but_this_int8"));
      out.all_but_this_drop = number(*o, "drop", path(p, "all_but_this_int8"));
    }
    if (const json* o = object(l, "output_error", p)) {
      out.sqnr_db = number(*o, "sqnr_db", path(p, "output_error"));
      out.cosine = number(*o, "cosine", path(p, "output_error"));
    }
    return out;
  }

  SensitivityFallback fallback(const json& f) const {
    const std::string p = "fallback";
    SensitivityFallback out;
    out.target = number(f, "target", p);
    out.reached = boolean(f, "reached", p);
    out.fp32_layers = strings(f, "fp32_layers", p);
    out.int8_layers = number(f, "int8_layers", p);
    out.layers = number(f, "layers", p);
    out.batch = number(f, "batch", p);
    if (const json* steps = find(f, "steps")) {
      if (!steps->is_array()) fail("\"fallback.steps\" must be an array");
      for (size_t i = 0; i < steps->size(); ++i) {
        const std::string sp = "fallback.steps[" + std::to_string(i) + "]";
        const json& s = (*steps)[i];
        if (!s.is_object()) fail(quoted(sp) + " must be an object");
        out.steps.push_back(
            {strings(s, "fp32_layers", sp), number(s, "metric", sp), number(s, "drop", sp)});
      }
    }
    if (const json* l = object(f, "latency_ms", p)) {
      out.latency_fp32_ms = number(*l, "fp32", "fallback.latency_ms");
      out.latency_int8_ms = number(*l, "int8", "fallback.latency_ms");
      out.latency_fallback_ms = number(*l, "fallback", "fallback.latency_ms");
    }
    return out;
  }

  Sensitivity read(const std::string& text) const {
    const json doc = document(text, kFormat, "sensitivity file");
    Sensitivity s;
    s.metric = string(doc, "metric", "");
    if (s.metric.empty()) fail("\"metric\" must be a non-empty string");
    const json* layers = find(doc, "layers");
    if (!layers || !layers->is_array()) fail("\"layers\" must be an array");
    for (size_t i = 0; i < layers->size(); ++i) {
      s.layers.push_back(layer((*layers)[i], "layers[" + std::to_string(i) + "]"));
    }
    s.model = string(doc, "model", "");
    s.model_hash = string(doc, "model_hash", "");
    s.table = string(doc, "table", "");
    s.method = string(doc, "method", "");
    s.data = string(doc, "data", "");
    s.sensitivity_unit = string(doc, "sensitivity_unit", "");
    s.metric_unit = string(doc, "metric_unit", "");
    s.higher_is_better = boolean(doc, "higher_is_better", "");
    s.samples = number(doc, "samples", "");
    s.seconds = number(doc, "seconds", "");
    if (const json* o = object(doc, "fp32", "")) s.fp32_metric = number(*o, "metric", "fp32");
    if (const json* o = object(doc, "int8", "")) {
      s.int8_metric = number(*o, "metric", "int8");
      s.int8_drop = number(*o, "drop", "int8");
    }
    if (const json* f = object(doc, "fallback", "")) s.fallback = fallback(*f);
    return s;
  }
};

}  // namespace

Sensitivity parse_sensitivity(const std::string& json_text, const std::string& file) {
  return Reader(file).read(json_text);
}

Sensitivity load_sensitivity(const std::string& path) {
  return parse_sensitivity(read_text_file(path), path);
}

}  // namespace octet::cli
