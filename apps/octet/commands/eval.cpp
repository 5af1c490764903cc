// octet eval NAME --data DIR: top-1 / top-5 accuracy of a classifier on a
// labeled dataset, in fp32 and in int8 (with the model's own activation
// ranges), and how often the two agree on the top-1 class. Text data (.tsv,
// SQuAD .json) goes to apps/octet/text/text_eval.cpp.
//
// Every batch is decoded once and fed to both sessions. Sessions are prepared
// once for the batch size; the last, partial batch is padded with zeros and
// the padded rows' outputs ignored (one code path, which also serves models
// whose batch dimension is fixed).
#include <algorithm>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "apps/octet/commands/commands.hpp"
#include "apps/octet/common/common.hpp"
#include "apps/octet/common/data_flags.hpp"
#include "apps/octet/common/session_flags.hpp"
#include "apps/octet/text/text_eval.hpp"

namespace octet::cli {
namespace {

struct EvalArgs {
  std::string model;
  DataFlags data;
  int64_t batch = 32;
  bool batch_given = false;
  bool fp32_only = false;
  bool json = false;
  SessionFlags session;
  int64_t max_answer_tokens = 30;
};

// What one precision got right, and how fast.
struct Tally {
  Tally(std::string n, std::unique_ptr<Session> s) : name(std::move(n)), session(std::move(s)) {}
  std::string name;
  std::unique_ptr<Session> session;
  int64_t top1 = 0, top5 = 0;
  double run_ms = 0;
  std::vector<int> predictions;  // top-1 class per sample
};

// Classes ranked before `label`: higher logits, and equal ones with a lower
// index (the tie rule of argmax, which takes the first maximum).
int64_t rank_of(const float* logits, int64_t classes, int64_t label) {
  int64_t rank = 0;
  for (int64_t j = 0; j < classes; ++j) {
    rank += logits[j] > logits[label] || (logits[j] == logits[label] && j < label);
  }
  return rank;
}

int argmax(const float* logits, int64_t classes) {
  return static_cast<int>(std::max_element(logits, logits + classes) - logits);
}

std::string percent(int64_t k, int64_t n) {
  return format_ms(100.0 * k / n, 2) + "% (" + std::to_string(k) + "/" + std::to_string(n) + ")";
}

// Scores rows [0, m) of the session's first output against the labels.
void score(Tally& t, const Dataset& data, const std::vector<size_t>& indices, size_t start,
           size_t m, int64_t batch) {
  const Tensor& logits = t.session->outputs().at(0);
  if (logits.dtype() != DataType::f32 || logits.rank() == 0 || logits.dim(0) != batch) {
    throw Error(ErrorCode::invalid_argument,
                "the model's first output is " + std::string(to_string(logits.dtype())) + " " +
                    to_string(logits.shape()) + "; eval needs f32 logits [batch, classes]");
  }
  const int64_t classes = logits.numel() / batch;
  for (size_t r = 0; r < m; ++r) {
    const float* row = logits.data<float>() + r * classes;
    const int label = data.label(indices[start + r]);
    if (label >= classes) {
      throw Error(ErrorCode::invalid_argument,
                  data.sample_name(indices[start + r]) + " has label " + std::to_string(label) +
                      ", but the model gives " + std::to_string(classes) + " classes");
    }
    const int64_t rank = rank_of(row, classes, label);
    t.top1 += rank == 0;
    t.top5 += rank < 5;
    t.predictions.push_back(argmax(row, classes));
  }
}

nlohmann::ordered_json tally_json(const Tally& t, int64_t n, int64_t classes) {
  nlohmann::ordered_json j;
  j["top1"] = double(t.top1) / n;
  j["top5"] = classes >= 5 ? nlohmann::ordered_json(double(t.top5) / n) : nullptr;
  j["correct_top1"] = t.top1;
  j["correct_top5"] = t.top5;
  j["run_ms"] = t.run_ms;
  j["images_per_s"] = n / (t.run_ms / 1000);
  return j;
}

void eval(const EvalArgs& args) {
  if (is_text_data(args.data.data)) {
    eval_text({args.model, args.data, args.max_answer_tokens, args.batch, args.fp32_only, args.json,
               args.session});
    return;
  }
  const Model model = load_model(args.model);
  const TensorInfo& input = single_batched_input(model, args.model, "eval");
  const Dataset data = Dataset::open(args.data.data);
  if (!data.labeled()) {
    throw Error(ErrorCode::invalid_argument,
                args.data.data +
                    ": the samples have no labels; eval needs class folders or a list with labels");
  }
  const ImagePreprocess pp =
      resolve_preprocess(model, args.model, args.data.preprocess, data.grayscale());
  const std::vector<size_t> indices = select_samples(data, args.data.selection);
  if (indices.empty()) {
    throw Error(ErrorCode::invalid_argument, args.data.data + ": the selection (" +
                                                 describe_selection(data, args.data.selection) +
                                                 ") is empty");
  }
  const bool fixed_batch = input.dims[0].size >= 0;
  const int64_t batch = fixed_batch ? input.dims[0].size : args.batch;
  Shape shape = per_sample_shape(input, data, indices[0], pp);
  shape.insert(shape.begin(), batch);

  std::vector<Tally> tallies;
  std::string int8_note;
  for (auto& [name, session] : eval_sessions(model, args.session, args.fp32_only, int8_note)) {
    tallies.emplace_back(name, std::move(session));
  }
  // One untimed run each: the first run of a session pays one-time costs.
  for (Tally& t : tallies) {
    t.session->prepare({{input.name, shape}});
    if (args.session.verbose) print_precision_report(args.model + ", " + t.name, *t.session);
    t.session->run();
  }

  Tensor buffer(DataType::f32, shape);
  const size_t sample_floats = static_cast<size_t>(numel(shape) / batch);
  double load_ms = 0;
  const auto start_all = Clock::now();
  for (size_t start = 0; start < indices.size(); start += batch) {
    const size_t m = std::min<size_t>(batch, indices.size() - start);
    Shape part = shape;
    part[0] = static_cast<int64_t>(m);
    Tensor view = Tensor::wrap(DataType::f32, part, buffer.data<float>());
    if (m < static_cast<size_t>(batch)) {
      std::fill(buffer.data<float>() + m * sample_floats, buffer.data<float>() + buffer.numel(),
                0.f);
    }
    const std::vector<size_t> chunk(indices.begin() + start, indices.begin() + start + m);
    auto t0 = Clock::now();
    data.load(chunk, pp, view);
    load_ms += ms_since(t0);
    for (Tally& t : tallies) {
      std::memcpy(t.session->input(0).raw(), buffer.raw(), buffer.nbytes());
      t0 = Clock::now();
      t.session->run();
      t.run_ms += ms_since(t0);
      score(t, data, indices, start, m, batch);
    }
  }
  const double total_ms = ms_since(start_all);

  const int64_t n = static_cast<int64_t>(indices.size());
  const int64_t classes = tallies[0].session->outputs().at(0).numel() / batch;
  std::optional<int64_t> agree;
  if (tallies.size() == 2) {
    agree = 0;
    for (int64_t i = 0; i < n; ++i)
      *agree += tallies[0].predictions[i] == tallies[1].predictions[i];
  }

  if (args.json) {
    nlohmann::ordered_json j;
    j["model"] = args.model;
    j["data"] = args.data.data;
    j["fingerprint"] = data.fingerprint();
    j["selection"] = describe_selection(data, args.data.selection);
    j["samples"] = n;
    j["classes"] = classes;
    j["batch"] = batch;
    j["input"] = shape;
    if (!data.is_npy()) j["preprocess"] = preprocess_to_json(pp);
    j["load_ms"] = load_ms;
    j["total_ms"] = total_ms;
    for (const Tally& t : tallies) j[t.name] = tally_json(t, n, classes);
    if (!int8_note.empty()) {
      j["int8"] = nullptr;
      j["int8_note"] = int8_note;
    }
    j["agreement_top1"] = agree ? nlohmann::ordered_json(double(*agree) / n) : nullptr;
    j["threads"] = args.session.threads;
    j["octet_version"] = version();
    j["cpu_isa"] = cpu_isa();
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << "model       " << args.model << "\n"
            << "data        " << args.data.data << ": " << data.size() << " samples, "
            << data.class_count() << " classes (fingerprint " << data.fingerprint() << ")\n"
            << "selection   " << describe_selection(data, args.data.selection) << ": " << n
            << " samples\n";
  if (!data.is_npy()) std::cout << "preprocess  " << describe(pp) << "\n";
  const int64_t last = n % batch;
  std::cout << "input       " << input.name << " " << to_string(shape) << " (batch " << batch
            << (fixed_batch ? ", fixed by the model" : "")
            << (last ? "; the last batch, " + std::to_string(last) + " samples, zero-padded" : "")
            << ")\n";
  if (fixed_batch && args.batch_given && args.batch != batch) {
    std::cout << "note        --batch " << args.batch << " ignored: the model's batch is fixed\n";
  }
  for (const Tally& t : tallies) {
    std::cout << t.name << "        top-1 " << percent(t.top1, n) << "  top-5 "
              << (classes >= 5 ? percent(t.top5, n)
                               : "n/a (" + std::to_string(classes) + " classes)")
              << "  " << format_ms(n / (t.run_ms / 1000), 1) << " images/s\n";
  }
  if (!int8_note.empty()) std::cout << "int8        " << int8_note << "\n";
  if (agree) {
    std::cout << "agreement   " << percent(*agree, n)
              << " of samples: same top-1 in fp32 and int8\n";
  }
  std::cout << "time        " << format_ms(load_ms / 1000, 2) << " s loading, "
            << format_ms(total_ms / 1000, 2) << " s in all\n";
}

}  // namespace

Command add_eval(CLI::App& root) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* app = root.add_subcommand(
      "eval",
      "Accuracy of a classifier (images, IDX, .npy, sentence TSV) or SQuAD v1.1 exact match/F1, "
      "fp32 vs int8");
  app->add_option("model", args->model, "Model NAME (NAME.octet.json) or a .onnx file")->required();
  add_data_flags(*app, args->data);
  CLI::Option* batch =
      app->add_option("--batch", args->batch, "Samples per run")->check(CLI::Range(1, 1 << 16));
  app->add_flag("--fp32-only", args->fp32_only, "Evaluate fp32 only, even if the model has ranges");
  app->add_flag("--json", args->json, "Print the results as JSON");
  app->add_option("--max-answer-tokens", args->max_answer_tokens,
                  "SQuAD: longest answer span, in tokens")
      ->check(CLI::Range(1, 1 << 16));
  add_session_flags(*app, args->session);
  return {app, [args, batch] {
            args->batch_given = batch->count() > 0;
            eval(*args);
          }};
}

}  // namespace octet::cli
