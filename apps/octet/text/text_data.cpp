#include "apps/octet/text/text_data.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <iterator>
#include <map>

#include <nlohmann/json.hpp>

#include "loaders/data/unicode.hpp"

namespace octet::cli {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::io, path + ": cannot open");
  return {std::istreambuf_iterator<char>(in), {}};
}

Error bad(const std::string& where, const std::string& what) {
  return Error(ErrorCode::invalid_argument, where + ": " + what);
}

}  // namespace

std::vector<LabeledText> parse_labeled_tsv(std::string_view contents, const std::string& name) {
  std::vector<LabeledText> samples;
  size_t pos = 0;
  for (int line_no = 1; pos < contents.size(); ++line_no) {
    size_t end = contents.find('\n', pos);
    if (end == std::string_view::npos) end = contents.size();
    std::string_view line = contents.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    const std::string where = name + ":" + std::to_string(line_no);
    const size_t tab = line.rfind('\t');
    if (tab == std::string_view::npos) {
      throw bad(where, "no tab; expected sentence<TAB>label");
    }
    std::string_view label = line.substr(tab + 1);
    while (!label.empty() && label.back() == ' ') label.remove_suffix(1);
    while (!label.empty() && label.front() == ' ') label.remove_prefix(1);
    if (line_no == 1 && label == "label") continue;  // the header
    int value = -1;
    const auto [ptr, ec] = std::from_chars(label.data(), label.data() + label.size(), value);
    if (ec != std::errc() || ptr != label.data() + label.size() || value < 0) {
      throw bad(where, "label '" + std::string(label) + "' is not a non-negative integer");
    }
    samples.push_back({std::string(line.substr(0, tab)), value, line_no});
  }
  if (samples.empty()) throw bad(name, "no labeled sentences (expected sentence<TAB>label lines)");
  return samples;
}

std::vector<LabeledText> read_labeled_tsv(const std::string& path) {
  return parse_labeled_tsv(read_file(path), path);
}

void check_labels(const std::vector<LabeledText>& samples, int64_t classes,
                  const std::string& name) {
  for (const LabeledText& s : samples) {
    if (s.label >= classes) {
      throw bad(name + ":" + std::to_string(s.line),
                "label " + std::to_string(s.label) + " is out of range: the model gives " +
                    std::to_string(classes) + " classes (0.." + std::to_string(classes - 1) + ")");
    }
  }
}

namespace {

const nlohmann::json& field(const nlohmann::json& object, const char* key, const std::string& where,
                            nlohmann::json::value_t type) {
  auto it = object.find(key);
  if (it == object.end()) throw bad(where, std::string("missing field '") + key + "'");
  if (it->type() != type) {
    const char* expected = type == nlohmann::json::value_t::array ? "an array" : "a string";
    throw bad(where + "." + key,
              std::string("expected ") + expected + ", found " + it->type_name());
  }
  return *it;
}

const nlohmann::json& array_field(const nlohmann::json& object, const char* key,
                                  const std::string& where) {
  return field(object, key, where, nlohmann::json::value_t::array);
}

std::string string_field(const nlohmann::json& object, const char* key, const std::string& where) {
  return field(object, key, where, nlohmann::json::value_t::string).get<std::string>();
}

void expect_object(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw bad(where, std::string("expected an object, found ") + j.type_name());
}

}  // namespace

std::vector<SquadQuestion> parse_squad(const std::string& contents, const std::string& name) {
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(contents);
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line L, column C: ...".
    std::string what = e.what();
    const size_t at = what.find("] ");
    throw bad(name, "invalid JSON: " + (at == std::string::npos ? what : what.substr(at + 2)));
  }
  expect_object(root, name);
  std::vector<SquadQuestion> questions;
  const nlohmann::json& data = array_field(root, "data", name);
  for (size_t a = 0; a < data.size(); ++a) {
    const std::string article = name + ": data[" + std::to_string(a) + "]";
    expect_object(data[a], article);
    const nlohmann::json& paragraphs = array_field(data[a], "paragraphs", article);
    for (size_t p = 0; p < paragraphs.size(); ++p) {
      const std::string paragraph = article + ".paragraphs[" + std::to_string(p) + "]";
      expect_object(paragraphs[p], paragraph);
      const std::string context = string_field(paragraphs[p], "context", paragraph);
      const nlohmann::json& qas = array_field(paragraphs[p], "qas", paragraph);
      for (size_t q = 0; q < qas.size(); ++q) {
        const std::string where = paragraph + ".qas[" + std::to_string(q) + "]";
        expect_object(qas[q], where);
        SquadQuestion question;
        question.id = string_field(qas[q], "id", where);
        question.question = string_field(qas[q], "question", where);
        question.context = context;
        const nlohmann::json& answers = array_field(qas[q], "answers", where);
        for (size_t i = 0; i < answers.size(); ++i) {
          const std::string answer = where + ".answers[" + std::to_string(i) + "]";
          expect_object(answers[i], answer);
          question.answers.push_back(string_field(answers[i], "text", answer));
        }
        if (question.answers.empty()) {
          throw bad(where + ".answers", "no ground-truth answer (SQuAD v1.1 has at least one)");
        }
        questions.push_back(std::move(question));
      }
    }
  }
  if (questions.empty()) throw bad(name, "no questions");
  return questions;
}

std::vector<SquadQuestion> read_squad(const std::string& path) {
  return parse_squad(read_file(path), path);
}

namespace {

bool is_ascii_punctuation(char32_t c) {  // Python's string.punctuation
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
         (c >= 123 && c <= 126);
}

// Python's \w, exactly for ASCII; see the header for non-ASCII.
bool is_word_char(char32_t c) {
  if (c < 128) return std::isalnum(static_cast<int>(c)) || c == U'_';
  return !unicode::is_python_space(c) && !unicode::is_punctuation(c) && !unicode::is_control(c);
}

std::vector<std::u32string> normalized_words(std::string_view text) {
  const std::u32string lower =
      unicode::to_lower(unicode::decode_utf8(text, ErrorCode::invalid_argument, "answer text"));
  std::u32string s;
  for (char32_t c : lower) {
    if (!is_ascii_punctuation(c)) s += c;
  }
  // Articles: re.sub(r"\b(a|an|the)\b", " ", s), i.e. whole words of \w chars,
  // left to right (at most one of the three can match at a position).
  std::u32string r;
  for (size_t i = 0; i < s.size();) {
    size_t matched = 0;
    if (i == 0 || !is_word_char(s[i - 1])) {
      for (const std::u32string_view article : {U"a", U"an", U"the"}) {
        const size_t end = i + article.size();
        if (s.compare(i, article.size(), article) == 0 &&
            (end == s.size() || !is_word_char(s[end]))) {
          matched = article.size();
        }
      }
    }
    if (matched) {
      r += U' ';
      i += matched;
    } else {
      r += s[i++];
    }
  }
  std::vector<std::u32string> words;
  size_t i = 0;
  while (i < r.size()) {
    while (i < r.size() && unicode::is_python_space(r[i])) ++i;
    const size_t begin = i;
    while (i < r.size() && !unicode::is_python_space(r[i])) ++i;
    if (i > begin) words.push_back(r.substr(begin, i - begin));
  }
  return words;
}

}  // namespace

std::string squad_normalize(std::string_view text) {
  std::string out;
  for (const std::u32string& w : normalized_words(text)) {
    if (!out.empty()) out += ' ';
    out += unicode::to_utf8(w);
  }
  return out;
}

double squad_exact_match(std::string_view prediction, std::string_view truth) {
  return squad_normalize(prediction) == squad_normalize(truth) ? 1.0 : 0.0;
}

double squad_f1(std::string_view prediction, std::string_view truth) {
  const std::vector<std::u32string> p = normalized_words(prediction);
  const std::vector<std::u32string> t = normalized_words(truth);
  std::map<std::u32string, int64_t> counts;
  for (const std::u32string& w : t) ++counts[w];
  int64_t same = 0;
  for (const std::u32string& w : p) {
    auto it = counts.find(w);
    if (it != counts.end() && it->second > 0) {
      --it->second;
      ++same;
    }
  }
  if (same == 0) return 0.0;
  const double precision = double(same) / p.size(), recall = double(same) / t.size();
  return 2 * precision * recall / (precision + recall);
}

double squad_best_exact_match(std::string_view prediction, const std::vector<std::string>& truths) {
  double best = 0;
  for (const std::string& t : truths) best = std::max(best, squad_exact_match(prediction, t));
  return best;
}

double squad_best_f1(std::string_view prediction, const std::vector<std::string>& truths) {
  double best = 0;
  for (const std::string& t : truths) best = std::max(best, squad_f1(prediction, t));
  return best;
}

}  // namespace octet::cli
