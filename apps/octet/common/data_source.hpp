// Where a command's samples come from (`--data`): a dataset (images, .npy or
// a list, through data_flags.hpp) for a model with one batched input, or
// `name=X.npy,...`, one array per model input (e.g. BERT's pre-tokenized
// input_ids, attention_mask, token_type_ids) whose first dimension indexes
// samples.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "apps/octet/common/data_flags.hpp"
#include "octet/octet.hpp"

namespace octet::cli {

struct Source {
  size_t count = 0;
  int64_t fixed_batch = 0;  // > 0: the model takes exactly this many samples per run
  // The inputs of samples [first, first + n), in Model::inputs() order.
  std::function<std::vector<Tensor>(size_t first, size_t n)> batch;
  std::vector<int> labels;  // one per sample, or empty when the data has none
  std::string description;  // for provenance: what was read, which samples
};

// The first sample of each batch of `step` that `octet calibrate --choose
// auto` scores: ceil(score_samples / step) whole batches (all of them for
// score_samples 0 or more batches than there are), spread evenly over the
// `count` samples, because a dataset may be sorted by class.
std::vector<size_t> scored_batch_starts(size_t count, size_t step, int64_t score_samples);

// `command` names the caller in errors ("calibrate needs ...").
Source open_source(const Model& model, const std::string& model_name, const DataFlags& flags,
                   const std::string& command);

}  // namespace octet::cli
