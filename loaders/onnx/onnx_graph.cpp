// GraphProto -> Graph. Two phases: first every definition (initializers, graph
// inputs, node outputs) gets a value id, then node inputs and graph outputs are
// resolved, so that nodes may appear in any order in the file (the importer
// sorts them afterwards). Names are looked up in hash maps, never with
// Graph::find_value, which is linear: fuzzed models can have many values.
#include <unordered_map>
#include <unordered_set>

#include "loaders/onnx/onnx_internal.hpp"

namespace octet {

namespace {

// Same bound as for initializers (onnx_tensor.cpp): far beyond real models.
constexpr int64_t kMaxDeclaredElements = int64_t{1} << 40;

std::vector<Dim> fixed_dims(const Shape& shape) {
  std::vector<Dim> dims;
  for (int64_t d : shape) dims.push_back(Dim{d, ""});
  return dims;
}

// Unique names from a base: base, base_1, base_2, ..., skipping names in
// use. Remembers the last suffix per base so that n clashes cost O(n), not
// O(n^2) (a fuzzed model may name every node alike).
class UniqueNames {
 public:
  void reserve(const std::string& name) { used_.insert(name); }
  std::string make(const std::string& base) {
    if (used_.insert(base).second) return base;
    size_t& suffix = next_suffix_[base];
    for (;;) {
      std::string candidate = base + "_" + std::to_string(++suffix);
      if (used_.insert(candidate).second) return candidate;
    }
  }

 private:
  std::unordered_set<std::string> used_;
  std::unordered_map<std::string, size_t> next_suffix_;
};

class GraphBuilder {
 public:
  GraphBuilder(const onnx::GraphProto& proto, const std::string& base_dir)
      : proto_(proto), base_dir_(base_dir) {}

  ConvertedGraph build() {
    collect_reserved_names();
    add_initializers();
    add_inputs();
    add_nodes();
    resolve_node_inputs();
    add_outputs();
    apply_value_info();
    if (constants_ > 0) {
      log_.push_back("turned " + std::to_string(constants_) + " Constant nodes into initializers");
    }
    return {std::move(graph_), std::move(log_)};
  }

 private:
  // Names that generated node names, value names and dim symbols must avoid.
  void collect_reserved_names() {
    for (const onnx::NodeProto& n : proto_.node()) {
      if (!n.name().empty()) node_names_.reserve(n.name());
      for (const std::string& in : n.input()) value_names_.reserve(in);
      for (const std::string& out : n.output()) value_names_.reserve(out);
    }
    for (const auto* infos : {&proto_.input(), &proto_.output(), &proto_.value_info()}) {
      for (const onnx::ValueInfoProto& info : *infos) {
        value_names_.reserve(info.name());
        if (!info.type().has_tensor_type()) continue;
        for (const auto& dim : info.type().tensor_type().shape().dim()) {
          if (dim.has_dim_param()) symbols_.reserve(dim.dim_param());
        }
      }
    }
    for (const onnx::TensorProto& t : proto_.initializer()) value_names_.reserve(t.name());
  }

  // Defines a new value; `who` describes the definition for duplicate errors.
  int define(Value value, const std::string& who) {
    if (value.name.empty()) throw Error(ErrorCode::invalid_model, who + " has an empty name");
    auto [it, inserted] = ids_.emplace(value.name, static_cast<int>(graph_.values.size()));
    if (!inserted) {
      throw Error(ErrorCode::invalid_model, "value '" + value.name + "' is defined twice: by " +
                                                definer_[it->second] + " and by " + who);
    }
    definer_.push_back(who);
    graph_.values.push_back(std::move(value));
    return it->second;
  }

  int lookup(const std::string& name) const {
    auto it = ids_.find(name);
    return it == ids_.end() ? kNoValue : it->second;
  }

  void add_initializers() {
    if (proto_.sparse_initializer_size() > 0) {
      throw Error(ErrorCode::unsupported, "sparse initializers are not supported");
    }
    for (const onnx::TensorProto& t : proto_.initializer()) {
      const std::string who = "initializer '" + t.name() + "'";
      Value v;
      v.name = t.name();
      v.data = tensor_from_onnx(t, base_dir_, who);
      v.dtype = v.data.dtype();
      v.shape = fixed_dims(v.data.shape());
      define(std::move(v), who);
    }
  }

  std::vector<Dim> dims_from_onnx(const onnx::TensorShapeProto& shape, const std::string& who) {
    std::vector<Dim> dims;
    int64_t fixed_elements = 1;  // bounded like initializers so that the runtime cannot overflow
    for (const auto& dim : shape.dim()) {
      if (dim.has_dim_value()) {
        const int64_t size = dim.dim_value();
        if (size < 0) throw Error(ErrorCode::invalid_model, who + " has a negative dimension");
        if (size > 0 && fixed_elements > kMaxDeclaredElements / size) {
          throw Error(ErrorCode::invalid_model, who + " declares too many elements");
        }
        if (size > 0) fixed_elements *= size;
        dims.push_back(Dim{size, ""});
      } else if (dim.has_dim_param() && !dim.dim_param().empty()) {
        dims.push_back(Dim{-1, dim.dim_param()});
      } else {
        // An unnamed dynamic dim: a fresh symbol, equal to no other dim.
        dims.push_back(Dim{-1, symbols_.make("?")});
      }
    }
    return dims;
  }

  // Applies a declared type to `value`. Graph inputs and outputs must have
  // types octet supports; other declarations are hints the runtime re-infers.
  void apply_type(const onnx::ValueInfoProto& info, Value& value, const std::string& who,
                  bool strict) {
    if (!info.type().has_tensor_type()) {
      if (strict) throw Error(ErrorCode::unsupported, who + " is not a tensor");
      return;
    }
    const auto& tt = info.type().tensor_type();
    const std::optional<DataType> dtype = dtype_from_onnx(tt.elem_type());
    if (dtype) {
      value.dtype = *dtype;
    } else if (strict && tt.elem_type() != onnx::TensorProto::UNDEFINED) {
      throw Error(ErrorCode::unsupported, who + " has data type " +
                                              onnx_dtype_name(tt.elem_type()) +
                                              ", which octet does not support");
    }
    if (tt.has_shape()) value.shape = dims_from_onnx(tt.shape(), who);
  }

  void add_inputs() {
    std::unordered_set<std::string> seen;
    for (const onnx::ValueInfoProto& info : proto_.input()) {
      const std::string who = "graph input '" + info.name() + "'";
      if (!seen.insert(info.name()).second) {
        throw Error(ErrorCode::invalid_model, who + " is listed twice");
      }
      // Older exporters list initializers as inputs too: they are weights.
      const int existing = lookup(info.name());
      if (existing != kNoValue && graph_.values[existing].is_initializer()) continue;
      Value v;
      v.name = info.name();
      apply_type(info, v, who, /*strict=*/true);
      graph_.inputs.push_back(define(std::move(v), who));
    }
  }

  // The first node with an explicit name keeps it; duplicates and generated
  // names (<OpType>_<index>) get suffixes avoiding every explicit name.
  std::string node_name(const onnx::NodeProto& proto, int index) {
    if (!proto.name().empty() && kept_node_names_.insert(proto.name()).second) return proto.name();
    const std::string base =
        proto.name().empty() ? proto.op_type() + "_" + std::to_string(index) : proto.name();
    return node_names_.make(base);
  }

  void check_node(const onnx::NodeProto& proto, const Node& node) {
    if (proto.op_type().empty()) {
      throw Error(ErrorCode::invalid_model, node.where() + " has no op type");
    }
    if (!proto.domain().empty() && proto.domain() != "ai.onnx") {
      throw Error(ErrorCode::unsupported, node.where() + " is in domain '" + proto.domain() +
                                              "'; octet supports only the default ONNX domain");
    }
  }

  // Outputs: omitted trailing ones are dropped; an omitted one before a
  // present one gets a generated name, as every octet output is a value.
  std::vector<int> define_outputs(const onnx::NodeProto& proto, const Node& node) {
    int last = proto.output_size();
    while (last > 0 && proto.output(last - 1).empty()) --last;
    std::vector<int> ids;
    for (int i = 0; i < last; ++i) {
      Value v;
      v.name = proto.output(i);
      if (v.name.empty())
        v.name = value_names_.make(node.name + "_unused_output_" + std::to_string(i));
      ids.push_back(define(std::move(v), node.where()));
    }
    return ids;
  }

  void add_constant(const onnx::NodeProto& proto, const Node& node) {
    if (proto.output_size() != 1 || proto.output(0).empty()) {
      throw Error(ErrorCode::invalid_model, node.where() + " must have exactly one output");
    }
    Value v;
    v.name = proto.output(0);
    v.data = constant_node_value(proto, base_dir_, node);
    v.dtype = v.data.dtype();
    v.shape = fixed_dims(v.data.shape());
    define(std::move(v), node.where());
    ++constants_;
  }

  void add_nodes() {
    for (int i = 0; i < proto_.node_size(); ++i) {
      const onnx::NodeProto& proto = proto_.node(i);
      Node node;
      node.op = proto.op_type();
      node.name = node_name(proto, i);
      check_node(proto, node);
      if (node.op == "Constant") {
        add_constant(proto, node);
        continue;
      }
      convert_attributes(proto, base_dir_, node);
      node.outputs = define_outputs(proto, node);
      if (node.outputs.empty()) {
        throw Error(ErrorCode::invalid_model, node.where() + " has no outputs");
      }
      graph_.nodes.push_back(std::move(node));
      node_proto_.push_back(i);
    }
  }

  void resolve_node_inputs() {
    for (size_t n = 0; n < graph_.nodes.size(); ++n) {
      Node& node = graph_.nodes[n];
      for (const std::string& name : proto_.node(node_proto_[n]).input()) {
        if (name.empty()) {
          node.inputs.push_back(kNoValue);
          continue;
        }
        const int id = lookup(name);
        if (id == kNoValue) {
          throw Error(ErrorCode::invalid_model,
                      node.where() + ": input '" + name +
                          "' is not a graph input, an initializer or the output of any node");
        }
        node.inputs.push_back(id);
      }
    }
  }

  void add_outputs() {
    std::unordered_set<std::string> seen;
    for (const onnx::ValueInfoProto& info : proto_.output()) {
      const std::string who = "graph output '" + info.name() + "'";
      if (!seen.insert(info.name()).second) {
        throw Error(ErrorCode::invalid_model, who + " is listed twice");
      }
      const int id = lookup(info.name());
      if (id == kNoValue) {
        throw Error(ErrorCode::invalid_model,
                    who + " is not a graph input, an initializer or the output of any node");
      }
      Value& v = graph_.values[id];
      // An output without any type is left to the runtime's inference.
      if (!v.is_initializer() && info.has_type()) apply_type(info, v, who, /*strict=*/true);
      graph_.outputs.push_back(id);
    }
    if (graph_.outputs.empty()) throw Error(ErrorCode::invalid_model, "the graph has no outputs");
  }

  // value_info describes intermediates; graph inputs, outputs and weights
  // are already typed, and entries naming unknown values are harmless.
  void apply_value_info() {
    std::vector<bool> typed(graph_.values.size(), false);
    for (int id : graph_.inputs) typed[id] = true;
    for (int id : graph_.outputs) typed[id] = true;
    for (const onnx::ValueInfoProto& info : proto_.value_info()) {
      const int id = lookup(info.name());
      if (id == kNoValue || typed[id] || graph_.values[id].is_initializer()) continue;
      apply_type(info, graph_.values[id], "value_info '" + info.name() + "'", /*strict=*/false);
    }
  }

  const onnx::GraphProto& proto_;
  const std::string& base_dir_;
  Graph graph_;
  std::vector<std::string> log_;
  int constants_ = 0;  // Constant nodes turned into initializers
  std::unordered_map<std::string, int> ids_;
  std::vector<std::string> definer_;  // per value id: who defined it
  std::vector<int> node_proto_;       // per node: its index in proto_.node()
  UniqueNames node_names_, value_names_, symbols_;
  std::unordered_set<std::string> kept_node_names_;
};

}  // namespace

ConvertedGraph graph_from_onnx(const onnx::GraphProto& proto, const std::string& base_dir) {
  return GraphBuilder(proto, base_dir).build();
}

}  // namespace octet
