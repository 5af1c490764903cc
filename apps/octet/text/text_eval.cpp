#include "apps/octet/text/text_eval.hpp"

#include <algorithm>
#include <iostream>
#include <memory>
#include <numeric>
#include <optional>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "apps/octet/common/common.hpp"
#include "apps/octet/text/text_data.hpp"
#include "apps/octet/text/text_model.hpp"
#include "apps/octet/text/text_qa.hpp"

namespace octet::cli {
namespace {

struct Tally {
  Tally(std::string n, std::unique_ptr<Session> s) : name(std::move(n)), session(std::move(s)) {}
  std::string name;
  std::unique_ptr<Session> session;
  double run_ms = 0;
  double correct = 0;                // accuracy: right answers; SQuAD: sum of exact match
  double f1 = 0;                     // SQuAD only
  std::vector<std::string> answers;  // per sample: the class or the answer text
};

std::string percent(double k, size_t n) {
  return format_ms(100.0 * k / n, 2) + "%";
}

// Runs every tally's session on batches of `encodings` and hands each row's
// outputs to `score(tally, index, outputs, row)`. The texts go shortest
// first, each batch padded to its own longest text rounded up to a multiple
// of kLengthStep (at most `max_length`): the work follows the texts' lengths,
// and each padded length is prepared once (sessions keep recent plans, so
// the few shapes are not prepared again). The last batch is filled with
// copies of its first row, whose outputs are ignored. Returns the padded
// lengths used.
constexpr size_t kLengthStep = 8;

template <typename Score>
std::set<int64_t> run_batches(std::vector<Tally>& tallies, const Model& model,
                              const TextEvalArgs& args, const std::vector<BertEncoding>& encodings,
                              int64_t pad_id, size_t max_length, Score score) {
  std::vector<size_t> order(encodings.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return encodings[a].input_ids.size() < encodings[b].input_ids.size();
  });
  const size_t batch = static_cast<size_t>(args.batch);
  std::set<int64_t> lengths;
  for (size_t start = 0; start < order.size(); start += batch) {
    const size_t m = std::min(batch, order.size() - start);
    std::vector<BertEncoding> chunk;
    size_t longest = 0;
    for (size_t r = 0; r < m; ++r) {
      chunk.push_back(encodings[order[start + r]]);
      longest = std::max(longest, chunk.back().input_ids.size());
    }
    chunk.resize(batch, chunk.front());
    const size_t padded = std::max(
        longest, std::min(max_length, (longest + kLengthStep - 1) / kLengthStep * kLengthStep));
    const std::vector<Tensor> inputs =
        bert_batch(model, args.model, chunk, pad_id, static_cast<int64_t>(padded));
    lengths.insert(inputs.front().dim(1));
    for (Tally& t : tallies) {
      const auto t0 = Clock::now();
      const std::vector<Tensor>& outputs = t.session->run(inputs);
      t.run_ms += ms_since(t0);
      if (start == 0 && args.session.verbose) {
        print_precision_report(args.model + ", " + t.name, *t.session);
      }
      for (size_t r = 0; r < m; ++r) score(t, order[start + r], outputs, r);
    }
  }
  return lengths;
}

const Tensor& output_named(const Model& model, const std::vector<Tensor>& outputs,
                           const std::string& name, const std::string& model_name) {
  for (size_t i = 0; i < model.outputs().size(); ++i) {
    if (model.outputs()[i].name == name) return outputs.at(i);
  }
  throw Error(ErrorCode::invalid_argument,
              model_name + " has no output '" + name +
                  "'; SQuAD data needs a span head (start_logits and end_logits)");
}

}  // namespace

bool is_text_data(const std::string& path) {
  return ends_with(path, ".tsv") || ends_with(path, ".json");
}

void eval_text(const TextEvalArgs& args) {
  const Model model = load_model(args.model);
  const bool squad = ends_with(args.data.data, ".json");
  const TextSetup text = text_setup(model, args.model, args.data.data, args.data.vocab,
                                    args.data.max_length, squad ? 384 : 128);
  const BertTokenizer& tokenizer = text.tokenizer;
  const size_t max_length = text.max_length;
  std::vector<Tally> tallies;
  std::string int8_note;
  for (auto& [name, session] : eval_sessions(model, args.session, args.fp32_only, int8_note)) {
    tallies.emplace_back(name, std::move(session));
  }

  std::vector<BertEncoding> encodings;
  std::vector<LabeledText> sentences;
  std::vector<SquadQuestion> questions;
  std::vector<QaEncoding> qas;
  size_t out = 0;  // classification: the logits output
  const auto start_all = Clock::now();
  if (squad) {
    questions = read_squad(args.data.data);
    const auto [first, last] = selected_range(args.data.selection, questions.size(), "text data");
    questions = {questions.begin() + first, questions.begin() + last};
    for (const SquadQuestion& q : questions) {
      try {
        qas.push_back(encode_qa(tokenizer, q.question, q.context, max_length));
      } catch (const Error& e) {
        throw Error(e.code(), args.data.data + ": question '" + q.id + "': " + e.what());
      }
      encodings.push_back(qas.back().encoding);
    }
  } else {
    sentences = read_labeled_tsv(args.data.data);
    const auto [first, last] = selected_range(args.data.selection, sentences.size(), "text data");
    sentences = {sentences.begin() + first, sentences.begin() + last};
    out = classifier_output(model, args.model);
    // Labels out of range fail before anything runs when the class count is fixed.
    const std::vector<Dim>& dims = model.outputs()[out].dims;
    if (dims.size() == 2 && dims[1].size > 0) check_labels(sentences, dims[1].size, args.data.data);
    for (const LabeledText& s : sentences) {
      try {
        encodings.push_back(tokenizer.encode(s.text, max_length, false));
      } catch (const Error& e) {
        throw Error(e.code(), args.data.data + ":" + std::to_string(s.line) + ": " + e.what());
      }
    }
  }
  const size_t n = encodings.size();
  if (n == 0) throw Error(ErrorCode::invalid_argument, args.data.data + ": the selection is empty");

  int64_t classes = 0;
  for (Tally& t : tallies) t.answers.resize(n);
  const std::set<int64_t> lengths = run_batches(
      tallies, model, args, encodings, tokenizer.pad_id(), max_length,
      [&](Tally& t, size_t i, const std::vector<Tensor>& outputs, size_t row) {
        if (squad) {
          const Tensor& s = output_named(model, outputs, "start_logits", args.model);
          const Tensor& e = output_named(model, outputs, "end_logits", args.model);
          const int64_t length = s.numel() / args.batch;
          const Span span =
              best_span(s.data<float>() + row * length, e.data<float>() + row * length,
                        qas[i].context_begin, qas[i].context_end, args.max_answer_tokens);
          const std::string text = span_text(tokenizer, qas[i], questions[i].context, span);
          t.correct += squad_best_exact_match(text, questions[i].answers);
          t.f1 += squad_best_f1(text, questions[i].answers);
          t.answers[i] = text;
          return;
        }
        const Tensor& logits = outputs.at(out);
        if (logits.dtype() != DataType::f32 || logits.rank() != 2) {
          throw Error(ErrorCode::invalid_argument,
                      args.model + ": output '" + model.outputs()[out].name + "' is " +
                          to_string(logits.shape()) + "; eval needs f32 logits [batch, classes]");
        }
        if (classes == 0) {
          classes = logits.dim(1);
          check_labels(sentences, classes, args.data.data);
        }
        const float* p = logits.data<float>() + row * classes;
        const int64_t k = std::max_element(p, p + classes) - p;
        t.correct += k == sentences[i].label;
        t.answers[i] = std::to_string(k);
      });
  const double total_ms = ms_since(start_all);
  std::optional<size_t> agree;
  if (tallies.size() == 2) {
    agree = 0;
    for (size_t i = 0; i < n; ++i) *agree += tallies[0].answers[i] == tallies[1].answers[i];
  }

  if (args.json) {
    nlohmann::ordered_json j;
    j["model"] = args.model;
    j["data"] = args.data.data;
    j["task"] = squad ? "squad" : "classification";
    j["samples"] = n;
    j["max_length"] = max_length;
    j["padded_length"] = *lengths.rbegin();  // the longest
    j["padded_lengths"] = lengths;
    j["batch"] = args.batch;
    for (const Tally& t : tallies) {
      nlohmann::ordered_json r;
      if (squad) {
        r["exact_match"] = 100.0 * t.correct / n;
        r["f1"] = 100.0 * t.f1 / n;
        // {id: answer}, the predictions file format of the official evaluate-v1.1.py.
        nlohmann::ordered_json predictions = nlohmann::ordered_json::object();
        for (size_t i = 0; i < n; ++i) predictions[questions[i].id] = t.answers[i];
        r["predictions"] = predictions;
      } else {
        r["accuracy"] = t.correct / n;
        r["correct"] = static_cast<int64_t>(t.correct);
      }
      r["run_ms"] = t.run_ms;
      j[t.name] = r;
    }
    if (!int8_note.empty()) {
      j["int8"] = nullptr;
      j["int8_note"] = int8_note;
    }
    j["agreement"] = agree ? nlohmann::ordered_json(double(*agree) / n) : nullptr;
    j["total_ms"] = total_ms;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << "model       " << args.model << "\n"
            << "data        " << args.data.data << ": " << n
            << (squad ? " questions (SQuAD v1.1)" : " labeled sentences") << "\n"
            << "tokens      at most " << max_length << " a text, batches of " << args.batch
            << ", shortest texts first, each batch padded to its longest (rounded up to "
            << kLengthStep << "): ";
  for (auto it = lengths.begin(); it != lengths.end(); ++it) {
    std::cout << (it == lengths.begin() ? "" : ", ") << *it;
  }
  std::cout << "\n";
  for (const Tally& t : tallies) {
    std::cout << t.name << "        ";
    if (squad) {
      std::cout << "exact match " << format_ms(100.0 * t.correct / n, 2) << "  F1 "
                << format_ms(100.0 * t.f1 / n, 2);
    } else {
      std::cout << "accuracy " << percent(t.correct, n) << " (" << static_cast<int64_t>(t.correct)
                << "/" << n << ")";
    }
    std::cout << "  " << format_ms(n / (t.run_ms / 1000), 1) << " texts/s\n";
  }
  if (!int8_note.empty()) std::cout << "int8        " << int8_note << "\n";
  if (agree) {
    std::cout << "agreement   " << percent(double(*agree), n) << " (" << *agree << "/" << n
              << ") of samples: same " << (squad ? "answer" : "top-1") << " in fp32 and int8\n";
  }
  std::cout << "time        " << format_ms(total_ms / 1000, 2) << " s in all\n";
}

}  // namespace octet::cli
