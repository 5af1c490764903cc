// Runs after pass_remove_identity, before BatchNormalization folding and the
// fusions (which need f32 weights): QuantizeLinear / DequantizeLinear (QDQ)
// pairs of quantization-aware training exports become quantization
// parameters on values, never ops.
//
// Activations: x -> QuantizeLinear(s, zp) -> DequantizeLinear(s, zp) -> y.
//   The pair is removed, y's readers read x, and x gets ActivationQuant{amax,
//   s8 (zp int8) or u8 (zp uint8 or omitted), source "qdq"} with amax chosen
//   so that amax / 127.f (/ 255.f) == s exactly (see amax_for_scale). When x
//   feeds pairs with different scales, the first (in node order) goes on x and
//   each other scale on an Identity x -> y written in place of its
//   DequantizeLinear, so its readers quantize with that scale.
//   A y that is a graph output keeps its name: x's producer writes y instead,
//   or, when it cannot (x is a graph input or output, or carries another
//   scale), an Identity x -> y does.
// Weights: DequantizeLinear(Wq int8 initializer, s, zp, axis), or
//   QuantizeLinear(W f32 initializer) -> DequantizeLinear. y becomes an f32
//   initializer holding exactly float(q) * s_c, with q = Wq, or
//   q = saturate(round_half_even(W / s_c)) to [-128, 127] ([0, 255] for
//   uint8) as ONNX QuantizeLinear computes it. When every reader of y reads it
//   as its weight (Conv input 1, Gemm input 1, MatMul input 1 of rank 2), y
//   gets WeightQuant{output-channel axis, amax_c = s_c * 127} (per-tensor
//   scales repeated per channel), so that the runtime's scale amax_c / 127.f
//   gives q back exactly. A DequantizeLinear of a constant read otherwise
//   (e.g. an int32 bias) just becomes the f32 constant it computes.
// Rejected as unsupported: non-zero zero points (octet implements symmetric
// quantization only), per-channel activation scales, weight scales along an
// axis other than the reader's output channels, uint8 or int32 weights, scales
// or zero points that are not constants, per-axis QDQ below opset 13, and
// QuantizeLinear / DequantizeLinear nodes outside these patterns. A
// QuantizeLinear that nothing reads is dropped.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <map>

#include "loaders/onnx/onnx_import.hpp"
#include "loaders/onnx/onnx_passes.hpp"

namespace octet {

namespace {

constexpr int64_t kPerAxisOpset = 13;

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string quoted(const std::string& s) {
  return "'" + s + "'";
}

const char* quantized_type_name(DataType t) {
  switch (t) {
    case DataType::s8:
      return "int8";
    case DataType::u8:
      return "uint8";
    case DataType::s32:
      return "int32";
    default:
      return to_string(t);
  }
}

// The float amax whose amax / levels (in float, as ActivationQuant::scale()
// and the runtime compute it) is `scale` exactly; among several, the one
// nearest to scale * levels (in practice fl(scale * levels) itself). Not every
// float is such a quotient: consecutive amax give quotients up to 128/127 ulp
// apart, so about 1 float scale in 129 for levels 127 (1 in 257 for 255) is
// skipped. Then the amax whose quotient is nearest, 1 ulp off, with `exact`
// false; weights still round-trip, as round(q * s / s') == q for
// s' = s (1 +- 2^-23) and |q| <= 128.
float amax_for_scale(float scale, float levels, bool& exact) {
  const double target = static_cast<double>(scale) * levels;
  const float start = static_cast<float>(target);
  float best = start;
  double best_err = INFINITY;
  double best_dist = INFINITY;
  float lo = start;
  float hi = start;
  auto consider = [&](float a) {
    if (!std::isfinite(a) || a <= 0) return;
    const double err = std::fabs(static_cast<double>(a / levels) - scale);
    const double dist = std::fabs(static_cast<double>(a) - target);
    if (err < best_err || (err == best_err && dist < best_dist)) {
      best = a;
      best_err = err;
      best_dist = dist;
    }
  };
  consider(start);
  for (int i = 0; i < 8; ++i) {
    lo = std::nextafter(lo, 0.f);
    hi = std::nextafter(hi, INFINITY);
    consider(lo);
    consider(hi);
  }
  exact = best_err == 0;
  return best;
}

// The quantization parameters of a QuantizeLinear or DequantizeLinear node.
struct QParams {
  std::vector<float> scale;  // one value: per tensor; more: per axis
  int64_t axis = 1;          // the node's axis attribute, not normalized
  DataType dtype = DataType::u8;

  bool per_axis() const { return scale.size() > 1; }
  bool same_as(const QParams& o) const {
    if (dtype != o.dtype || scale.size() != o.scale.size()) return false;
    if (per_axis() && axis != o.axis) return false;
    for (size_t i = 0; i < scale.size(); ++i) {
      if (scale[i] != o.scale[i]) return false;
    }
    return true;
  }
  std::string describe() const {
    std::string s = std::string(quantized_type_name(dtype)) + ", scale ";
    if (!per_axis()) return s + fmt(scale[0]);
    return s + "per axis " + std::to_string(axis) + " (" + std::to_string(scale.size()) +
           " values)";
  }
};

bool all_zero(const Tensor& t) {
  const auto* p = static_cast<const uint8_t*>(t.raw());
  for (size_t i = 0; i < t.nbytes(); ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

// Reads and checks the scale, zero point and axis of Q/DQ node `n`.
// `default_dtype`: the quantized type when the zero point is omitted (uint8
// for QuantizeLinear, the input's type for DequantizeLinear).
QParams params_of(const GraphEditor& editor, int n, DataType default_dtype, int64_t opset) {
  const Node& node = editor.node(n);
  if (node.inputs.size() < 2 || node.inputs.size() > 3 || !node.has_input(0) ||
      !node.has_input(1) || node.outputs.size() != 1) {
    node.fail(ErrorCode::invalid_model, "needs inputs (x, scale, [zero_point]) and one output");
  }
  QParams p;
  const Tensor* scale = editor.constant(node.inputs[1]);
  if (!scale) {
    node.fail(ErrorCode::unsupported,
              "the scale must be an initializer; octet does not support scales computed at run "
              "time");
  }
  if (scale->dtype() != DataType::f32 || scale->rank() > 1 || scale->numel() < 1) {
    node.fail(ErrorCode::unsupported, "the scale must be a float scalar or a 1-D float tensor");
  }
  const float* s = scale->data<float>();
  p.scale.assign(s, s + scale->numel());
  for (float v : p.scale) {
    if (!std::isfinite(v) || v <= 0 || v > FLT_MAX / 256) {
      node.fail(ErrorCode::invalid_model,
                "scale " + fmt(v) + " is not a positive finite number (of at most FLT_MAX/256)");
    }
  }
  p.dtype = default_dtype;
  if (node.has_input(2)) {
    const Tensor* zp = editor.constant(node.inputs[2]);
    if (!zp) node.fail(ErrorCode::unsupported, "the zero point must be an initializer");
    if (zp->numel() != scale->numel() || zp->rank() != scale->rank()) {
      node.fail(ErrorCode::invalid_model, "the zero point must have the shape of the scale");
    }
    if (zp->dtype() != DataType::s8 && zp->dtype() != DataType::u8 &&
        zp->dtype() != DataType::s32) {
      node.fail(ErrorCode::unsupported, std::string("zero points of type ") +
                                            to_string(zp->dtype()) + " are not supported");
    }
    if (!all_zero(*zp)) {
      node.fail(ErrorCode::unsupported,
                "non-zero zero point: octet implements symmetric (zero-point 0) quantization only");
    }
    p.dtype = zp->dtype();
  }
  p.axis = node.attr_int("axis", 1);
  if (p.per_axis() && opset < kPerAxisOpset) {
    node.fail(ErrorCode::unsupported,
              "per-axis scales need opset " + std::to_string(kPerAxisOpset) +
                  " or later; the model uses opset " + std::to_string(opset));
  }
  return p;
}

// The output-channel axis of weight `value` as node `n` reads it, or -1 if
// `n` does not read it as a Conv/Gemm/MatMul weight (input 1 only).
int weight_axis(const GraphEditor& editor, int n, int value, size_t rank) {
  const Node& node = editor.node(n);
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    if (node.inputs[i] == value && i != 1) return -1;
  }
  if (editor.is_op(n, "Conv") && rank >= 3) return 0;
  if (editor.is_op(n, "MatMul") && rank == 2) return 1;
  if (editor.is_op(n, "Gemm") && rank == 2) return node.attr_int("transB", 0) != 0 ? 0 : 1;
  return -1;
}

// Per-element channel index along `axis` (normalized) of a tensor of `shape`.
struct ChannelIndex {
  ChannelIndex(const Shape& shape, int64_t axis) {
    channels = shape.empty() ? 1 : shape[static_cast<size_t>(axis)];
    for (size_t d = static_cast<size_t>(axis) + 1; d < shape.size(); ++d) inner *= shape[d];
  }
  int64_t operator()(int64_t i) const { return channels > 0 ? (i / inner) % channels : 0; }
  int64_t channels = 1;
  int64_t inner = 1;
};

// Normalizes the axis of per-axis params for a tensor of `shape` and checks
// that the scale has one value per channel.
int64_t checked_axis(const Node& node, const QParams& p, const Shape& shape) {
  if (!p.per_axis()) return 0;
  const int64_t rank = static_cast<int64_t>(shape.size());
  const int64_t axis = p.axis < 0 ? p.axis + rank : p.axis;
  if (axis < 0 || axis >= rank) {
    node.fail(ErrorCode::invalid_model, "axis " + std::to_string(p.axis) +
                                            " is out of range for a tensor of shape " +
                                            to_string(shape));
  }
  if (shape[static_cast<size_t>(axis)] != static_cast<int64_t>(p.scale.size())) {
    node.fail(ErrorCode::invalid_model, std::to_string(p.scale.size()) + " scales for " +
                                            std::to_string(shape[static_cast<size_t>(axis)]) +
                                            " channels along axis " + std::to_string(axis) +
                                            " of a tensor of shape " + to_string(shape));
  }
  return axis;
}

// round half to even, then saturate to [lo, hi], as ONNX QuantizeLinear.
int32_t quantize(float x, float scale, int32_t lo, int32_t hi) {
  const double v = static_cast<double>(x / scale);
  if (std::isnan(v)) return 0;
  if (v <= lo) return lo;
  if (v >= hi) return hi;
  double r = std::floor(v);
  const double frac = v - r;
  if (frac > 0.5 || (frac == 0.5 && std::fmod(r, 2.0) != 0)) r += 1;
  return static_cast<int32_t>(r);
}

class QdqFolder {
 public:
  QdqFolder(Graph& graph, std::vector<std::string>& log, int64_t opset)
      : graph_(graph), editor_(graph), log_(log), opset_(opset) {}

  void run() {
    for (size_t i = 0; i < editor_.node_count(); ++i) {
      const int n = static_cast<int>(i);
      if (editor_.is_op(n, "QuantizeLinear")) {
        fold_quantize(n);
      } else if (editor_.is_op(n, "DequantizeLinear")) {
        fold_lone_dequantize(n);
      }
    }
    for (const PendingOutput& p : pending_outputs_) keep_output_name(p);
    editor_.finish();
  }

 private:
  struct Target {
    QParams params;
    int value;
  };
  // A graph output written by an Identity in place of DequantizeLinear `node`.
  struct PendingOutput {
    int node;
    int output;
  };

  Value& value(int v) { return graph_.values.at(static_cast<size_t>(v)); }
  std::string name(int v) const { return quoted(graph_.values.at(static_cast<size_t>(v)).name); }
  std::string node_label(int n) const {
    return editor_.node(n).op + " " + quoted(editor_.node(n).name);
  }

  void fold_quantize(int q) {
    const Node& qnode = editor_.node(q);
    const QParams params = params_of(editor_, q, DataType::u8, opset_);
    if (params.dtype != DataType::s8 && params.dtype != DataType::u8) {
      qnode.fail(ErrorCode::unsupported, "octet quantizes to int8 or uint8 only");
    }
    const std::vector<int> dqs = dequantizers_of(q, params);
    if (dqs.empty()) {  // read by nothing: dead
      log_.push_back("removed unused " + node_label(q));
      editor_.remove(q);
      return;
    }
    const Tensor* w = editor_.constant(qnode.inputs[0]);
    if (w) {
      fold_quantized_weight(q, *w, params, dqs);
    } else {
      fold_activation(q, params, dqs);
    }
  }

  // The DequantizeLinear nodes reading QuantizeLinear `q`'s output, which
  // nothing else may read; each must undo exactly `q`'s quantization.
  std::vector<int> dequantizers_of(int q, const QParams& params) {
    const Node& qnode = editor_.node(q);
    const int t = qnode.outputs[0];
    const std::string lone =
        "a QuantizeLinear not followed by a DequantizeLinear (octet keeps no int8 tensors "
        "between ops; QuantizeLinear must feed DequantizeLinear nodes only): ";
    if (editor_.is_graph_output(t)) {
      qnode.fail(ErrorCode::unsupported, lone + "its output " + name(t) + " is a graph output");
    }
    std::vector<int> dqs = editor_.consumers(t);
    for (int d : dqs) {
      const Node& dnode = editor_.node(d);
      if (!editor_.is_op(d, "DequantizeLinear")) {
        qnode.fail(ErrorCode::unsupported,
                   lone + "its output " + name(t) + " is read by " + dnode.where());
      }
      if (dnode.inputs.empty() || dnode.inputs[0] != t ||
          std::count(dnode.inputs.begin(), dnode.inputs.end(), t) != 1) {
        dnode.fail(ErrorCode::unsupported, "reads QuantizeLinear " + quoted(qnode.name) +
                                               "'s output other than as its input x");
      }
      const QParams dparams = params_of(editor_, d, params.dtype, opset_);
      if (!dparams.same_as(params)) {
        dnode.fail(ErrorCode::unsupported, "dequantizes with other parameters (" +
                                               dparams.describe() + ") than QuantizeLinear " +
                                               quoted(qnode.name) + " quantized with (" +
                                               params.describe() + ")");
      }
    }
    return dqs;
  }

  // ------------------------------------------------------------ activations

  ActivationQuant activation_quant(int q, const QParams& p, int x) {
    const Node& node = editor_.node(q);
    if (p.per_axis()) {
      node.fail(ErrorCode::unsupported,
                "per-channel scales on activation " + name(x) +
                    ": octet quantizes activations per tensor only (weights must be "
                    "initializers to be quantized per channel)");
    }
    const float levels = p.dtype == DataType::u8 ? 255.f : 127.f;
    bool exact = false;
    ActivationQuant aq;
    aq.amax = amax_for_scale(p.scale[0], levels, exact);
    aq.dtype = p.dtype;
    aq.source = "qdq";
    if (!std::isfinite(aq.amax) || aq.amax <= 0) {
      node.fail(ErrorCode::invalid_model, "scale " + fmt(p.scale[0]) + " gives no finite amax");
    }
    if (!exact) {
      log_.push_back("scale " + fmt(p.scale[0]) + " of " + node_label(q) + " is amax/" +
                     fmt(levels) + " of no float amax: stored amax " + fmt(aq.amax) +
                     ", whose scale is " + fmt(aq.scale()) + " (1 ulp off)");
    }
    return aq;
  }

  void fold_activation(int q, const QParams& params, const std::vector<int>& dqs) {
    const Node& qnode = editor_.node(q);
    const int x = qnode.inputs[0];
    const ActivationQuant aq = activation_quant(q, params, x);
    std::vector<Target>& targets = targets_[x];
    int target = kNoValue;
    for (const Target& t : targets) {
      if (t.params.same_as(params)) target = t.value;
    }
    std::vector<int> rest = dqs;
    if (target == kNoValue && targets.empty()) {
      target = x;
      value(x).quant = aq;
      targets.push_back({params, x});
    } else if (target == kNoValue) {
      // Another scale than the one x already carries: the first
      // DequantizeLinear becomes an Identity whose output carries it.
      const int d = rest.front();
      rest.erase(rest.begin());
      const int y = editor_.node(d).outputs[0];
      make_identity(d, x, y, aq);
      target = y;
      targets.push_back({params, y});
      const QParams& first = targets.front().params;
      log_.push_back(name(x) + " already has scale " + fmt(first.scale[0]) + " (" +
                     quantized_type_name(first.dtype) + "): QuantizeLinear " + quoted(qnode.name) +
                     " + DequantizeLinear " + quoted(editor_.node(d).name) + " became Identity " +
                     quoted(editor_.node(d).name) + " " + name(x) + " -> " + name(y) +
                     " carrying scale " + fmt(params.scale[0]) + " (" +
                     quantized_type_name(params.dtype) + ", amax " + fmt(aq.amax) + ")");
    }
    const std::string line = "folded " + node_label(q) + " + ";
    editor_.remove(q);
    std::string dq_names;
    for (int d : rest) {
      const int y = editor_.node(d).outputs[0];
      dq_names += (dq_names.empty() ? "" : ", ") + quoted(editor_.node(d).name);
      if (editor_.is_graph_output(y)) {
        // Keep the name: an Identity for now, maybe x's producer later.
        make_identity(d, target, y, aq);
        pending_outputs_.push_back({d, y});
      } else {
        editor_.remove(d);
      }
      editor_.replace_uses(y, target);
    }
    if (rest.empty()) return;
    log_.push_back(line + "DequantizeLinear " + dq_names + " into the quantization of " +
                   name(target) + " (" + quantized_type_name(aq.dtype) + ", scale " +
                   fmt(params.scale[0]) + ", amax " + fmt(aq.amax) + ")");
  }

  void make_identity(int d, int src, int y, const ActivationQuant& aq) {
    Node id;
    id.op = "Identity";
    id.name = editor_.node(d).name;
    id.inputs = {src};
    id.outputs = {y};
    editor_.rewrite(d, std::move(id));
    value(y).quant = aq;
  }

  // Graph output y, written by Identity `p.node` from src: let src's producer
  // write y instead when that changes nothing else (as pass_remove_identity).
  void keep_output_name(const PendingOutput& p) {
    const Node& id = editor_.node(p.node);
    const int src = id.inputs[0];
    const int prod = editor_.producer(src);
    const std::optional<ActivationQuant>& sq = value(src).quant;
    const std::optional<ActivationQuant>& yq = value(p.output).quant;
    const bool same_quant = sq && yq && sq->amax == yq->amax && sq->dtype == yq->dtype;
    if (prod < 0 || editor_.is_graph_output(src) || !same_quant) {
      log_.push_back("kept Identity " + quoted(id.name) + " " + name(src) + " -> graph output " +
                     name(p.output));
      return;
    }
    const std::string id_name = id.name;
    editor_.remove(p.node);
    Node producer = editor_.node(prod);
    for (int& v : producer.outputs) {
      if (v == src) v = p.output;
    }
    editor_.rewrite(prod, std::move(producer));
    editor_.replace_uses(src, p.output);
    value(src).quant.reset();
    log_.push_back("graph output " + name(p.output) + " of DequantizeLinear " + quoted(id_name) +
                   " is now written by " + node_label(prod) + " (was " + name(src) + ")");
  }

  // ------------------------------------------------------------ weights

  // DequantizeLinear `d` that no QuantizeLinear feeds: of a constant, folded;
  // of anything else, unsupported.
  void fold_lone_dequantize(int d) {
    const Node& dnode = editor_.node(d);
    const Tensor* wq = dnode.has_input(0) ? editor_.constant(dnode.inputs[0]) : nullptr;
    if (!wq) {
      const int x = dnode.inputs.empty() ? kNoValue : dnode.inputs[0];
      dnode.fail(ErrorCode::unsupported,
                 "a DequantizeLinear whose input " + (x == kNoValue ? "<none>" : name(x)) +
                     " is neither the output of a QuantizeLinear nor an int8 initializer (octet "
                     "keeps no int8 tensors between ops)");
    }
    if (wq->dtype() != DataType::s8 && wq->dtype() != DataType::u8 &&
        wq->dtype() != DataType::s32) {
      dnode.fail(ErrorCode::invalid_model, std::string("input of type ") + to_string(wq->dtype()) +
                                               "; DequantizeLinear takes int8, uint8 or int32");
    }
    const QParams params = params_of(editor_, d, wq->dtype(), opset_);
    if (params.dtype != wq->dtype()) {
      dnode.fail(ErrorCode::invalid_model, "the zero point's type differs from the input's");
    }
    const int64_t axis = checked_axis(dnode, params, wq->shape());
    std::vector<int32_t> q(static_cast<size_t>(wq->numel()));
    if (wq->dtype() == DataType::s8) {
      std::copy_n(wq->data<int8_t>(), q.size(), q.begin());
    } else if (wq->dtype() == DataType::u8) {
      std::copy_n(wq->data<uint8_t>(), q.size(), q.begin());
    } else {
      std::copy_n(wq->data<int32_t>(), q.size(), q.begin());
    }
    const std::string what = "DequantizeLinear " + quoted(dnode.name) + " of " +
                             name(dnode.inputs[0]) + " (" + quantized_type_name(params.dtype) + ")";
    fold_weight(d, q, wq->shape(), params, axis, what);
    editor_.remove(d);
  }

  void fold_quantized_weight(int q, const Tensor& w, const QParams& params,
                             const std::vector<int>& dqs) {
    const Node& qnode = editor_.node(q);
    if (w.dtype() != DataType::f32) {
      qnode.fail(ErrorCode::invalid_model, std::string("input of type ") + to_string(w.dtype()) +
                                               "; QuantizeLinear takes float");
    }
    const int64_t axis = checked_axis(qnode, params, w.shape());
    const ChannelIndex channel(w.shape(), axis);
    const int32_t lo = params.dtype == DataType::u8 ? 0 : -128;
    const int32_t hi = params.dtype == DataType::u8 ? 255 : 127;
    std::vector<int32_t> quantized(static_cast<size_t>(w.numel()));
    const float* src = w.data<float>();
    for (size_t i = 0; i < quantized.size(); ++i) {
      const float s =
          params.per_axis() ? params.scale[channel(static_cast<int64_t>(i))] : params.scale[0];
      quantized[i] = quantize(src[i], s, lo, hi);
    }
    const Shape shape = w.shape();
    const std::string wname = name(qnode.inputs[0]);
    const std::string qname = quoted(qnode.name);
    for (int d : dqs) {
      const std::string what = "QuantizeLinear " + qname + " + DequantizeLinear " +
                               quoted(editor_.node(d).name) + " of " + wname + " (" +
                               quantized_type_name(params.dtype) + ")";
      fold_weight(d, quantized, shape, params, axis, what);
      editor_.remove(d);
    }
    editor_.remove(q);
  }

  // Turns the output y of DequantizeLinear `d` into an f32 initializer of
  // float(q) * scale, with weight scales when its readers read it as a weight.
  void fold_weight(int d, const std::vector<int32_t>& q, const Shape& shape, const QParams& params,
                   int64_t axis, const std::string& what) {
    const Node& dnode = editor_.node(d);
    const int y = dnode.outputs[0];
    Tensor out(DataType::f32, shape);
    float* dst = out.data<float>();
    const ChannelIndex channel(shape, axis);
    int64_t at_min = 0;
    for (size_t i = 0; i < q.size(); ++i) {
      const float s =
          params.per_axis() ? params.scale[channel(static_cast<int64_t>(i))] : params.scale[0];
      dst[i] = static_cast<float>(q[i]) * s;
      at_min += q[i] == -128;
    }

    // Weight scales: every reader must read y as its weight, along one axis.
    const std::vector<int> readers = editor_.consumers(y);
    int out_axis = readers.empty() || editor_.is_graph_output(y) ? -1 : -2;
    int first_reader = -1;
    for (int r : readers) {
      const int a = weight_axis(editor_, r, y, shape.size());
      if (a < 0 || (out_axis >= 0 && a != out_axis)) {
        out_axis = -1;
        break;
      }
      out_axis = a;
      if (first_reader < 0) first_reader = r;
    }
    std::string line = "folded " + what + " into f32 constant " + name(y);
    if (out_axis >= 0) {
      const Node& reader = editor_.node(first_reader);
      if (params.dtype != DataType::s8) {
        dnode.fail(ErrorCode::unsupported,
                   std::string("the weight of ") + reader.where() + " is quantized as " +
                       quantized_type_name(params.dtype) + "; octet quantizes weights as int8");
      }
      if (params.per_axis() && axis != out_axis) {
        dnode.fail(ErrorCode::unsupported, "per-axis scales along axis " + std::to_string(axis) +
                                               " of weight " + name(y) + ", but " + reader.where() +
                                               " has its output channels along axis " +
                                               std::to_string(out_axis) +
                                               "; octet quantizes weights per output channel only");
      }
      WeightQuant wq;
      wq.axis = out_axis;
      const int64_t channels = shape[static_cast<size_t>(out_axis)];
      int inexact = 0;
      for (int64_t c = 0; c < channels; ++c) {
        bool exact = false;
        const float s = params.per_axis() ? params.scale[static_cast<size_t>(c)] : params.scale[0];
        wq.amax.push_back(amax_for_scale(s, 127.f, exact));
        inexact += !exact;
      }
      value(y).weight_quant = std::move(wq);
      line += " with " + std::string(params.per_axis() ? "per-channel" : "per-tensor") +
              " weight scales on output-channel axis " + std::to_string(out_axis) + " of " +
              reader.where();
      if (inexact > 0) {
        line += "; " + std::to_string(inexact) +
                " scales are amax/127 of no float amax (stored amax with the nearest quotient, "
                "1 ulp off: q still round-trips)";
      }
      if (at_min > 0) {
        line += "; q = -128 in " + std::to_string(at_min) +
                " weights (outside a narrow-range [-127, 127] int8 grid)";
      }
    } else {
      line += " (not read only as a Conv/MatMul/Gemm weight: no weight scales kept)";
    }
    Value& v = value(y);
    v.data = std::move(out);
    v.dtype = DataType::f32;
    v.shape = std::vector<Dim>();
    for (int64_t dim : shape) v.shape->push_back(Dim{dim, ""});
    v.quant.reset();
    log_.push_back(line);
  }

  Graph& graph_;
  GraphEditor editor_;
  std::vector<std::string>& log_;
  int64_t opset_;
  std::map<int, std::vector<Target>> targets_;  // per quantized activation x
  std::vector<PendingOutput> pending_outputs_;
};

}  // namespace

void pass_fold_qdq(Graph& graph, std::vector<std::string>& log, int64_t opset) {
  QdqFolder(graph, log, opset).run();
}

}  // namespace octet
