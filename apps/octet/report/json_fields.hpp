// Reading the JSON files `octet report` draws (a sensitivity file, a study):
// what the report cannot do without is required, and a field that is present
// with the wrong type is an error naming its path, never skipped. A null
// reads as absent (JSON has no NaN or infinity; nlohmann writes them as null).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "octet/octet.hpp"

namespace octet::cli {

using MaybeNumber = std::optional<double>;

class JsonFields {
 public:
  using json = nlohmann::json;

  explicit JsonFields(const std::string& file) : file_(file) {}

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

  // The document, checked to be a JSON object of `format`, version 1;
  // `what` names the kind of file in the errors ("sensitivity file").
  json document(const std::string& text, const char* format, const char* what) const {
    json doc;
    try {
      doc = json::parse(text);
    } catch (const json::parse_error& e) {
      fail(std::string("JSON syntax error: ") + e.what());
    }
    if (!doc.is_object()) fail("the top level is not a JSON object");
    if (!doc.contains("format") || doc["format"] != format) {
      fail(std::string("not a ") + what + ": \"format\" must be \"" + format + "\"");
    }
    if (!doc.contains("version") || doc["version"] != 1) {
      fail(std::string("unsupported ") + what + " version " +
           (doc.contains("version") ? doc["version"].dump() : std::string("(missing)")) +
           " (this octet reads version 1)");
    }
    return doc;
  }

 private:
  const std::string file_;
};

}  // namespace octet::cli
