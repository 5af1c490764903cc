// fuzz_tokenizer: the BERT WordPiece tokenizer (loaders/data/tokenizer.hpp) and
// the Unicode code under it. An input with a 0 byte is a vocabulary (before
// it) and a text (after it); one without is a text for kVocab, a small
// vocabulary of real pieces, so that most inputs reach WordPiece. The
// outputs are checked against what the encoding promises: ids within the
// vocabulary, at most one token per code point, [CLS] ... [SEP] around the
// text, and a padded pair exactly kPairLength long with consistent masks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "loaders/data/tokenizer.hpp"
#include "tests/fuzz/fuzz_common.hpp"

namespace octet::fuzz::tokenizer {

inline const char* const kVocab =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nun\n##aff\n##able\nhello\nworld\n,\n.\n!\n'\n"
    "don\nt\ncreme\ncafe\n##s\n##ing\na\n##a\nb\n##b\n\xe6\x88\x91\n\xe7\x88\xb1\n"
    "\xcf\x83\n\xce\xbf\xce\xb4\xce\xbf\xcf\x82\n\xd0\xbf\xd1\x80\xd0\xb8\n##"
    "\xd0\xb2\xd0\xb5\xd1\x82\n";
constexpr size_t kPairLength = 16;

inline void check(bool ok) {
  if (!ok) std::abort();
}

// `e` is [CLS] a [SEP] (b [SEP]) [PAD]...: types 0 up to the first [SEP] and
// 1 after it, mask 1 then 0. Text never yields a special token: the brackets
// of "[SEP]" are split off as punctuation, whatever the vocabulary.
inline void check_encoding(const BertTokenizer& t, const BertEncoding& e, bool pair) {
  const size_t n = e.input_ids.size();
  check(e.token_type_ids.size() == n && e.attention_mask.size() == n);
  size_t real = 0;
  while (real < n && e.attention_mask[real] == 1) ++real;
  check(real >= (pair ? 3 : 2) && e.input_ids[0] == t.cls_id() &&
        e.input_ids[real - 1] == t.sep_id());
  size_t seps = 0;
  for (size_t i = 0; i < n; ++i) {
    const int64_t id = e.input_ids[i];
    check(id >= 0 && static_cast<size_t>(id) < t.vocab_size());
    if (i >= real) {
      check(e.attention_mask[i] == 0 && id == t.pad_id() && e.token_type_ids[i] == 0);
      continue;
    }
    check((id == t.cls_id()) == (i == 0) && id != t.pad_id());
    check(e.token_type_ids[i] == (seps >= 1 ? 1 : 0));
    seps += id == t.sep_id();
  }
  check(seps == (pair ? 2 : 1));
}

inline void run(const uint8_t* data, size_t size, Stage& reached) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t zero = in.find('\0');
  const bool own_vocab = zero != std::string_view::npos;
  const BertTokenizer t =
      BertTokenizer::parse(own_vocab ? in.substr(0, zero) : std::string_view(kVocab), "fuzz.vocab");
  reached = Stage::parsed;
  const std::string_view text = own_vocab ? in.substr(zero + 1) : in;

  const std::vector<int64_t> ids = t.tokenize(text);
  check(ids.size() <= text.size());  // at most one token a code point
  for (int64_t id : ids) check(id >= 0 && static_cast<size_t>(id) < t.vocab_size());
  for (const std::string& word : t.basic_tokenize(text)) check(!word.empty());

  const BertEncoding single = t.encode(text);
  check(single.input_ids.size() == ids.size() + 2);
  check_encoding(t, single, false);
  // A pair from the two halves, cut at a code point boundary.
  size_t mid = text.size() / 2;
  while (mid < text.size() && (static_cast<unsigned char>(text[mid]) & 0xC0) == 0x80) ++mid;
  const BertEncoding pair = t.encode_pair(text.substr(0, mid), text.substr(mid), kPairLength);
  check(pair.input_ids.size() == kPairLength);
  check_encoding(t, pair, true);
  reached = Stage::ran;
}

}  // namespace octet::fuzz::tokenizer
