// BERT WordPiece tokenization, step for step as HuggingFace's BasicTokenizer
// and WordpieceTokenizer (tokenization_bert.py) do it, on code points. The
// vocabulary and the text both come from strangers (fuzz_tokenizer): the
// text is checked to be UTF-8 before anything else looks at it, and all work
// is linear in its size except WordPiece, which is quadratic in a word's
// length, bounded at 100 code points.
#include "loaders/data/tokenizer.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "loaders/data/unicode.hpp"

namespace octet {
namespace {

[[noreturn]] void fail(ErrorCode code, const std::string& what) {
  throw Error(code, what);
}

// A vocabulary of 256 MiB is two orders of magnitude past the largest real
// ones (multilingual models have about 250,000 tokens, a few MiB).
constexpr long long kMaxVocabBytes = 256LL << 20;

// A token for messages: at most 60 bytes, control bytes escaped.
std::string shown(std::string_view token) {
  std::string out;
  for (size_t i = 0; i < token.size() && i < 60; ++i) {
    const auto c = static_cast<unsigned char>(token[i]);
    if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return token.size() > 60 ? out + "..." : out;
}

std::string read_vocab_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    fail(ErrorCode::io, path + ": " + (errno == ENOENT ? "no such file" : std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) fail(ErrorCode::io, path + ": not a regular file");
  if (st.st_size > kMaxVocabBytes) {
    fail(ErrorCode::invalid_model, path + ": " + std::to_string(st.st_size) +
                                       " bytes is too large for a vocabulary (limit 256 MiB)");
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail(ErrorCode::io, path + ": cannot open: " + std::strerror(errno));
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  const size_t got = std::fread(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  if (got != bytes.size()) fail(ErrorCode::io, path + ": read error");
  return bytes;
}

// HuggingFace's _is_chinese_char: the CJK Unified Ideographs and their
// extensions A-E, and the compatibility ideographs. Not kana or Hangul,
// which are written with spaces between words.
bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// HuggingFace's _is_punctuation: every ASCII non-alphanumeric is
// punctuation, also those Unicode calls symbols ($ + < = > ^ ` | ~).
bool is_punctuation(char32_t c) {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
         (c >= 123 && c <= 126) || unicode::is_punctuation(c);
}

// Steps 1 and 2: _clean_text, then _tokenize_chinese_chars.
std::u32string clean(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' || unicode::is_space_separator(c)) {
      out += U' ';
    } else if (c == 0 || c == 0xFFFD || unicode::is_control(c)) {
      continue;
    } else if (is_cjk(c)) {
      out += U' ';
      out += c;
      out += U' ';
    } else {
      out += c;
    }
  }
  return out;
}

// Step 4 for one whitespace-separated word: lower-case, strip accents, split
// around punctuation. A word of combining marks alone leaves nothing.
void split_word(std::u32string_view word, std::vector<std::u32string>& out) {
  const std::u32string decomposed = unicode::nfd(unicode::to_lower(word));
  std::u32string piece;
  for (char32_t c : decomposed) {
    if (unicode::is_nonspacing_mark(c)) continue;
    if (is_punctuation(c)) {
      if (!piece.empty()) out.push_back(std::move(piece));
      piece.clear();
      out.emplace_back(1, c);
    } else {
      piece += c;
    }
  }
  if (!piece.empty()) out.push_back(std::move(piece));
}

// Steps 1-4.
std::vector<std::u32string> basic_words(std::u32string_view text) {
  const std::u32string cleaned = clean(text);
  std::vector<std::u32string> words;
  const size_t n = cleaned.size();
  for (size_t i = 0; i < n;) {
    while (i < n && unicode::is_python_space(cleaned[i])) ++i;
    const size_t start = i;
    while (i < n && !unicode::is_python_space(cleaned[i])) ++i;
    if (i > start) split_word(std::u32string_view(cleaned).substr(start, i - start), words);
  }
  return words;
}

}  // namespace

// ---------------------------------------------------------------- vocabulary

BertTokenizer BertTokenizer::load(const std::string& vocab_path) {
  return parse(read_vocab_file(vocab_path), vocab_path);
}

BertTokenizer BertTokenizer::parse(std::string_view vocab, const std::string& name) {
  if (vocab.empty()) fail(ErrorCode::invalid_model, name + ": empty vocabulary (no tokens)");
  BertTokenizer t;
  // Lines end at LF, CRLF or CR, as Python's universal newlines split them;
  // a final line break does not start another token.
  size_t line_start = vocab.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  for (size_t line = 1; line_start < vocab.size(); ++line) {
    size_t end = vocab.find_first_of("\r\n", line_start);
    if (end == std::string_view::npos) end = vocab.size();
    const std::string_view token = vocab.substr(line_start, end - line_start);
    const std::string where = name + ":" + std::to_string(line);
    unicode::decode_utf8(token, ErrorCode::invalid_model, where, line_start);
    const auto [it, added] = t.ids_.emplace(token, static_cast<int64_t>(t.tokens_.size()));
    if (!added) {
      fail(ErrorCode::invalid_model, where + ": duplicate token '" + shown(token) +
                                         "' (also on line " + std::to_string(it->second + 1) + ")");
    }
    t.tokens_.emplace_back(token);
    line_start = end + (vocab.compare(end, 2, "\r\n") == 0 ? 2 : 1);
  }
  for (auto [slot, special] :
       {std::pair{&t.unk_, "[UNK]"}, {&t.cls_, "[CLS]"}, {&t.sep_, "[SEP]"}, {&t.pad_, "[PAD]"}}) {
    *slot = t.find(special);
    if (*slot < 0) {
      fail(ErrorCode::invalid_model,
           name + ": no '" + special + "' token among its " + std::to_string(t.tokens_.size()) +
               " (a BERT vocabulary needs [UNK], [CLS], [SEP] and [PAD])");
    }
  }
  return t;
}

int64_t BertTokenizer::find(const std::string& token) const {
  const auto it = ids_.find(token);
  return it == ids_.end() ? -1 : it->second;
}

const std::string& BertTokenizer::token(int64_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size()) {
    fail(ErrorCode::invalid_argument, "token id " + std::to_string(id) +
                                          " is out of range (the vocabulary has " +
                                          std::to_string(tokens_.size()) + " tokens)");
  }
  return tokens_[static_cast<size_t>(id)];
}

// ---------------------------------------------------------------- tokenizing

std::vector<std::string> BertTokenizer::basic_tokenize(std::string_view text) const {
  std::vector<std::string> out;
  for (const std::u32string& word :
       basic_words(unicode::decode_utf8(text, ErrorCode::invalid_argument, "text"))) {
    out.push_back(unicode::to_utf8(word));
  }
  return out;
}

std::vector<int64_t> BertTokenizer::tokenize(std::string_view text) const {
  return ids_of(text, "text");
}

std::vector<int64_t> BertTokenizer::ids_of(std::string_view text, const char* which) const {
  std::vector<int64_t> ids;
  for (const std::u32string& word :
       basic_words(unicode::decode_utf8(text, ErrorCode::invalid_argument, which))) {
    wordpiece(word, ids);
  }
  return ids;
}

void BertTokenizer::wordpiece(const std::u32string& word, std::vector<int64_t>& out) const {
  if (word.size() > kMaxWordChars) {
    out.push_back(unk_);
    return;
  }
  // The word's UTF-8 and where each code point starts in it, so that every
  // candidate piece is a byte range.
  std::string utf8;
  std::vector<size_t> at;
  for (char32_t c : word) {
    at.push_back(utf8.size());
    unicode::append_utf8(utf8, c);
  }
  at.push_back(utf8.size());
  const size_t first = out.size();
  std::string piece;
  for (size_t start = 0; start < word.size();) {
    int64_t id = -1;
    size_t end = word.size();
    for (; end > start; --end) {
      piece.assign(start ? "##" : "");
      piece.append(utf8, at[start], at[end] - at[start]);
      id = find(piece);
      if (id >= 0) break;
    }
    if (id < 0) {
      // Any piece missing makes the whole word one [UNK].
      out.resize(first);
      out.push_back(unk_);
      return;
    }
    out.push_back(id);
    start = end;
  }
}

// ---------------------------------------------------------------- encoding

BertEncoding BertTokenizer::assemble(std::vector<int64_t> a, const std::vector<int64_t>* b,
                                     size_t max_length, bool pad) const {
  std::vector<int64_t> second = b ? *b : std::vector<int64_t>();
  const size_t specials = b ? 3 : 2;
  if (max_length > 0) {
    if (max_length < specials) {
      fail(
          ErrorCode::invalid_argument,
          "max_length " + std::to_string(max_length) + " leaves no room for text: " +
              (b ? "[CLS] a [SEP] b [SEP] needs at least 3" : "[CLS] text [SEP] needs at least 2"));
    }
    const size_t total = a.size() + second.size() + specials;
    const size_t excess = total > max_length ? total - max_length : 0;
    if (!b) {
      a.resize(a.size() - excess);
    } else {
      // HuggingFace's longest_first: from the longer one, b on a tie.
      for (size_t k = 0; k < excess; ++k) (a.size() > second.size() ? a : second).pop_back();
    }
  }
  BertEncoding e;
  e.input_ids.push_back(cls_);
  e.input_ids.insert(e.input_ids.end(), a.begin(), a.end());
  e.input_ids.push_back(sep_);
  e.token_type_ids.assign(e.input_ids.size(), 0);
  if (b) {
    e.input_ids.insert(e.input_ids.end(), second.begin(), second.end());
    e.input_ids.push_back(sep_);
    e.token_type_ids.resize(e.input_ids.size(), 1);
  }
  e.attention_mask.assign(e.input_ids.size(), 1);
  if (max_length > 0 && pad) {
    e.input_ids.resize(max_length, pad_);
    e.token_type_ids.resize(max_length, 0);
    e.attention_mask.resize(max_length, 0);
  }
  return e;
}

BertEncoding BertTokenizer::encode(std::string_view text, size_t max_length, bool pad) const {
  return assemble(ids_of(text, "text"), nullptr, max_length, pad);
}

BertEncoding BertTokenizer::encode_pair(std::string_view a, std::string_view b, size_t max_length,
                                        bool pad) const {
  const std::vector<int64_t> second = ids_of(b, "second text");
  return assemble(ids_of(a, "first text"), &second, max_length, pad);
}

std::vector<std::pair<std::string, Tensor>> BertTokenizer::encode_batch(
    const std::vector<std::string>& texts, size_t max_length) const {
  if (max_length < 2) {
    fail(ErrorCode::invalid_argument, "encode_batch: max_length is " + std::to_string(max_length) +
                                          "; a batch needs one of at least 2");
  }
  const auto n = static_cast<int64_t>(texts.size());
  const auto len = static_cast<int64_t>(max_length);
  std::vector<std::pair<std::string, Tensor>> out;
  for (const char* name : {"input_ids", "token_type_ids", "attention_mask"}) {
    out.emplace_back(name, Tensor(DataType::s64, {n, len}));
  }
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string which = "text " + std::to_string(i);
    const BertEncoding e = assemble(ids_of(texts[i], which.c_str()), nullptr, max_length, true);
    const std::vector<int64_t>* rows[] = {&e.input_ids, &e.token_type_ids, &e.attention_mask};
    for (size_t k = 0; k < 3; ++k) {
      std::copy(rows[k]->begin(), rows[k]->end(), out[k].second.data<int64_t>() + i * max_length);
    }
  }
  return out;
}

}  // namespace octet
