// `octet eval NAME --data FILE.tsv|FILE.json --vocab vocab.txt`: a BERT model
// on text data, fp32 against int8. A .tsv of sentence<TAB>label lines gives
// accuracy; a SQuAD v1.1 .json gives exact match and F1 of the best span
// (apps/octet/text/text_data.hpp, text_qa.hpp). The same agreement line as for
// images says how often int8 gives fp32's answer.
#pragma once

#include <cstdint>
#include <string>

#include "apps/octet/common/data_flags.hpp"
#include "apps/octet/common/session_flags.hpp"

namespace octet::cli {

struct TextEvalArgs {
  std::string model;
  DataFlags data;  // --data, --samples/--skip, --vocab, --max-length; the image flags do not apply
  int64_t max_answer_tokens = 30;
  int64_t batch = 32;
  bool fp32_only = false;
  bool json = false;
  SessionFlags session;
};

// True for the data files eval_text reads (by extension: .tsv, .json).
bool is_text_data(const std::string& path);
void eval_text(const TextEvalArgs& args);

}  // namespace octet::cli
