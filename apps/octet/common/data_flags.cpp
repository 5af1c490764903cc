#include "apps/octet/common/data_flags.hpp"

#include <algorithm>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "apps/octet/common/common.hpp"

namespace octet::cli {
namespace {

// "N" -> {N, N}; "HxW" -> {H, W}; false if malformed or out of range.
bool parse_size(const std::string& text, int& h, int& w) {
  auto number = [](const std::string& s, int& out) {
    if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos) {
      return false;
    }
    out = std::atoi(s.c_str());
    return out >= 1 && out <= kMaxImageSide;
  };
  const size_t x = text.find('x');
  if (x == std::string::npos) return number(text, h) && number(text, w);
  return number(text.substr(0, x), h) && number(text.substr(x + 1), w);
}

const CLI::Validator kSize(
    [](std::string& text) {
      int h = 0, w = 0;
      if (parse_size(text, h, w)) return std::string();
      return "'" + text + "' is not N or HxW (1 to " + std::to_string(kMaxImageSide) + " pixels)";
    },
    "N|HxW");

}  // namespace

void add_preprocess_flags(CLI::App& app, PreprocessFlags& flags) {
  const std::string group = "Preprocessing (overrides the model's metadata)";
  app.add_option("--resize", flags.resize,
                 "Resize the shorter side to N (aspect kept), or to exactly HxW; bilinear")
      ->check(kSize)
      ->group(group);
  app.add_option("--crop", flags.crop, "Center crop N x N or HxW (after resizing)")
      ->check(kSize)
      ->group(group);
  app.add_option("--mean", flags.mean, "Per-channel mean, in the model's channel order: a,b,c")
      ->delimiter(',')
      ->group(group);
  app.add_option("--std", flags.std, "Per-channel std, in the model's channel order: a,b,c")
      ->delimiter(',')
      ->group(group);
  CLI::Option* rgb = app.add_flag("--rgb", flags.rgb, "Channels in RGB order")->group(group);
  CLI::Option* bgr = app.add_flag("--bgr", flags.bgr, "Channels in BGR order")->group(group);
  CLI::Option* gray =
      app.add_flag("--grayscale", flags.grayscale, "One channel: 0.299 R + 0.587 G + 0.114 B")
          ->group(group);
  rgb->excludes(bgr)->excludes(gray);
  bgr->excludes(gray);
  app.add_option("--scale", flags.scale,
                 "Pixel values in [0, 1] (1) or [0, 255] (255), before --mean and --std")
      ->check(CLI::IsMember({1, 255}))
      ->group(group);
  CLI::Option* nchw = app.add_flag("--nchw", flags.nchw, "Layout N,C,H,W")->group(group);
  CLI::Option* nhwc = app.add_flag("--nhwc", flags.nhwc, "Layout N,H,W,C")->group(group);
  nchw->excludes(nhwc);
}

void add_selection_flags(CLI::App& app, SelectionFlags& flags) {
  const std::string group = "Samples";
  CLI::Option* samples =
      app.add_option("--samples", flags.samples, "Take this many samples (default: all)")
          ->check(CLI::Range(int64_t(0), int64_t(1) << 40))
          ->group(group);
  CLI::Option* skip = app.add_option("--skip", flags.skip, "Skip this many samples first")
                          ->check(CLI::Range(int64_t(0), int64_t(1) << 40))
                          ->group(group);
  CLI::Option* per_samples = app.add_option("--per-class-samples", flags.per_class_samples,
                                            "Take this many samples of each class (default: all)")
                                 ->check(CLI::Range(int64_t(0), int64_t(1) << 40))
                                 ->group(group);
  CLI::Option* per_skip = app.add_option("--per-class-skip", flags.per_class_skip,
                                         "Skip this many samples of each class first")
                              ->check(CLI::Range(int64_t(0), int64_t(1) << 40))
                              ->group(group);
  for (CLI::Option* a : {samples, skip}) {
    for (CLI::Option* b : {per_samples, per_skip}) a->excludes(b);
  }
}

void add_data_flags(CLI::App& app, DataFlags& flags) {
  app.add_option("--data", flags.data,
                 "Image folder (class subfolders give labels), list file, .npy file, folder "
                 "of .npy files or IDX images (MNIST's *-images-idx3-ubyte[.gz], labels from "
                 "*-labels-idx1-ubyte[.gz]); calibrate also takes name=X.npy,name=Y.npy (one "
                 "array per model input, e.g. BERT token ids from octet tokenize -o), and "
                 "text, with --vocab: sentence<TAB>label .tsv, SQuAD v1.1 .json (eval), "
                 "any other file one text a line (calibrate, sensitivity)")
      ->required();
  add_selection_flags(app, flags.selection);
  add_preprocess_flags(app, flags.preprocess);
  app.add_option("--vocab", flags.vocab, "Text data: the model's WordPiece vocab.txt");
  app.add_option("--max-length", flags.max_length,
                 "Text data: tokens a text at most (default: the model's metadata, else 128; "
                 "384 for SQuAD)")
      ->check(CLI::Range(size_t(3), size_t(1) << 16));
}

std::pair<size_t, size_t> selected_range(const SelectionFlags& flags, size_t n,
                                         const std::string& what) {
  if (flags.per_class()) {
    throw Error(ErrorCode::invalid_argument,
                "--per-class-samples/--per-class-skip need labeled "
                "images; " +
                    what + " has no classes: use --samples/--skip");
  }
  const size_t first = std::min(n, static_cast<size_t>(std::max<int64_t>(0, flags.skip)));
  const size_t count =
      flags.samples < 0 ? n - first : std::min(n - first, static_cast<size_t>(flags.samples));
  return {first, first + count};
}

ImagePreprocess apply_preprocess_flags(ImagePreprocess p, const PreprocessFlags& flags) {
  if (!flags.resize.empty()) {
    int h = 0, w = 0;
    if (!parse_size(flags.resize, h, w)) {
      throw Error(ErrorCode::invalid_argument, "--resize '" + flags.resize + "' is not N or HxW");
    }
    const bool exact = flags.resize.find('x') != std::string::npos;
    p.resize = exact ? 0 : h;
    p.resize_height = exact ? h : 0;
    p.resize_width = exact ? w : 0;
  }
  if (!flags.crop.empty()) {
    if (!parse_size(flags.crop, p.crop_height, p.crop_width)) {
      throw Error(ErrorCode::invalid_argument, "--crop '" + flags.crop + "' is not N or HxW");
    }
  }
  if (!flags.mean.empty()) p.mean = flags.mean;
  if (!flags.std.empty()) p.std = flags.std;
  if (flags.rgb) p.channels = ImageChannels::rgb;
  if (flags.bgr) p.channels = ImageChannels::bgr;
  if (flags.grayscale) p.channels = ImageChannels::gray;
  if (flags.scale) p.scale = flags.scale;
  if (flags.nchw) p.layout = ImageLayout::nchw;
  if (flags.nhwc) p.layout = ImageLayout::nhwc;
  validate(p);
  return p;
}

ImagePreprocess resolve_preprocess(const Model& model, const std::string& model_name,
                                   const PreprocessFlags& flags, bool grayscale_data) {
  ImagePreprocess base;
  if (grayscale_data) base.channels = ImageChannels::gray;
  const nlohmann::json metadata = nlohmann::json::parse(model.metadata_json(), nullptr, false);
  if (metadata.is_object() && metadata.contains("preprocess")) {
    try {
      base = preprocess_from_json(metadata["preprocess"]);
    } catch (const Error& e) {
      throw Error(ErrorCode::invalid_model, model_name + ": metadata " + e.what());
    }
  }
  return apply_preprocess_flags(base, flags);
}

std::vector<size_t> select_samples(const Dataset& dataset, const SelectionFlags& flags) {
  const auto count = [](int64_t n) {
    return n < 0 ? static_cast<size_t>(-1) : static_cast<size_t>(n);
  };
  if (flags.per_class()) {
    return dataset.select_per_class(static_cast<size_t>(std::max<int64_t>(0, flags.per_class_skip)),
                                    count(flags.per_class_samples));
  }
  return dataset.select(static_cast<size_t>(std::max<int64_t>(0, flags.skip)),
                        count(flags.samples));
}

std::string describe_selection(const Dataset& dataset, const SelectionFlags& flags) {
  const auto range = [](int64_t skip, int64_t n) {
    const int64_t from = std::max<int64_t>(0, skip);
    return "[" + std::to_string(from) + ", " + (n < 0 ? "end" : std::to_string(from + n)) + ")";
  };
  if (flags.per_class()) {
    return "samples " + range(flags.per_class_skip, flags.per_class_samples) + " of each of " +
           std::to_string(dataset.class_count()) + " classes";
  }
  if (flags.skip <= 0 && flags.samples < 0) return "all samples";
  return "samples " + range(flags.skip, flags.samples);
}

const TensorInfo& single_batched_input(const Model& model, const std::string& name,
                                       const std::string& command) {
  if (model.inputs().size() != 1) {
    throw Error(ErrorCode::invalid_argument, name + ": " + command +
                                                 " needs a model with one input; it has " +
                                                 std::to_string(model.inputs().size()));
  }
  const TensorInfo& in = model.inputs()[0];
  if (in.dtype != DataType::f32 || in.dims.empty() || in.dims[0].size == 0) {
    throw Error(ErrorCode::invalid_argument, name + ": input '" + in.name + "' is " +
                                                 to_string(in.dtype) + " " + format_dims(in.dims) +
                                                 "; " + command +
                                                 " needs an f32 input with a batch dimension");
  }
  return in;
}

Shape per_sample_shape(const TensorInfo& input, const Dataset& data, size_t first,
                       const ImagePreprocess& p) {
  Shape shape;
  for (size_t i = 1; i < input.dims.size(); ++i) {
    if (input.dims[i].size < 0) return data.sample_shape(first, p);
    shape.push_back(input.dims[i].size);
  }
  return shape;
}

}  // namespace octet::cli
