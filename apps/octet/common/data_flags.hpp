// Command-line flags for commands that read a dataset (`octet eval`,
// `octet calibrate`): --data, which samples to take, and how images become
// tensors. The preprocessing flags override the "preprocess" object of the
// model's metadata (loaders/data/image.hpp), so a model that carries its own
// preprocessing needs none of them.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "loaders/data/dataset.hpp"
#include "loaders/data/image.hpp"
#include "octet/octet.hpp"

namespace octet::cli {

// --resize N|HxW, --crop N|HxW, --mean a,b,c, --std a,b,c, --rgb | --bgr |
// --grayscale, --scale 1|255, --nchw | --nhwc. Empty / false / 0: not given.
struct PreprocessFlags {
  std::string resize, crop;
  std::vector<float> mean, std;
  bool rgb = false, bgr = false, grayscale = false;
  int scale = 0;
  bool nchw = false, nhwc = false;
};
void add_preprocess_flags(CLI::App& app, PreprocessFlags& flags);

// --samples N --skip N (in dataset order) or --per-class-samples N
// --per-class-skip N (per class, in label order); -1: not given.
struct SelectionFlags {
  int64_t samples = -1, skip = -1;
  int64_t per_class_samples = -1, per_class_skip = -1;
  bool per_class() const { return per_class_samples >= 0 || per_class_skip >= 0; }
};
void add_selection_flags(CLI::App& app, SelectionFlags& flags);

// [skip, skip + samples) of n samples in file order, as --skip/--samples say;
// the per-class flags are an Error(invalid_argument) (`what` has no classes).
std::pair<size_t, size_t> selected_range(const SelectionFlags& flags, size_t n,
                                         const std::string& what);

struct DataFlags {
  std::string data;
  SelectionFlags selection;
  PreprocessFlags preprocess;
  // Text data: the WordPiece vocabulary, and tokens a text (0: the model's
  // metadata, else a default that depends on the task).
  std::string vocab;
  size_t max_length = 0;
};
// --data PATH (required), both groups above, --vocab and --max-length.
void add_data_flags(CLI::App& app, DataFlags& flags);

// The model's metadata "preprocess" object (defaults if it has none: one
// gray channel for `grayscale_data`, such as IDX images, else RGB),
// overridden by the flags given, validated. A malformed metadata object is an
// Error(invalid_model) naming the model.
ImagePreprocess resolve_preprocess(const Model& model, const std::string& model_name,
                                   const PreprocessFlags& flags, bool grayscale_data = false);
// `base` with the flags given applied, validated.
ImagePreprocess apply_preprocess_flags(ImagePreprocess base, const PreprocessFlags& flags);

// The indices the flags select (everything by default).
std::vector<size_t> select_samples(const Dataset& dataset, const SelectionFlags& flags);
// "all 5000 samples", "samples [100, 600)", "per class: samples [100, 500) of each of 10 classes".
std::string describe_selection(const Dataset& dataset, const SelectionFlags& flags);

// The one f32 input with a leading batch dimension that `command` (eval,
// calibrate) feeds samples to; Error(invalid_argument) naming the model otherwise.
const TensorInfo& single_batched_input(const Model& model, const std::string& name,
                                       const std::string& command);
// The per-sample shape: the model's own dims when they are all fixed, else
// what sample `first` becomes after preprocessing.
Shape per_sample_shape(const TensorInfo& input, const Dataset& data, size_t first,
                       const ImagePreprocess& p);

}  // namespace octet::cli
