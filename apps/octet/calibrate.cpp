// octet calibrate NAME --data DIR --method all -o TABLE.json: measure every
// activation's range on real samples (docs/calibration-table.md).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <memory>

#include "apps/octet/commands.hpp"
#include "apps/octet/common.hpp"
#include "apps/octet/data_flags.hpp"
#include "loaders/npy.hpp"

namespace octet::cli {
namespace {

struct CalibrateArgs {
  std::string model;
  DataFlags data;
  std::vector<std::string> methods = {"all"};
  std::string choose;
  int64_t batch = 16;
  int bins = 2048;
  int threads = 0;
  bool quiet = false;
  std::string output;
};

// Samples done, rate and ETA on stderr: in place on a terminal, otherwise a
// line every few seconds so that logs stay short.
class Progress {
 public:
  Progress(bool quiet, int passes, int64_t total)
      : quiet_(quiet), tty_(isatty(STDERR_FILENO)), passes_(passes), total_(total) {}

  void update(int pass, int64_t done) {
    if (quiet_) return;
    const double elapsed = ms_since(start_) / 1000;
    const bool last = pass == passes_ && done == total_;
    if (!last && elapsed - shown_ < (tty_ ? 0.25 : 5.0)) return;
    shown_ = elapsed;
    const int64_t all_done = (pass - 1) * total_ + done;
    const double rate = all_done / std::max(elapsed, 1e-9);
    const double eta = (passes_ * total_ - all_done) / std::max(rate, 1e-9);
    char line[160];
    std::snprintf(line, sizeof line,
                  "pass %d/%d (%s): %lld/%lld samples, %.1f samples/s, ETA %.0f s", pass, passes_,
                  pass == 1 ? "ranges" : "histograms", static_cast<long long>(done),
                  static_cast<long long>(total_), rate, eta);
    std::cerr << (tty_ ? "\r" : "") << line << (tty_ && !last ? "" : "\n") << std::flush;
  }

 private:
  bool quiet_, tty_;
  int passes_;
  int64_t total_;
  Clock::time_point start_ = Clock::now();
  double shown_ = -1e9;
};

// Where the samples come from: a count, a way to make batch [first, first+n),
// and a description for the table's provenance.
struct Source {
  size_t count = 0;
  int64_t fixed_batch = 0;  // > 0: the model takes exactly this many samples per run
  std::function<std::vector<Tensor>(size_t first, size_t n)> batch;
  std::string description;
};

// --data DIR|LIST|X.npy: images or f32 arrays for a model with one input.
Source dataset_source(const Model& model, const CalibrateArgs& args) {
  const TensorInfo& input = single_batched_input(model, args.model, "calibrate");
  auto data = std::make_shared<Dataset>(Dataset::open(args.data.data));
  const ImagePreprocess pp =
      resolve_preprocess(model, args.model, args.data.preprocess, data->grayscale());
  auto indices = std::make_shared<std::vector<size_t>>(select_samples(*data, args.data.selection));
  if (indices->empty()) {
    throw Error(ErrorCode::invalid_argument, args.data.data + ": the selection (" +
                                                 describe_selection(*data, args.data.selection) +
                                                 ") is empty");
  }
  const Shape sample = per_sample_shape(input, *data, indices->front(), pp);
  Source s;
  s.count = indices->size();
  s.fixed_batch = std::max<int64_t>(input.dims[0].size, 0);
  s.batch = [data, indices, pp, sample](size_t first, size_t n) {
    Shape shape = sample;
    shape.insert(shape.begin(), static_cast<int64_t>(n));
    Tensor batch(DataType::f32, shape);
    data->load({indices->begin() + first, indices->begin() + first + n}, pp, batch);
    return std::vector<Tensor>{batch};
  };
  s.description = args.data.data + " (" + describe_selection(*data, args.data.selection) +
                  ", file list " + data->fingerprint() + ")";
  return s;
}

// --data name=X.npy,name=Y.npy: one array per model input (e.g. BERT's
// pre-tokenized input_ids, attention_mask, token_type_ids), any dtype, the
// first dimension indexing samples.
Source named_arrays_source(const Model& model, const CalibrateArgs& args) {
  auto arrays = std::make_shared<std::vector<Tensor>>(model.inputs().size());
  std::string spec = args.data.data;
  for (size_t start = 0; start <= spec.size();) {
    const size_t comma = std::min(spec.find(',', start), spec.size());
    const std::string item = spec.substr(start, comma - start);
    start = comma + 1;
    const size_t eq = item.find('=');
    if (eq == std::string::npos) {
      throw Error(ErrorCode::invalid_argument,
                  "--data '" + spec + "': expected name=file.npy,... for every model input");
    }
    const std::string name = item.substr(0, eq);
    size_t k = 0;
    while (k < model.inputs().size() && model.inputs()[k].name != name) ++k;
    if (k == model.inputs().size()) {
      throw Error(ErrorCode::invalid_argument, "--data: the model has no input '" + name + "'");
    }
    (*arrays)[k] = read_npy(item.substr(eq + 1));
  }
  size_t count = 0;
  for (size_t k = 0; k < arrays->size(); ++k) {
    const TensorInfo& in = model.inputs()[k];
    const Tensor& t = (*arrays)[k];
    if (t.empty() && t.rank() == 0) {
      throw Error(ErrorCode::invalid_argument, "--data: no array for input '" + in.name + "'");
    }
    if (t.dtype() != in.dtype || t.rank() != in.dims.size() || t.rank() == 0) {
      throw Error(ErrorCode::invalid_argument,
                  "--data: input '" + in.name + "' is " + to_string(in.dtype) + " " +
                      format_dims(in.dims) + ", the array is " + to_string(t.dtype()) + " " +
                      to_string(t.shape()));
    }
    if (k > 0 && static_cast<size_t>(t.dim(0)) != count) {
      throw Error(ErrorCode::invalid_argument,
                  "--data: the arrays hold different numbers of samples (" + std::to_string(count) +
                      " and " + std::to_string(t.dim(0)) + ")");
    }
    count = static_cast<size_t>(t.dim(0));
  }
  if (args.data.selection.per_class()) {
    throw Error(ErrorCode::invalid_argument, "--per-class-* needs labeled images");
  }
  const size_t skip = static_cast<size_t>(std::max<int64_t>(args.data.selection.skip, 0));
  const size_t take =
      args.data.selection.samples < 0 ? count : static_cast<size_t>(args.data.selection.samples);
  Source s;
  s.count = skip < count ? std::min(take, count - skip) : 0;
  if (s.count == 0) throw Error(ErrorCode::invalid_argument, "--data: no samples selected");
  s.fixed_batch = std::max<int64_t>(model.inputs()[0].dims[0].size, 0);
  s.batch = [arrays, skip](size_t first, size_t n) {
    std::vector<Tensor> batch;
    for (const Tensor& t : *arrays) {
      Shape shape = t.shape();
      shape[0] = static_cast<int64_t>(n);
      Tensor part(t.dtype(), shape);
      const size_t row = t.nbytes() / static_cast<size_t>(t.dim(0));
      std::memcpy(part.raw(), static_cast<const char*>(t.raw()) + (skip + first) * row, n * row);
      batch.push_back(part);
    }
    return batch;
  };
  s.description =
      spec + " (samples [" + std::to_string(skip) + ", " + std::to_string(skip + s.count) + "))";
  return s;
}

void calibrate(const CalibrateArgs& args) {
  const Model model = load_model(args.model);
  const bool named = args.data.data.find('=') != std::string::npos;
  const Source source = named ? named_arrays_source(model, args) : dataset_source(model, args);
  const size_t step = static_cast<size_t>(source.fixed_batch > 0 ? source.fixed_batch : args.batch);
  if (source.fixed_batch > 0 && source.count % step != 0) {
    throw Error(ErrorCode::invalid_argument,
                args.model + ": the model's batch size is fixed at " + std::to_string(step) +
                    "; select a multiple of it (" + std::to_string(source.count) +
                    " samples selected)");
  }

  CalibrationOptions options;
  options.methods = args.methods;
  options.method = args.choose;
  options.bins = args.bins;
  options.threads = args.threads;
  Calibrator calibrator(model, options);
  const int passes = calibrator.needs_histograms() ? 2 : 1;
  Progress progress(args.quiet, passes, static_cast<int64_t>(source.count));
  const auto start = Clock::now();
  for (int pass = 1; pass <= passes; ++pass) {
    if (pass == 2) calibrator.start_histograms();
    for (size_t first = 0; first < source.count; first += step) {
      const size_t n = std::min(source.count - first, step);
      calibrator.add(source.batch(first, n));
      progress.update(pass, static_cast<int64_t>(first + n));
    }
  }
  CalibrationTable table = calibrator.table();
  table.data_source = source.description;
  table.save(args.output);

  int u8 = 0;
  for (const TensorCalibration& t : table.tensors) u8 += t.dtype == DataType::u8;
  std::string methods;
  for (const std::string& m : table.methods) methods += (methods.empty() ? "" : ", ") + m;
  std::cout << "wrote " << args.output << ": " << table.tensors.size() << " tensors (" << u8
            << " u8, " << table.tensors.size() - u8 << " s8) from " << table.samples
            << " samples in " << format_ms(ms_since(start) / 1000, 1) << " s\n"
            << "methods: " << methods << "; chosen: " << table.method << "\n"
            << "next: octet quantize " << args.model << " --table " << args.output
            << " -o NAME-int8\n";
}

}  // namespace

Command add_calibrate(CLI::App& root) {
  auto args = std::make_shared<CalibrateArgs>();
  CLI::App* app = root.add_subcommand(
      "calibrate", "Measure activation ranges on real samples and write a calibration table");
  app->add_option("model", args->model, "Model NAME or .onnx file")->required();
  add_data_flags(*app, args->data);
  app->add_option("--method", args->methods,
                  "Comma-separated: max, entropy, mse, percentile[=P] or all (max, entropy, mse "
                  "and the 99.9/99.99/99.999/99.9999 percentiles)")
      ->delimiter(',')
      ->capture_default_str();
  app->add_option("--choose", args->choose,
                  "The table's default method (default: entropy with all, else the first)");
  app->add_option("--batch", args->batch, "Samples decoded per step (does not change the table)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}))
      ->capture_default_str();
  app->add_option("--bins", args->bins, "Histogram bins per tensor")
      ->check(CLI::Range(128, 1 << 20))
      ->capture_default_str();
  app->add_option("--threads", args->threads, "Threads to run on (0: every core)")
      ->check(CLI::Range(0, 4096));
  app->add_flag("--quiet", args->quiet, "No progress on stderr");
  app->add_option("-o,--output", args->output, "The table to write (JSON)")->required();
  return {app, [args] { calibrate(*args); }};
}

}  // namespace octet::cli
