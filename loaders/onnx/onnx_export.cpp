// The QDQ ONNX exporter (onnx_export.hpp): the plan of onnx_export_plan.cpp
// written as a ModelProto, un-fusing octet's fused forms on the way.
#include "loaders/onnx/onnx_export.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

#include "loaders/onnx/onnx_export_plan.hpp"
#include "loaders/onnx/onnx_internal.hpp"
#include "runtime/ir/file_io.hpp"

namespace octet {

namespace {

using TP = onnx::TensorProto;
using qdq_export::Plan;

int onnx_type(DataType t) {
  switch (t) {
    case DataType::f32:
      return TP::FLOAT;
    case DataType::s8:
      return TP::INT8;
    case DataType::u8:
      return TP::UINT8;
    case DataType::s32:
      return TP::INT32;
    case DataType::s64:
      return TP::INT64;
    case DataType::boolean:
      return TP::BOOL;
  }
  return TP::UNDEFINED;
}

void fill_tensor(TP* t, const std::string& name, DataType dtype, const Shape& shape,
                 const void* data, size_t bytes) {
  t->set_name(name);
  t->set_data_type(onnx_type(dtype));
  for (int64_t d : shape) t->add_dims(d);
  t->set_raw_data(data, bytes);  // little-endian, as ONNX stores raw data
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// The fused activation of an ONNX Conv, MatMul, Gemm or BatchNormalization.
struct Activation {
  std::string name = "none";
  std::vector<double> params;
};

Activation activation_of(const Node& n) {
  Activation a;
  a.name = n.attr_string("activation", "none");
  if (n.has_attr("activation_params")) a.params = n.attr_floats("activation_params");
  return a;
}

// Attributes octet adds to ONNX ops (onnx_import.hpp), not written back as such.
bool octet_attribute(const Node& n, const std::string& key) {
  if (key == "activation" || key == "activation_params") return true;
  if (n.op == "MatMul" && key == "alpha") return true;  // written as a Mul
  if (n.op == "Softmax" && key == "coerce_2d") return true;
  if (n.op == "Gelu" && key == "approximate") return true;
  return n.op == "ConstantOfShape" && (key == "value" || key == "dtype");
}

class Writer {
 public:
  Writer(const Graph& g, const Plan& plan, QdqExport& out) : g_(g), plan_(plan), out_(out) {
    for (const Value& v : g_.values) used_.insert(v.name);
    for (const Node& n : g_.nodes) used_.insert(n.name);
  }

  std::string run() {
    out_.opset = 13;
    for (const Node& n : g_.nodes) {
      if (n.op == "LayerNormalization") out_.opset = 17;
    }
    model_.set_ir_version(8);
    model_.set_producer_name("octet");
    model_.set_producer_version(g_.producer);
    onnx::OperatorSetIdProto* op = model_.add_opset_import();
    op->set_domain("");
    op->set_version(out_.opset);
    gp_ = model_.mutable_graph();
    gp_->set_name("octet-qdq");
    name_.resize(g_.values.size());
    dq_.resize(g_.values.size());
    for (size_t v = 0; v < g_.values.size(); ++v) name_[v] = g_.values[v].name;

    write_initializers();
    for (int in : g_.inputs) {
      value_info(gp_->add_input(), g_.values[static_cast<size_t>(in)], name_[in]);
      add_pair(in);
    }
    for (size_t i = 0; i < g_.nodes.size(); ++i) write_node(i);
    for (int o : g_.outputs) {
      const size_t v = static_cast<size_t>(o);
      const bool dq = plan_.values[v].all_readers;
      value_info(gp_->add_output(), g_.values[v], dq ? dq_[v] : name_[v]);
    }
    std::string bytes;
    if (!model_.SerializeToString(&bytes)) {
      throw Error(ErrorCode::internal, "cannot serialize the ONNX model (over 2 GB?)");
    }
    return bytes;
  }

 private:
  std::string fresh(const std::string& base) {
    std::string name = base;
    for (int i = 2; used_.count(name); ++i) name = base + "_" + std::to_string(i);
    used_.insert(name);
    return name;
  }

  void value_info(onnx::ValueInfoProto* info, const Value& v, const std::string& name) {
    info->set_name(name);
    auto* tt = info->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx_type(v.dtype));
    if (!v.shape) return;
    auto* shape = tt->mutable_shape();
    for (const Dim& d : *v.shape) {
      auto* dim = shape->add_dim();
      if (d.size >= 0) {
        dim->set_dim_value(d.size);
      } else {
        dim->set_dim_param(d.symbol);
      }
    }
  }

  std::string scalar(const std::string& base, DataType dtype, double value) {
    const std::string name = fresh(base);
    float f = static_cast<float>(value);
    int8_t s8 = 0;
    uint8_t u8 = 0;
    const void* data = dtype == DataType::f32  ? static_cast<const void*>(&f)
                       : dtype == DataType::s8 ? static_cast<const void*>(&s8)
                                               : static_cast<const void*>(&u8);
    fill_tensor(gp_->add_initializer(), name, dtype, {}, data, size_of(dtype));
    return name;
  }

  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs, const std::string& name) {
    onnx::NodeProto* p = gp_->add_node();
    p->set_op_type(op);
    p->set_name(name);
    for (const std::string& s : inputs) p->add_input(s);
    for (const std::string& s : outputs) p->add_output(s);
    return p;
  }

  // ------------------------------------------------------------ quantization

  // v -> QuantizeLinear -> DequantizeLinear -> dq_[v], when the plan says so.
  void add_pair(int id) {
    const size_t v = static_cast<size_t>(id);
    const qdq_export::ValuePlan& p = plan_.values[v];
    if (!p.pair) return;
    const std::string& base = g_.values[v].name;
    const std::string scale = scalar(base + "_scale", DataType::f32, p.scale);
    const std::string zp = scalar(base + "_zero_point", p.dtype, 0);
    const std::string q = fresh(base + "_quantized");
    node("QuantizeLinear", {name_[v], scale, zp}, {q}, fresh(base + "_QuantizeLinear"));
    if (dq_[v].empty()) dq_[v] = fresh(base + "_dequantized");
    node("DequantizeLinear", {q, scale, zp}, {dq_[v]}, fresh(base + "_DequantizeLinear"));
    ++out_.quantized_values;
    out_.log.push_back("'" + base + "': " + (p.dtype == DataType::u8 ? "uint8" : "int8") +
                       ", scale " + fmt(p.scale) +
                       (p.all_readers ? "" : " (for its int8 readers only)"));
  }

  // Constants: f32 as they are for fp32 readers; int8 with per-channel scales
  // behind a DequantizeLinear for the int8 layers' weights.
  void write_initializers() {
    std::vector<bool> plain(g_.values.size(), false);
    std::map<size_t, qdq_export::WeightUse> weight_use;
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      const Node& n = g_.nodes[i];
      for (size_t k = 0; k < n.inputs.size(); ++k) {
        const int id = n.inputs[k];
        if (id == kNoValue || !g_.values[static_cast<size_t>(id)].is_initializer()) continue;
        if (plan_.weights[i].input != static_cast<int>(k)) {
          plain[static_cast<size_t>(id)] = true;
          continue;
        }
        const qdq_export::WeightUse& use = plan_.weights[i];
        auto [it, first] = weight_use.emplace(static_cast<size_t>(id), use);
        if (!first && (it->second.axis != use.axis || it->second.levels != use.levels)) {
          n.fail(ErrorCode::unsupported, "reads weight '" + g_.values[id].name +
                                             "' with another output-channel axis or other levels "
                                             "than another int8 layer reading it");
        }
      }
    }
    for (int o : g_.outputs) plain[static_cast<size_t>(o)] = true;
    for (size_t v = 0; v < g_.values.size(); ++v) {
      const Value& val = g_.values[v];
      if (!val.is_initializer() || !plain[v]) continue;
      if (val.data.dtype() != val.dtype) {  // a weight stored as s8, read in fp32 here
        const Tensor w = stored_weight_values(val.data, *val.weight_quant);
        fill_tensor(gp_->add_initializer(), val.name, DataType::f32, w.shape(), w.raw(),
                    w.nbytes());
        continue;
      }
      fill_tensor(gp_->add_initializer(), val.name, val.dtype, val.data.shape(), val.data.raw(),
                  val.data.nbytes());
    }
    for (const auto& [v, use] : weight_use) {
      dq_[v] = plain[v] ? fresh(g_.values[v].name + "_dequantized") : g_.values[v].name;
      write_int8_weight(v, use.axis, static_cast<float>(use.levels));
    }
  }

  // The integers octet's kernels multiply with (ops/quantize.cpp,
  // weight_integers): q8 = round_half_even(w / (amax_c / 127)), or the q8 a
  // model stored; for fewer levels round_half_even(q8 x levels / 127), with
  // s_c = amax_c / levels (1 for an all-zero channel).
  void write_int8_weight(size_t v, int axis, float levels) {
    const Value& w = g_.values[v];
    const Shape& shape = w.data.shape();
    const int64_t channels = shape[static_cast<size_t>(axis)];
    int64_t inner = 1;
    for (size_t d = static_cast<size_t>(axis) + 1; d < shape.size(); ++d) inner *= shape[d];
    const bool stored = w.weight_quant && w.weight_quant->stored_s8;
    std::vector<float> amax(static_cast<size_t>(channels), 0.f);
    std::string source = "max|w|";
    if (w.weight_quant && w.weight_quant->axis == axis &&
        static_cast<int64_t>(w.weight_quant->amax.size()) == channels) {
      amax = w.weight_quant->amax;
      source = stored ? "the model's int8 weights" : "the model's weight ranges";
    } else if (stored) {
      throw Error(ErrorCode::unsupported, "weight '" + w.name + "' is stored as s8 along axis " +
                                              std::to_string(w.weight_quant->axis) +
                                              ", and read along axis " + std::to_string(axis));
    } else {
      const float* src = w.data.data<float>();
      for (int64_t i = 0; i < w.data.numel(); ++i) {
        float& a = amax[static_cast<size_t>((i / inner) % channels)];
        a = std::max(a, std::fabs(src[i]));
      }
    }
    auto channel_scale = [&](float l) {
      std::vector<float> scale(amax.size());
      for (size_t c = 0; c < amax.size(); ++c) scale[c] = amax[c] > 0 ? amax[c] / l : 1.f;
      return scale;
    };
    std::vector<int8_t> q(static_cast<size_t>(w.data.numel()));
    if (stored) {
      std::copy_n(w.data.data<int8_t>(), q.size(), q.begin());
    } else {
      const float* src = w.data.data<float>();
      const std::vector<float> scale8 = channel_scale(127.f);
      for (size_t i = 0; i < q.size(); ++i) {
        const float x =
            src[i] / scale8[static_cast<size_t>((static_cast<int64_t>(i) / inner) % channels)];
        if (!std::isfinite(x)) {
          throw Error(ErrorCode::invalid_model, "weight '" + w.name +
                                                    "' holds a NaN or infinite "
                                                    "value at index " +
                                                    std::to_string(i));
        }
        q[i] = static_cast<int8_t>(std::clamp(std::nearbyint(x), -127.f, 127.f));
      }
    }
    if (levels < 127.f) {
      for (int8_t& x : q)
        x = static_cast<int8_t>(std::nearbyint(static_cast<float>(x) * levels / 127.f));
    }
    const std::vector<float> scale = channel_scale(levels);
    const std::string qname = fresh(w.name + "_quantized");
    fill_tensor(gp_->add_initializer(), qname, DataType::s8, shape, q.data(), q.size());
    const std::string sname = fresh(w.name + "_scale");
    fill_tensor(gp_->add_initializer(), sname, DataType::f32, {channels}, scale.data(),
                scale.size() * sizeof(float));
    const std::vector<int8_t> zeros(static_cast<size_t>(channels), 0);
    const std::string zname = fresh(w.name + "_zero_point");
    fill_tensor(gp_->add_initializer(), zname, DataType::s8, {channels}, zeros.data(),
                zeros.size());
    onnx::NodeProto* dq = node("DequantizeLinear", {qname, sname, zname}, {dq_[v]},
                               fresh(w.name + "_DequantizeLinear"));
    auto* a = dq->add_attribute();
    a->set_name("axis");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(axis);
    ++out_.quantized_weights;
    out_.log.push_back("weight '" + w.name + "': int8 on " + fmt(levels) + " levels, " +
                       std::to_string(channels) + " scales along axis " + std::to_string(axis) +
                       " from " + source);
  }

  // ------------------------------------------------------------ nodes

  static void copy_attribute(onnx::NodeProto* p, const std::string& key, const AttrValue& value) {
    auto* a = p->add_attribute();
    a->set_name(key);
    using AP = onnx::AttributeProto;
    if (auto* i = std::get_if<int64_t>(&value)) {
      a->set_type(AP::INT);
      a->set_i(*i);
    } else if (auto* f = std::get_if<double>(&value)) {
      a->set_type(AP::FLOAT);
      a->set_f(static_cast<float>(*f));
    } else if (auto* s = std::get_if<std::string>(&value)) {
      a->set_type(AP::STRING);
      a->set_s(*s);
    } else if (auto* is = std::get_if<std::vector<int64_t>>(&value)) {
      a->set_type(AP::INTS);
      for (int64_t x : *is) a->add_ints(x);
    } else if (auto* fs = std::get_if<std::vector<double>>(&value)) {
      a->set_type(AP::FLOATS);
      for (double x : *fs) a->add_floats(static_cast<float>(x));
    } else if (auto* ss = std::get_if<std::vector<std::string>>(&value)) {
      a->set_type(AP::STRINGS);
      for (const std::string& x : *ss) a->add_strings(x);
    }
  }

  void write_node(size_t i) {
    const Node& n = g_.nodes[i];
    std::vector<std::string> in;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const int id = n.inputs[k];
      if (id == kNoValue) {
        in.emplace_back();
      } else if (plan_.weights[i].input == static_cast<int>(k) || plan_.reads_dq[i][k]) {
        in.push_back(dq_[static_cast<size_t>(id)]);
      } else {
        in.push_back(name_[static_cast<size_t>(id)]);
      }
    }
    while (!in.empty() && in.back().empty()) in.pop_back();
    std::vector<std::string> out;
    for (int o : n.outputs) {
      const size_t v = static_cast<size_t>(o);
      const bool is_output = std::find(g_.outputs.begin(), g_.outputs.end(), o) != g_.outputs.end();
      if (plan_.values[v].all_readers && is_output) {
        // The graph output is the dequantized value, as octet outputs it.
        dq_[v] = name_[v];
        name_[v] = fresh(name_[v] + "_unquantized");
      }
      out.push_back(name_[v]);
    }
    write_unfused(n, in, out);
    for (int o : n.outputs) add_pair(o);
  }

  // `n` as standard ONNX ops reading `in` and writing `out`.
  void write_unfused(const Node& n, std::vector<std::string> in,
                     const std::vector<std::string>& out) {
    if (n.op == "Gelu") {
      if (n.attr_string("approximate", "none") != "none") {
        n.fail(ErrorCode::unsupported, "the tanh Gelu has no opset-13 form in the export");
      }
      write_activation(n, {"gelu", {}}, in.at(0), out.at(0));
      return;
    }
    if (n.op == "Softmax" && n.attr_int("coerce_2d", 0) != 0) {
      n.fail(ErrorCode::unsupported,
             "a Softmax of opset < 13 (coerce_2d = 1) has no single opset-13 Softmax form; the "
             "export does not write it");
    }
    const bool fusable =
        n.op == "Conv" || n.op == "MatMul" || n.op == "Gemm" || n.op == "BatchNormalization";
    const Activation act = fusable ? activation_of(n) : Activation{};
    // Added after the op, in order: Conv's residual (input 3); MatMul's bias
    // (input 2) and residual (input 3).
    std::vector<std::string> adds;
    const size_t own = n.op == "Conv" ? 3 : n.op == "MatMul" ? 2 : in.size();
    for (size_t i = own; i < in.size(); ++i) {
      if (!in[i].empty()) adds.push_back(in[i]);
    }
    in.resize(std::min(own, in.size()));
    const double alpha = n.op == "MatMul" ? n.attr_float("alpha", 1.0) : 1.0;
    const bool tail = act.name != "none" || !adds.empty() || alpha != 1.0;
    std::string dst = tail ? fresh(out.at(0) + "_" + n.op) : out.at(0);
    std::vector<std::string> outs = out;
    outs[0] = dst;
    onnx::NodeProto* p = node(n.op, in, outs, n.name);
    for (const auto& [key, value] : n.attrs) {
      if (!octet_attribute(n, key)) copy_attribute(p, key, value);
    }
    if (n.op == "ConstantOfShape") write_constant_value(n, p);
    if (alpha != 1.0) {
      const bool last = adds.empty() && act.name == "none";
      const std::string scaled = last ? out.at(0) : fresh(out.at(0) + "_Mul");
      node("Mul", {dst, scalar(n.name + "_alpha", DataType::f32, alpha)}, {scaled},
           fresh(n.name + "_Mul"));
      out_.log.push_back("un-fused " + n.where() + ": " + n.op + " then Mul");
      dst = scaled;
    }
    for (size_t i = 0; i < adds.size(); ++i) {
      const bool last = i + 1 == adds.size() && act.name == "none";
      const std::string sum = last ? out.at(0) : fresh(out.at(0) + "_Add");
      node("Add", {dst, adds[i]}, {sum}, fresh(n.name + "_Add"));
      out_.log.push_back("un-fused " + n.where() + ": " + n.op + " then Add");
      dst = sum;
    }
    if (act.name != "none") {
      write_activation(n, act, dst, out.at(0));
      out_.log.push_back("un-fused " + n.where() + ": " + n.op + " then " + act.name);
    }
  }

  void write_constant_value(const Node& n, onnx::NodeProto* p) {
    const std::string dtype = n.attr_string("dtype", "f32");
    const std::map<std::string, DataType> types = {
        {"f32", DataType::f32}, {"s64", DataType::s64}, {"s32", DataType::s32},
        {"s8", DataType::s8},   {"u8", DataType::u8},   {"bool", DataType::boolean}};
    auto it = types.find(dtype);
    if (it == types.end()) n.fail(ErrorCode::unsupported, "dtype '" + dtype + "' has no ONNX type");
    Tensor t(it->second, {1});
    const double value = n.attr_float("value", 0.0);
    switch (it->second) {
      case DataType::f32:
        t.data<float>()[0] = static_cast<float>(value);
        break;
      case DataType::s64:
        t.data<int64_t>()[0] = static_cast<int64_t>(value);
        break;
      case DataType::s32:
        t.data<int32_t>()[0] = static_cast<int32_t>(value);
        break;
      case DataType::s8:
        t.data<int8_t>()[0] = static_cast<int8_t>(value);
        break;
      default:
        static_cast<uint8_t*>(t.raw())[0] = static_cast<uint8_t>(value);
    }
    auto* a = p->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    fill_tensor(a->mutable_t(), "value", t.dtype(), t.shape(), t.raw(), t.nbytes());
  }

  void write_activation(const Node& n, const Activation& act, const std::string& x,
                        const std::string& y) {
    const std::string base = n.name + "_" + act.name;
    if (act.name == "relu") {
      node("Relu", {x}, {y}, fresh(base));
    } else if (act.name == "sigmoid") {
      node("Sigmoid", {x}, {y}, fresh(base));
    } else if (act.name == "clip" && act.params.size() == 2) {
      node("Clip",
           {x, scalar(base + "_min", DataType::f32, act.params[0]),
            scalar(base + "_max", DataType::f32, act.params[1])},
           {y}, fresh(base));
    } else if ((act.name == "hardsigmoid" && act.params.size() == 2) || act.name == "hardswish") {
      const bool swish = act.name == "hardswish";
      const std::string h = swish ? fresh(y + "_HardSigmoid") : y;
      onnx::NodeProto* p = node("HardSigmoid", {x}, {h}, fresh(base));
      copy_attribute(p, "alpha", swish ? 1.0 / 6 : act.params[0]);
      copy_attribute(p, "beta", swish ? 0.5 : act.params[1]);
      if (swish) node("Mul", {x, h}, {y}, fresh(base + "_Mul"));
    } else if (act.name == "swish") {
      const std::string s = fresh(y + "_Sigmoid");
      node("Sigmoid", {x}, {s}, fresh(base));
      node("Mul", {x, s}, {y}, fresh(base + "_Mul"));
    } else if (act.name == "gelu") {
      // 0.5 * x * (1 + erf(x / sqrt(2))), as torch exports it.
      const std::string d = fresh(y + "_Div"), e = fresh(y + "_Erf"), a = fresh(y + "_Add"),
                        m = fresh(y + "_Mul");
      node("Div", {x, scalar(base + "_sqrt2", DataType::f32, std::sqrt(2.0))}, {d},
           fresh(base + "_Div"));
      node("Erf", {d}, {e}, fresh(base + "_Erf"));
      node("Add", {e, scalar(base + "_one", DataType::f32, 1.0)}, {a}, fresh(base + "_Add"));
      node("Mul", {x, a}, {m}, fresh(base + "_Mul"));
      node("Mul", {m, scalar(base + "_half", DataType::f32, 0.5)}, {y}, fresh(base + "_Mul"));
    } else {
      n.fail(ErrorCode::unsupported, "activation '" + act.name + "' with " +
                                         std::to_string(act.params.size()) +
                                         " parameters has no ONNX form in the export");
    }
  }

  const Graph& g_;
  const Plan& plan_;
  QdqExport& out_;
  onnx::ModelProto model_;
  onnx::GraphProto* gp_ = nullptr;
  std::set<std::string> used_;
  std::vector<std::string> name_;  // per value: its ONNX name as produced
  std::vector<std::string> dq_;    // per value: its DequantizeLinear's output
};

}  // namespace

std::set<std::string> int8_node_names(const std::vector<LayerInfo>& layers) {
  std::set<std::string> names;
  for (const LayerInfo& l : layers) {
    // Quantize / Dequantize / Reorder steps name a value ("quantize:x"), not a node.
    if (l.precision == "int8" && l.op != "Quantize" && l.op != "Dequantize" && l.op != "Reorder") {
      names.insert(l.name);
    }
  }
  return names;
}

QdqExport export_qdq_onnx(const Graph& graph, const QdqExportOptions& options) {
  const Plan plan = qdq_export::plan_qdq(graph, options.int8_nodes, options.seven_bit_weights);
  QdqExport out;
  out.bytes = Writer(graph, plan, out).run();
  return out;
}

QdqExport write_qdq_onnx(const Graph& graph, const QdqExportOptions& options,
                         const std::string& path) {
  QdqExport out = export_qdq_onnx(graph, options);
  write_file_atomically(path, out.bytes);
  return out;
}

}  // namespace octet
