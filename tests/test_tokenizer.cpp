// loaders/data/tokenizer and loaders/data/unicode: BERT WordPiece on a hand-written
// vocabulary with hand-checked ids, encoding (pairs, truncation, padding,
// batches), every error, and the Unicode steps underneath. The comparison
// with the Python reference on real sentences is wordpiece_compare.py.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "loaders/data/tokenizer.hpp"
#include "loaders/data/unicode.hpp"
#include "tests/image_fixtures.hpp"
#include "tests/temp_dir.hpp"

using namespace octet;
using octet::test::check_error;
using Ids = std::vector<int64_t>;

namespace {

// id = line number.
const char* const kVocab[] = {
    "[PAD]", "[UNK]", "[CLS]",   "[SEP]", "[MASK]", "the",   "un",    "##aff",  "##able", "hello",
    "world", ",",     "!",       "'",     "don",    "t",     "creme", "brulee", "naive",  "我",
    "北",    "京",    "##s",     "cat",   "οδος",   "σ",     "a",     "##a",    ".",      "http",
    ":",     "/",     "example", "com",   "привет", "##ing", "play",  "ᄒ",     "##ᅡ",   "##ᆫ"};

std::string vocab_text() {
  std::string text;
  for (const char* t : kVocab) text += std::string(t) + "\n";
  return text;
}

const BertTokenizer& tokenizer() {
  static const BertTokenizer t = BertTokenizer::parse(vocab_text(), "v.txt");
  return t;
}

Ids ids(const std::string& text) {
  return tokenizer().tokenize(text);
}

void vocab_error(const std::string& text, std::initializer_list<std::string> needles) {
  check_error([&] { BertTokenizer::parse(text, "v.txt"); }, ErrorCode::invalid_model, needles);
}

}  // namespace

TEST_CASE("tokenizer: the vocabulary, its special tokens and line endings") {
  const BertTokenizer& t = tokenizer();
  CHECK(t.vocab_size() == sizeof kVocab / sizeof *kVocab);
  CHECK((t.pad_id() == 0 && t.unk_id() == 1 && t.cls_id() == 2 && t.sep_id() == 3));
  CHECK(t.find("##able") == 8);
  CHECK(t.find("nope") == -1);
  CHECK(t.token(24) == "οδος");
  check_error([&] { t.token(40); }, ErrorCode::invalid_argument,
              {"token id 40 is out of range (the vocabulary has 40 tokens)"});

  // CRLF, CR and LF all end a line (Python's universal newlines); a
  // byte-order mark is skipped; the last line needs no line break.
  const BertTokenizer mixed =
      BertTokenizer::parse("\xEF\xBB\xBF[SEP]\r\n[UNK]\r[CLS]\n\n[PAD]", "m.txt");
  CHECK(mixed.vocab_size() == 5);
  CHECK((mixed.sep_id() == 0 && mixed.unk_id() == 1 && mixed.cls_id() == 2));
  CHECK(mixed.find("") == 3);
  CHECK(mixed.pad_id() == 4);

  test::TempDir dir;
  test::write_file(dir.file("vocab.txt"), vocab_text());
  CHECK(BertTokenizer::load(dir.file("vocab.txt")).tokenize("Hello, world!") == Ids{9, 11, 10, 12});
}

TEST_CASE("tokenizer: vocabulary errors name the file, the line and the token") {
  test::TempDir dir;
  check_error([&] { BertTokenizer::load(dir.file("none.txt")); }, ErrorCode::io,
              {dir.file("none.txt") + ": no such file"});
  check_error([&] { BertTokenizer::load(dir.path()); }, ErrorCode::io, {"not a regular file"});
  vocab_error("", {"v.txt: empty vocabulary"});
  vocab_error("[PAD]\n[UNK]\n[SEP]\n",
              {"v.txt: no '[CLS]' token among its 3", "needs [UNK], [CLS], [SEP] and [PAD]"});
  vocab_error("[PAD]\n[CLS]\n[SEP]\n", {"no '[UNK]' token"});
  vocab_error("[PAD]\n[UNK]\n[CLS]\n", {"no '[SEP]' token"});
  vocab_error("[unk]\n[UNK]\n[CLS]\n[SEP]\n", {"no '[PAD]' token"});
  vocab_error("[PAD]\n[UNK]\na\n[CLS]\n[SEP]\na\n",
              {"v.txt:6: duplicate token 'a' (also on line 3)"});
  vocab_error("x\n\n\ny\n", {"v.txt:3: duplicate token '' (also on line 2)"});
  vocab_error(
      "[PAD]\r\n[UNK]\r\nab\xff"
      "c\r\n",
      {"v.txt:3: invalid UTF-8 at byte offset 16 (ff: a byte that never occurs"});
  vocab_error("ok\n\xe4\xb8", {"v.txt:2: invalid UTF-8 at byte offset 3 (e4 b8: a truncated"});
}

TEST_CASE("tokenizer: words, accents, punctuation and WordPiece, hand-checked") {
  CHECK(ids("Hello, World!") == Ids{9, 11, 10, 12});
  CHECK(ids("unaffable") == Ids{6, 7, 8});
  CHECK(ids("cats playing") == Ids{23, 22, 36, 35});
  CHECK(ids("Crème Brûlée, naïve") == Ids{16, 17, 11, 18});
  CHECK(ids("cre\u0300me") == Ids{16});  // a combining grave accent, stripped
  CHECK(ids("don't") == Ids{14, 13, 15});
  CHECK(ids("http://example.com") == Ids{29, 30, 31, 31, 32, 28, 33});
  CHECK(ids("ПРИВЕТ") == Ids{34});
  // Python's lower(): a final capital sigma becomes ς, a lone one σ.
  CHECK(ids("ΟΔΟΣ Σ") == Ids{24, 25});
  // Each CJK ideograph is a word; 爱 is not in the vocabulary.
  CHECK(ids("我爱北京") == Ids{19, 1, 20, 21});
  // Hangul is not CJK here: NFD splits the syllable into jamo (as HuggingFace does).
  CHECK(ids("한") == Ids{37, 38, 39});
  // No piece for "x": the whole word is one [UNK].
  CHECK(ids("unaffablex the") == Ids{1, 5});
  CHECK(ids(std::string(100, 'a')) == [] {
    Ids want(100, 27);
    want[0] = 26;
    return want;
  }());
  CHECK(ids(std::string(101, 'a')) == Ids{1});
  // Special tokens in the text are text: no injection.
  CHECK(ids("[SEP]") == Ids{1, 1, 1});
}

TEST_CASE("tokenizer: cleaning drops control characters and splits on any whitespace") {
  CHECK(ids("").empty());
  CHECK(ids(" \t\r\n \u3000 ").empty());
  CHECK(ids(std::string("hel\0lo", 6)) == Ids{9});
  CHECK(ids("hel\x01lo \x7f") == Ids{9});
  CHECK(ids("hel\u200blo") == Ids{9});           // zero-width space, Cf
  CHECK(ids("he\ufffdllo") == Ids{9});           // the replacement character
  CHECK(ids("hello\u00a0world") == Ids{9, 10});  // no-break space, Zs
  CHECK(ids("hello\u2028world") == Ids{9, 10});  // line separator: Python's split()
  CHECK(ids("\u0301 \u0301\u0302") == Ids{});    // combining marks alone leave nothing
  CHECK(tokenizer().basic_tokenize(" Hello,\tWORLD!!\n") ==
        std::vector<std::string>{"hello", ",", "world", "!", "!"});
  CHECK(tokenizer().basic_tokenize("$5+x<y") ==
        std::vector<std::string>{"$", "5", "+", "x", "<", "y"});  // ASCII symbols split too
}

TEST_CASE("tokenizer: text that is not UTF-8 is an error naming the byte offset") {
  const std::pair<std::string, std::string> cases[] = {
      {"ab\xc3(", "byte offset 2 (c3 28: a lead byte not followed"},
      {"\x80", "byte offset 0 (80: a continuation byte without a lead byte)"},
      {"ok \xc0\xaf", "byte offset 3 (c0: an overlong encoding)"},
      {"\xe0\x80\xaf", "byte offset 0 (e0 80 af: an overlong encoding)"},
      {"x\xed\xa0\x80", "byte offset 1 (ed a0 80: a UTF-16 surrogate)"},
      {"\xf4\x90\x80\x80", "byte offset 0 (f4 90 80 80: a code point past U+10FFFF)"},
      {"\xff", "byte offset 0 (ff: a byte that never occurs in UTF-8)"},
      {"hello \xe2\x82", "byte offset 6 (e2 82: a truncated sequence at the end of the text)"}};
  // Not a structured binding: lambdas cannot capture those in C++17 (clang).
  for (const auto& c : cases) {
    const std::string& text = c.first;
    const std::string& why = c.second;
    CAPTURE(why);
    check_error([&] { ids(text); }, ErrorCode::invalid_argument, {"text: invalid UTF-8 at " + why});
    check_error([&] { tokenizer().encode_pair("fine", text); }, ErrorCode::invalid_argument,
                {"second text: invalid UTF-8"});
  }
  check_error([&] { tokenizer().encode("\xff", 8); }, ErrorCode::invalid_argument,
              {"text: invalid UTF-8 at byte offset 0"});
}

TEST_CASE("tokenizer: [CLS] a [SEP], truncation and padding to max_length") {
  const BertTokenizer& t = tokenizer();
  BertEncoding e = t.encode("hello world");
  CHECK(e.input_ids == Ids{2, 9, 10, 3});
  CHECK(e.token_type_ids == Ids{0, 0, 0, 0});
  CHECK(e.attention_mask == Ids{1, 1, 1, 1});
  e = t.encode("hello world", 6);
  CHECK(e.input_ids == Ids{2, 9, 10, 3, 0, 0});
  CHECK(e.token_type_ids == Ids{0, 0, 0, 0, 0, 0});
  CHECK(e.attention_mask == Ids{1, 1, 1, 1, 0, 0});
  CHECK(t.encode("hello world!", 4).input_ids == Ids{2, 9, 10, 3});
  CHECK(t.encode("hello", 2).input_ids == Ids{2, 3});
  CHECK(t.encode("", 3).input_ids == Ids{2, 3, 0});
  e = t.encode("hello", 6, false);
  CHECK(e.input_ids == Ids{2, 9, 3});
  CHECK(e.attention_mask == Ids{1, 1, 1});
  check_error([&] { t.encode("hello", 1); }, ErrorCode::invalid_argument,
              {"max_length 1 leaves no room for text: [CLS] text [SEP] needs at least 2"});
}

TEST_CASE("tokenizer: pairs, longest-first truncation (b on a tie) and padding") {
  const BertTokenizer& t = tokenizer();
  BertEncoding e = t.encode_pair("hello world", "the cat");
  CHECK(e.input_ids == Ids{2, 9, 10, 3, 5, 23, 3});
  CHECK(e.token_type_ids == Ids{0, 0, 0, 0, 1, 1, 1});
  CHECK(e.attention_mask == Ids{1, 1, 1, 1, 1, 1, 1});
  // a has 4 tokens, b 2: the 2 to remove both come from a.
  CHECK(t.encode_pair("hello world, hello", "the cat", 7).input_ids == Ids{2, 9, 10, 3, 5, 23, 3});
  // Equal lengths: b loses first, then the longer one.
  e = t.encode_pair("hello world", "the cat", 6);
  CHECK(e.input_ids == Ids{2, 9, 10, 3, 5, 3});
  CHECK(e.token_type_ids == Ids{0, 0, 0, 0, 1, 1});
  CHECK(t.encode_pair("hello world", "the cat", 5).input_ids == Ids{2, 9, 3, 5, 3});
  CHECK(t.encode_pair("hello world", "the cat", 3).input_ids == Ids{2, 3, 3});
  e = t.encode_pair("hello world", "the cat", 10);
  CHECK(e.input_ids == Ids{2, 9, 10, 3, 5, 23, 3, 0, 0, 0});
  CHECK(e.token_type_ids == Ids{0, 0, 0, 0, 1, 1, 1, 0, 0, 0});
  CHECK(e.attention_mask == Ids{1, 1, 1, 1, 1, 1, 1, 0, 0, 0});
  CHECK(t.encode_pair("", "", 4).input_ids == Ids{2, 3, 3, 0});
  check_error([&] { t.encode_pair("a", "b", 2); }, ErrorCode::invalid_argument,
              {"max_length 2", "[CLS] a [SEP] b [SEP] needs at least 3"});
}

TEST_CASE("tokenizer: a batch is three s64 tensors for a BERT model") {
  const auto batch = tokenizer().encode_batch({"hello", "the cat world !", ""}, 5);
  REQUIRE(batch.size() == 3);
  CHECK(batch[0].first == "input_ids");
  CHECK(batch[1].first == "token_type_ids");
  CHECK(batch[2].first == "attention_mask");
  for (const auto& [name, t] : batch) {
    CHECK(t.dtype() == DataType::s64);
    CHECK(t.shape() == Shape{3, 5});
  }
  const int64_t* input_ids = batch[0].second.data<int64_t>();
  CHECK(Ids(input_ids, input_ids + 15) == Ids{2, 9, 3, 0, 0, 2, 5, 23, 10, 3, 2, 3, 0, 0, 0});
  const int64_t* mask = batch[2].second.data<int64_t>();
  CHECK(Ids(mask, mask + 15) == Ids{1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0});
  check_error(
      [&] {
        tokenizer().encode_batch({"ok", "\xff"}, 4);
      },
      ErrorCode::invalid_argument, {"text 1: invalid UTF-8"});
  check_error([&] { tokenizer().encode_batch({"ok"}, 0); }, ErrorCode::invalid_argument,
              {"max_length is 0"});
}

TEST_CASE("unicode: Python's lower(), NFD and UTF-8 round trips") {
  auto lower = [](const std::string& s) {
    return unicode::to_utf8(unicode::to_lower(unicode::decode_utf8(s, ErrorCode::internal, "t")));
  };
  auto nfd = [](const std::string& s) {
    return unicode::to_utf8(unicode::nfd(unicode::decode_utf8(s, ErrorCode::internal, "t")));
  };
  CHECK(lower("ÀÉÎÕÜ ΑΒΓ АБВ") == "àéîõü αβγ абв");
  CHECK(lower("İ") == "i\u0307");  // two code points
  // Final_Sigma looks past case-ignorable '.' and U+0301 for cased letters.
  CHECK(lower("ΣΑΣ.Σ ΑΣ\u0301Β") == "σασ.ς ασ\u0301β");
  CHECK(lower("\u212a") == "k");  // KELVIN SIGN
  CHECK(nfd("é") == "e\u0301");
  CHECK(nfd("ǖ") == "u\u0308\u0304");  // two levels
  CHECK(nfd("q\u0307\u0323") ==
        "q\u0323\u0307");                    // canonical order: below (220) before above (230)
  CHECK(nfd("\uf900") == "\u8c48");          // a compatibility ideograph's singleton
  CHECK(nfd("각") == "\u1100\u1161\u11a8");  // Hangul LVT
  CHECK(nfd("ﬁ") == "ﬁ");                    // compatibility only: unchanged
  CHECK(std::string(unicode::version()) == "14.0.0");
  const std::string all = "a\u00e9\u4e2d\U0001F600";
  CHECK(unicode::to_utf8(unicode::decode_utf8(all, ErrorCode::internal, "t")) == all);
  CHECK(unicode::decode_utf8(all, ErrorCode::internal, "t").size() == 4);
  CHECK(unicode::is_punctuation(U'\u3002'));
  CHECK(!unicode::is_punctuation(U'$'));  // Sc: punctuation only by BERT's ASCII rule
  CHECK(unicode::is_control(U'\u200b'));
  CHECK(unicode::is_nonspacing_mark(U'\u0301'));
  CHECK(unicode::combining_class(U'\u0301') == 230);
}
