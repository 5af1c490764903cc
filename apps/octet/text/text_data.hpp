// Text datasets for `octet eval` and bert_demo: labeled sentences in a TSV
// file (SST-2's format) and SQuAD v1.1 question answering JSON, with the
// official SQuAD v1.1 metrics (exact match and token F1 after the official
// answer normalization).
//
// Readers throw octet::Error(invalid_argument) naming the file and the line
// (TSV) or the JSON field (SQuAD), and Error(io) for a file that cannot be read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "octet/octet.hpp"

namespace octet::cli {

struct LabeledText {
  std::string text;
  int label = 0;
  int line = 0;  // 1-based line in the file, for messages
};

// `sentence<TAB>label` lines (the label after the last tab, a non-negative
// integer). A first line whose label field is "label" is a header
// ("sentence\tlabel", GLUE's "text\tlabel"). Blank lines are skipped; CRLF is
// accepted. An empty dataset is an error.
std::vector<LabeledText> read_labeled_tsv(const std::string& path);
// The same from the file's contents; `name` prefixes messages.
std::vector<LabeledText> parse_labeled_tsv(std::string_view contents, const std::string& name);
// Error naming the file and line of the first label >= classes.
void check_labels(const std::vector<LabeledText>& samples, int64_t classes,
                  const std::string& name);

struct SquadQuestion {
  std::string id;
  std::string question;
  std::string context;
  std::vector<std::string> answers;  // ground truths (at least one)
};

// SQuAD v1.1: {"data": [{"paragraphs": [{"context": ..., "qas": [{"id",
// "question", "answers": [{"text", "answer_start"}]}]}]}]}. Messages name the
// field ("data[0].paragraphs[2].qas[1].answers"), and invalid JSON its line
// and column.
std::vector<SquadQuestion> read_squad(const std::string& path);
std::vector<SquadQuestion> parse_squad(const std::string& contents, const std::string& name);

// The official v1.1 normalize_answer: lower-case (Python's str.lower()),
// drop ASCII punctuation (string.punctuation), replace the whole words a, an,
// the by a space, collapse whitespace. Word boundaries around articles are
// exact for ASCII; non-ASCII symbols and marks count as word characters
// (Python's \w does not treat them so).
std::string squad_normalize(std::string_view text);
// 1 if the normalized texts are equal.
double squad_exact_match(std::string_view prediction, std::string_view truth);
// Token F1 of the normalized texts (0 when nothing is shared, as in v1.1).
double squad_f1(std::string_view prediction, std::string_view truth);
// The max of each over the ground truths (v1.1's metric_max_over_ground_truths).
double squad_best_exact_match(std::string_view prediction, const std::vector<std::string>& truths);
double squad_best_f1(std::string_view prediction, const std::vector<std::string>& truths);

}  // namespace octet::cli
