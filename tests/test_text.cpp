// Text data for `octet eval` and bert_demo (apps/octet/text_*): the TSV and
// SQuAD readers and their errors, the SQuAD v1.1 metrics on hand-computed
// cases, the answer span search and its mapping back to the context, and a
// BERT model's inputs and metadata.
#include <doctest/doctest.h>

#ifdef OCTET_HAVE_CLI_LIB

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/octet/text/text_data.hpp"
#include "apps/octet/text/text_model.hpp"
#include "apps/octet/text/text_qa.hpp"
#include "tests/cli_runner.hpp"
#include "tests/temp_dir.hpp"

using namespace octet;
using namespace octet::cli;
using namespace octet::test;

namespace {

void error_has(const std::function<void()>& f, const std::string& part) {
  try {
    f();
    FAIL("no error; expected one with: " << part);
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::invalid_argument);
    CHECK_MESSAGE(has(e.what(), part), e.what());
  }
}

const BertTokenizer& qa_tokenizer() {
  static const BertTokenizer t = BertTokenizer::parse(
      "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\ndenver\nbroncos\nwon\nwho\n?\n.\n##s\n1990\n,\n"
      "in\ncafe\nsuper\nbowl\n50\nat\nlevi\n'\ns\n",
      "qa.txt");
  return t;
}

}  // namespace

TEST_CASE("text: sentence TSV, header, CRLF and blank lines") {
  const auto s = parse_labeled_tsv(
      "sentence\tlabel\r\nit 's a charming film . \t1\r\n\n"
      "a\ttab inside\t0\nbleak\t 0 \n",
      "d.tsv");
  REQUIRE(s.size() == 3);
  CHECK(s[0].text == "it 's a charming film . ");
  CHECK(s[0].label == 1);
  CHECK(s[0].line == 2);
  CHECK(s[1].text == "a\ttab inside");  // the label follows the last tab
  CHECK(s[2].label == 0);
  CHECK(s[2].line == 5);
  // GLUE's header (as in ../shared/data/sst2/dev.tsv).
  CHECK(parse_labeled_tsv("text\tlabel\nok\t1\n", "d.tsv").size() == 1);
}

TEST_CASE("text: TSV errors name the file and line") {
  error_has([] { parse_labeled_tsv("sentence\tlabel\ngood\t1\nno tab here\n", "d.tsv"); },
            "d.tsv:3: no tab");
  error_has([] { parse_labeled_tsv("good\tpositive\n", "d.tsv"); },
            "d.tsv:1: label 'positive' is not a non-negative integer");
  error_has([] { parse_labeled_tsv("a\t1\nb\t-1\n", "d.tsv"); }, "d.tsv:2: label '-1'");
  error_has([] { parse_labeled_tsv("a\t1x\n", "d.tsv"); }, "d.tsv:1: label '1x'");
  error_has([] { parse_labeled_tsv("sentence\tlabel\n\n", "d.tsv"); }, "d.tsv: no labeled");
  const auto s = parse_labeled_tsv("a\t0\nb\t1\nc\t2\n", "d.tsv");
  check_labels(s, 3, "d.tsv");
  error_has([&] { check_labels(s, 2, "d.tsv"); },
            "d.tsv:3: label 2 is out of range: the model gives 2 classes (0..1)");
  try {
    read_labeled_tsv("/nonexistent/d.tsv");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::io);
  }
}

TEST_CASE("text: SQuAD v1.1 reader on a hand-written file") {
  const auto q = read_squad(std::string(OCTET_SOURCE_DIR) + "/tests/text/squad_tiny.json");
  REQUIRE(q.size() == 3);
  CHECK(q[0].id == "q1");
  CHECK(q[0].answers ==
        std::vector<std::string>{"Denver Broncos", "The Denver Broncos", "Broncos"});
  CHECK(q[1].context == q[0].context);
  CHECK(q[2].question == "Who sat?");
  CHECK(q[2].context == "A cat sat.");
}

TEST_CASE("text: SQuAD errors name the field, or the line of invalid JSON") {
  error_has([] { parse_squad("{\"data\": [\n{\"paragraphs\": [}]}", "s.json"); },
            "s.json: invalid JSON: parse error at line 2");
  error_has([] { parse_squad("[]", "s.json"); }, "s.json: expected an object, found array");
  error_has([] { parse_squad("{}", "s.json"); }, "s.json: missing field 'data'");
  error_has([] { parse_squad(R"({"data": [{"paragraphs": [{"qas": []}]}]})", "s.json"); },
            "s.json: data[0].paragraphs[0]: missing field 'context'");
  error_has(
      [] {
        parse_squad(R"({"data": [{"paragraphs": [{"context": "c", "qas": [{"id": "x",
            "question": 7, "answers": []}]}]}]})",
                    "s.json");
      },
      "s.json: data[0].paragraphs[0].qas[0].question: expected a string, found number");
  error_has(
      [] {
        parse_squad(R"({"data": [{"paragraphs": [{"context": "c", "qas": [{"id": "x",
            "question": "q", "answers": [{"answer_start": 0}]}]}]}]})",
                    "s.json");
      },
      "data[0].paragraphs[0].qas[0].answers[0]: missing field 'text'");
  error_has(
      [] {
        parse_squad(R"({"data": [{"paragraphs": [{"context": "c", "qas": [{"id": "x",
            "question": "q", "answers": []}]}]}]})",
                    "s.json");
      },
      "qas[0].answers: no ground-truth answer");
  error_has([] { parse_squad(R"({"data": []})", "s.json"); }, "s.json: no questions");
}

TEST_CASE("text: SQuAD normalization as the official v1.1 script does it") {
  // Expected values computed by hand and checked with the official
  // normalize_answer (Python) once.
  CHECK(squad_normalize("The Quick, brown FOX!") == "quick brown fox");
  CHECK(squad_normalize("  a  an the  ") == "");
  CHECK(squad_normalize("theater and an apple") == "theater and apple");
  CHECK(squad_normalize("Denver's") == "denvers");
  CHECK(squad_normalize("an-the") == "anthe");    // punctuation goes before articles
  CHECK(squad_normalize("the_a the") == "thea");  // '_' is punctuation too
  CHECK(squad_normalize("\xc3\x9cnited the Kingdom") == "\xc3\xbcnited kingdom");  // Ü -> ü
  CHECK(squad_normalize("A\xe2\x80\xa8"
                        "cat") == "cat");  // U+2028 is whitespace
}

TEST_CASE("text: SQuAD exact match and F1, hand-computed") {
  CHECK(squad_exact_match("the Denver Broncos", "Denver Broncos!") == 1);
  CHECK(squad_exact_match("Broncos", "Denver Broncos") == 0);
  // pred {cat, sat}, truth {cat, sat, down}: p = 1, r = 2/3, F1 = 0.8
  CHECK(squad_f1("the cat sat", "a cat sat down") == doctest::Approx(0.8));
  // counts are a multiset: one "cat" in common, p = 1/2, r = 1
  CHECK(squad_f1("cat cat", "cat") == doctest::Approx(2.0 / 3));
  CHECK(squad_f1("Broncos team", "Denver Broncos") == doctest::Approx(0.5));
  CHECK(squad_f1("dog", "cat") == 0);
  CHECK(squad_f1("", "") == 0);  // v1.1: no common token is 0, even for two empties
  CHECK(squad_exact_match("", "the") == 1);
  const std::vector<std::string> truths = {"Denver Broncos", "Broncos"};
  CHECK(squad_best_exact_match("the Broncos", truths) == 1);
  CHECK(squad_best_f1("Broncos team", truths) == doctest::Approx(2.0 / 3));  // vs "Broncos"
  CHECK(squad_best_exact_match("Broncos team", truths) == 0);
}

TEST_CASE("text: best span: valid, capped, first among equals") {
  //                      0    1    2    3    4    5
  const float start[] = {9.f, 1.f, 3.f, 0.f, 2.f, 0.f};
  const float end[] = {9.f, 0.f, 1.f, 2.f, 5.f, 0.f};
  // Context [1, 5): token 0 ([CLS]) is outside however high it scores.
  Span s = best_span(start, end, 1, 5, 30);
  CHECK(s.start == 2);
  CHECK(s.end == 4);
  CHECK(s.score == 8.f);
  // end >= start: start 4 + end 4 = 7 is the best with a cap of 1 token.
  s = best_span(start, end, 1, 5, 1);
  CHECK((s.start == 4 && s.end == 4));
  // Start 2 with the cap of 2 tokens: 2..3 = 5, 4..4 = 7.
  s = best_span(start, end, 1, 5, 2);
  CHECK((s.start == 4 && s.end == 4 && s.score == 7.f));
  const float flat[] = {1.f, 1.f, 1.f};
  s = best_span(flat, flat, 0, 3, 30);
  CHECK((s.start == 0 && s.end == 0));  // ties: the first in (start, end) order
  s = best_span(flat, flat, 2, 2, 30);
  CHECK(s.start == -1);
}

TEST_CASE("text: QA encoding maps tokens back to the context's characters") {
  const BertTokenizer& t = qa_tokenizer();
  const std::string context = "The Denver Broncos won in the 1990s, at caf\xc3\xa9 Levi's.";
  const QaEncoding qa = encode_qa(t, "Who won?", context, 0);
  // [CLS] who won ? [SEP] | the denver broncos won in the 1990 ##s , at cafe levi ' s . | [SEP]
  CHECK(qa.context_begin == 5);
  CHECK(qa.context_end == 5 + 15);
  REQUIRE(qa.offsets.size() == 15);
  const auto text = [&](int64_t a, int64_t b) {
    return span_text(t, qa, context, {qa.context_begin + a, qa.context_begin + b, 0});
  };
  CHECK(text(1, 2) == "Denver Broncos");
  CHECK(text(6, 7) == "1990s");  // not "1990s,": each piece has its own characters
  CHECK(text(5, 8) == "the 1990s,");
  CHECK(text(10, 10) == "caf\xc3\xa9");  // accent stripped in the token, kept in the answer
  CHECK(text(11, 13) == "Levi's");
  CHECK(text(14, 14) == ".");
  CHECK(span_text(t, qa, context, {0, 2, 0}).empty());  // outside the context

  // Truncated: only a prefix of the context survives, and spans stay inside it.
  const QaEncoding cut = encode_qa(t, "Who won?", context, 12);
  CHECK(cut.context_begin == 5);
  CHECK(cut.context_end == 11);
  CHECK(cut.offsets.size() == 6);
  CHECK(span_text(t, cut, context, {9, 10, 0}) == "in the");

  // A control character is dropped by the tokenizer: its word maps as a whole.
  const std::string odd =
      "Bron\x01"
      "cos won";
  const QaEncoding w = encode_qa(t, "who", odd, 0);
  CHECK(span_text(t, w, odd, {w.context_begin, w.context_begin, 0}) ==
        "Bron\x01"
        "cos");
  CHECK(span_text(t, w, odd, {w.context_begin + 1, w.context_begin + 1, 0}) == "won");
}

TEST_CASE("text: model metadata, inputs and probabilities") {
  TempDir dir;
  const std::string name = dir.file("bert");
  REQUIRE(octet_cli(dir, "zoo bert-tiny -o " + name).code == 0);
  {
    const Model m = Model::load(name);
    const TextModelInfo info = text_model_info(m, name);
    CHECK(info.labels.empty());
    CHECK(info.lowercase);
    CHECK(label_name(info.labels, 1) == "class 1");
    // Unpadded encodings of different lengths become one [2, 4] batch.
    BertEncoding a{{101, 7, 102}, {0, 0, 0}, {1, 1, 1}};
    BertEncoding b{{101, 8, 9, 102}, {0, 0, 1, 1}, {1, 1, 1, 1}};
    const std::vector<Tensor> in = bert_batch(m, name, {a, b}, 0);
    REQUIRE(in.size() == m.inputs().size());
    for (size_t i = 0; i < in.size(); ++i) {
      CHECK(in[i].shape() == Shape{2, 4});
      const int64_t* x = in[i].data<int64_t>();
      if (m.inputs()[i].name == "input_ids") {
        CHECK(std::vector<int64_t>(x, x + 8) ==
              std::vector<int64_t>{101, 7, 102, 0, 101, 8, 9, 102});
      } else if (m.inputs()[i].name == "attention_mask") {
        CHECK(std::vector<int64_t>(x, x + 8) == std::vector<int64_t>{1, 1, 1, 0, 1, 1, 1, 1});
      }
    }
    CHECK(bert_batch(m, name, {a}, 0, 6)[0].shape() == Shape{1, 6});
  }
  // Metadata as the ONNX importer stores "octet.labels" / "octet.tokenizer".
  const std::string json_path = name + ".octet.json";
  nlohmann::json j = nlohmann::json::parse(slurp(json_path));
  j["metadata"]["labels"] = {"negative", "positive"};
  j["metadata"]["tokenizer"] = {{"lowercase", true}, {"max_length", 64}};
  std::ofstream(json_path) << j.dump();
  const TextModelInfo info = text_model_info(Model::load(name), name);
  CHECK(info.labels == std::vector<std::string>{"negative", "positive"});
  CHECK(info.max_length == 64);
  CHECK(label_name(info.labels, 1) == "positive");
  check_tokenizer(info, qa_tokenizer(), name, "qa.txt");  // no vocab_size given
  j["metadata"]["tokenizer"]["vocab_size"] = 30522;
  std::ofstream(json_path) << j.dump();
  error_has(
      [&] {
        check_tokenizer(text_model_info(Model::load(name), name), qa_tokenizer(), name, "qa.txt");
      },
      "vocabulary of 30522 tokens (metadata tokenizer.vocab_size), qa.txt has 24");
  j["metadata"]["tokenizer"]["lowercase"] = false;
  std::ofstream(json_path) << j.dump();
  error_has(
      [&] {
        check_tokenizer(text_model_info(Model::load(name), name), qa_tokenizer(), name, "qa.txt");
      },
      "keeps case");
  j["metadata"]["labels"] = "negative";
  std::ofstream(json_path) << j.dump();
  try {
    text_model_info(Model::load(name), name);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::invalid_model);
    CHECK(has(e.what(), "metadata 'labels' must be a list of strings"));
  }

  const float logits[] = {1.f, 3.f, 0.f};
  const std::vector<float> p = softmax(logits, 3);
  const double z = std::exp(1.0) + std::exp(3.0) + 1.0;
  CHECK(p[1] == doctest::Approx(std::exp(3.0) / z));
  CHECK(p[0] + p[1] + p[2] == doctest::Approx(1.0));
  const float big[] = {1000.f, 0.f};  // no overflow
  CHECK(softmax(big, 2)[0] == doctest::Approx(1.0));
}

TEST_CASE("text: octet eval on bad text data fails with the file and line") {
  TempDir dir;
  const std::string model = dir.file("bert");
  REQUIRE(octet_cli(dir, "zoo bert-tiny -o " + model).code == 0);
  std::ofstream(dir.file("vocab.txt")) << "[PAD]\n[UNK]\n[CLS]\n[SEP]\ngood\nbad\n";
  const std::string vocab = " --vocab " + dir.file("vocab.txt");
  const auto eval = [&](const std::string& tsv) {
    std::ofstream(dir.file("d.tsv")) << tsv;
    return octet_cli(dir,
                     "eval " + model + " --data " + dir.file("d.tsv") + vocab + " --threads 2");
  };
  CliResult r = eval("sentence\tlabel\ngood\t1\nbad 0\n");
  CHECK(r.code == 1);
  CHECK_MESSAGE(has(r.err, "d.tsv:3: no tab"), r.err);
  r = eval("good\t1\nbad\t2\n");  // the model has 2 classes
  CHECK(r.code == 1);
  CHECK_MESSAGE(has(r.err, "d.tsv:2: label 2 is out of range"), r.err);
  r = eval("good\t1\nbad \xff\t0\n");
  CHECK(r.code == 1);
  CHECK_MESSAGE((has(r.err, "d.tsv:2: ") && has(r.err, "invalid UTF-8")), r.err);
  r = eval("good\t1\nbad\t0\n");
  CHECK(r.code == 0);
  CHECK_MESSAGE(has(r.out, "accuracy"), r.out);
  CHECK_MESSAGE(has(r.out, "skipped: the model has no activation ranges"), r.out);
  r = octet_cli(dir, "eval " + model + " --data " + dir.file("d.tsv"));
  CHECK(r.code == 1);
  CHECK_MESSAGE(has(r.err, "give --vocab"), r.err);
  // SQuAD data needs a span head.
  r = octet_cli(dir, "eval " + model + " --data " + std::string(OCTET_SOURCE_DIR) +
                         "/tests/text/squad_tiny.json" + vocab);
  CHECK(r.code == 1);
  CHECK_MESSAGE(has(r.err, "no output 'start_logits'"), r.err);
}

TEST_CASE("text: octet calibrate on sentences (.txt, .tsv) gives the tokenized arrays' table") {
  TempDir dir;
  const std::string model = dir.file("bert");
  REQUIRE(octet_cli(dir, "zoo bert-tiny -o " + model).code == 0);
  std::ofstream(dir.file("vocab.txt")) << "[PAD]\n[UNK]\n[CLS]\n[SEP]\ngood\nbad\nfilm\nvery\n";
  const std::string vocab = " --vocab " + dir.file("vocab.txt");
  std::ofstream(dir.file("s.txt"))
      << "good film\nvery bad film\n\n  \nbad\r\nvery very good film\n";
  std::ofstream(dir.file("s.tsv"))
      << "sentence\tlabel\ngood film\t1\nvery bad film\t0\nbad\t0\nvery very good film\t1\n";
  std::ofstream(dir.file("s.jsonl"))
      << "\"good film\"\n\"very bad film\"\n\"bad\"\n\"very very good film\"\n";
  const auto calibrate = [&](const std::string& data, const std::string& table,
                             const std::string& more = "") {
    return octet_cli(dir, "calibrate " + model + " --data " + data + " -o " + dir.file(table) +
                              " --method max,entropy --quiet --threads 1" + more);
  };
  // The longest text, [CLS] very very good film [SEP], sets the length of all.
  REQUIRE(octet_cli(dir, "tokenize" + vocab + " --jsonl " + dir.file("s.jsonl") +
                             " --max-length 6 -o " + dir.file("ids"))
              .code == 0);
  const std::string arrays = "input_ids=" + dir.file("ids/input_ids.npy") +
                             ",attention_mask=" + dir.file("ids/attention_mask.npy") +
                             ",token_type_ids=" + dir.file("ids/token_type_ids.npy");
  CliResult r = calibrate(arrays, "arrays.json");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const nlohmann::json want = nlohmann::json::parse(slurp(dir.file("arrays.json")));
  REQUIRE(want.at("data").at("samples") == 4);
  for (const auto& [data, batch] :
       {std::pair<std::string, std::string>{"s.txt", "1"}, {"s.txt", "3"}, {"s.tsv", "2"}}) {
    CAPTURE(data);
    CAPTURE(batch);
    r = calibrate(dir.file(data) + vocab, "text.json", " --batch " + batch);
    REQUIRE_MESSAGE(r.code == 0, r.err);
    const nlohmann::json got = nlohmann::json::parse(slurp(dir.file("text.json")));
    CHECK(got.at("data").at("fingerprint") == want.at("data").at("fingerprint"));
    CHECK(got.at("tensors") == want.at("tensors"));
    CHECK(got.at("histograms") == want.at("histograms"));
    CHECK_MESSAGE(has(got.at("data").at("source").get<std::string>(), "6 tokens a sample"),
                  got.at("data").dump());
  }
  // --max-length truncates, and then the data differ.
  r = calibrate(dir.file("s.txt") + vocab, "short.json", " --max-length 4");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(nlohmann::json::parse(slurp(dir.file("short.json"))).at("data").at("fingerprint") !=
        want.at("data").at("fingerprint"));

  std::ofstream(dir.file("bad.txt")) << "good\nbad \xff film\n";
  std::ofstream(dir.file("empty.txt")) << "\n \n";
  const std::pair<std::string, std::string> errors[] = {
      {dir.file("s.tsv"), "is text: give --vocab"},
      {dir.file("s.txt"), "takes token ids: give --vocab"},  // else a list of image files
      {dir.file("bad.txt") + vocab, "bad.txt:2: "},
      {dir.file("empty.txt") + vocab, "empty.txt: no text in the file"},
      {dir.file("missing.txt") + vocab, "missing.txt: cannot open"},
      {dir.file("s.txt") + vocab + " --per-class-samples 1", "need labeled images"},
      {dir.file("s.txt") + vocab + " --skip 4", "no samples selected"},
      {std::string(OCTET_SOURCE_DIR) + "/tests/text/squad_tiny.json" + vocab,
       "SQuAD .json is for octet eval"},
  };
  for (const auto& [data, message] : errors) {
    r = calibrate(data, "x.json");
    CHECK(r.code == 1);
    CHECK_MESSAGE(has(r.err, message), r.err);
  }
}

#endif  // OCTET_HAVE_CLI_LIB
