// Samples for the commands that feed a model real data (calibrate,
// sensitivity): a dataset of images or arrays for a one-input model, or one
// named .npy array per input.
#include "apps/octet/common/data_source.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <fstream>
#include <memory>

#include "apps/octet/common/common.hpp"
#include "apps/octet/text/text_data.hpp"
#include "apps/octet/text/text_model.hpp"
#include "loaders/data/npy.hpp"

namespace octet::cli {
namespace {

// --data DIR|LIST|X.npy: images or f32 arrays for a model with one input.
Source dataset_source(const Model& model, const std::string& model_name, const DataFlags& flags,
                      const std::string& command) {
  const TensorInfo& input = single_batched_input(model, model_name, command);
  auto data = std::make_shared<Dataset>(Dataset::open(flags.data));
  const ImagePreprocess pp =
      resolve_preprocess(model, model_name, flags.preprocess, data->grayscale());
  auto indices = std::make_shared<std::vector<size_t>>(select_samples(*data, flags.selection));
  if (indices->empty()) {
    throw Error(ErrorCode::invalid_argument, flags.data + ": the selection (" +
                                                 describe_selection(*data, flags.selection) +
                                                 ") is empty");
  }
  const Shape sample = per_sample_shape(input, *data, indices->front(), pp);
  Source s;
  s.count = indices->size();
  s.fixed_batch = std::max<int64_t>(input.dims[0].size, 0);
  s.batch = [data, indices, pp, sample](size_t first, size_t n) {
    Shape shape = sample;
    shape.insert(shape.begin(), static_cast<int64_t>(n));
    Tensor batch(DataType::f32, shape);
    data->load({indices->begin() + first, indices->begin() + first + n}, pp, batch);
    return std::vector<Tensor>{batch};
  };
  if (data->labeled()) {
    for (size_t i : *indices) s.labels.push_back(data->label(i));
  }
  s.description = flags.data + " (" + describe_selection(*data, flags.selection) + ", file list " +
                  data->fingerprint() + ")";
  return s;
}

// --data name=X.npy,name=Y.npy: one array per model input (e.g. BERT's
// pre-tokenized input_ids, attention_mask, token_type_ids), any dtype, the
// first dimension indexing samples.
Source named_arrays_source(const Model& model, const DataFlags& flags) {
  auto arrays = std::make_shared<std::vector<Tensor>>(model.inputs().size());
  std::string spec = flags.data;
  for (size_t start = 0; start <= spec.size();) {
    const size_t comma = std::min(spec.find(',', start), spec.size());
    const std::string item = spec.substr(start, comma - start);
    start = comma + 1;
    const size_t eq = item.find('=');
    if (eq == std::string::npos) {
      throw Error(ErrorCode::invalid_argument,
                  "--data '" + spec + "': expected name=file.npy,... for every model input");
    }
    const std::string name = item.substr(0, eq);
    size_t k = 0;
    while (k < model.inputs().size() && model.inputs()[k].name != name) ++k;
    if (k == model.inputs().size()) {
      throw Error(ErrorCode::invalid_argument, "--data: the model has no input '" + name + "'");
    }
    (*arrays)[k] = map_npy(item.substr(eq + 1));  // read row by row, not held
  }
  size_t count = 0;
  for (size_t k = 0; k < arrays->size(); ++k) {
    const TensorInfo& in = model.inputs()[k];
    const Tensor& t = (*arrays)[k];
    if (t.empty() && t.rank() == 0) {
      throw Error(ErrorCode::invalid_argument, "--data: no array for input '" + in.name + "'");
    }
    if (t.dtype() != in.dtype || t.rank() != in.dims.size() || t.rank() == 0) {
      throw Error(ErrorCode::invalid_argument,
                  "--data: input '" + in.name + "' is " + to_string(in.dtype) + " " +
                      format_dims(in.dims) + ", the array is " + to_string(t.dtype()) + " " +
                      to_string(t.shape()));
    }
    if (k > 0 && static_cast<size_t>(t.dim(0)) != count) {
      throw Error(ErrorCode::invalid_argument,
                  "--data: the arrays hold different numbers of samples (" + std::to_string(count) +
                      " and " + std::to_string(t.dim(0)) + ")");
    }
    count = static_cast<size_t>(t.dim(0));
  }
  const auto [skip, end] = selected_range(flags.selection, count, "--data " + spec);
  Source s;
  s.count = end - skip;
  if (s.count == 0) throw Error(ErrorCode::invalid_argument, "--data: no samples selected");
  s.fixed_batch = std::max<int64_t>(model.inputs()[0].dims[0].size, 0);
  s.batch = [arrays, skip = skip](size_t first, size_t n) {
    std::vector<Tensor> batch;
    for (const Tensor& t : *arrays) {
      Shape shape = t.shape();
      shape[0] = static_cast<int64_t>(n);
      Tensor part(t.dtype(), shape);
      const size_t row = t.nbytes() / static_cast<size_t>(t.dim(0));
      std::memcpy(part.raw(), static_cast<const char*>(t.raw()) + (skip + first) * row, n * row);
      batch.push_back(part);
    }
    return batch;
  };
  s.description =
      spec + " (samples [" + std::to_string(skip) + ", " + std::to_string(skip + s.count) + "))";
  return s;
}

// The texts of a sentence<TAB>label .tsv file (with its labels), or of any
// other file, one a line (blank lines skipped).
std::vector<LabeledText> read_texts(const std::string& path, bool tsv) {
  if (tsv) return read_labeled_tsv(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::io, path + ": cannot open");
  std::vector<LabeledText> texts;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    texts.push_back({line, -1, line_no});
  }
  if (!in.eof()) throw Error(ErrorCode::io, path + ": read error");
  if (texts.empty()) throw Error(ErrorCode::invalid_argument, path + ": no text in the file");
  return texts;
}

// --data X.tsv|X.txt --vocab V (.tsv: sentence<TAB>label; any other file:
// one text a line): texts for a BERT-style model, tokenized once
// and padded to one length for every batch (the model's fixed sequence
// length, else the longest selected text), so that the batch size does not
// change what the model sees.
Source text_source(const Model& model, const std::string& model_name, const DataFlags& flags) {
  const TextSetup text =
      text_setup(model, model_name, flags.data, flags.vocab, flags.max_length, 128);
  const BertTokenizer& tokenizer = text.tokenizer;
  const bool tsv = ends_with(flags.data, ".tsv");
  std::vector<LabeledText> texts = read_texts(flags.data, tsv);
  const auto [first, last] = selected_range(flags.selection, texts.size(), flags.data);
  if (first == last) throw Error(ErrorCode::invalid_argument, flags.data + ": no samples selected");
  auto encodings = std::make_shared<std::vector<BertEncoding>>();
  Source s;
  int64_t length = fixed_sequence_length(model);
  const bool fixed = length > 0;
  for (size_t i = first; i < last; ++i) {
    try {
      encodings->push_back(tokenizer.encode(texts[i].text, text.max_length, false));
    } catch (const Error& e) {
      throw Error(e.code(), flags.data + ":" + std::to_string(texts[i].line) + ": " + e.what());
    }
    if (!fixed) length = std::max(length, static_cast<int64_t>(encodings->back().input_ids.size()));
    if (tsv) s.labels.push_back(texts[i].label);
  }
  s.count = encodings->size();
  s.fixed_batch = std::max<int64_t>(model.inputs().at(0).dims.at(0).size, 0);
  s.batch = [model, model_name, encodings, pad = tokenizer.pad_id(), length](size_t begin,
                                                                             size_t n) {
    const std::vector<BertEncoding> part(encodings->begin() + begin,
                                         encodings->begin() + begin + n);
    return bert_batch(model, model_name, part, pad, length);
  };
  s.description = flags.data + " (samples [" + std::to_string(first) + ", " + std::to_string(last) +
                  "), " + std::to_string(length) + " tokens a sample)";
  return s;
}

}  // namespace

Source open_source(const Model& model, const std::string& model_name, const DataFlags& flags,
                   const std::string& command) {
  if (flags.data.find('=') != std::string::npos) return named_arrays_source(model, flags);
  if (ends_with(flags.data, ".json")) {
    throw Error(ErrorCode::invalid_argument,
                flags.data + ": SQuAD .json is for octet eval; " + command +
                    " takes the texts as .txt (one a line) or .tsv, or token ids as "
                    "name=X.npy arrays");
  }
  // A list file of images may be a .txt too: --vocab is what says text.
  if (!flags.vocab.empty() || ends_with(flags.data, ".tsv")) {
    return text_source(model, model_name, flags);
  }
  for (const TensorInfo& in : model.inputs()) {
    if (in.name == "input_ids") {
      throw Error(ErrorCode::invalid_argument,
                  model_name + " takes token ids: give --vocab vocab.txt to read " + flags.data +
                      " as text (one a line), or --data input_ids=X.npy,... arrays");
    }
  }
  return dataset_source(model, model_name, flags, command);
}

std::vector<size_t> scored_batch_starts(size_t count, size_t step, int64_t score_samples) {
  assert(step > 0);
  const size_t batches = (count + step - 1) / step;
  size_t scored = batches;
  if (score_samples > 0) {
    const size_t want = (static_cast<size_t>(score_samples) + step - 1) / step;
    scored = std::min(batches, std::max<size_t>(want, 1));
  }
  std::vector<size_t> starts;
  for (size_t i = 0; i < scored; ++i) starts.push_back(i * batches / scored * step);
  return starts;
}

}  // namespace octet::cli
