// Datasets for calibration and evaluation: an ordered list of samples, each
// an image file, a .npy file or a row of one .npy file, with an optional
// integer label.
//
// Dataset::open(PATH) accepts
//   - a directory: every image (.jpg .jpeg .png .bmp) or .npy file under it,
//     recursively, sorted by relative path (byte order), so the order is the
//     same on every machine. Hidden files and other extensions are ignored.
//     When the directory holds no files itself and each of its immediate
//     subdirectories holds samples, the subdirectories are classes: label =
//     index of the subdirectory name in sorted order (torchvision's
//     ImageFolder convention), and samples are ordered class by class;
//   - a list file: one path per line, relative to the list file's directory
//     (or absolute), optionally followed by whitespace and an integer label
//     (every line or none); lines starting with '#' and blank lines are
//     skipped;
//   - a .npy file: its first dimension indexes the samples;
//   - an IDX image file (loaders/data/idx.hpp; MNIST's "*-images-idx3-ubyte",
//     optionally gzipped): u8 [N, H, W] gray images, labelled by the
//     "*-labels-idx1-ubyte[.gz]" file next to it when there is one.
// A directory mixing images and .npy files is refused. Images, IDX images
// included, are preprocessed (loaders/data/image.hpp) when loaded; .npy samples
// are taken as they are and must be f32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "loaders/data/image.hpp"
#include "octet/octet.hpp"

namespace octet {

class Dataset {
 public:
  // Throws Error(io) for a missing path or a list entry pointing at a missing
  // file (naming the list file and line), Error(invalid_argument) for a
  // folder with no images or .npy files, a malformed list line or a class
  // folder without samples.
  static Dataset open(const std::string& path);

  const std::string& path() const { return path_; }
  size_t size() const { return samples_.size(); }
  // The sample's path relative to the dataset (a .npy or IDX row: "file.npy[7]").
  std::string sample_name(size_t i) const;
  // The file behind sample i (the .npy file for a row).
  const std::string& sample_path(size_t i) const { return samples_.at(i).path; }
  int label(size_t i) const { return samples_.at(i).label; }  // -1 if none
  bool labeled() const { return !samples_.empty() && samples_[0].label >= 0; }
  // Class folder names, by label; empty for a list file or an unlabeled folder.
  const std::vector<std::string>& class_names() const { return class_names_; }
  // Class folders, or 1 + the largest label of a list; 0 if unlabeled.
  int class_count() const;
  bool is_npy() const { return kind_ == Kind::npy_files || kind_ == Kind::npy_rows; }
  // Samples with one gray channel (IDX images): one channel is their natural
  // preprocessing when neither the model nor the user says otherwise.
  bool grayscale() const { return kind_ == Kind::idx_images; }

  // Samples [skip, skip + n) in dataset order (fewer at the end).
  std::vector<size_t> select(size_t skip, size_t n) const;
  // For each label in increasing order, samples [skip, skip + n) of that
  // label in dataset order: the first 100 of each class for calibration, the
  // other 400 for evaluation. Classes with fewer samples give what they have.
  // Throws Error(invalid_argument) if the dataset is unlabeled.
  std::vector<size_t> select_per_class(size_t skip, size_t n) const;

  // The shape sample i has after preprocessing (without a batch dimension):
  // decodes the image, or reads the .npy file's header and data.
  Shape sample_shape(size_t i, const ImagePreprocess& p) const;
  // Fills batch ([indices.size(), per-sample shape...], f32) with the samples.
  // A sample of another shape is an Error(invalid_argument) naming the file
  // and both shapes.
  void load(const std::vector<size_t>& indices, const ImagePreprocess& p, Tensor& batch) const;

  // 16 hex digits: FNV-1a 64 over the sorted "relative path, file size"
  // list, so it does not depend on listing order or location but changes
  // when a file is renamed, added, removed or changes size (not when its
  // bytes change in place). The provenance of calibration tables.
  std::string fingerprint() const;

 private:
  enum class Kind { images, npy_files, npy_rows, idx_images };
  struct Sample {
    std::string path;      // as opened
    std::string relative;  // for names and the fingerprint
    int label = -1;
    int64_t row = -1;  // npy_rows, idx_images
  };

  static Dataset open_directory(const std::string& path);
  static Dataset open_list(const std::string& path);
  static Dataset open_npy(const std::string& path);
  static Dataset open_idx(const std::string& path);
  void set_kind(const std::string& where);
  void load_one(size_t index, const ImagePreprocess& p, float* dst, const Shape& want) const;

  std::string path_;
  Kind kind_ = Kind::images;
  std::vector<Sample> samples_;
  std::vector<std::string> class_names_;
  std::vector<std::pair<std::string, uintmax_t>> files_;  // relative path, bytes
  Tensor rows_;  // npy_rows: the file, mapped; idx_images: the images, u8 [N, H, W]
};

}  // namespace octet
