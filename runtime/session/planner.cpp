// Session preparation: shape inference (folding what is constant for these
// shapes), the precision plan, kernel creation with the layouts and data types
// oneDNN picks, reorders (and quantize / dequantize steps) where a reader
// wants a value in another form than its producer wrote, then storage and
// binding (runtime/session/arena.cpp).
#include <algorithm>
#include <cassert>
#include <iostream>
#include <mutex>
#include <new>

#include "ops/cpu_engine.hpp"
#include "ops/quantize.hpp"
#include "runtime/session/arena.hpp"
#include "runtime/session/precision.hpp"

namespace octet {
namespace detail {

namespace {

struct ValueState {
  bool known = false;
  Shape shape;
  DataType dtype = DataType::f32;
  const Tensor* constant = nullptr;
  int buffer = -1;           // as produced
  std::vector<int> layouts;  // the same value reordered into other layouts or dtypes
};

DataType dtype_of(const dnnl::memory::desc& md, DataType logical) {
  switch (md.data_type()) {
    case dnnl::memory::data_type::s8:
      return DataType::s8;
    case dnnl::memory::data_type::u8:
      return DataType::u8;
    case dnnl::memory::data_type::s32:
      return DataType::s32;
    case dnnl::memory::data_type::f32:
      return DataType::f32;
    default:
      return logical;  // zero md: plain, in the logical dtype
  }
}

bool is_int8(DataType t) {
  return t == DataType::s8 || t == DataType::u8;
}
float int8_max(DataType t) {
  return t == DataType::u8 ? 255.f : 127.f;
}

size_t buffer_bytes(const dnnl::memory::desc& md, const Shape& shape, DataType dtype) {
  return md.is_zero() ? static_cast<size_t>(numel(shape)) * size_of(dtype) : md.get_size();
}

bool same_form(const dnnl::memory::desc& a, const dnnl::memory::desc& b) {
  return a == b || (is_plain(a) && is_plain(b) && a.data_type() == b.data_type());
}

class Planner {
 public:
  explicit Planner(SessionState& state)
      : state_(state),
        model_(model_data(state.model)),
        g_(model_.graph),
        values_(g_.values.size()),
        consumers_(g_.consumers()) {}

  std::unique_ptr<Plan> run(const std::map<std::string, Shape>& shapes) {
    plan_ = std::make_unique<Plan>();
    plan_->input_shapes = shapes;
    resolve_inputs(shapes);
    for (size_t i = 0; i < g_.nodes.size(); ++i) infer_node(i);
    std::vector<std::vector<SrcInfo>> src;
    for (const Node& n : g_.nodes) src.push_back(src_infos(n));
    precision_ = plan_precision(model_, state_.options, src, folded_);
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      if (!folded_[i]) add_node_step(i);
    }
    finish_outputs();
    warn_without_vnni();
    assign_storages(*plan_, sharing_);
    const size_t limit = state_.options.memory_limit;
    const size_t left = limit == 0 ? 0 : std::max<size_t>(1, limit - std::min(limit, charged_));
    allocate_and_bind(*plan_, input_buffers_, output_buffers_, left);
    return std::move(plan_);
  }

 private:
  [[noreturn]] void fail(ErrorCode code, const std::string& message) const {
    throw Error(code, model_.source + ": " + message);
  }

  // Counts memory against SessionOptions::memory_limit.
  void charge(size_t bytes, const std::string& what) {
    const size_t limit = state_.options.memory_limit;
    charged_ += bytes;
    if (limit > 0 && charged_ > limit) {
      fail(ErrorCode::out_of_memory, what + " would take the session past its memory limit of " +
                                         std::to_string(limit) + " bytes");
    }
  }

  // Once per process, because it is about the machine, not the model.
  void warn_without_vnni() const {
    if (cpu_has_vnni()) return;
    const bool int8 =
        std::any_of(plan_->steps.begin(), plan_->steps.end(), [](const Step& s) { return s.int8; });
    if (!int8) return;
    static std::once_flag once;
    std::call_once(once, [] {
      std::cerr << "octet: warning: this CPU has no VNNI (oneDNN uses " << cpu_isa()
                << "): int8 layers run, on slower kernels with 7-bit weights, and matmuls of two "
                   "activations stay fp32. AVX512-VNNI or AVX-VNNI CPUs run int8 at full "
                   "speed.\n";
    });
  }

  int new_buffer(const dnnl::memory::desc& md, const ValueState& vs, float scale = 1.f) {
    Buffer b;
    b.md = md;
    b.bytes = buffer_bytes(md, vs.shape, dtype_of(md, vs.dtype));
    b.scale = scale;
    plan_->buffers.push_back(b);
    return static_cast<int>(plan_->buffers.size() - 1);
  }

  void resolve_inputs(const std::map<std::string, Shape>& shapes) {
    for (const auto& [name, shape] : shapes) {
      const int id = g_.find_value(name);
      if (id == kNoValue || std::find(g_.inputs.begin(), g_.inputs.end(), id) == g_.inputs.end()) {
        std::string names;
        for (int in : g_.inputs) names += (names.empty() ? "" : ", ") + g_.values[in].name;
        fail(ErrorCode::invalid_argument,
             "the model has no input '" + name + "' (inputs: " + names + ")");
      }
    }
    std::map<std::string, int64_t> symbols;
    for (int id : g_.inputs) {
      const Value& v = g_.values[id];
      const Shape shape = input_shape(v, shapes, symbols);
      ValueState& vs = values_[id];
      vs.known = true;
      vs.shape = shape;
      vs.dtype = v.dtype;
      vs.buffer = new_buffer(plain_md(shape, v.dtype), vs);
      plan_->buffers[vs.buffer].pinned = true;
      input_buffers_.push_back(vs.buffer);
      plan_->inputs.push_back(Tensor::wrap(v.dtype, shape, nullptr));
    }
    for (size_t id = 0; id < g_.values.size(); ++id) {
      const Value& v = g_.values[id];
      if (v.is_initializer()) values_[id] = {true, v.data.shape(), v.dtype, &v.data, -1, {}};
    }
  }

  Shape input_shape(const Value& v, const std::map<std::string, Shape>& shapes,
                    std::map<std::string, int64_t>& symbols) const {
    const std::vector<Dim>& dims = *v.shape;
    Shape shape;
    auto given = shapes.find(v.name);
    if (given != shapes.end()) {
      shape = given->second;
    } else {
      for (const Dim& d : dims) {
        if (d.size < 0) {
          fail(ErrorCode::invalid_argument, "input '" + v.name + "' has the symbolic dimension '" +
                                                d.symbol + "': give its shape to prepare()");
        }
        shape.push_back(d.size);
      }
    }
    const std::string where = "input '" + v.name + "' of shape " + to_string(shape);
    if (shape.size() != dims.size()) {
      fail(ErrorCode::invalid_argument, where + ": expected rank " + std::to_string(dims.size()));
    }
    for (size_t k = 0; k < dims.size(); ++k) {
      if (shape[k] <= 0) fail(ErrorCode::invalid_argument, where + ": dimensions must be positive");
      if (dims[k].size >= 0 && dims[k].size != shape[k]) {
        fail(ErrorCode::invalid_argument, where + ": dimension " + std::to_string(k) + " must be " +
                                              std::to_string(dims[k].size));
      }
      if (dims[k].size < 0) {
        auto [it, fresh] = symbols.emplace(dims[k].symbol, shape[k]);
        if (!fresh && it->second != shape[k]) {
          fail(ErrorCode::invalid_argument, where + ": dimension '" + dims[k].symbol + "' is " +
                                                std::to_string(it->second) + " in another input");
        }
      }
    }
    return shape;
  }

  std::vector<SrcInfo> src_infos(const Node& n) const {
    std::vector<SrcInfo> src;
    for (int id : n.inputs) {
      SrcInfo info;
      if (id != kNoValue) {
        const ValueState& vs = values_[id];
        assert(vs.known);
        info = {true, vs.shape, vs.dtype, vs.constant};
      }
      src.push_back(info);
    }
    return src;
  }

  void infer_node(size_t i) {
    const Node& n = g_.nodes[i];
    const Op& op = *model_.ops[i];
    InferContext ctx{n, src_infos(n), {}, {}, {}};
    op.infer(ctx);
    if (ctx.dst_shape.size() != n.outputs.size()) {
      n.fail(ErrorCode::internal, "inferred " + std::to_string(ctx.dst_shape.size()) +
                                      " outputs for " + std::to_string(n.outputs.size()));
    }
    bool all_constant = !n.inputs.empty();
    for (const SrcInfo& s : ctx.src) all_constant = all_constant && (!s.present || s.constant);
    std::vector<Tensor> values = ctx.dst_value;
    values.resize(n.outputs.size());
    bool have_all =
        std::all_of(values.begin(), values.end(), [](const Tensor& t) { return !t.empty(); });
    if (!have_all && all_constant && op.foldable()) {
      std::vector<const Tensor*> src;
      std::vector<Tensor> dequantized(ctx.src.size());  // weights stored as s8, read as f32
      for (size_t k = 0; k < ctx.src.size(); ++k) {
        const SrcInfo& s = ctx.src[k];
        if (s.constant && s.constant->dtype() != s.dtype) {
          const std::optional<WeightQuant>& wq = g_.values[n.inputs[k]].weight_quant;
          dequantized[k] = f32_weights(*s.constant, wq ? &*wq : nullptr);
          src.push_back(&dequantized[k]);
        } else {
          src.push_back(s.constant);
        }
      }
      for (size_t k = 0; k < values.size(); ++k) {
        charge(static_cast<size_t>(numel(ctx.dst_shape[k])) * size_of(ctx.dst_dtype[k]),
               "constants folded at prepare (" + n.where() + ")");
        values[k] = Tensor(ctx.dst_dtype[k], ctx.dst_shape[k]);
      }
      op.reference(src, values);
      have_all = true;
    }
    folded_.push_back(have_all);
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      ValueState& vs = values_[n.outputs[k]];
      vs.known = true;
      vs.shape = ctx.dst_shape[k];
      vs.dtype = ctx.dst_dtype[k];
      if (have_all) {
        plan_->folded.push_back(values[k]);
        vs.constant = &plan_->folded.back();
      }
    }
  }

  // The int8 form `id` can be read in: its producer's int8 buffer, or the
  // value quantized with its calibrated range; f32 when neither exists.
  QuantView int8_view(int id) const {
    const Buffer& b = plan_->buffers[values_[id].buffer];
    const DataType have = dtype_of(b.md, values_[id].dtype);
    if (is_int8(have)) return {have, b.scale};
    const std::optional<ActivationQuant>& q = g_.values[id].quant;
    if (q) return {q->dtype, q->scale()};
    return {};
  }

  // The buffer holding `id` in form `want` (layout and dtype), adding a
  // reorder, quantize or dequantize step if none has been made yet.
  int buffer_in_form(int id, const dnnl::memory::desc& want, const std::string& reader) {
    ValueState& vs = values_[id];
    const Buffer& src = plan_->buffers[vs.buffer];
    const dnnl::memory::desc have = src.md;
    if (want.is_zero() || same_form(have, want)) return vs.buffer;
    for (int b : vs.layouts) {
      if (same_form(plan_->buffers[b].md, want)) return b;
    }
    const std::string& name = g_.values[id].name;
    if (have.is_zero()) {
      fail(ErrorCode::internal, reader + " wants value '" + name + "' in a form it cannot take");
    }
    const DataType from = dtype_of(have, vs.dtype), to = dtype_of(want, vs.dtype);
    float scale = 1.f;  // of the new buffer
    if (is_int8(to)) {
      // Keep the range: the producer's int8 range, else the calibrated one.
      const QuantView v = int8_view(id);
      if (!v.is_int8()) {
        fail(ErrorCode::internal,
             reader + " wants value '" + name + "' in int8 but it has no range");
      }
      scale = v.scale * int8_max(v.dtype) / int8_max(to);
    }
    Step step;
    step.name = (is_int8(to) && !is_int8(from)   ? "quantize:"
                 : !is_int8(to) && is_int8(from) ? "dequantize:"
                                                 : "reorder:") +
                name;
    step.op = is_int8(to) && !is_int8(from)   ? "Quantize"
              : !is_int8(to) && is_int8(from) ? "Dequantize"
                                              : "Reorder";
    step.shape = vs.shape;
    step.int8 = is_int8(to);
    step.dtype = to;
    try {
      step.kernel = make_reorder_kernel(cpu_engine(), have, want, src.scale / scale);
    } catch (const dnnl::error& e) {
      fail(ErrorCode::backend,
           "cannot reorder value '" + name + "' for " + reader + ": oneDNN: " + e.what());
    }
    step.src.push_back({vs.buffer, nullptr});
    const int b = new_buffer(want, vs, scale);
    step.dst.push_back(b);
    vs.layouts.push_back(b);
    plan_->steps.push_back(std::move(step));
    return b;
  }

  KernelContext kernel_context(size_t i) {
    const Node& n = g_.nodes[i];
    std::vector<Shape> dst_shape;
    std::vector<DataType> dst_dtype;
    for (int id : n.outputs) {
      dst_shape.push_back(values_[id].shape);
      dst_dtype.push_back(values_[id].dtype);
    }
    KernelContext ctx(n, cpu_engine(), &state_.constants, src_infos(n), dst_shape, dst_dtype);
    const NodePrecision& p = precision_.nodes[i];
    ctx.int8 = p.int8;
    ctx.winograd = state_.options.winograd;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      KernelSrc& s = ctx.src[k];
      if (s.present && s.constant) {
        const std::optional<WeightQuant>& wq = g_.values[n.inputs[k]].weight_quant;
        s.weight_quant = wq ? &*wq : nullptr;
      }
      if (!s.present || s.constant) continue;
      const int id = n.inputs[k];
      const Buffer& b = plan_->buffers[values_[id].buffer];
      s.have = {dtype_of(b.md, values_[id].dtype), b.scale};
      s.md = b.md;
      if (s.have.is_int8() && !p.reads_int8) {  // it reads f32: dequantized by a reorder
        s.md = with_dtype(s.md, DataType::f32);
        s.have = {};
      }
      if (p.reads_int8) s.int8 = int8_view(id);
      s.want = s.md;
    }
    // An int8-transparent op that a blacklist sends to fp32 writes f32 too.
    const bool may_write_int8 = model_.ops[i]->has_int8_kernel() || p.reads_int8;
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      const int id = n.outputs[k];
      const std::optional<ActivationQuant>& q = g_.values[id].quant;
      if (q && ((may_write_int8 && precision_.value_wants_int8[id]) ||
                (p.writes_int8 && precision_.value_only_int8[id]))) {
        ctx.dst[k].int8 = {q->dtype, q->scale()};
      } else if (q && p.writes_int8 && precision_.value_wants_int8[id]) {
        ctx.dst[k].int8_copy = {q->dtype, q->scale()};
      }
      ctx.dst[k].strided_ok = readers_take_strided(id);
    }
    return ctx;
  }

  bool readers_take_strided(int id) const {
    const std::vector<int>& readers = consumers_[id];
    if (readers.empty()) return false;
    if (std::find(g_.outputs.begin(), g_.outputs.end(), id) != g_.outputs.end()) return false;
    for (int r : readers) {
      const Node& reader = g_.nodes[r];
      for (size_t j = 0; j < reader.inputs.size(); ++j) {
        if (reader.inputs[j] == id && !model_.ops[r]->reads_strided(j)) return false;
      }
    }
    return true;
  }

  void add_node_step(size_t i) {
    const Node& n = g_.nodes[i];
    KernelContext ctx = kernel_context(i);
    Step step;
    step.node = static_cast<int>(i);
    step.name = n.name;
    step.op = n.op;
    step.shape = ctx.dst.empty() ? Shape{} : ctx.dst[0].shape;
    try {
      step.kernel = model_.ops[i]->make_kernel(ctx);
    } catch (const Error& e) {
      // Helpers shared by several ops do not know the node: add it.
      if (std::string(e.what()).rfind("node '", 0) == 0) throw;
      n.fail(e.code(), e.what());
    } catch (const dnnl::error& e) {
      n.fail(ErrorCode::backend, std::string("oneDNN could not create a primitive: ") + e.what());
    } catch (const std::bad_alloc&) {
      n.fail(ErrorCode::out_of_memory, "out of memory while preparing the kernel");
    }
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const KernelSrc& s = ctx.src[k];
      if (!s.present) {
        step.src.push_back({});
      } else if (s.constant) {
        step.src.push_back({-1, s.constant->raw()});
      } else {
        step.src.push_back({buffer_in_form(n.inputs[k], s.want, n.where()), nullptr});
      }
    }
    bool int8_out = false;
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      const KernelDst& d = ctx.dst[k];
      ValueState& vs = values_[n.outputs[k]];
      const float scale =
          d.alias >= 0 ? plan_->buffers[step.src[d.alias].buffer].scale * d.rescale : d.scale;
      vs.buffer = new_buffer(d.md, vs, scale);
      int8_out = int8_out || is_int8(dtype_of(d.md, vs.dtype));
      step.dst.push_back(vs.buffer);
      if (d.alias >= 0) sharing_.views.push_back({vs.buffer, step.src[d.alias].buffer});
      if (d.accumulates >= 0) {
        sharing_.accumulates.push_back(
            {plan_->steps.size(), k, static_cast<size_t>(d.accumulates)});
      }
    }
    // The int8 copies some outputs' int8 readers take (KernelDst::int8_copy).
    bool int8_copy = false;
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      const KernelDst& d = ctx.dst[k];
      if (d.int8_copy_md.is_zero()) continue;
      ValueState& vs = values_[n.outputs[k]];
      const int b = new_buffer(d.int8_copy_md, vs, d.int8_copy.scale);
      vs.layouts.push_back(b);
      step.dst.push_back(b);
      int8_copy = true;
    }
    step.dtype = ctx.dst.empty() ? DataType::f32 : ctx.dst[0].dtype;
    step.int8 = ctx.int8 || int8_out || is_int8(step.dtype);
    const bool fp32 = !step.int8 && step.dtype == DataType::f32;
    step.reason =
        step_reason(*model_.ops[i], precision_.nodes[i], ctx.int8, int8_out || int8_copy, fp32);
    plan_->steps.push_back(std::move(step));
  }

  void finish_outputs() {
    for (size_t i = 0; i < g_.outputs.size(); ++i) {
      const int id = g_.outputs[i];
      const ValueState& vs = values_[id];
      if (vs.constant) {
        plan_->outputs.push_back(vs.constant->clone());
        output_buffers_.push_back(-1);
        continue;
      }
      const int b = buffer_in_form(id, plain_md(vs.shape, vs.dtype), "graph output");
      plan_->buffers[b].pinned = true;
      output_buffers_.push_back(b);
      plan_->outputs.push_back(Tensor::wrap(vs.dtype, vs.shape, nullptr));
    }
  }

  SessionState& state_;
  const ModelData& model_;
  const Graph& g_;
  std::vector<ValueState> values_;
  std::vector<bool> folded_;
  PrecisionPlan precision_;
  std::vector<int> input_buffers_, output_buffers_;
  std::vector<std::vector<int>> consumers_;  // per value: the nodes reading it
  Sharing sharing_;
  size_t charged_ = 0;  // bytes allocated so far, for the memory limit
  std::unique_ptr<Plan> plan_;
};

}  // namespace

std::unique_ptr<Plan> make_plan(SessionState& state, const std::map<std::string, Shape>& shapes) {
  return Planner(state).run(shapes);
}

}  // namespace detail
}  // namespace octet
