// The calibration table file (docs/calibration-table.md): JSON, tensors in
// graph order, one histogram per line at the end so the readable part stays
// short. Floats are written in the shortest decimal that reads back as the
// same float, so a value survives a round trip (and a human edit) exactly.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include <nlohmann/json.hpp>

#include "octet/octet.hpp"
#include "runtime/ir/calibration_method.hpp"
#include "runtime/ir/file_io.hpp"

namespace octet {
namespace {

using ordered_json = nlohmann::ordered_json;

constexpr const char* kFormatName = "octet-calibration";
constexpr int kFormatVersion = 1;

// The double whose shortest representation is the shortest decimal that
// reads back as `f`: 4.2f is written 4.2, not 4.199999809265137.
double short_double(float f) {
  char buf[32];
  for (int digits = 6; digits <= 9; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, static_cast<double>(f));
    if (std::strtof(buf, nullptr) == f) break;
  }
  return std::strtod(buf, nullptr);
}

class TableReader {
 public:
  explicit TableReader(std::string file) : file_(std::move(file)) {}

  CalibrationTable read(const std::string& text) {
    ordered_json doc;
    try {
      doc = ordered_json::parse(text);
    } catch (const ordered_json::exception& e) {
      std::string what = e.what();
      const size_t tag_end = what.find("] ");
      if (tag_end != std::string::npos) what = what.substr(tag_end + 2);
      fail("JSON syntax error: " + what);
    }
    try {
      return read_document(doc);
    } catch (const ordered_json::exception& e) {
      fail(std::string("malformed calibration table: ") + e.what());
    }
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    throw Error(ErrorCode::invalid_model, file_ + ": " + message);
  }

  const ordered_json& field(const ordered_json& obj, const char* key,
                            const std::string& where) const {
    if (!obj.is_object() || !obj.contains(key)) fail(where + "missing '" + key + "'");
    return obj[key];
  }
  std::string text(const ordered_json& obj, const char* key, const std::string& where = "") const {
    const ordered_json& v = field(obj, key, where);
    if (!v.is_string()) fail(where + "'" + key + "' must be a string");
    return v.get<std::string>();
  }
  int64_t integer(const ordered_json& obj, const char* key, const std::string& where = "") const {
    const ordered_json& v = field(obj, key, where);
    if (!v.is_number_integer() || v.get<int64_t>() < 0)
      fail(where + "'" + key + "' must be a non-negative integer");
    return v.get<int64_t>();
  }
  float number(const ordered_json& v, const std::string& what) const {
    if (!v.is_number()) fail(what + " must be a number");
    const double d = v.get<double>();
    if (!std::isfinite(d) || std::fabs(d) > 3.0e38) fail(what + " must be finite, got " + v.dump());
    return static_cast<float>(d);
  }
  float positive(const ordered_json& v, const std::string& what) const {
    const float f = number(v, what);
    if (!(f > 0)) fail(what + " must be positive, got " + v.dump());
    return f;
  }
  std::string method(const std::string& name, const std::string& where) const {
    try {
      return canonical_method(name);
    } catch (const Error& e) {
      fail(where + e.what());
    }
  }

  CalibrationTable read_document(const ordered_json& doc) {
    if (!doc.is_object()) fail("the top level is not a JSON object");
    if (!doc.contains("format") || doc["format"] != kFormatName)
      fail(std::string("not a calibration table: 'format' must be \"") + kFormatName + "\"");
    if (!doc.contains("version") || doc["version"] != kFormatVersion)
      fail("unsupported calibration table version " +
           (doc.contains("version") ? doc["version"].dump() : std::string("(missing)")) +
           "; this octet reads version " + std::to_string(kFormatVersion));
    CalibrationTable t;
    t.model_hash = text(doc, "model_hash");
    t.octet_version = doc.contains("octet_version") ? text(doc, "octet_version") : "";
    t.date = doc.contains("date") ? text(doc, "date") : "";
    const ordered_json& data = field(doc, "data", "");
    t.samples = integer(data, "samples", "data: ");
    t.data_fingerprint = data.contains("fingerprint") ? text(data, "fingerprint", "data: ") : "";
    t.data_source = data.contains("source") ? text(data, "source", "data: ") : "";
    t.bins = static_cast<int>(std::min<int64_t>(integer(doc, "histogram_bins"), 1 << 20));
    const ordered_json& methods = field(doc, "methods", "");
    if (!methods.is_array() || methods.empty()) fail("'methods' must be a non-empty list");
    for (const ordered_json& m : methods) {
      if (!m.is_string()) fail("'methods' must list strings");
      t.methods.push_back(method(m.get<std::string>(), "methods: "));
    }
    t.method = method(text(doc, "method"), "method: ");
    read_tensors(field(doc, "tensors", ""), t);
    if (doc.contains("histograms")) read_histograms(doc["histograms"], t);
    return t;
  }

  void read_tensors(const ordered_json& tensors, CalibrationTable& t) const {
    if (!tensors.is_object()) fail("'tensors' must be an object keyed by tensor name");
    for (const auto& [name, e] : tensors.items()) {
      const std::string where = "tensor '" + name + "': ";
      if (!e.is_object()) fail(where + "must be an object");
      TensorCalibration c;
      c.name = name;
      const std::string dtype = text(e, "dtype", where);
      if (dtype != "s8" && dtype != "u8") fail(where + "dtype must be s8 or u8, got " + dtype);
      c.dtype = dtype == "u8" ? DataType::u8 : DataType::s8;
      c.min = number(field(e, "min", where), where + "min");
      c.max = number(field(e, "max", where), where + "max");
      if (c.min > c.max) fail(where + "min is greater than max");
      c.method = method(text(e, "method", where), where);
      c.amax = positive(field(e, "amax", where), where + "amax");
      const ordered_json& by = field(e, "amax_by_method", where);
      if (!by.is_object()) fail(where + "'amax_by_method' must be an object");
      for (const auto& [m, v] : by.items()) {
        c.amax_by_method[method(m, where)] = positive(v, where + "amax_by_method." + m);
      }
      t.tensors.push_back(std::move(c));
    }
  }

  void read_histograms(const ordered_json& histograms, CalibrationTable& t) const {
    if (!histograms.is_object()) fail("'histograms' must be an object keyed by tensor name");
    for (TensorCalibration& c : t.tensors) {
      if (!histograms.contains(c.name)) continue;
      const ordered_json& h = histograms[c.name];
      const std::string where = "histograms: tensor '" + c.name + "': ";
      if (!h.is_array() || h.size() != static_cast<size_t>(t.bins))
        fail(where + "must be a list of " + std::to_string(t.bins) + " counts");
      c.histogram.reserve(h.size());
      for (const ordered_json& n : h) {
        if (!n.is_number_integer() || n.get<int64_t>() < 0)
          fail(where + "counts must be non-negative integers");
        c.histogram.push_back(n.get<int64_t>());
      }
    }
  }

  std::string file_;
};

}  // namespace

CalibrationTable CalibrationTable::parse(const std::string& json_text,
                                         const std::string& name_for_errors) {
  return TableReader(name_for_errors).read(json_text);
}

CalibrationTable CalibrationTable::load(const std::string& path) {
  return parse(read_text_file(path), path);
}

std::string CalibrationTable::to_json() const {
  ordered_json doc;
  doc["format"] = kFormatName;
  doc["version"] = kFormatVersion;
  doc["model_hash"] = model_hash;
  doc["octet_version"] = octet_version;
  doc["date"] = date;
  doc["data"] = {{"source", data_source}, {"fingerprint", data_fingerprint}, {"samples", samples}};
  doc["histogram_bins"] = bins;
  doc["methods"] = methods;
  doc["method"] = method;
  ordered_json rows = ordered_json::object();
  for (const TensorCalibration& c : tensors) {
    ordered_json row;
    row["dtype"] = to_string(c.dtype);
    row["min"] = short_double(c.min);
    row["max"] = short_double(c.max);
    row["method"] = c.method;
    row["amax"] = short_double(c.amax);
    // Informational: octet derives the scale from amax when it loads a model.
    row["scale"] = short_double(c.amax / (c.dtype == DataType::u8 ? 255.f : 127.f));
    ordered_json by = ordered_json::object();
    for (const auto& [m, a] : c.amax_by_method) by[m] = short_double(a);
    row["amax_by_method"] = by;
    rows[c.name] = row;
  }
  doc["tensors"] = rows;
  std::string out = doc.dump(2);
  // Histograms last, one line each: thousands of counts per tensor would
  // otherwise bury the table under one number per line.
  bool any = false;
  for (const TensorCalibration& c : tensors) any = any || !c.histogram.empty();
  if (any) {
    out.erase(out.size() - 2);  // "\n}"
    out += ",\n  \"histograms\": {";
    const char* sep = "\n";
    for (const TensorCalibration& c : tensors) {
      if (c.histogram.empty()) continue;
      out += sep;
      out += "    " + ordered_json(c.name).dump() + ": " + ordered_json(c.histogram).dump();
      sep = ",\n";
    }
    out += "\n  }\n}";
  }
  return out + "\n";
}

void CalibrationTable::save(const std::string& path) const {
  write_file_atomically(path, to_json());
}

}  // namespace octet
