// The paper's per-layer ablation of a quantized model, shared by `octet
// sensitivity` and `octet study`: each int8 layer alone in int8 (and, if
// asked, every layer but it), a ranking, and the greedy fallback that sends
// layers to fp32 in rank order until the metric meets a target.
//
// Every configuration is a fresh Session over the same quantized Model and
// the Evaluator's in-memory samples. Sessions of one model share its weights
// and oneDNN's primitive cache, so preparing one costs little next to
// running the samples.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/octet/common/common.hpp"
#include "apps/octet/common/data_source.hpp"
#include "apps/octet/sensitivity/sensitivity.hpp"

namespace octet::cli {

// The selected samples as batches of `batch` rows (the last one zero-padded;
// its padding is not scored), decoded once: every configuration runs every
// sample. Past a few GiB of tensors that is the wrong tool for the data: an
// Error naming `data_name` says to select fewer.
std::vector<Batch> load_batches(const Source& source, int64_t batch, const std::string& data_name);

// The selected samples in memory with fp32's outputs on them, what every
// configuration is then measured against: batches of `batch` samples (of the
// model's own batch when it is fixed; at most the number of samples), and
// the input shapes the sessions are prepared for.
struct HeldSamples {
  std::unique_ptr<Evaluator> evaluator;
  std::map<std::string, Shape> shapes;
  int64_t batch = 0;
};
HeldSamples hold_samples(const Model& model, const Source& source, int64_t batch, int threads,
                         const std::string& data_name);

// The rows of `inputs` [0, rows) as tensors of `rows` along dimension 0,
// sharing their storage (a padded batch without its padding).
std::vector<Tensor> unpadded(const std::vector<Tensor>& inputs, int64_t rows);

struct LayerRow {
  LayerInfo info;
  bool measured = false;
  TrialResult only_this;  // this layer int8, every other fp32
  TrialResult all_but;    // every layer int8 but this one
  OutputError error;      // its output in the fully int8 model
  double sensitivity = 0;
};

struct AblationOptions {
  Metric metric = Metric::top1;
  int threads = 0;
  bool all_but = true;         // also measure every layer in int8 but this one
  double max_seconds = 0;      // for the sweep and the search, from construction; 0: no limit
  size_t max_fp32_layers = 0;  // the search stops past this many fp32 layers; 0: no limit
  std::function<void(const std::string&)> note;  // progress lines; may be empty
  std::string report_title;  // non-empty: print the all-int8 session's precision report
};

class Ablation {
 public:
  // Lists the layers and runs the fully int8 model. `evaluator` must outlive
  // this object. Error(invalid_argument) when no layer runs in int8.
  Ablation(Model quantized, const Evaluator& evaluator, std::map<std::string, Shape> shapes,
           AblationOptions options, const std::string& model_name);

  // The output error of every layer in the fully int8 model, then the sweep.
  void measure_layers();
  // Most sensitive first (see ablation.cpp).
  void rank();
  // Layers to fp32 in rank order until `target` is met; `on_better` sees
  // each configuration better than the best so far (to save it early).
  void search(const Target& target,
              const std::function<void(const std::vector<std::string>&)>& on_better = {});

  const Model& quantized() const { return quantized_; }
  const TrialResult& int8() const { return int8_; }
  double fp32_value() const { return evaluator_.fp32().value(options_.metric); }
  double drop(const TrialResult& r) const { return fp32_value() - r.value(options_.metric); }
  const std::vector<LayerRow>& rows() const { return rows_; }
  bool searched() const { return searched_; }
  bool reached() const { return reached_; }
  double threshold() const { return target_.threshold(fp32_value()); }
  const std::vector<std::string>& fallback() const { return fallback_; }
  const TrialResult& fallback_result() const { return fallback_result_; }
  bool out_of_time() const;
  int trials() const { return trials_; }
  int sweep_trials() const { return sweep_trials_; }
  double sweep_seconds() const { return sweep_s_; }
  double prepare_ms() const { return prepare_ms_; }

  // One configuration: these layers in fp32, the rest in `precision`.
  TrialResult trial(const std::vector<std::string>& fp32_layers, Precision precision,
                    const std::string& report_title = "");

  // The parts of an octet-sensitivity file (docs/sensitivity.md) this holds:
  // metric, fp32, int8, sensitivity_unit, layers and (after a search) fallback,
  // the latter without latency.
  nlohmann::ordered_json to_json() const;
  nlohmann::ordered_json result_json(const TrialResult& r) const;

 private:
  void note(const std::string& line) const {
    if (options_.note) options_.note(line);
  }

  const Model quantized_;
  const Evaluator& evaluator_;
  const std::map<std::string, Shape> shapes_;
  const AblationOptions options_;
  const Clock::time_point start_ = Clock::now();
  TrialResult int8_;
  std::vector<LayerRow> rows_;  // execution order, then ranked
  std::vector<std::string> all_names_;
  int trials_ = 0, sweep_trials_ = 0;
  double prepare_ms_ = 0, sweep_s_ = 0;
  Target target_;
  bool searched_ = false, reached_ = false;
  std::vector<std::pair<std::vector<std::string>, TrialResult>> steps_;
  std::vector<std::string> fallback_;
  TrialResult fallback_result_;
};

// A metric's value for tables: "inf" for an infinite SQNR, 5 decimals for a
// cosine, 2 otherwise, and never "-0.00".
std::string metric_text(double v, Metric m);
// A JSON number, or null for a non-finite value (the SQNR of identical outputs).
nlohmann::ordered_json json_number(double v);

}  // namespace octet::cli
