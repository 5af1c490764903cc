// BERT's WordPiece tokenizer: text to the input_ids, token_type_ids and
// attention_mask of a BERT model, as HuggingFace's BertTokenizer computes them
// for bert-base-uncased (do_lower_case, accents stripped, CJK characters
// split), checked against an independent Python reference
// (tests/python/wordpiece_reference.py) on real sentences and every code point.
//
// The steps, in HuggingFace's order:
//   1. clean: drop U+0000, U+FFFD and control characters (Cc, Cf); tab, CR,
//      LF and Zs separators become spaces;
//   2. put spaces around CJK ideographs (HuggingFace's ranges), so each is a word;
//   3. split on whitespace (Python's str.split());
//   4. each word: Python's str.lower(), NFD, nonspacing marks (Mn) removed,
//      then split before and after every punctuation character (ASCII
//      33-47, 58-64, 91-96, 123-126 and Unicode P*);
//   5. WordPiece: greedy longest match first, "##" marking a continuation; a
//      word with a piece not in the vocabulary, or over 100 code points, is
//      one [UNK].
// Special tokens written in the text ("[SEP]") are ordinary text here, as
// with HuggingFace's split_special_tokens=True: a text cannot inject them.
//
// Errors are octet::Error: a vocabulary file that is missing (io) or
// malformed (invalid_model: empty, invalid UTF-8 or a duplicate token naming
// the line, a missing [UNK]/[CLS]/[SEP]/[PAD] naming it); text that is not
// UTF-8 (invalid_argument, naming the byte offset).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "octet/octet.hpp"

namespace octet {

// One model input row: [CLS] a [SEP] (b [SEP]) and, with a max_length, [PAD]s.
struct BertEncoding {
  std::vector<int64_t> input_ids;
  std::vector<int64_t> token_type_ids;  // 0 for [CLS] a [SEP], 1 for b [SEP], 0 for padding
  std::vector<int64_t> attention_mask;  // 1 for tokens, 0 for padding
};

class BertTokenizer {
 public:
  // Longer words become [UNK] (HuggingFace's max_input_chars_per_word).
  static constexpr size_t kMaxWordChars = 100;

  // Reads a vocab.txt: one token a line (LF, CRLF or CR), id = line number
  // from 0, UTF-8 (a leading byte-order mark is skipped). Throws octet::Error.
  static BertTokenizer load(const std::string& vocab_path);
  // The same from the file's bytes; `name` prefixes error messages.
  static BertTokenizer parse(std::string_view vocab, const std::string& name);

  size_t vocab_size() const { return tokens_.size(); }
  int64_t find(const std::string& token) const;  // -1 if not in the vocabulary
  const std::string& token(int64_t id) const;    // throws Error(invalid_argument) if out of range
  int64_t unk_id() const { return unk_; }
  int64_t cls_id() const { return cls_; }
  int64_t sep_id() const { return sep_; }
  int64_t pad_id() const { return pad_; }

  // Steps 1-4: the words WordPiece sees.
  std::vector<std::string> basic_tokenize(std::string_view text) const;
  // Steps 1-5, without special tokens.
  std::vector<int64_t> tokenize(std::string_view text) const;

  // [CLS] text [SEP]. With max_length > 0 the text is cut to fit and, if
  // `pad`, [PAD] fills the rest; max_length must then be at least 2.
  BertEncoding encode(std::string_view text, size_t max_length = 0, bool pad = true) const;
  // [CLS] a [SEP] b [SEP], token_type_ids 1 from b on. With max_length > 0,
  // HuggingFace's "longest_first" truncation: one token at a time from the
  // end of the longer text (b when equal); max_length must be at least 3.
  BertEncoding encode_pair(std::string_view a, std::string_view b, size_t max_length = 0,
                           bool pad = true) const;
  // A batch for a BERT model: "input_ids", "token_type_ids" and
  // "attention_mask", each s64 [texts.size(), max_length] (max_length >= 2).
  std::vector<std::pair<std::string, Tensor>> encode_batch(const std::vector<std::string>& texts,
                                                           size_t max_length) const;

 private:
  BertTokenizer() = default;
  std::vector<int64_t> ids_of(std::string_view text, const char* which) const;
  void wordpiece(const std::u32string& word, std::vector<int64_t>& out) const;
  BertEncoding assemble(std::vector<int64_t> a, const std::vector<int64_t>* b, size_t max_length,
                        bool pad) const;

  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int64_t> ids_;
  int64_t unk_ = -1, cls_ = -1, sep_ = -1, pad_ = -1;
};

}  // namespace octet
