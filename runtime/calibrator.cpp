// Max calibration: run the model in fp32 with every activation exposed and
// keep, per activation, the largest magnitude and whether it was ever negative.
#include <algorithm>
#include <cmath>

#include "runtime/model.hpp"

namespace octet {
namespace detail {

struct CalibratorState {
  Model model;
  std::vector<int> observed;  // value ids, in the order of the observing session's outputs
  Session session;
  std::vector<float> amax;
  std::vector<bool> negative;
  int64_t batches = 0;

  CalibratorState(Model m, Model observing, std::vector<int> ids, SessionOptions options)
      : model(std::move(m)),
        observed(std::move(ids)),
        session(std::move(observing), options),
        amax(observed.size(), 0.f),
        negative(observed.size(), false) {}
};

namespace {

// Activations worth a range: values written by a node, and f32 graph inputs.
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

}  // namespace
}  // namespace detail

Calibrator::Calibrator(Model model, int threads) {
  const Graph& g = model.data()->graph;
  std::vector<int> ids = detail::activations(g);
  // The same graph with every activation as an extra output: the session
  // then materializes each one as a plain f32 tensor.
  Graph observing = g;
  for (int v : ids) observing.outputs.push_back(v);
  SessionOptions options;
  options.threads = threads;
  options.precision = Precision::fp32;
  Model observer(detail::build_model(std::move(observing), model.data()->source));
  state_ = std::make_unique<detail::CalibratorState>(std::move(model), std::move(observer),
                                                     std::move(ids), options);
}

Calibrator::~Calibrator() = default;
Calibrator::Calibrator(Calibrator&&) noexcept = default;
Calibrator& Calibrator::operator=(Calibrator&&) noexcept = default;

void Calibrator::add(const std::vector<Tensor>& inputs) {
  detail::CalibratorState& s = *state_;
  const std::vector<Tensor>& outputs = s.session.run(inputs);
  const size_t first = s.model.outputs().size();
  for (size_t i = 0; i < s.observed.size(); ++i) {
    const Tensor& t = outputs[first + i];
    // The graph's dtypes of intermediate values are only hints; shape
    // arithmetic (s64) and masks have no range to measure.
    if (t.dtype() != DataType::f32) continue;
    const float* p = t.data<float>();
    float amax = s.amax[i];
    bool negative = s.negative[i];
    for (int64_t k = 0; k < t.numel(); ++k) {
      if (std::isfinite(p[k])) amax = std::max(amax, std::fabs(p[k]));
      negative = negative || p[k] < 0;
    }
    s.amax[i] = amax;
    s.negative[i] = negative;
  }
  ++s.batches;
}

int64_t Calibrator::batches() const {
  return state_->batches;
}

Model Calibrator::quantized_model() const {
  const detail::CalibratorState& s = *state_;
  if (s.batches == 0) {
    throw Error(ErrorCode::invalid_argument, "the calibrator has seen no data: call add() first");
  }
  Graph g = s.model.data()->graph;
  for (size_t i = 0; i < s.observed.size(); ++i) {
    if (s.amax[i] <= 0) continue;  // all zeros: no usable range
    g.values[s.observed[i]].quant =
        ActivationQuant{s.amax[i], s.negative[i] ? DataType::s8 : DataType::u8, "calibration:max"};
  }
  return Model(
      detail::build_model(std::move(g), s.model.data()->source, s.model.data()->import_log));
}

}  // namespace octet
