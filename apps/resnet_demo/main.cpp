// resnet_demo: classify images with an image classifier in the octet format
// (or ONNX), in fp32, int8, or both side by side.
//
//   resnet_demo apps/models/images/*.png            # the bundled Fashion-MNIST ResNet-20
//   resnet_demo --model resnet50.onnx --compare cat.jpg
//
// The preprocessing (size, crop, channels, mean/std) and the class names come
// from the model's metadata (docs/model-format.md), so an image is fed the
// way the model was trained; the flags of `octet eval` override them.
//
// Exit codes: 0 success, 1 an octet::Error (printed as one line), 2 a wrong
// command line.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "apps/octet/common/common.hpp"
#include "apps/octet/common/data_flags.hpp"
#include "apps/octet/common/stats.hpp"
#include "loaders/data/image.hpp"
#include "octet/octet.hpp"

namespace {

using octet::Error;
using octet::ErrorCode;

struct Args {
  std::string model = OCTET_DEMO_MODELS_DIR "/fashion-resnet20";
  std::string labels;
  std::vector<std::string> images;
  bool fp32 = false, int8 = false, compare = false, json = false;
  int threads = 0;
  int top = 5;
  int runs = 20;
  octet::cli::PreprocessFlags preprocess;
};

struct Prediction {
  int index;
  float probability;
};

// One precision's results: the top classes of every image and the latency.
struct Result {
  std::string precision;
  std::vector<std::vector<Prediction>> top;  // [image][rank]
  octet::cli::LatencyStats latency;
};

std::vector<std::string> read_labels(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorCode::io, path + ": cannot open the labels file");
  std::vector<std::string> labels;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    labels.push_back(line);
  }
  if (labels.empty()) throw Error(ErrorCode::invalid_argument, path + ": no labels in the file");
  return labels;
}

// --labels FILE, else the model's metadata "labels", else none (class numbers).
std::vector<std::string> class_names(const octet::Model& model, const Args& args) {
  if (!args.labels.empty()) return read_labels(args.labels);
  const nlohmann::json meta = nlohmann::json::parse(model.metadata_json(), nullptr, false);
  std::vector<std::string> labels;
  if (meta.is_object() && meta.contains("labels") && meta["labels"].is_array()) {
    for (const nlohmann::json& label : meta["labels"]) {
      labels.push_back(label.is_string() ? label.get<std::string>() : label.dump());
    }
  }
  return labels;
}

std::string class_name(const std::vector<std::string>& labels, int index) {
  if (index < static_cast<int>(labels.size())) return labels[index];
  return "class " + std::to_string(index);
}

// Softmax over each row of [batch, classes] logits, then the k largest.
std::vector<std::vector<Prediction>> top_k(const octet::Tensor& logits, int k) {
  if (logits.rank() != 2) {
    throw Error(ErrorCode::invalid_model, "the model's first output is " +
                                              octet::to_string(logits.shape()) +
                                              ", expected [batch, classes] logits");
  }
  const int64_t rows = logits.dim(0), classes = logits.dim(1);
  std::vector<std::vector<Prediction>> out;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = logits.data<float>() + r * classes;
    const float peak = *std::max_element(row, row + classes);
    double sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += std::exp(double(row[c]) - peak);
    std::vector<Prediction> p;
    for (int64_t c = 0; c < classes; ++c) {
      p.push_back({static_cast<int>(c), static_cast<float>(std::exp(double(row[c]) - peak) / sum)});
    }
    const size_t n = std::min<size_t>(p.size(), static_cast<size_t>(k));
    std::partial_sort(p.begin(), p.begin() + n, p.end(),
                      [](const Prediction& a, const Prediction& b) {
                        return a.probability > b.probability ||
                               (a.probability == b.probability && a.index < b.index);
                      });
    p.resize(n);
    out.push_back(std::move(p));
  }
  return out;
}

// Runs the batch once for the answer, then `runs` more times for latency.
Result classify(const octet::Model& model, octet::Precision precision, const octet::Tensor& batch,
                const Args& args) {
  octet::SessionOptions options;
  options.threads = args.threads;
  options.precision = precision;
  octet::Session session(model, options);
  const std::string& input = model.inputs().at(0).name;
  session.prepare({{input, batch.shape()}});
  std::copy_n(batch.data<float>(), batch.numel(), session.input(0).data<float>());
  session.run();
  Result result{precision == octet::Precision::int8 ? "int8" : "fp32",
                top_k(session.outputs().at(0), args.top),
                {}};
  std::vector<double> times;
  for (int i = 0; i < args.runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    session.run();
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
  }
  result.latency = octet::cli::compute_latency_stats(times);
  return result;
}

// Every image preprocessed into one [N, C, H, W] (or NHWC) batch.
octet::Tensor load_batch(const Args& args, const octet::ImagePreprocess& p) {
  std::vector<octet::Tensor> images;
  for (const std::string& path : args.images) {
    images.push_back(octet::load_image(path, p));
    if (images.back().shape() != images.front().shape()) {
      throw Error(ErrorCode::invalid_argument,
                  path + ": preprocessed to " + octet::to_string(images.back().shape()) + ", but " +
                      args.images.front() + " to " + octet::to_string(images.front().shape()) +
                      "; give --crop or --resize HxW so every image has one size");
    }
  }
  octet::Shape shape = images.front().shape();  // [1, C, H, W] or [1, H, W, C]
  shape[0] = static_cast<int64_t>(images.size());
  octet::Tensor batch(octet::DataType::f32, shape);
  float* dst = batch.data<float>();
  for (const octet::Tensor& image : images) {
    dst = std::copy_n(image.data<float>(), image.numel(), dst);
  }
  return batch;
}

std::string percent(float p) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(p >= 0.9995f ? 1 : 2) << 100 * p << "%";
  return s.str();
}

std::string pad(std::string s, size_t width) {
  // Class names are ASCII in the bundled model; count code points anyway.
  size_t shown = 0;
  for (unsigned char c : s) shown += (c & 0xC0) != 0x80;
  if (shown < width) s.append(width - shown, ' ');
  return s;
}

void print_text(const Args& args, const std::vector<std::string>& labels,
                const std::vector<Result>& results) {
  for (size_t i = 0; i < args.images.size(); ++i) {
    std::cout << args.images[i] << "\n";
    std::vector<std::string> lines(results.front().top[i].size() + 1, "   ");
    for (size_t c = 0; c < results.size(); ++c) {
      const bool last = c + 1 == results.size();
      lines[0] += last ? results[c].precision : pad(results[c].precision, 32);
      for (size_t k = 0; k < results[c].top[i].size(); ++k) {
        const Prediction& p = results[c].top[i][k];
        const std::string cell = pad(percent(p.probability), 8) + class_name(labels, p.index);
        lines[k + 1] += last ? cell : pad(cell, 32);
      }
    }
    for (const std::string& line : lines) std::cout << line << "\n";
  }
  std::cout << "latency (batch " << args.images.size() << ", median of " << args.runs << " runs):";
  for (const Result& r : results) {
    std::cout << " " << r.precision << " " << std::fixed << std::setprecision(2)
              << r.latency.median_ms << " ms";
  }
  if (results.size() == 2 && results[1].latency.median_ms > 0) {
    std::cout << " (int8 speed-up " << std::setprecision(2)
              << results[0].latency.median_ms / results[1].latency.median_ms << "x)";
  }
  std::cout << "\n";
}

void print_json(const Args& args, const std::vector<std::string>& labels,
                const std::vector<Result>& results) {
  nlohmann::json out = {{"model", args.model}, {"images", nlohmann::json::array()}};
  for (size_t i = 0; i < args.images.size(); ++i) {
    nlohmann::json image = {{"path", args.images[i]}};
    for (const Result& r : results) {
      nlohmann::json top = nlohmann::json::array();
      for (const Prediction& p : r.top[i]) {
        top.push_back({{"class", p.index},
                       {"label", class_name(labels, p.index)},
                       {"probability", p.probability}});
      }
      image[r.precision] = top;
    }
    out["images"].push_back(image);
  }
  for (const Result& r : results) out["latency_median_ms"][r.precision] = r.latency.median_ms;
  std::cout << out.dump(1) << "\n";
}

void run(const Args& args) {
  const octet::Model model = octet::cli::load_model(args.model);
  if (model.inputs().size() != 1) {
    throw Error(ErrorCode::invalid_argument,
                args.model + ": resnet_demo needs a model with one image input, this one has " +
                    std::to_string(model.inputs().size()));
  }
  const bool want_int8 = args.int8 || args.compare;
  if (want_int8 && model.activation_range_count() == 0) {
    throw Error(ErrorCode::invalid_argument,
                args.model +
                    " has no activation ranges, so it cannot run in int8; calibrate "
                    "it first: octet calibrate MODEL --data IMAGES -o T.json && octet "
                    "quantize MODEL --table T.json -o MODEL-int8");
  }
  const octet::ImagePreprocess p =
      octet::cli::resolve_preprocess(model, args.model, args.preprocess);
  const octet::Tensor batch = load_batch(args, p);
  const std::vector<std::string> labels = class_names(model, args);

  std::vector<Result> results;
  if (!args.int8 || args.compare)
    results.push_back(classify(model, octet::Precision::fp32, batch, args));
  if (want_int8) results.push_back(classify(model, octet::Precision::int8, batch, args));
  if (args.json) {
    print_json(args, labels, results);
    return;
  }
  std::cout << "model " << args.model << " (" << octet::describe(p) << "; " << octet::cpu_isa()
            << (octet::cpu_has_vnni() ? "" : ", no VNNI: int8 is slower than on a VNNI CPU")
            << ")\n";
  print_text(args, labels, results);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"resnet_demo: top-5 classes of images, fp32 and int8", "resnet_demo"};
  Args args;
  app.add_option("--model", args.model,
                 "Model: NAME for NAME.octet.json/.bin, or an .onnx file (default: the bundled "
                 "Fashion-MNIST ResNet-20)");
  app.add_option("--labels", args.labels, "Class names, one a line (default: the model's own)");
  CLI::Option* fp32 = app.add_flag("--fp32", args.fp32, "Run in fp32 only (the default)");
  CLI::Option* int8 = app.add_flag("--int8", args.int8, "Run in int8 only");
  CLI::Option* compare = app.add_flag("--compare", args.compare, "fp32 and int8 side by side");
  fp32->excludes(int8)->excludes(compare);
  int8->excludes(compare);
  app.add_option("--top", args.top, "Classes shown per image")->check(CLI::PositiveNumber);
  app.add_option("--threads", args.threads, "Threads (default: every core)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--runs", args.runs, "Timed runs after the first (latency median)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--json", args.json, "Print the results as one JSON object");
  octet::cli::add_preprocess_flags(app, args.preprocess);
  app.add_option("images", args.images, "JPEG or PNG images")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "resnet_demo: error: " << e.what() << "\nRun 'resnet_demo --help' for more.\n";
    return 2;
  }
  try {
    run(args);
    return 0;
  } catch (const octet::Error& e) {
    std::cerr << "resnet_demo: error: " << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "resnet_demo: error: " << e.what() << "\n";
  }
  return 1;
}
