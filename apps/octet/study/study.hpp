// `octet study`: the experiments of Wu et al. 2020 ("Integer Quantization for
// Deep Learning Inference") on a user's model and data, as one table:
//
//   fp32                  the reference every row is compared with;
//   weight-only int8      activations fp32, weights int8 per channel or per
//                         tensor, with BatchNorm folded into the Conv before
//                         quantizing or not (Model::with_fake_quantized_weights,
//                         ImportOptions::fold_batchnorm);
//   PTQ                   weights and activations int8, one row per
//                         calibration method of one calibration;
//   partial               the per-layer ablation's ranking and the fallback to
//                         fp32 that meets --target-drop (sensitivity/ablation);
//   QAT                   a QAT'd QDQ model in int8 (and fp32), when given.
//
// Every row runs the same samples, held in memory, against fp32's outputs
// (sensitivity/sensitivity.hpp's Evaluator): top-1 with labels, and always
// the output SQNR and cosine. A row that cannot be measured for this model
// says why; it never carries a number.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/octet/common/data_flags.hpp"
#include "apps/octet/sensitivity/sensitivity.hpp"

namespace octet::cli {

struct StudyOptions {
  std::string model;  // NAME (octet model) or .onnx
  DataFlags data;
  std::string table;               // a calibration table; empty: calibrate on the samples
  std::string qat;                 // a QAT'd QDQ model (.onnx or NAME); empty: no QAT row
  std::string method;              // the ablation's method; empty: the best PTQ row's
  std::string metric;              // top1, cosine or sqnr; empty: top1 with labels, else cosine
  std::string target_drop = "1%";  // "" or "none": ranking only
  int64_t batch = 32;
  int threads = 0;
  double max_seconds = 0;   // the ablation's budget; 0: none
  bool sensitivity = true;  // false: no per-layer ablation (no ranking, no partial row)
  std::function<void(const std::string&)> note;  // progress; may be empty
};

struct StudyRow {
  std::string group;                  // "fp32", "weights", "ptq", "partial", "qat"
  std::string name;                   // what the row is, in words
  std::string weights;                // "fp32", "int8 per channel", "int8 per tensor"
  std::string batchnorm;              // "folded", "not folded", "" (not a weight-only row)
  std::string activations;            // "fp32", "int8 <method>", "int8 (QDQ)"
  std::string method;                 // the calibration method, for PTQ and partial rows
  std::optional<TrialResult> result;  // absent: not available, see `note`
  std::string note;
};

struct StudyResult {
  std::vector<StudyRow> rows;
  Metric metric = Metric::top1;
  bool labeled = false;
  TrialResult fp32;
  std::string auto_method;  // highest output SQNR against fp32 (--choose auto's rule)
  std::string best_method;  // highest metric, then SQNR: the ablation's default
  std::map<std::string, double> table_scores;  // the table's own --choose auto scores
  nlohmann::ordered_json header;               // model, data, calibration, machine
  nlohmann::ordered_json sensitivity;          // an octet-sensitivity document, or null
};

StudyResult run_study(const StudyOptions& options);

// The "octet-study" file, version 1 (docs/workflow.md).
nlohmann::ordered_json study_json(const StudyResult& study);
// The table `octet study` prints, with the notes of unavailable rows.
std::string format_study(const StudyResult& study);

}  // namespace octet::cli
