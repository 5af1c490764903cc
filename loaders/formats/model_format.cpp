#include "loaders/formats/model_format.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "runtime/ir/file_io.hpp"
#include "runtime/ir/weight_slot.hpp"

namespace octet {

using json = nlohmann::json;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A read-only memory map of a whole file, shared by the tensors that view it.
std::shared_ptr<const void> map_file(const std::string& path, size_t& size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorCode::io, "cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(ErrorCode::io, "'" + path + "' is not a regular file");
  }
  size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return nullptr;
  }
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED)
    throw Error(ErrorCode::io, "cannot map '" + path + "': " + std::strerror(errno));
  const size_t len = size;
  return std::shared_ptr<const void>(p,
                                     [len](const void* q) { ::munmap(const_cast<void*>(q), len); });
}

// Reads one model document; `file` prefixes every message.
class Reader {
 public:
  Reader(std::string file, std::shared_ptr<const void> bin, size_t bin_size)
      : file_(std::move(file)), bin_(std::move(bin)), bin_size_(bin_size) {}

  Graph read(const std::string& text) {
    json doc;
    try {
      doc = json::parse(text);
    } catch (const json::exception& e) {
      // nlohmann's message says "parse error at line L, column C: ..." after a tag.
      std::string what = e.what();
      const size_t tag_end = what.find("] ");
      if (tag_end != std::string::npos) what = what.substr(tag_end + 2);
      fail(ErrorCode::invalid_model, "JSON syntax error: " + what);
    }
    try {
      return read_document(doc);
    } catch (const json::exception& e) {
      // Every access is type-checked first; this is a safety net for fuzzed input.
      fail(ErrorCode::invalid_model, std::string("malformed model document: ") + e.what());
    }
  }

  Graph read_document(const json& doc) {
    if (!doc.is_object()) fail(ErrorCode::invalid_model, "the top level is not a JSON object");
    check_format(doc);
    Graph g;
    g.producer = optional_string(doc, "producer");
    if (doc.contains("metadata")) {
      if (!doc["metadata"].is_object())
        fail(ErrorCode::invalid_model, "'metadata' must be an object");
      g.metadata_json = doc["metadata"].dump();
    }
    check_weights_size(doc);
    read_initializers(doc, g);
    read_io(doc, "inputs", g, true);
    read_nodes(doc, g);
    read_io(doc, "outputs", g, false);
    check_dangling(g);
    if (doc.contains("quantization")) read_quantization(doc["quantization"], g);
    check_stored_weights(g);
    try {
      g.sort_topologically();
    } catch (const Error& e) {
      fail(e.code(), e.what());
    }
    return g;
  }

 private:
  [[noreturn]] void fail(ErrorCode code, const std::string& message) const {
    throw Error(code, file_ + ": " + message);
  }

  const json& field(const json& obj, const char* key, const std::string& where) const {
    if (!obj.is_object() || !obj.contains(key))
      fail(ErrorCode::invalid_model, where + ": missing '" + key + "'");
    return obj[key];
  }

  std::string string_field(const json& obj, const char* key, const std::string& where) const {
    const json& v = field(obj, key, where);
    if (!v.is_string()) fail(ErrorCode::invalid_model, where + ": '" + key + "' must be a string");
    return v.get<std::string>();
  }

  static std::string optional_string(const json& obj, const char* key) {
    return obj.contains(key) && obj[key].is_string() ? obj[key].get<std::string>() : "";
  }

  const json& array_field(const json& obj, const char* key, const std::string& where) const {
    const json& v = field(obj, key, where);
    if (!v.is_array()) fail(ErrorCode::invalid_model, where + ": '" + key + "' must be an array");
    return v;
  }

  void check_format(const json& doc) {
    if (!doc.contains("format") || doc["format"] != kModelFormatName) {
      fail(ErrorCode::invalid_model,
           std::string("not an octet model (expected \"format\": \"") + kModelFormatName + "\")");
    }
    const json& v = field(doc, "version", "header");
    if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > kModelFormatVersion) {
      fail(ErrorCode::unsupported,
           "unknown format version " + v.dump() + " (this octet reads versions 1 to " +
               std::to_string(kModelFormatVersion) + "; convert the model again with this octet)");
    }
    version_ = static_cast<int>(v.get<int64_t>());
  }

  void check_weights_size(const json& doc) const {
    const json& v = field(doc, "weights_bytes", "header");
    if (!v.is_number_unsigned())
      fail(ErrorCode::invalid_model, "'weights_bytes' must be a non-negative integer");
    if (v.get<uint64_t>() != bin_size_) {
      fail(ErrorCode::invalid_model, "the weights file holds " + std::to_string(bin_size_) +
                                         " bytes, the model expects " + v.dump() +
                                         " (truncated or from another model?)");
    }
  }

  DataType dtype_field(const json& obj, const std::string& where) const {
    const std::string name = string_field(obj, "dtype", where);
    try {
      return data_type_from_string(name);
    } catch (const Error&) {
      fail(ErrorCode::invalid_model, where + ": unknown dtype '" + name + "'");
    }
  }

  Shape shape_field(const json& obj, const std::string& where) const {
    Shape shape;
    for (const json& d : array_field(obj, "shape", where)) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) {
        fail(ErrorCode::invalid_model, where + ": shape entries must be non-negative integers");
      }
      shape.push_back(d.get<int64_t>());
    }
    if (shape.size() > 8) fail(ErrorCode::unsupported, where + ": rank above 8");
    return shape;
  }

  void read_initializers(const json& doc, Graph& g) {
    if (!doc.contains("initializers")) return;
    const json& list = array_field(doc, "initializers", "header");
    for (size_t i = 0; i < list.size(); ++i) {
      const json& item = list[i];
      const std::string name = string_field(item, "name", "initializer #" + std::to_string(i));
      const std::string where = "initializer '" + name + "'";
      Value v;
      v.name = name;
      v.dtype = dtype_field(item, where);
      const Shape shape = shape_field(item, where);
      const json& off = field(item, "offset", where);
      const json& len = field(item, "length", where);
      if (!off.is_number_unsigned() || !len.is_number_unsigned()) {
        fail(ErrorCode::invalid_model, where + ": offset and length must be non-negative integers");
      }
      const uint64_t offset = off.get<uint64_t>(), length = len.get<uint64_t>();
      // Byte count from the shape, guarding against overflow in hostile files.
      uint64_t expected = size_of(v.dtype);
      for (int64_t d : shape) {
        if (d != 0 && expected > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d)) {
          fail(ErrorCode::invalid_model, where + ": shape " + to_string(shape) + " is too large");
        }
        expected *= static_cast<uint64_t>(d);
      }
      if (length != expected) {
        fail(ErrorCode::invalid_model, where + ": length " + std::to_string(length) +
                                           " does not match dtype " + to_string(v.dtype) +
                                           " x shape " + to_string(shape) + " (" +
                                           std::to_string(expected) + " bytes)");
      }
      if (offset % kInitializerAlignment != 0) {
        fail(ErrorCode::invalid_model,
             where + ": offset " + std::to_string(offset) + " is not 64-byte aligned");
      }
      if (offset > bin_size_ || length > bin_size_ - offset) {
        fail(ErrorCode::invalid_model, where + ": bytes [" + std::to_string(offset) + ", " +
                                           std::to_string(offset + length) +
                                           ") lie outside the weights file of " +
                                           std::to_string(bin_size_) + " bytes (truncated?)");
      }
      const char* base = static_cast<const char*>(bin_.get());
      static const int64_t kEmpty = 0;  // a valid address for zero-size tensors
      const void* at = base ? static_cast<const void*>(base + offset) : &kEmpty;
      v.data = Tensor::wrap(v.dtype, shape, bin_ ? bin_ : std::shared_ptr<const void>(), at);
      add_value(g, std::move(v), where);
    }
  }

  void add_value(Graph& g, Value v, const std::string& where) {
    if (!names_.insert(v.name).second) {
      fail(ErrorCode::invalid_model, where + ": the value name '" + v.name + "' is defined twice");
    }
    values_[v.name] = static_cast<int>(g.values.size());
    g.values.push_back(std::move(v));
  }

  int value_id(const std::string& name) const {
    auto it = values_.find(name);
    return it == values_.end() ? kNoValue : it->second;
  }

  std::vector<Dim> dims_field(const json& item, const std::string& where) const {
    std::vector<Dim> dims;
    for (const json& d : array_field(item, "shape", where)) {
      if (d.is_number_integer() && d.get<int64_t>() >= 0) {
        dims.push_back({d.get<int64_t>(), ""});
      } else if (d.is_string() && !d.get<std::string>().empty()) {
        dims.push_back({-1, d.get<std::string>()});
      } else {
        fail(ErrorCode::invalid_model,
             where + ": shape entries must be sizes or symbolic names like \"batch\"");
      }
    }
    return dims;
  }

  void read_io(const json& doc, const char* key, Graph& g, bool is_input) {
    const json& list = array_field(doc, key, "header");
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string name =
          string_field(list[i], "name", std::string(key) + " #" + std::to_string(i));
      const std::string where =
          std::string(is_input ? "graph input '" : "graph output '") + name + "'";
      const DataType dtype = dtype_field(list[i], where);
      std::vector<Dim> dims = dims_field(list[i], where);
      if (is_input) {
        Value v;
        v.name = name;
        v.dtype = dtype;
        v.shape = std::move(dims);
        add_value(g, std::move(v), where);
        g.inputs.push_back(value_id(name));
      } else {
        const int id = value_id(name);
        if (id == kNoValue) fail(ErrorCode::invalid_model, where + " is not produced by any node");
        g.values[id].dtype = dtype;
        g.values[id].shape = std::move(dims);
        g.outputs.push_back(id);
      }
    }
  }

  AttrValue attr_value(const json& v, const std::string& where) const {
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_number_float()) return v.get<double>();
    if (v.is_string()) return v.get<std::string>();
    if (v.is_array()) {
      bool ints = true, floats = true, strings = true;
      for (const json& e : v) {
        ints = ints && e.is_number_integer();
        floats = floats && e.is_number();
        strings = strings && e.is_string();
      }
      if (ints) return v.get<std::vector<int64_t>>();
      if (floats) return v.get<std::vector<double>>();
      if (strings) return v.get<std::vector<std::string>>();
    }
    fail(ErrorCode::invalid_model, where +
                                       " has an unsupported JSON type (use a number, string, "
                                       "or a list of numbers or strings)");
  }

  void read_nodes(const json& doc, Graph& g) {
    const json& list = array_field(doc, "nodes", "header");
    std::set<std::string> node_names;
    // Outputs first, so that inputs may name values produced by later nodes
    // (the graph is sorted afterwards) and dangling names can be told apart.
    for (size_t i = 0; i < list.size(); ++i) {
      const json& item = list[i];
      Node n;
      n.name = string_field(item, "name", "node #" + std::to_string(i));
      n.op = string_field(item, "op", "node '" + n.name + "'");
      const std::string where = n.where();
      if (n.name.empty() || !node_names.insert(n.name).second) {
        fail(ErrorCode::invalid_model, where + ": node names must be non-empty and unique");
      }
      for (const json& out : array_field(item, "outputs", where)) {
        if (!out.is_string() || out.get<std::string>().empty()) {
          fail(ErrorCode::invalid_model, where + ": output names must be non-empty strings");
        }
        Value v;
        v.name = out.get<std::string>();
        add_value(g, std::move(v), where);
        n.outputs.push_back(value_id(out.get<std::string>()));
      }
      if (item.contains("attributes")) {
        const json& attrs = item["attributes"];
        if (!attrs.is_object())
          fail(ErrorCode::invalid_model, where + ": 'attributes' must be an object");
        for (auto it = attrs.begin(); it != attrs.end(); ++it) {
          n.attrs[it.key()] = attr_value(it.value(), where + ": attribute '" + it.key() + "'");
        }
      }
      g.nodes.push_back(std::move(n));
    }
    for (size_t i = 0; i < list.size(); ++i) {
      Node& n = g.nodes[i];
      for (const json& in : array_field(list[i], "inputs", n.where())) {
        if (!in.is_string())
          fail(ErrorCode::invalid_model, n.where() + ": input names must be strings");
        const std::string name = in.get<std::string>();
        if (name.empty()) {
          n.inputs.push_back(kNoValue);
          continue;
        }
        const int id = value_id(name);
        if (id == kNoValue) {
          fail(ErrorCode::invalid_model, n.where() + ": input '" + name +
                                             "' is not a graph input, an initializer or the "
                                             "output of any node (dangling value name)");
        }
        n.inputs.push_back(id);
      }
    }
  }

  void check_dangling(const Graph& g) const {
    if (g.outputs.empty()) fail(ErrorCode::invalid_model, "the graph has no outputs");
  }

  // Version 2's per-channel ranges in the .bin (a JSON array of a large
  // model's ranges would take longer to parse than the rest of the model):
  // `channels` f32 values at a 64-byte aligned offset.
  std::vector<float> amax_in_bin(const json& offset, int64_t channels,
                                 const std::string& where) const {
    if (version_ < 2)
      fail(ErrorCode::invalid_model, where + ": 'amax_offset' needs format version 2");
    if (!offset.is_number_unsigned() || offset.get<uint64_t>() % kInitializerAlignment != 0) {
      fail(ErrorCode::invalid_model,
           where + ": 'amax_offset' must be a non-negative multiple of 64");
    }
    const uint64_t at = offset.get<uint64_t>();
    const uint64_t bytes = static_cast<uint64_t>(channels) * sizeof(float);
    if (at > bin_size_ || bytes > bin_size_ - at) {
      fail(ErrorCode::invalid_model, where + ": its " + std::to_string(channels) +
                                         " amax values at offset " + std::to_string(at) +
                                         " lie outside the weights file of " +
                                         std::to_string(bin_size_) + " bytes");
    }
    std::vector<float> amax(static_cast<size_t>(channels));
    if (bytes > 0) std::memcpy(amax.data(), static_cast<const char*>(bin_.get()) + at, bytes);
    return amax;
  }

  // A weight stored as s8 stands for q x amax_c / 127 only where a kernel
  // knows it: the weight input of a Conv, MatMul or Gemm, quantized along
  // the axis the weights entry names.
  void check_stored_weights(const Graph& g) const {
    std::vector<bool> stored(g.values.size());
    for (size_t id = 0; id < g.values.size(); ++id) {
      const std::optional<WeightQuant>& wq = g.values[id].weight_quant;
      stored[id] = wq && wq->stored_s8;
    }
    for (int id : g.outputs) {
      if (stored[id]) {
        fail(ErrorCode::invalid_model,
             "the graph output '" + g.values[id].name + "' is a weight stored as s8");
      }
    }
    for (const Node& n : g.nodes) {
      for (size_t k = 0; k < n.inputs.size(); ++k) {
        if (n.inputs[k] == kNoValue || !stored[n.inputs[k]]) continue;
        const Value& v = g.values[n.inputs[k]];
        std::optional<WeightSlot> slot;
        try {
          slot = int8_weight_slot(g, n);
        } catch (const Error& e) {  // a mistyped transA / transB
          fail(ErrorCode::invalid_model, e.what());
        }
        if (!slot || slot->input != k || slot->axis != v.weight_quant->axis) {
          fail(ErrorCode::invalid_model,
               n.where() + " reads '" + v.name + "', stored as s8 along axis " +
                   std::to_string(v.weight_quant->axis) + ", as input " + std::to_string(k) +
                   ": only the weight input of a Conv (axis 0), MatMul (axis 1) or Gemm (the "
                   "output-channel axis of B) may be stored as s8");
        }
      }
    }
  }

  void read_quantization(const json& q, Graph& g) {
    if (!q.is_object()) fail(ErrorCode::invalid_model, "'quantization' must be an object");
    if (q.contains("activations")) {
      const json& acts = q["activations"];
      if (!acts.is_object())
        fail(ErrorCode::invalid_model, "quantization.activations must be an object");
      for (auto it = acts.begin(); it != acts.end(); ++it) {
        const std::string where = "quantization.activations['" + it.key() + "']";
        const int id = value_id(it.key());
        if (id == kNoValue) fail(ErrorCode::invalid_model, where + ": no value of that name");
        ActivationQuant aq;
        const json& amax = field(it.value(), "amax", where);
        if (!amax.is_number()) fail(ErrorCode::invalid_model, where + ": amax must be a number");
        aq.amax = amax.get<float>();
        if (!std::isfinite(aq.amax) || aq.amax <= 0) {
          fail(ErrorCode::invalid_model,
               where + ": amax " + amax.dump() + " must be a positive finite number");
        }
        aq.dtype = dtype_field(it.value(), where);
        if (aq.dtype != DataType::s8 && aq.dtype != DataType::u8) {
          fail(ErrorCode::invalid_model, where + ": dtype must be s8 or u8");
        }
        aq.source = optional_string(it.value(), "source");
        g.values[id].quant = aq;
      }
    }
    if (q.contains("weights")) {
      const json& ws = q["weights"];
      if (!ws.is_object()) fail(ErrorCode::invalid_model, "quantization.weights must be an object");
      for (auto it = ws.begin(); it != ws.end(); ++it) {
        const std::string where = "quantization.weights['" + it.key() + "']";
        const int id = value_id(it.key());
        if (id == kNoValue || !g.values[id].is_initializer()) {
          fail(ErrorCode::invalid_model, where + ": no initializer of that name");
        }
        WeightQuant wq;
        const json& axis = field(it.value(), "axis", where);
        if (!axis.is_number_integer())
          fail(ErrorCode::invalid_model, where + ": axis must be an integer");
        const Shape& shape = g.values[id].data.shape();
        if (axis.get<int64_t>() < 0 || axis.get<int64_t>() >= static_cast<int64_t>(shape.size())) {
          fail(ErrorCode::invalid_model, where + ": axis out of range");
        }
        wq.axis = static_cast<int>(axis.get<int64_t>());
        if (it.value().contains("amax_offset")) {
          wq.amax = amax_in_bin(it.value()["amax_offset"], shape[wq.axis], where);
        } else {
          for (const json& a : array_field(it.value(), "amax", where)) {
            wq.amax.push_back(a.is_number() ? a.get<float>() : -1.f);
          }
        }
        for (float v : wq.amax) {
          if (!std::isfinite(v) || v < 0) {
            fail(ErrorCode::invalid_model, where + ": amax entries must be finite and >= 0");
          }
        }
        if (static_cast<int64_t>(wq.amax.size()) != shape[wq.axis]) {
          fail(ErrorCode::invalid_model, where + ": " + std::to_string(wq.amax.size()) +
                                             " amax values for " + std::to_string(shape[wq.axis]) +
                                             " channels");
        }
        if (it.value().contains("stored")) {
          if (version_ < 2)
            fail(ErrorCode::invalid_model, where + ": 'stored' needs format version 2");
          if (it.value()["stored"] != "s8") {
            fail(ErrorCode::invalid_model, where + ": 'stored' must be \"s8\"");
          }
          if (g.values[id].dtype != DataType::s8) {
            fail(ErrorCode::invalid_model, where + ": stored s8, but the initializer's dtype is " +
                                               to_string(g.values[id].dtype));
          }
          wq.stored_s8 = true;
          g.values[id].dtype = DataType::f32;  // what it stands for: q x amax_c / 127
        }
        g.values[id].weight_quant = wq;
      }
    }
    auto strings = [&](const char* key, std::vector<std::string>& out) {
      if (!q.contains(key)) return;
      for (const json& s : array_field(q, key, "quantization")) {
        if (!s.is_string())
          fail(ErrorCode::invalid_model, std::string("quantization.") + key + " must list strings");
        out.push_back(s.get<std::string>());
      }
    };
    strings("fp32_layers", g.quantization.fp32_layers);
    strings("fp32_ops", g.quantization.fp32_ops);
    if (q.contains("provenance")) g.quantization.provenance_json = q["provenance"].dump();
  }

  std::string file_;
  int version_ = 1;
  std::shared_ptr<const void> bin_;
  size_t bin_size_;
  std::set<std::string> names_;
  std::map<std::string, int> values_;
};

json attr_to_json(const AttrValue& v) {
  return std::visit([](const auto& x) { return json(x); }, v);
}

json dims_to_json(const std::vector<Dim>& dims) {
  json out = json::array();
  for (const Dim& d : dims) out.push_back(d.size >= 0 ? json(d.size) : json(d.symbol));
  return out;
}

}  // namespace

ModelPaths model_paths(const std::string& path) {
  std::string base = path;
  for (const char* suffix : {".octet.json", ".octet.bin"}) {
    if (ends_with(base, suffix)) base.resize(base.size() - std::strlen(suffix));
  }
  return {base + ".octet.json", base + ".octet.bin"};
}

Graph read_model(const std::string& path) {
  const ModelPaths paths = model_paths(path);
  const std::string text = read_text_file(paths.json);
  size_t bin_size = 0;
  std::shared_ptr<const void> bin = map_file(paths.bin, bin_size);
  return Reader(paths.json, std::move(bin), bin_size).read(text);
}

Graph parse_model(const std::string& json_text, const void* bin, size_t bin_size,
                  const std::string& name_for_errors) {
  std::shared_ptr<const void> copy;
  if (bin_size > 0) {
    Tensor owned(DataType::u8, {static_cast<int64_t>(bin_size)});
    std::memcpy(owned.raw(), bin, bin_size);
    copy = std::shared_ptr<const void>(std::make_shared<Tensor>(owned), owned.raw());
  }
  return Reader(name_for_errors, std::move(copy), bin_size).read(json_text);
}

void write_model(const Graph& g, const std::string& path) {
  const ModelPaths paths = model_paths(path);
  json doc;
  doc["format"] = kModelFormatName;
  const bool stored = std::any_of(g.values.begin(), g.values.end(), [](const Value& v) {
    return v.weight_quant && v.weight_quant->stored_s8;
  });
  doc["version"] = stored ? 2 : 1;  // the oldest that describes the file
  doc["producer"] = g.producer.empty() ? "octet " + version() : g.producer;
  doc["metadata"] = json::parse(g.metadata_json);

  std::string bin;
  json inits = json::array();
  for (const Value& v : g.values) {
    if (!v.is_initializer()) continue;
    bin.resize(
        (bin.size() + kInitializerAlignment - 1) / kInitializerAlignment * kInitializerAlignment,
        '\0');
    inits.push_back({{"name", v.name},
                     {"dtype", to_string(v.data.dtype())},
                     {"shape", v.data.shape()},
                     {"offset", bin.size()},
                     {"length", v.data.nbytes()}});
    bin.append(static_cast<const char*>(v.data.raw()), v.data.nbytes());
  }
  doc["initializers"] = inits;

  auto io = [&](const std::vector<int>& ids) {
    json list = json::array();
    for (int id : ids) {
      const Value& v = g.values[id];
      list.push_back({{"name", v.name},
                      {"dtype", to_string(v.dtype)},
                      {"shape", v.shape ? dims_to_json(*v.shape) : json::array()}});
    }
    return list;
  };
  doc["inputs"] = io(g.inputs);
  doc["outputs"] = io(g.outputs);

  json nodes = json::array();
  for (const Node& n : g.nodes) {
    json ins = json::array(), outs = json::array(), attrs = json::object();
    for (int id : n.inputs) ins.push_back(id == kNoValue ? "" : g.values[id].name);
    for (int id : n.outputs) outs.push_back(g.values[id].name);
    for (const auto& [key, value] : n.attrs) attrs[key] = attr_to_json(value);
    nodes.push_back({{"name", n.name},
                     {"op", n.op},
                     {"inputs", ins},
                     {"outputs", outs},
                     {"attributes", attrs}});
  }
  doc["nodes"] = nodes;

  json acts = json::object(), weights = json::object();
  for (const Value& v : g.values) {
    if (v.quant) {
      acts[v.name] = {{"amax", v.quant->amax},
                      {"dtype", to_string(v.quant->dtype)},
                      {"scale", v.quant->scale()},
                      {"source", v.quant->source}};
    }
    if (!v.weight_quant) continue;
    const WeightQuant& wq = *v.weight_quant;
    if (!wq.stored_s8) {
      weights[v.name] = {{"axis", wq.axis}, {"amax", wq.amax}};
      continue;
    }
    // Version 2: the ranges after the initializers in the .bin.
    bin.resize(
        (bin.size() + kInitializerAlignment - 1) / kInitializerAlignment * kInitializerAlignment,
        '\0');
    weights[v.name] = {{"axis", wq.axis}, {"amax_offset", bin.size()}, {"stored", "s8"}};
    bin.append(reinterpret_cast<const char*>(wq.amax.data()), wq.amax.size() * sizeof(float));
  }
  doc["weights_bytes"] = bin.size();
  doc["quantization"] = {{"activations", acts},
                         {"weights", weights},
                         {"fp32_layers", g.quantization.fp32_layers},
                         {"fp32_ops", g.quantization.fp32_ops},
                         {"provenance", json::parse(g.quantization.provenance_json)}};

  // The weights first: a reader that finds the new JSON finds its weights.
  write_file_atomically(paths.bin, bin);
  write_file_atomically(paths.json, doc.dump(1) + "\n");
}

}  // namespace octet
