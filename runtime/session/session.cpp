// The public Session: prepare() builds a Plan, run() executes its steps.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "ops/cpu_engine.hpp"
#include "runtime/session/session_state.hpp"

namespace octet {

SessionState::SessionState(Model m, SessionOptions o)
    : model(std::move(m)),
      options(std::move(o)),
      stream(cpu_engine()),
      constants(model_data(model).constants) {}

namespace detail {
namespace {

// oneDNN's OpenMP runtime takes its thread count from the calling thread, so
// each session sets it on the thread that prepares or runs it.
void apply_threads(const SessionOptions& options) {
  if (options.threads > 0) omp_set_num_threads(options.threads);
}

double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
      .count();
}

}  // namespace

std::string precision_name(const Step& step) {
  if (step.int8) return "int8";
  if (step.dtype == DataType::f32) return "fp32";
  return to_string(step.dtype);
}

}  // namespace detail

Session::Session(Model model, SessionOptions options) {
  if (!ModelAccess::data(model))
    throw Error(ErrorCode::invalid_argument, "Session needs a loaded Model");
  if (options.threads < 0) {
    throw Error(ErrorCode::invalid_argument, "threads must be >= 0 (0 means every core)");
  }
  if (options.kept_plans < 0) {
    throw Error(ErrorCode::invalid_argument, "kept_plans must be >= 0 (0 keeps none)");
  }
  state_ = std::make_unique<SessionState>(std::move(model), std::move(options));
}

Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

void Session::prepare(const std::map<std::string, Shape>& input_shapes) {
  const auto start = std::chrono::steady_clock::now();
  detail::apply_threads(state_->options);
  SessionState& s = *state_;
  if (s.plan && s.plan->input_shapes == input_shapes) {
    s.prepare_ms = detail::elapsed_ms(start);
    return;
  }
  // A kept plan of these shapes is swapped in; otherwise the new plan is
  // built completely before the old one is set aside. Everything that can
  // fail comes first: a failed prepare leaves the session as it was.
  size_t reuse = s.kept.size();
  for (size_t i = 0; i < s.kept.size() && reuse == s.kept.size(); ++i) {
    if (s.kept[i]->input_shapes == input_shapes) reuse = i;
  }
  const bool keep_old = s.plan && s.options.kept_plans > 0;
  std::unique_ptr<detail::Plan> built;
  std::vector<LayerTime> profile;
  try {
    if (reuse == s.kept.size()) built = detail::make_plan(s, input_shapes);
    const detail::Plan& next = built ? *built : *s.kept[reuse];
    for (const detail::Step& step : next.steps) profile.push_back({step.name, 0, 0});
    if (keep_old) s.kept.emplace_front();  // the old plan's slot
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::out_of_memory, "out of memory while preparing the session (" +
                                              std::to_string(s.model.node_count()) + " nodes)");
  }
  if (!built) {
    reuse += keep_old;
    built = std::move(s.kept[reuse]);
    s.kept.erase(s.kept.begin() + static_cast<std::ptrdiff_t>(reuse));
  }
  if (keep_old) s.kept.front() = std::move(s.plan);
  s.plan = std::move(built);
  s.profile = std::move(profile);
  // Within the bounds: kept_plans plans, and with a memory limit the arenas
  // of all of them together.
  size_t bytes = s.plan->arena.nbytes();
  for (size_t i = 0; i < s.kept.size(); ++i) {
    bytes += s.kept[i]->arena.nbytes();
    const bool over_memory = s.options.memory_limit > 0 && bytes > s.options.memory_limit;
    if (static_cast<int>(i) >= s.options.kept_plans || over_memory) {
      s.kept.resize(i);
      break;
    }
  }
  s.prepare_ms = detail::elapsed_ms(start);
}

bool Session::prepared() const {
  return state_->plan != nullptr;
}

namespace {

const detail::Plan& need_plan(const SessionState& s) {
  if (!s.plan)
    throw Error(ErrorCode::invalid_argument, "the session is not prepared: call prepare() first");
  return *s.plan;
}

size_t index_of(const std::vector<TensorInfo>& infos, const std::string& name, const char* what) {
  for (size_t i = 0; i < infos.size(); ++i) {
    if (infos[i].name == name) return i;
  }
  std::string names;
  for (const TensorInfo& t : infos) names += (names.empty() ? "" : ", ") + t.name;
  throw Error(ErrorCode::invalid_argument, std::string("the model has no ") + what + " '" + name +
                                               "' (" + what + "s: " + names + ")");
}

}  // namespace

Tensor& Session::input(const std::string& name) {
  return input(index_of(state_->model.inputs(), name, "input"));
}

Tensor& Session::input(size_t index) {
  need_plan(*state_);
  if (index >= state_->plan->inputs.size()) {
    throw Error(ErrorCode::invalid_argument,
                "input index " + std::to_string(index) + " out of range");
  }
  return state_->plan->inputs[index];
}

void Session::run() {
  detail::Plan& plan = const_cast<detail::Plan&>(need_plan(*state_));
  detail::apply_threads(state_->options);
  const bool profile = state_->options.profile;
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    detail::Step& step = plan.steps[i];
    const auto start =
        profile ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
    for (const detail::Step::Copy& c : step.copies) std::memcpy(c.to, c.from, c.bytes);
    try {
      if (step.kernel) step.kernel->execute(state_->stream);
    } catch (const dnnl::error& e) {
      throw Error(ErrorCode::backend,
                  "layer '" + step.name + "' (" + step.op + "): oneDNN: " + e.what());
    }
    if (profile) {
      state_->stream.wait();
      state_->profile[i].total_ms += detail::elapsed_ms(start);
      ++state_->profile[i].count;
    }
  }
  state_->stream.wait();
}

const std::vector<Tensor>& Session::run(const std::vector<Tensor>& inputs) {
  const std::vector<TensorInfo>& infos = state_->model.inputs();
  if (inputs.size() != infos.size()) {
    throw Error(ErrorCode::invalid_argument, "run() got " + std::to_string(inputs.size()) +
                                                 " inputs, the model has " +
                                                 std::to_string(infos.size()));
  }
  bool same_shapes = state_->plan != nullptr;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].dtype() != infos[i].dtype) {
      throw Error(ErrorCode::invalid_argument, "input '" + infos[i].name + "' must be " +
                                                   to_string(infos[i].dtype) + ", got " +
                                                   to_string(inputs[i].dtype()));
    }
    same_shapes = same_shapes && state_->plan->inputs[i].shape() == inputs[i].shape();
  }
  if (!same_shapes) {
    std::map<std::string, Shape> shapes;
    for (size_t i = 0; i < inputs.size(); ++i) shapes[infos[i].name] = inputs[i].shape();
    prepare(shapes);
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::memcpy(state_->plan->inputs[i].raw(), inputs[i].raw(), inputs[i].nbytes());
  }
  run();
  return state_->plan->outputs;
}

const Tensor& Session::output(const std::string& name) const {
  return need_plan(*state_).outputs[index_of(state_->model.outputs(), name, "output")];
}

const std::vector<Tensor>& Session::outputs() const {
  return need_plan(*state_).outputs;
}

const Model& Session::model() const {
  return state_->model;
}
const SessionOptions& Session::options() const {
  return state_->options;
}
double Session::prepare_ms() const {
  return state_->prepare_ms;
}

std::vector<std::map<std::string, Shape>> Session::prepared_shapes() const {
  std::vector<std::map<std::string, Shape>> out;
  if (state_->plan) out.push_back(state_->plan->input_shapes);
  for (const auto& plan : state_->kept) out.push_back(plan->input_shapes);
  return out;
}

std::vector<LayerInfo> Session::layers() const {
  std::vector<LayerInfo> out;
  const Graph& g = model_data(state_->model).graph;
  for (const detail::Step& s : need_plan(*state_).steps) {
    std::string output;
    if (s.node >= 0 && !g.nodes[s.node].outputs.empty()) {
      output = g.values[g.nodes[s.node].outputs[0]].name;
    }
    out.push_back({s.name, s.op, detail::precision_name(s),
                   s.kernel ? s.kernel->name() : "view (no copy)", detail::reason_text(s.reason),
                   to_string(s.shape), output,
                   s.node >= 0 && model_data(state_->model).ops[s.node]->has_int8_kernel()});
  }
  return out;
}

std::vector<LayerTime> Session::profile() const {
  return state_->profile;
}

void Session::reset_profile() {
  state_->profile.clear();
  if (!state_->plan) return;
  for (const detail::Step& s : state_->plan->steps) state_->profile.push_back({s.name, 0, 0});
}

}  // namespace octet
