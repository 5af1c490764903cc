// Two-pass calibration: run the model in fp32 with every activation exposed;
// pass 1 keeps each activation's min and max, pass 2 its histogram of |x|
// over [0, max|x|]. Every method is then computed from the same histograms.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <limits>

#include <omp.h>

#include "runtime/calibration/calibration_methods.hpp"
#include "runtime/ir/hash.hpp"
#include "runtime/model/model.hpp"

namespace octet {
namespace detail {

namespace {

// Activations worth a range: f32 values written by a node, and f32 graph inputs.
std::vector<int> activations(const Graph& g) {
  std::vector<int> ids;
  for (const Node& n : g.nodes) {
    for (int v : n.outputs) {
      if (g.values[v].dtype == DataType::f32) ids.push_back(v);
    }
  }
  for (int v : g.inputs) {
    if (g.values[v].dtype == DataType::f32) ids.push_back(v);
  }
  return ids;
}

// An f32 initializer none of whose values is negative (a Clip's min of 0).
bool initializer_non_negative(const Value& v) {
  if (!v.is_initializer() || v.data.dtype() != DataType::f32) return false;
  const float* x = v.data.data<float>();
  return std::none_of(x, x + v.data.numel(), [](float f) { return f < 0; });
}

// Values the graph proves non-negative whatever the input, as each op tells
// (Op::output_never_negative) from what is known of its inputs: they are
// calibrated as u8. A value merely never seen negative on the calibration
// data is not enough: a negative input at run time would be clamped to 0
// without a word.
std::vector<bool> proven_non_negative(const ModelData& m) {
  const Graph& g = m.graph;
  std::vector<bool> known(g.values.size(), false);
  for (size_t v = 0; v < g.values.size(); ++v) known[v] = initializer_non_negative(g.values[v]);
  for (size_t i = 0; i < g.nodes.size(); ++i) {  // topological order: inputs are decided first
    const Node& n = g.nodes[i];
    std::vector<bool> src;
    for (int v : n.inputs) src.push_back(v != kNoValue && known[v]);
    const bool result = m.ops[i]->output_never_negative(src);
    for (int v : n.outputs) {
      if (v != kNoValue) known[v] = result;
    }
  }
  return known;
}

int thread_count(int requested) {
  return requested > 0 ? requested : omp_get_max_threads();
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  // Reproducible tables (and tests): SOURCE_DATE_EPOCH, as reproducible builds do.
  if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH")) {
    t = static_cast<std::time_t>(std::strtoll(epoch, nullptr, 10));
  }
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

struct Observed {
  int value = kNoValue;
  bool is_unsigned = false;
  bool seen = false;  // an f32 tensor arrived (shape values and masks never do)
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
  AbsHistogram histogram;
};

}  // namespace detail

struct CalibratorState {
  Model model;
  CalibrationOptions options;
  std::vector<detail::Observed> observed;  // in the order of the observing session's extra outputs
  Session session;
  bool split_batch = false;  // every input leads with a symbolic dim: run sample by sample
  int pass = 1;
  int64_t samples[2] = {0, 0};
  uint64_t fingerprint[2] = {0, 0};  // sum of per-sample hashes: order-independent

  CalibratorState(Model m, CalibrationOptions o, Model observing, SessionOptions session_options)
      : model(std::move(m)),
        options(std::move(o)),
        session(std::move(observing), session_options) {}

  void run_sample(const std::vector<Tensor>& inputs);
  void observe(const std::vector<Tensor>& outputs);
};

void CalibratorState::run_sample(const std::vector<Tensor>& inputs) {
  Hasher h;
  for (const Tensor& t : inputs) {
    for (int64_t d : t.shape()) h.u64(static_cast<uint64_t>(d));
    h.bytes(t.raw(), t.nbytes());
  }
  fingerprint[pass - 1] += h.value();
  ++samples[pass - 1];
  observe(session.run(inputs));
}

void CalibratorState::observe(const std::vector<Tensor>& outputs) {
  const size_t first = model.outputs().size();
  const int n = static_cast<int>(observed.size());
  // One tensor per thread; each writes only its own row, so the result does
  // not depend on scheduling.
#pragma omp parallel for schedule(dynamic) num_threads(detail::thread_count(options.threads))
  for (int i = 0; i < n; ++i) {
    const Tensor& t = outputs[first + static_cast<size_t>(i)];
    if (t.dtype() != DataType::f32) continue;
    detail::Observed& o = observed[static_cast<size_t>(i)];
    o.seen = true;
    const float* p = t.data<float>();
    const int64_t count = t.numel();
    if (pass == 1) {
      float lo = o.min, hi = o.max;
      for (int64_t k = 0; k < count; ++k) {
        if (!std::isfinite(p[k])) continue;  // e.g. a -inf attention mask
        lo = std::min(lo, p[k]);
        hi = std::max(hi, p[k]);
      }
      o.min = lo;
      o.max = hi;
    } else if (!o.histogram.counts.empty()) {
      for (int64_t k = 0; k < count; ++k) {
        if (!std::isfinite(p[k])) continue;
        const float a = std::fabs(p[k]);
        ++o.histogram.counts[o.histogram.bin_of(std::min<float>(a, o.histogram.range))];
      }
    }
  }
}

Calibrator::Calibrator(Model model, CalibrationOptions options) {
  std::vector<std::string> methods;
  for (const std::string& m : options.methods) {
    if (m == "all") {
      for (const std::string& a : all_methods()) methods.push_back(a);
    } else {
      methods.push_back(canonical_method(m));
    }
  }
  std::sort(methods.begin(), methods.end());
  methods.erase(std::unique(methods.begin(), methods.end()), methods.end());
  if (methods.empty()) throw Error(ErrorCode::invalid_argument, "no calibration method given");
  options.method =
      options.method.empty()
          ? canonical_method(options.methods.front() == "all" ? "entropy" : options.methods.front())
          : canonical_method(options.method);
  if (std::find(methods.begin(), methods.end(), options.method) == methods.end()) {
    throw Error(ErrorCode::invalid_argument, "the chosen calibration method '" + options.method +
                                                 "' is not among those computed");
  }
  options.methods = methods;
  if (options.bins < 128 || options.bins > (1 << 20)) {
    throw Error(ErrorCode::invalid_argument,
                "histogram bins must be in [128, 1048576], got " + std::to_string(options.bins));
  }

  const Graph& g = model_data(model).graph;
  const std::vector<int> ids = detail::activations(g);
  const std::vector<bool> non_negative = detail::proven_non_negative(model_data(model));
  // The same graph with every activation as an extra output: the session
  // then materializes each one as a plain f32 tensor.
  Graph observing = g;
  for (int v : ids) observing.outputs.push_back(v);
  SessionOptions session_options;
  session_options.threads = options.threads;
  session_options.precision = Precision::fp32;
  Model observer = detail::build_model(std::move(observing), model_data(model).source);
  bool split = !model.inputs().empty();
  for (const TensorInfo& in : model.inputs()) {
    split = split && !in.dims.empty() && in.dims[0].size < 0;
  }
  state_ = std::make_unique<CalibratorState>(std::move(model), std::move(options),
                                             std::move(observer), session_options);
  state_->split_batch = split;
  for (int v : ids) {
    detail::Observed o;
    o.value = v;
    o.is_unsigned = non_negative[v];
    state_->observed.push_back(std::move(o));
  }
}

Calibrator::~Calibrator() = default;
Calibrator::Calibrator(Calibrator&&) noexcept = default;
Calibrator& Calibrator::operator=(Calibrator&&) noexcept = default;

void Calibrator::add(const std::vector<Tensor>& inputs) {
  CalibratorState& s = *state_;
  const size_t n_inputs = s.model.inputs().size();
  if (inputs.size() != n_inputs) {
    throw Error(ErrorCode::invalid_argument, "the calibrator needs " + std::to_string(n_inputs) +
                                                 " input tensors, got " +
                                                 std::to_string(inputs.size()));
  }
  const int64_t batch = !inputs.empty() && inputs[0].rank() > 0 ? inputs[0].dim(0) : 1;
  bool split = s.split_batch && batch > 1;
  for (const Tensor& t : inputs) split = split && t.rank() > 0 && t.dim(0) == batch;
  if (!split) {
    s.run_sample(inputs);
    return;
  }
  std::vector<Tensor> sample(inputs.size());
  for (int64_t b = 0; b < batch; ++b) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Tensor& t = inputs[i];
      Shape shape = t.shape();
      shape[0] = 1;
      const size_t stride = t.nbytes() / static_cast<size_t>(batch);
      // Session::run copies its inputs; the view is never written.
      void* data = const_cast<char*>(static_cast<const char*>(t.raw())) + stride * b;
      sample[i] = Tensor::wrap(t.dtype(), shape, data);
    }
    s.run_sample(sample);
  }
}

void Calibrator::start_histograms() {
  CalibratorState& s = *state_;
  if (s.pass != 1) throw Error(ErrorCode::invalid_argument, "the calibrator is already in pass 2");
  if (s.samples[0] == 0) {
    throw Error(ErrorCode::invalid_argument, "the calibrator has seen no data: call add() first");
  }
  for (detail::Observed& o : s.observed) {
    const float range = std::max(std::fabs(o.min), std::fabs(o.max));
    // All zeros (or never an f32 tensor): no range to histogram.
    if (o.seen && std::isfinite(range) && range > 0) {
      o.histogram.range = range;
      o.histogram.counts.assign(static_cast<size_t>(s.options.bins), 0);
    }
  }
  s.pass = 2;
}

bool Calibrator::needs_histograms() const {
  const auto& methods = state_->options.methods;
  return methods.size() > 1 || methods.front() != "max";
}

int Calibrator::pass() const {
  return state_->pass;
}

int64_t Calibrator::samples() const {
  return state_->samples[state_->pass - 1];
}

CalibrationTable Calibrator::table() const {
  const CalibratorState& s = *state_;
  if (s.samples[0] == 0) {
    throw Error(ErrorCode::invalid_argument, "the calibrator has seen no data: call add() first");
  }
  if (needs_histograms()) {
    if (s.pass == 1) {
      throw Error(ErrorCode::invalid_argument,
                  "methods other than max need pass 2: call start_histograms() and feed the "
                  "same samples again");
    }
    if (s.samples[1] != s.samples[0] || s.fingerprint[1] != s.fingerprint[0]) {
      throw Error(ErrorCode::invalid_argument, "pass 2 saw different samples than pass 1 (" +
                                                   std::to_string(s.samples[1]) + " vs " +
                                                   std::to_string(s.samples[0]) +
                                                   "): feed the same samples to both passes");
    }
  }
  CalibrationTable table;
  table.model_hash = s.model.content_hash();
  table.octet_version = version();
  table.date = detail::utc_now();
  table.methods = s.options.methods;
  table.method = s.options.method;
  table.bins = needs_histograms() ? s.options.bins : 0;
  table.samples = s.samples[0];
  table.data_fingerprint = Hasher::to_hex(s.fingerprint[0]);
  const Graph& g = model_data(s.model).graph;
  for (const detail::Observed& o : s.observed) {
    const float range = std::max(std::fabs(o.min), std::fabs(o.max));
    if (!o.seen || !std::isfinite(range) || range <= 0) continue;
    TensorCalibration t;
    t.name = g.values[o.value].name;
    t.dtype = o.is_unsigned ? DataType::u8 : DataType::s8;
    t.min = o.min;
    t.max = o.max;
    if (needs_histograms()) t.histogram = o.histogram.counts;
    table.tensors.push_back(std::move(t));
  }
  // Entropy costs O(bins^2) per tensor: spread the tensors over the cores.
  const int n = static_cast<int>(table.tensors.size());
#pragma omp parallel for schedule(dynamic) num_threads(detail::thread_count(s.options.threads))
  for (int i = 0; i < n; ++i) {
    TensorCalibration& t = table.tensors[static_cast<size_t>(i)];
    AbsHistogram h;
    h.range = std::max(std::fabs(t.min), std::fabs(t.max));
    h.counts = t.histogram;
    for (const std::string& m : s.options.methods) {
      t.amax_by_method[m] = static_cast<float>(compute_amax(h, m, t.dtype == DataType::u8));
    }
    t.method = s.options.method;
    t.amax = t.amax_by_method[t.method];
  }
  return table;
}

Model Calibrator::quantized_model() const {
  return quantize(state_->model, table());
}

}  // namespace octet
