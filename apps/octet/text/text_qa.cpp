#include "apps/octet/text/text_qa.hpp"

#include "loaders/data/unicode.hpp"

namespace octet::cli {
namespace {

// The characters that separate words after the tokenizer's cleaning step:
// ASCII whitespace and Zs become spaces there; other Python whitespace that
// is not a control character (U+2028 ...) splits too. Control characters
// are dropped by the cleaning, so they do not separate words.
bool separates_words(char32_t c) {
  if (c == U' ' || c == U'\t' || c == U'\n' || c == U'\r') return true;
  if (unicode::is_space_separator(c)) return true;
  return unicode::is_python_space(c) && !unicode::is_control(c);
}

size_t utf8_length(char32_t c) {
  return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
}

struct Word {
  size_t begin, end;  // bytes
  bool ascii;
};

std::vector<Word> split_words(std::string_view text) {
  const std::u32string chars = unicode::decode_utf8(text, ErrorCode::invalid_argument, "context");
  std::vector<Word> words;
  size_t byte = 0;
  bool in_word = false;
  for (char32_t c : chars) {
    if (separates_words(c)) {
      in_word = false;
    } else {
      if (!in_word) words.push_back({byte, byte, true});
      in_word = true;
      words.back().end = byte + utf8_length(c);
      words.back().ascii = words.back().ascii && c < 0x80;
    }
    byte += utf8_length(c);
  }
  return words;
}

size_t piece_length(const std::string& piece) {
  return piece.rfind("##", 0) == 0 ? piece.size() - 2 : piece.size();
}

// Context tokens with their byte ranges, or no offsets if the per-word
// tokens are not exactly the context's tokens.
std::vector<std::pair<size_t, size_t>> context_offsets(const BertTokenizer& t,
                                                       std::string_view context) {
  std::vector<int64_t> ids;
  std::vector<std::pair<size_t, size_t>> offsets;
  for (const Word& w : split_words(context)) {
    const std::vector<int64_t> pieces = t.tokenize(context.substr(w.begin, w.end - w.begin));
    size_t spelled = 0;
    for (int64_t id : pieces) spelled += id == t.unk_id() ? 0 : piece_length(t.token(id));
    const bool exact = w.ascii && spelled == w.end - w.begin;
    size_t at = w.begin;
    for (int64_t id : pieces) {
      if (exact) {
        const size_t n = piece_length(t.token(id));
        offsets.emplace_back(at, at + n);
        at += n;
      } else {
        offsets.emplace_back(w.begin, w.end);
      }
      ids.push_back(id);
    }
  }
  if (ids != t.tokenize(context)) return {};
  return offsets;
}

}  // namespace

QaEncoding encode_qa(const BertTokenizer& tokenizer, std::string_view question,
                     std::string_view context, size_t max_length) {
  QaEncoding qa;
  qa.encoding = tokenizer.encode_pair(question, context, max_length, false);
  const std::vector<int64_t>& types = qa.encoding.token_type_ids;
  int64_t first = -1, last = -1;  // the context segment, its [SEP] included
  for (size_t i = 0; i < types.size(); ++i) {
    if (types[i] == 1) {
      if (first < 0) first = static_cast<int64_t>(i);
      last = static_cast<int64_t>(i);
    }
  }
  if (first >= 0) {
    qa.context_begin = first;
    qa.context_end = last;  // excludes the final [SEP]
  }
  qa.offsets = context_offsets(tokenizer, context);
  if (!qa.offsets.empty())
    qa.offsets.resize(static_cast<size_t>(qa.context_end - qa.context_begin));
  return qa;
}

Span best_span(const float* start_logits, const float* end_logits, int64_t begin, int64_t end_pos,
               int64_t max_tokens) {
  Span best;
  for (int64_t s = begin; s < end_pos; ++s) {
    for (int64_t e = s; e < end_pos && e - s < max_tokens; ++e) {
      const float score = start_logits[s] + end_logits[e];
      if (best.start < 0 || score > best.score) best = {s, e, score};
    }
  }
  return best;
}

std::string span_text(const BertTokenizer& tokenizer, const QaEncoding& qa,
                      std::string_view context, const Span& span) {
  if (span.start < qa.context_begin || span.end >= qa.context_end || span.start > span.end) {
    return "";
  }
  if (!qa.offsets.empty()) {
    const size_t from = qa.offsets[span.start - qa.context_begin].first;
    const size_t to = qa.offsets[span.end - qa.context_begin].second;
    return std::string(context.substr(from, to - from));
  }
  std::string text;
  for (int64_t i = span.start; i <= span.end; ++i) {
    const std::string& piece = tokenizer.token(qa.encoding.input_ids[i]);
    if (piece.rfind("##", 0) == 0 && !text.empty()) {
      text += piece.substr(2);
    } else {
      if (!text.empty()) text += ' ';
      text += piece;
    }
  }
  return text;
}

}  // namespace octet::cli
