// Session preparation: shape inference (folding what is constant for these
// shapes), kernel creation with the layouts oneDNN picks, reorders where a
// reader wants another layout, and the static memory plan.
#include <algorithm>
#include <cassert>
#include <cstring>
#include <new>

#include "runtime/memory_plan.hpp"
#include "runtime/session_state.hpp"

namespace octet {
namespace detail {

namespace {

struct ValueState {
  bool known = false;
  Shape shape;
  DataType dtype = DataType::f32;
  const Tensor* constant = nullptr;
  int buffer = -1;           // as produced
  std::vector<int> layouts;  // the same value reordered into other layouts
};

size_t buffer_bytes(const dnnl::memory::desc& md, const Shape& shape, DataType dtype) {
  return md.is_zero() ? static_cast<size_t>(numel(shape)) * size_of(dtype) : md.get_size();
}

// How layers report their precision: "fp32", "int8", or the dtype they compute in.
std::string precision_name(DataType dtype) {
  switch (dtype) {
    case DataType::f32:
      return "fp32";
    case DataType::s8:
    case DataType::u8:
      return "int8";
    default:
      return to_string(dtype);
  }
}

bool same_layout(const dnnl::memory::desc& a, const dnnl::memory::desc& b) {
  return a == b || (is_plain(a) && is_plain(b));
}

class Planner {
 public:
  explicit Planner(SessionState& state)
      : state_(state), model_(*state.model.data()), g_(model_.graph), values_(g_.values.size()) {}

  std::unique_ptr<Plan> run(const std::map<std::string, Shape>& shapes) {
    plan_ = std::make_unique<Plan>();
    plan_->input_shapes = shapes;
    resolve_inputs(shapes);
    for (size_t i = 0; i < g_.nodes.size(); ++i) infer_node(i);
    {
      ConstantCacheScope scope(&state_.constants);
      for (size_t i = 0; i < g_.nodes.size(); ++i) {
        if (!folded_[i]) add_node_step(i);
      }
      finish_outputs();
    }
    compute_lifetimes();
    share_accumulators();
    place_and_bind();
    return std::move(plan_);
  }

 private:
  [[noreturn]] void fail(ErrorCode code, const std::string& message) const {
    throw Error(code, model_.source + ": " + message);
  }

  int new_buffer(const dnnl::memory::desc& md, const Shape& shape, DataType dtype) {
    Buffer b;
    b.md = md;
    b.bytes = buffer_bytes(md, shape, dtype);
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
      const std::vector<Dim>& dims = *v.shape;
      auto given = shapes.find(v.name);
      Shape shape;
      if (given != shapes.end()) {
        shape = given->second;
      } else {
        for (const Dim& d : dims) {
          if (d.size < 0) {
            fail(ErrorCode::invalid_argument, "input '" + v.name +
                                                  "' has the symbolic dimension '" + d.symbol +
                                                  "': give its shape to prepare()");
          }
          shape.push_back(d.size);
        }
      }
      const std::string where = "input '" + v.name + "' of shape " + to_string(shape);
      if (shape.size() != dims.size()) {
        fail(ErrorCode::invalid_argument, where + ": expected rank " + std::to_string(dims.size()));
      }
      for (size_t k = 0; k < dims.size(); ++k) {
        if (shape[k] <= 0)
          fail(ErrorCode::invalid_argument, where + ": dimensions must be positive");
        if (dims[k].size >= 0 && dims[k].size != shape[k]) {
          fail(ErrorCode::invalid_argument, where + ": dimension " + std::to_string(k) +
                                                " must be " + std::to_string(dims[k].size));
        }
        if (dims[k].size < 0) {
          auto [it, fresh] = symbols.emplace(dims[k].symbol, shape[k]);
          if (!fresh && it->second != shape[k]) {
            fail(ErrorCode::invalid_argument, where + ": dimension '" + dims[k].symbol + "' is " +
                                                  std::to_string(it->second) + " in another input");
          }
        }
      }
      ValueState& vs = values_[id];
      vs.known = true;
      vs.shape = shape;
      vs.dtype = v.dtype;
      vs.buffer = new_buffer(plain_md(shape, v.dtype), shape, v.dtype);
      plan_->buffers[vs.buffer].pinned = true;
      input_buffers_.push_back(vs.buffer);
    }
    for (size_t id = 0; id < g_.values.size(); ++id) {
      const Value& v = g_.values[id];
      if (v.is_initializer()) values_[id] = {true, v.data.shape(), v.dtype, &v.data, -1, {}};
    }
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
      for (const SrcInfo& s : ctx.src) src.push_back(s.constant);
      for (size_t k = 0; k < values.size(); ++k)
        values[k] = Tensor(ctx.dst_dtype[k], ctx.dst_shape[k]);
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

  // The buffer holding `id` in layout `want`, adding a reorder step if needed.
  int buffer_in_layout(int id, const dnnl::memory::desc& want, const std::string& reader) {
    ValueState& vs = values_[id];
    const dnnl::memory::desc& have = plan_->buffers[vs.buffer].md;
    if (want.is_zero() || same_layout(have, want)) return vs.buffer;
    for (int b : vs.layouts) {
      if (plan_->buffers[b].md == want) return b;
    }
    if (have.is_zero()) {
      fail(ErrorCode::internal, reader + " wants value '" + g_.values[id].name +
                                    "' in a layout it cannot be reordered to");
    }
    Step step;
    step.name = "reorder:" + g_.values[id].name;
    step.op = "Reorder";
    step.shape = vs.shape;
    step.precision = precision_name(vs.dtype);
    try {
      step.kernel = make_reorder_kernel(cpu_engine(), have, want);
    } catch (const dnnl::error& e) {
      fail(ErrorCode::backend, "cannot reorder value '" + g_.values[id].name + "' for " + reader +
                                   ": oneDNN: " + e.what());
    }
    step.src.push_back({vs.buffer, nullptr});
    const int b = new_buffer(want, vs.shape, vs.dtype);
    step.dst.push_back(b);
    vs.layouts.push_back(b);
    plan_->steps.push_back(std::move(step));
    return b;
  }

  void add_node_step(size_t i) {
    const Node& n = g_.nodes[i];
    const Op& op = *model_.ops[i];
    KernelContext ctx{n, cpu_engine(), src_infos(n), {}, {}, {}, {}, {}, {}};
    for (int id : n.outputs) {
      ctx.dst_shape.push_back(values_[id].shape);
      ctx.dst_dtype.push_back(values_[id].dtype);
    }
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const SrcInfo& s = ctx.src[k];
      ctx.src_md.push_back(s.present && !s.constant ? plan_->buffers[values_[n.inputs[k]].buffer].md
                                                    : dnnl::memory::desc());
    }
    ctx.src_want = ctx.src_md;
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      ctx.dst_md.push_back(plain_md(ctx.dst_shape[k], ctx.dst_dtype[k]));
    }
    ctx.dst_accumulates.assign(n.outputs.size(), -1);

    Step step;
    step.node = static_cast<int>(i);
    step.name = n.name;
    step.op = n.op;
    step.shape = ctx.dst_shape.empty() ? Shape{} : ctx.dst_shape[0];
    try {
      step.kernel = op.make_kernel(ctx);
    } catch (const dnnl::error& e) {
      n.fail(ErrorCode::backend, std::string("oneDNN could not create a primitive: ") + e.what());
    } catch (const std::bad_alloc&) {
      n.fail(ErrorCode::out_of_memory, "out of memory while preparing the kernel");
    }
    step.precision = precision_name(ctx.dst_dtype.empty() ? DataType::f32 : ctx.dst_dtype[0]);
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const SrcInfo& s = ctx.src[k];
      if (!s.present) {
        step.src.push_back({});
      } else if (s.constant) {
        step.src.push_back({-1, s.constant->raw()});
      } else {
        step.src.push_back({buffer_in_layout(n.inputs[k], ctx.src_want[k], n.where()), nullptr});
      }
    }
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      ValueState& vs = values_[n.outputs[k]];
      vs.buffer = new_buffer(ctx.dst_md[k], vs.shape, vs.dtype);
      step.dst.push_back(vs.buffer);
      const int acc = ctx.dst_accumulates[k];
      if (acc >= 0) accumulates_.push_back({plan_->steps.size(), k, static_cast<size_t>(acc)});
    }
    plan_->steps.push_back(std::move(step));
  }

  void finish_outputs() {
    plan_->outputs.resize(g_.outputs.size());
    for (size_t i = 0; i < g_.outputs.size(); ++i) {
      const int id = g_.outputs[i];
      const ValueState& vs = values_[id];
      if (vs.constant) {
        plan_->outputs[i] = vs.constant->clone();
        output_buffers_.push_back(-1);
        continue;
      }
      const int b = buffer_in_layout(id, plain_md(vs.shape, vs.dtype), "graph output");
      plan_->buffers[b].pinned = true;
      output_buffers_.push_back(b);
    }
  }

  void compute_lifetimes() {
    std::vector<Buffer>& buffers = plan_->buffers;
    const int end = static_cast<int>(plan_->steps.size());
    for (int s = 0; s < end; ++s) {
      for (const Arg& a : plan_->steps[s].src) {
        if (a.buffer >= 0) buffers[a.buffer].last = std::max(buffers[a.buffer].last, s);
      }
      for (int b : plan_->steps[s].dst) {
        if (buffers[b].first < 0) buffers[b].first = s;
      }
    }
    for (size_t b = 0; b < buffers.size(); ++b) {
      Buffer& buf = buffers[b];
      if (buf.pinned) {
        buf.first = 0;
        buf.last = end;
      }
      if (buf.first < 0) buf.first = 0;
      buf.last = std::max(buf.last, buf.first);
      Storage st;
      st.bytes = buf.bytes;
      st.first = buf.first;
      st.last = buf.last;
      st.pinned = buf.pinned;
      buf.storage = static_cast<int>(plan_->storages.size());
      plan_->storages.push_back(st);
    }
  }

  // A kernel that accumulates into its output (sum post-op) reads the prior
  // contents of that output: share the buffer with the input when nothing
  // reads the input afterwards, copy it otherwise.
  void share_accumulators() {
    std::vector<Buffer>& buffers = plan_->buffers;
    for (const Accumulate& a : accumulates_) {
      Step& step = plan_->steps[a.step];
      const Arg src = step.src[a.src];
      const int dst = step.dst[a.dst];
      bool share = src.buffer >= 0;
      if (share) {
        Storage& st = plan_->storages[buffers[src.buffer].storage];
        for (size_t k = 0; k < step.src.size(); ++k) {
          if (k != a.src && step.src[k].buffer == src.buffer) share = false;
        }
        share = share && !st.pinned && !buffers[dst].pinned &&
                st.last == static_cast<int>(a.step) &&
                buffers[src.buffer].bytes == buffers[dst].bytes;
        if (share) {
          plan_->storages[buffers[dst].storage].bytes = 0;  // now unused
          buffers[dst].storage = buffers[src.buffer].storage;
          st.last = std::max(st.last, buffers[dst].last);
        }
      }
      if (!share) step.pre_copies.push_back({src.buffer, dst});
      if (!share && src.buffer < 0) {
        fail(ErrorCode::internal, "node '" + step.name + "' accumulates into a constant");
      }
    }
  }

  void place_and_bind() {
    std::vector<Lifetime> lifetimes;
    for (const Storage& st : plan_->storages) lifetimes.push_back({st.bytes, st.first, st.last});
    // Pinned storages live for the whole run; planning them as such keeps
    // everyone else out of their memory.
    const MemoryPlan mp = plan_memory(lifetimes);
    size_t scratch = 0;
    for (const Step& s : plan_->steps) scratch = std::max(scratch, s.kernel->scratchpad_bytes());
    const size_t scratch_offset = mp.total;
    try {
      plan_->arena = Tensor(DataType::u8, {static_cast<int64_t>(mp.total + scratch)});
    } catch (const Error&) {
      fail(ErrorCode::out_of_memory,
           "cannot allocate the " + std::to_string(mp.total + scratch) + "-byte activation arena");
    }
    auto* base = static_cast<uint8_t*>(plan_->arena.raw());
    for (size_t i = 0; i < plan_->storages.size(); ++i) plan_->storages[i].offset = mp.offsets[i];
    auto at = [&](int b) -> void* {
      return base + plan_->storages[plan_->buffers[b].storage].offset;
    };
    plan_->scratchpad = base + scratch_offset;
    for (Step& s : plan_->steps) {
      std::vector<const void*> src;
      for (const Arg& a : s.src) src.push_back(a.buffer >= 0 ? at(a.buffer) : a.constant);
      std::vector<void*> dst;
      for (int b : s.dst) dst.push_back(at(b));
      s.kernel->bind(src, dst, plan_->scratchpad);
      for (const auto& [from, to] : s.pre_copies) {
        s.copies.push_back({at(from), at(to), plan_->buffers[to].bytes});
      }
    }
    for (size_t i = 0; i < g_.inputs.size(); ++i) {
      const ValueState& vs = values_[g_.inputs[i]];
      plan_->inputs.push_back(Tensor::wrap(vs.dtype, vs.shape, at(input_buffers_[i])));
    }
    for (size_t i = 0; i < g_.outputs.size(); ++i) {
      if (output_buffers_[i] < 0) continue;  // a constant, cloned already
      const ValueState& vs = values_[g_.outputs[i]];
      plan_->outputs[i] = Tensor::wrap(vs.dtype, vs.shape, at(output_buffers_[i]));
    }
  }

  struct Accumulate {
    size_t step, dst, src;
  };

  SessionState& state_;
  const ModelData& model_;
  const Graph& g_;
  std::vector<ValueState> values_;
  std::vector<bool> folded_;
  std::vector<int> input_buffers_, output_buffers_;
  std::vector<Accumulate> accumulates_;
  std::unique_ptr<Plan> plan_;
};

}  // namespace

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

std::unique_ptr<Plan> make_plan(SessionState& state, const std::map<std::string, Shape>& shapes) {
  return Planner(state).run(shapes);
}

}  // namespace detail
}  // namespace octet
