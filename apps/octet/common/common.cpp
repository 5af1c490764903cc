#include "apps/octet/common/common.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <random>

namespace octet::cli {
namespace {

[[noreturn]] void bad_argument(const std::string& what) {
  throw Error(ErrorCode::invalid_argument, what);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool contains(const std::string& s, const char* part) {
  return s.find(part) != std::string::npos;
}

// mt19937_64 is specified bit-exactly by the standard, unlike the
// distributions, so the conversions to the wanted ranges are done here.
double uniform01(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

}  // namespace

std::pair<std::string, Shape> parse_shape_spec(const std::string& spec) {
  const size_t eq = spec.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
    bad_argument("shape '" + spec + "' is not NAME=DIMS such as input=1x3x224x224");
  }
  Shape shape;
  size_t pos = eq + 1;
  while (true) {
    const size_t x = std::min(spec.find('x', pos), spec.size());
    const std::string dim = spec.substr(pos, x - pos);
    // At most 12 digits: no real dimension is larger, and it cannot overflow.
    if (dim.empty() || dim.size() > 12 ||
        !std::all_of(dim.begin(), dim.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoll(dim) == 0) {
      bad_argument("shape '" + spec + "': '" + dim + "' is not a positive dimension");
    }
    shape.push_back(std::stoll(dim));
    if (x == spec.size()) break;
    pos = x + 1;
  }
  return {spec.substr(0, eq), shape};
}

std::map<std::string, Shape> parse_shape_specs(const std::vector<std::string>& specs) {
  std::map<std::string, Shape> shapes;
  for (const std::string& spec : specs) {
    auto [name, shape] = parse_shape_spec(spec);
    if (!shapes.emplace(name, shape).second) bad_argument("shape of '" + name + "' given twice");
  }
  return shapes;
}

std::string format_dims(const std::vector<Dim>& dims) {
  if (dims.empty()) return "scalar";
  std::string s;
  for (const Dim& d : dims) {
    if (!s.empty()) s += " x ";
    s += d.size >= 0 ? std::to_string(d.size) : d.symbol.empty() ? "?" : d.symbol;
  }
  return s;
}

std::map<std::string, Shape> resolve_input_shapes(const std::vector<TensorInfo>& inputs,
                                                  int64_t batch, int64_t seq,
                                                  const std::map<std::string, Shape>& overrides) {
  std::map<std::string, Shape> shapes;
  for (const auto& override : overrides) {
    const std::string& name = override.first;
    const bool known = std::any_of(inputs.begin(), inputs.end(),
                                   [&](const TensorInfo& in) { return in.name == name; });
    if (!known) {
      std::string names;
      for (const TensorInfo& in : inputs) names += (names.empty() ? "" : ", ") + in.name;
      bad_argument("--shapes names '" + name + "', which is not an input (inputs: " + names + ")");
    }
  }
  // Symbols fixed by the overrides, so that "--shapes input_ids=2x8" also
  // gives attention_mask [batch, sequence] the shape 2x8.
  std::map<std::string, int64_t> symbols;
  for (const TensorInfo& in : inputs) {
    auto it = overrides.find(in.name);
    if (it == overrides.end() || it->second.size() != in.dims.size()) continue;
    for (size_t k = 0; k < in.dims.size(); ++k) {
      if (in.dims[k].size < 0 && !in.dims[k].symbol.empty()) {
        symbols.emplace(in.dims[k].symbol, it->second[k]);
      }
    }
  }
  for (const TensorInfo& in : inputs) {
    if (auto it = overrides.find(in.name); it != overrides.end()) {
      shapes[in.name] = it->second;
      continue;
    }
    Shape shape;
    int symbolic = 0;
    for (const Dim& d : in.dims) {
      if (d.size >= 0) {
        shape.push_back(d.size);
        continue;
      }
      const auto known = d.symbol.empty() ? symbols.end() : symbols.find(d.symbol);
      if (known != symbols.end()) {
        shape.push_back(known->second);
      } else if (symbolic < 2) {
        shape.push_back(symbolic == 0 ? batch : seq);
      } else {
        bad_argument("input '" + in.name + "' (" + format_dims(in.dims) +
                     ") has more than two symbolic dimensions: give its shape with --shapes " +
                     in.name + "=...");
      }
      ++symbolic;
    }
    shapes[in.name] = shape;
  }
  return shapes;
}

void fill_synthetic(Tensor& t, const std::string& name, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const size_t n = static_cast<size_t>(t.numel());
  if (t.dtype() == DataType::f32) {
    float* p = t.data<float>();
    // Box-Muller, two normals per pair of uniforms.
    for (size_t i = 0; i < n; i += 2) {
      const double r = std::sqrt(-2.0 * std::log(1.0 - uniform01(rng)));
      const double a = 6.283185307179586 * uniform01(rng);  // 2 pi
      p[i] = static_cast<float>(r * std::cos(a));
      if (i + 1 < n) p[i + 1] = static_cast<float>(r * std::sin(a));
    }
    return;
  }
  const std::string key = lower(name);
  int64_t value = 0;  // token types, segments and anything unrecognized
  bool random_ids = false;
  if (contains(key, "token_type") || contains(key, "segment")) {
    value = 0;
  } else if (contains(key, "mask")) {
    value = 1;
  } else if (contains(key, "ids")) {
    random_ids = t.dtype() != DataType::boolean;
  }
  for (size_t i = 0; i < n; ++i) {
    const int64_t v = random_ids ? static_cast<int64_t>(rng() % 100) : value;
    switch (t.dtype()) {
      case DataType::s8:
        t.data<int8_t>()[i] = static_cast<int8_t>(v);
        break;
      case DataType::u8:
        t.data<uint8_t>()[i] = static_cast<uint8_t>(v);
        break;
      case DataType::s32:
        t.data<int32_t>()[i] = static_cast<int32_t>(v);
        break;
      case DataType::s64:
        t.data<int64_t>()[i] = v;
        break;
      case DataType::boolean:
        t.data<bool>()[i] = v != 0;
        break;
      case DataType::f32:
        break;
    }
  }
}

std::string output_file_name(const std::string& output_name) {
  std::string s = output_name;
  for (char& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '_';
  }
  // "." or ".." would otherwise name a directory entry of its own.
  if (s.empty() || s.find_first_not_of('.') == std::string::npos) s = "_" + s;
  return s + ".npy";
}

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (size_t r = 0; r < rows.size(); ++r) {
    std::string line;
    for (size_t i = 0; i < rows[r].size(); ++i) {
      line += rows[r][i];
      if (i + 1 < rows[r].size()) line.append(width[i] - rows[r][i].size() + 2, ' ');
    }
    // An empty last column would otherwise leave trailing blanks.
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + "\n";
    if (r == 0) {
      size_t total = 0;
      for (size_t w : width) total += w + 2;
      out += std::string(total > 2 ? total - 2 : 0, '-') + "\n";
    }
  }
  return out;
}

Model load_model(const std::string& name) {
  const std::string ext = ".onnx";
  if (name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0) {
    return Model::import_onnx(name);
  }
  return Model::load(name);
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string format_precision_report(const Session& session) {
  const std::vector<LayerInfo> layers = session.layers();
  std::vector<std::vector<std::string>> rows = {
      {"name", "op", "precision", "kernel", "shape", "reason"}};
  std::map<std::string, int> counts;
  for (const LayerInfo& l : layers) {
    rows.push_back({l.name, l.op, l.precision, l.kernel, l.shape, l.reason});
    ++counts[l.precision];
  }
  std::string per_precision;
  for (const auto& [precision, n] : counts) {
    per_precision += (per_precision.empty() ? ": " : ", ") + std::to_string(n) + " " + precision;
  }
  char ms[32];
  std::snprintf(ms, sizeof ms, "%.1f", session.prepare_ms());
  return format_table(rows) + "\n" + std::to_string(layers.size()) + " layers, prepared in " + ms +
         " ms" + per_precision + "\n";
}

void print_precision_report(const std::string& title, const Session& session) {
  std::cerr << "=== Precision report: " << title << " ===\n"
            << format_precision_report(session) << std::flush;
}

std::string version_text() {
  return "octet " + version() + "\noneDNN " + onednn_version() + "\nCPU ISA " + cpu_isa() +
         (cpu_has_vnni() ? " (VNNI)" : " (no VNNI)");
}

std::string format_ms(double ms, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, ms);
  return buf;
}

}  // namespace octet::cli
