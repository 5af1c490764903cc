// What a BERT-style text model needs around it: the class names and
// tokenizer settings from its metadata, and a batch of encodings turned into
// its input tensors. Shared by `octet eval` (text data) and bert_demo.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loaders/data/tokenizer.hpp"
#include "octet/octet.hpp"

namespace octet::cli {

// From the model's metadata: "labels" (a list of strings; ONNX metadata_props
// "octet.labels") and "tokenizer" ({"lowercase": bool, "max_length": int};
// "octet.tokenizer"). Absent keys leave the defaults; a malformed value is an
// Error(invalid_model) naming the model and the key.
struct TextModelInfo {
  std::vector<std::string> labels;
  bool lowercase = true;
  int64_t max_length = 0;  // 0: not given
  int64_t vocab_size = 0;  // 0: not given
};
TextModelInfo text_model_info(const Model& model, const std::string& model_name);
// Error(invalid_argument) when the model's tokenizer settings do not fit this
// tokenizer: a cased model, or another vocabulary size (ids would be wrong).
void check_tokenizer(const TextModelInfo& info, const BertTokenizer& tokenizer,
                     const std::string& model_name, const std::string& vocab_path);

// What every text command needs first: the vocabulary at `vocab_path`
// (Error(invalid_argument) naming `data_name` when none was given) checked
// against the model
// (check_tokenizer), and the tokens a text: `max_length` if not 0, else the
// model's metadata, else `default_length`.
struct TextSetup {
  BertTokenizer tokenizer;
  TextModelInfo info;
  size_t max_length = 0;
};
TextSetup text_setup(const Model& model, const std::string& model_name,
                     const std::string& data_name, const std::string& vocab_path, size_t max_length,
                     size_t default_length);

// labels[k], or "class k" past the end of the list.
std::string label_name(const std::vector<std::string>& labels, int64_t k);

// The model's sequence length if its input_ids dimension 1 is fixed, else -1.
int64_t fixed_sequence_length(const Model& model);

// The encodings (made without padding) as the model's inputs, in
// Model::inputs() order: input_ids, attention_mask, token_type_ids (any
// subset, s64 [n, length]), padded with `pad_id` to `length` (0: the
// longest encoding) or to the model's fixed length. An input of another name or dtype, or an
// encoding longer than a fixed length, is an Error(invalid_argument) naming
// the model and the input.
std::vector<Tensor> bert_batch(const Model& model, const std::string& model_name,
                               const std::vector<BertEncoding>& encodings, int64_t pad_id,
                               int64_t length = 0);

// The classifier's output: "logits", else the only output. A model with
// several outputs and none named "logits" (a span head) is an
// Error(invalid_argument) that lists them.
size_t classifier_output(const Model& model, const std::string& model_name);

// exp(x - max) / sum: probabilities from one row of logits.
std::vector<float> softmax(const float* logits, int64_t n);

}  // namespace octet::cli
