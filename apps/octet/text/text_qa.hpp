// Extractive question answering with a SQuAD-style span head: the
// [CLS] question [SEP] context [SEP] encoding with a map from context tokens
// back to the context's text, and the best answer span from a model's
// start_logits / end_logits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "loaders/data/tokenizer.hpp"

namespace octet::cli {

struct QaEncoding {
  BertEncoding encoding;  // unpadded
  // Token positions [context_begin, context_end) hold the context tokens
  // that survived truncation, a prefix of the context's tokens.
  int64_t context_begin = 0, context_end = 0;
  // Per context token: its byte range [first, second) in the context. Empty
  // when the tokens could not be mapped back (answers then join WordPieces).
  std::vector<std::pair<size_t, size_t>> offsets;
};

// Each whitespace-separated word of the context is tokenized on its own, as
// SQuAD's reference code does, which gives the tokens of the whole context
// (checked) and which word each token comes from. Within an ASCII word whose
// pieces spell it exactly (lower-cased), each token gets its own characters;
// elsewhere (accents stripped, [UNK], dropped control characters) a token
// covers its whole word. `max_length` (0: none) truncates longest first.
QaEncoding encode_qa(const BertTokenizer& tokenizer, std::string_view question,
                     std::string_view context, size_t max_length);

struct Span {
  int64_t start = -1, end = -1;  // token positions, inclusive; -1: none
  float score = 0;               // start_logits[start] + end_logits[end]
};

// The span with the highest start + end logit (float32 sum) with
// begin <= start <= end < end_pos and end - start < max_tokens; the first in
// (start, end) order among equals, as an argmax over a row-major
// [start, end] score matrix picks it. {-1, -1} when the range is empty.
Span best_span(const float* start_logits, const float* end_logits, int64_t begin, int64_t end_pos,
               int64_t max_tokens);

// The answer's text: the context's own characters when offsets exist, else
// the WordPieces joined ("##" pieces glued to the previous one).
std::string span_text(const BertTokenizer& tokenizer, const QaEncoding& qa,
                      std::string_view context, const Span& span);

}  // namespace octet::cli
