// Reading `octet sensitivity`'s file for the report. The report draws what
// is there: only what it cannot do without is required, and a field that is
// present with the wrong type is an error naming its path, never skipped.
#include <nlohmann/json.hpp>

#include "apps/octet/report/report_html.hpp"
#include "runtime/ir/file_io.hpp"

namespace octet::cli {
namespace {

using nlohmann::json;

constexpr const char* kFormat = "octet-sensitivity";

class Reader {
 public:
  explicit Reader(const std::string& file) : file_(file) {}

  [[noreturn]] void fail(const std::string& message) const {
    throw Error(ErrorCode::invalid_model, file_ + ": " + message);
  }

  // `"layers[2].cosine"`: every message quotes the field's full path.
  static std::string path(const std::string& parent, const std::string& key) {
    return parent.empty() ? key : parent + "." + key;
  }
  static std::string quoted(const std::string& p) { return "\"" + p + "\""; }

  const json* find(const json& obj, const char* key) const {
    const auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
  }

  MaybeNumber number(const json& obj, const char* key, const std::string& parent) const {
    const json* v = find(obj, key);
    if (!v) return std::nullopt;
    if (!v->is_number()) fail(quoted(path(parent, key)) + " must be a number, got " + v->dump());
    return v->get<double>();
  }

  std::string string(const json& obj, const char* key, const std::string& parent) const {
    const json* v = find(obj, key);
    if (!v) return "";
    if (!v->is_string()) fail(quoted(path(parent, key)) + " must be a string, got " + v->dump());
    return v->get<std::string>();
  }

  std::optional<bool> boolean(const json& obj, const char* key, const std::string& parent) const {
    const json* v = find(obj, key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) fail(quoted(path(parent, key)) + " must be true or false");
    return v->get<bool>();
  }

  // An object the file may leave out; nullptr when it does.
  const json* object(const json& obj, const char* key, const std::string& parent) const {
    const json* v = find(obj, key);
    if (v && !v->is_object()) fail(quoted(path(parent, key)) + " must be an object");
    return v;
  }

  std::vector<std::string> strings(const json& obj, const char* key,
                                   const std::string& parent) const {
    std::vector<std::string> out;
    const json* v = find(obj, key);
    if (!v) return out;
    const std::string p = path(parent, key);
    if (!v->is_array()) fail(quoted(p) + " must be an array of layer names");
    for (const json& s : *v) {
      if (!s.is_string()) fail(quoted(p) + " must be an array of layer names, got " + s.dump());
      out.push_back(s.get<std::string>());
    }
    return out;
  }

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
    json doc;
    try {
      doc = json::parse(text);
    } catch (const json::parse_error& e) {
      fail(std::string("JSON syntax error: ") + e.what());
    }
    if (!doc.is_object()) fail("the top level is not a JSON object");
    if (!doc.contains("format") || doc["format"] != kFormat) {
      fail(std::string("not a sensitivity file: \"format\" must be \"") + kFormat + "\"");
    }
    if (!doc.contains("version") || doc["version"] != 1) {
      fail("unsupported sensitivity file version " +
           (doc.contains("version") ? doc["version"].dump() : std::string("(missing)")) +
           " (this octet reads version 1)");
    }
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

 private:
  const std::string& file_;
};

}  // namespace

Sensitivity parse_sensitivity(const std::string& json_text, const std::string& file) {
  return Reader(file).read(json_text);
}

Sensitivity load_sensitivity(const std::string& path) {
  return parse_sensitivity(read_text_file(path), path);
}

}  // namespace octet::cli
