// octet tokenize --vocab vocab.txt TEXT: BERT WordPiece tokenization
// (loaders/data/tokenizer.hpp), one JSON object a text, with the tokens and the
// three model inputs. --jsonl FILE tokenizes one text (a JSON string) or pair
// (an array of two strings) a line, so that any text, control characters
// included, can be given; -o DIR also writes the model inputs as .npy files
// for `octet run` and `octet calibrate --data input_ids=DIR/input_ids.npy,...`.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "apps/octet/commands/commands.hpp"
#include "apps/octet/common/common.hpp"
#include "loaders/data/npy.hpp"
#include "loaders/data/tokenizer.hpp"

namespace octet::cli {
namespace {

struct TokenizeArgs {
  std::string vocab;
  std::string text, pair;
  bool has_text = false, has_pair = false;
  std::string jsonl;
  size_t max_length = 0;
  bool no_pad = false;
  bool basic = false;
  std::string output_dir;
};

struct Input {
  std::string a, b;
  bool pair = false;
};

std::vector<Input> read_jsonl(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::io, path + ": cannot open");
  std::vector<Input> inputs;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) {
      throw Error(ErrorCode::invalid_argument,
                  where + "not JSON (or not UTF-8); write one JSON string or [a, b] a line");
    }
    if (j.is_string()) {
      inputs.push_back({j.get<std::string>(), "", false});
    } else if (j.is_array() && j.size() == 2 && j[0].is_string() && j[1].is_string()) {
      inputs.push_back({j[0].get<std::string>(), j[1].get<std::string>(), true});
    } else {
      throw Error(ErrorCode::invalid_argument,
                  where + "expected a JSON string or an array of two strings");
    }
  }
  return inputs;
}

nlohmann::ordered_json encoding_json(const BertTokenizer& t, const BertEncoding& e) {
  nlohmann::ordered_json j;
  std::vector<std::string> tokens;
  for (int64_t id : e.input_ids) tokens.push_back(t.token(id));
  j["tokens"] = tokens;
  j["input_ids"] = e.input_ids;
  j["token_type_ids"] = e.token_type_ids;
  j["attention_mask"] = e.attention_mask;
  return j;
}

// The encodings as s64 [N, max_length] arrays, one file per model input.
void write_inputs(const std::vector<BertEncoding>& encodings, size_t max_length,
                  const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(ErrorCode::io, dir + ": cannot create directory: " + ec.message());
  const std::pair<const char*, std::vector<int64_t> BertEncoding::*> fields[] = {
      {"input_ids", &BertEncoding::input_ids},
      {"token_type_ids", &BertEncoding::token_type_ids},
      {"attention_mask", &BertEncoding::attention_mask}};
  for (const auto& [name, field] : fields) {
    Tensor t(DataType::s64,
             {static_cast<int64_t>(encodings.size()), static_cast<int64_t>(max_length)});
    for (size_t i = 0; i < encodings.size(); ++i) {
      const std::vector<int64_t>& row = encodings[i].*field;
      std::copy(row.begin(), row.end(), t.data<int64_t>() + i * max_length);
    }
    const std::string path = (std::filesystem::path(dir) / (std::string(name) + ".npy")).string();
    write_npy(path, t);
    std::cerr << name << ": s64 " << to_string(t.shape()) << " -> " << path << "\n";
  }
}

void tokenize(const TokenizeArgs& args) {
  if (args.has_text == !args.jsonl.empty()) {
    throw Error(ErrorCode::invalid_argument, "give a TEXT or --jsonl FILE (one of them)");
  }
  if (args.has_pair && !args.has_text) {
    throw Error(ErrorCode::invalid_argument, "--pair goes with a TEXT; in --jsonl, write [a, b]");
  }
  if (!args.output_dir.empty() && (args.max_length == 0 || args.no_pad || args.basic)) {
    throw Error(ErrorCode::invalid_argument,
                "-o needs --max-length (rows of one length), without --no-pad and --basic");
  }
  const BertTokenizer t = BertTokenizer::load(args.vocab);
  std::vector<Input> inputs;
  if (args.has_text) {
    inputs.push_back({args.text, args.pair, args.has_pair});
  } else {
    inputs = read_jsonl(args.jsonl);
  }
  std::vector<BertEncoding> encodings;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Input& in = inputs[i];
    try {
      if (args.basic) {
        nlohmann::ordered_json j;
        j["words"] = t.basic_tokenize(in.a);
        if (in.pair) j["pair_words"] = t.basic_tokenize(in.b);
        std::cout << j.dump() << "\n";
        continue;
      }
      const bool pad = !args.no_pad;
      encodings.push_back(in.pair ? t.encode_pair(in.a, in.b, args.max_length, pad)
                                  : t.encode(in.a, args.max_length, pad));
    } catch (const Error& e) {
      if (args.has_text) throw;
      throw Error(e.code(), args.jsonl + ": input " + std::to_string(i + 1) + ": " + e.what());
    }
    if (args.output_dir.empty()) std::cout << encoding_json(t, encodings.back()).dump() << "\n";
  }
  if (!args.output_dir.empty()) write_inputs(encodings, args.max_length, args.output_dir);
}

}  // namespace

Command add_tokenize(CLI::App& root) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* app = root.add_subcommand(
      "tokenize", "BERT WordPiece tokenization of a text (bert-base-uncased rules), as JSON");
  CLI::Option* text = app->add_option("text", args->text, "The text (UTF-8)");
  app->add_option("--vocab", args->vocab, "vocab.txt: one token a line")->required();
  CLI::Option* pair = app->add_option("--pair", args->pair, "A second text: [CLS] a [SEP] b [SEP]");
  app->add_option("--jsonl", args->jsonl,
                  "One JSON string (a text) or array of two strings (a pair) a line");
  app->add_option("--max-length", args->max_length,
                  "Truncate (longest first for pairs) and pad to this many tokens")
      ->check(CLI::Range(size_t(2), size_t(1) << 20));
  app->add_flag("--no-pad", args->no_pad, "With --max-length: truncate, but do not pad");
  app->add_flag("--basic", args->basic,
                "Print the words before WordPiece (cleaned, lower-cased, split)");
  app->add_option("-o,--output-dir", args->output_dir,
                  "Write input_ids.npy, token_type_ids.npy, attention_mask.npy here");
  return {app, [args, text, pair] {
            args->has_text = text->count() > 0;
            args->has_pair = pair->count() > 0;
            tokenize(*args);
          }};
}

}  // namespace octet::cli
