#include "loaders/data/dataset.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <system_error>

#include "loaders/data/idx.hpp"
#include "loaders/data/npy.hpp"

namespace octet {
namespace {

namespace fs = std::filesystem;

enum class FileKind { other, image, npy };

FileKind file_kind(const fs::path& p) {
  std::string ext = p.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp") return FileKind::image;
  if (ext == ".npy") return FileKind::npy;
  return FileKind::other;
}

bool hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

[[noreturn]] void fail(ErrorCode code, const std::string& what) {
  throw Error(code, what);
}

std::string shape_text(const Shape& s) {
  return s.empty() ? "a scalar" : to_string(s);
}

struct Found {
  std::string path, relative;
  uintmax_t bytes = 0;
  FileKind kind = FileKind::other;
};

// Every sample file under `dir`, recursively (not into hidden or symlinked
// subdirectories), with paths relative to `root`.
void walk(const fs::path& dir, const fs::path& root, std::vector<Found>& out) {
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (hidden(p)) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    const FileKind kind = file_kind(p);
    if (kind == FileKind::other || !it->is_regular_file(ec)) continue;
    Found f;
    f.path = p.string();
    f.relative = p.lexically_relative(root).generic_string();
    f.bytes = it->file_size(ec);
    f.kind = kind;
    if (ec) break;
    out.push_back(std::move(f));
  }
  if (ec) fail(ErrorCode::io, dir.string() + ": cannot list: " + ec.message());
}

// A list line "path [label]": the label is a trailing run of digits after whitespace.
bool split_label(const std::string& line, std::string& path, int& label) {
  const size_t space = line.find_last_of(" \t");
  if (space == std::string::npos) return false;
  const std::string tail = line.substr(space + 1);
  if (tail.empty() || tail.size() > 9) return false;
  for (char c : tail) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  path = line.substr(0, line.find_last_not_of(" \t", space) + 1);
  label = std::stoi(tail);
  return !path.empty();
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

}  // namespace

// ---------------------------------------------------------------- opening

Dataset Dataset::open(const std::string& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st)) fail(ErrorCode::io, path + ": no such file or directory");
  if (fs::is_directory(st)) return open_directory(path);
  if (file_kind(path) == FileKind::npy) return open_npy(path);
  if (is_idx_name(path)) return open_idx(path);
  if (file_kind(path) == FileKind::image) {
    // A single image: a dataset of one, as a list of one line would be.
    Dataset d;
    d.path_ = path;
    d.samples_.push_back({path, fs::path(path).filename().string(), -1, -1});
    d.files_.emplace_back(d.samples_[0].relative, fs::file_size(path, ec));
    return d;
  }
  return open_list(path);
}

void Dataset::set_kind(const std::string& where) {
  bool images = false, npy = false;
  for (const Sample& s : samples_) {
    (file_kind(s.path) == FileKind::npy ? npy : images) = true;
  }
  if (images && npy) {
    fail(ErrorCode::invalid_argument, where + ": mixes images and .npy files; use one kind");
  }
  kind_ = npy ? Kind::npy_files : Kind::images;
}

Dataset Dataset::open_directory(const std::string& path) {
  const fs::path root(path);
  Dataset d;
  d.path_ = path;
  bool direct_files = false;
  std::vector<std::string> subdirs;
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (hidden(it->path())) continue;
    std::error_code ec2;
    if (it->is_directory(ec2)) {
      subdirs.push_back(it->path().filename().string());
    } else if (file_kind(it->path()) != FileKind::other && it->is_regular_file(ec2)) {
      direct_files = true;
    }
  }
  if (ec) fail(ErrorCode::io, path + ": cannot list: " + ec.message());

  std::vector<Found> found;
  if (!direct_files && !subdirs.empty()) {
    // Class folders, labelled in sorted name order.
    std::sort(subdirs.begin(), subdirs.end());
    for (size_t label = 0; label < subdirs.size(); ++label) {
      std::vector<Found> in_class;
      walk(root / subdirs[label], root, in_class);
      if (in_class.empty()) {
        fail(ErrorCode::invalid_argument,
             (root / subdirs[label]).string() +
                 ": class folder holds no images or .npy files (every subfolder of " + path +
                 " is a class)");
      }
      std::sort(in_class.begin(), in_class.end(),
                [](const Found& a, const Found& b) { return a.relative < b.relative; });
      for (Found& f : in_class) {
        d.samples_.push_back({f.path, f.relative, static_cast<int>(label), -1});
        found.push_back(std::move(f));
      }
    }
    d.class_names_ = subdirs;
  } else {
    walk(root, root, found);
    std::sort(found.begin(), found.end(),
              [](const Found& a, const Found& b) { return a.relative < b.relative; });
    for (const Found& f : found) d.samples_.push_back({f.path, f.relative, -1, -1});
  }
  if (d.samples_.empty()) {
    fail(ErrorCode::invalid_argument,
         path + ": no images (.jpg, .jpeg, .png, .bmp) or .npy files in this folder");
  }
  for (const Found& f : found) d.files_.emplace_back(f.relative, f.bytes);
  d.set_kind(path);
  return d;
}

Dataset Dataset::open_list(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(ErrorCode::io, path + ": cannot open: " + std::strerror(errno));
  const fs::path base = fs::path(path).parent_path();
  Dataset d;
  d.path_ = path;
  std::string raw;
  int first_labeled = 0, first_unlabeled = 0;
  for (int line_no = 1; std::getline(in, raw); ++line_no) {
    const std::string line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    std::string file = line;
    int label = -1;
    if (split_label(line, file, label)) {
      if (!first_labeled) first_labeled = line_no;
    } else if (!first_unlabeled) {
      first_unlabeled = line_no;
    }
    if (first_labeled && first_unlabeled) {
      fail(ErrorCode::invalid_argument,
           path + ": line " + std::to_string(first_labeled) + " has a label and line " +
               std::to_string(first_unlabeled) + " has none; label every line or none");
    }
    const fs::path rel = fs::path(file).lexically_normal();
    const fs::path full = rel.is_absolute() ? rel : base / rel;
    std::error_code ec;
    if (!fs::is_regular_file(full, ec)) {
      fail(ErrorCode::io, where + full.string() +
                              (fs::exists(full, ec) ? ": not a regular file" : ": no such file"));
    }
    if (file_kind(full) == FileKind::other) {
      fail(ErrorCode::invalid_argument,
           where + full.string() + ": not an image (.jpg, .jpeg, .png, .bmp) or .npy file");
    }
    d.samples_.push_back({full.string(), rel.generic_string(), label, -1});
    d.files_.emplace_back(rel.generic_string(), fs::file_size(full, ec));
  }
  if (in.bad()) fail(ErrorCode::io, path + ": read error");
  if (d.samples_.empty()) fail(ErrorCode::invalid_argument, path + ": the list names no files");
  d.set_kind(path);
  return d;
}

Dataset Dataset::open_npy(const std::string& path) {
  Dataset d;
  d.path_ = path;
  d.kind_ = Kind::npy_rows;
  d.rows_ = map_npy(path);  // pages in as rows are read, not all at once
  if (d.rows_.dtype() != DataType::f32) {
    fail(ErrorCode::invalid_argument,
         path + ": holds " + to_string(d.rows_.dtype()) + " data; samples must be f32");
  }
  if (d.rows_.rank() == 0 || d.rows_.dim(0) == 0) {
    fail(ErrorCode::invalid_argument, path + ": holds no samples (shape " +
                                          shape_text(d.rows_.shape()) +
                                          "; the first dimension indexes the samples)");
  }
  const std::string name = fs::path(path).filename().string();
  for (int64_t i = 0; i < d.rows_.dim(0); ++i) {
    d.samples_.push_back({path, name + "[" + std::to_string(i) + "]", -1, i});
  }
  std::error_code ec;
  d.files_.emplace_back(name, fs::file_size(path, ec));
  return d;
}

Dataset Dataset::open_idx(const std::string& path) {
  Dataset d;
  d.path_ = path;
  d.kind_ = Kind::idx_images;
  const std::string labels_path = find_idx_labels(path);
  Tensor labels;
  if (!labels_path.empty()) labels = read_idx(labels_path);
  const IdxImages set =
      pair_idx(read_idx(path), path, labels_path.empty() ? nullptr : &labels, labels_path);
  if (set.images.dim(0) == 0) fail(ErrorCode::invalid_argument, path + ": holds no images");
  d.rows_ = set.images;
  const std::string name = fs::path(path).filename().string();
  for (int64_t i = 0; i < d.rows_.dim(0); ++i) {
    const int label = set.labels.empty() ? -1 : set.labels[static_cast<size_t>(i)];
    d.samples_.push_back({path, name + "[" + std::to_string(i) + "]", label, i});
  }
  std::error_code ec;
  d.files_.emplace_back(name, fs::file_size(path, ec));
  if (!labels_path.empty()) {
    d.files_.emplace_back(fs::path(labels_path).filename().string(),
                          fs::file_size(labels_path, ec));
  }
  return d;
}

// ---------------------------------------------------------------- queries

std::string Dataset::sample_name(size_t i) const {
  return samples_.at(i).relative;
}

int Dataset::class_count() const {
  if (!class_names_.empty()) return static_cast<int>(class_names_.size());
  int top = -1;
  for (const Sample& s : samples_) top = std::max(top, s.label);
  return top + 1;
}

std::vector<size_t> Dataset::select(size_t skip, size_t n) const {
  std::vector<size_t> out;
  for (size_t i = skip; i < samples_.size() && out.size() < n; ++i) out.push_back(i);
  return out;
}

std::vector<size_t> Dataset::select_per_class(size_t skip, size_t n) const {
  if (!labeled()) {
    fail(ErrorCode::invalid_argument,
         path_ + ": samples have no labels, so they cannot be selected per class");
  }
  std::map<int, std::vector<size_t>> by_label;
  for (size_t i = 0; i < samples_.size(); ++i) by_label[samples_[i].label].push_back(i);
  std::vector<size_t> out;
  for (const auto& [label, members] : by_label) {
    for (size_t k = skip; k < members.size() && k - skip < n; ++k) out.push_back(members[k]);
  }
  return out;
}

std::string Dataset::fingerprint() const {
  std::vector<std::pair<std::string, uintmax_t>> files = files_;
  std::sort(files.begin(), files.end());
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64 offset basis
  auto mix = [&h](const std::string& s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;  // FNV prime
    }
  };
  for (const auto& [relative, bytes] : files) {
    mix(relative);
    mix(std::string(1, '\0') + std::to_string(bytes) + "\n");
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

// ---------------------------------------------------------------- loading

Shape Dataset::sample_shape(size_t i, const ImagePreprocess& p) const {
  const Sample& s = samples_.at(i);
  switch (kind_) {
    case Kind::images:
      return preprocessed_shape(read_image(s.path), p, s.path);
    case Kind::npy_files: {
      Shape shape = read_npy(s.path).shape();
      // A file may hold its sample with a leading batch dimension of 1.
      if (shape.size() >= 2 && shape[0] == 1) shape.erase(shape.begin());
      return shape;
    }
    case Kind::npy_rows:
      return Shape(rows_.shape().begin() + 1, rows_.shape().end());
    case Kind::idx_images:
      return preprocessed_shape(idx_image(rows_, s.row), p,
                                path_ + "[" + std::to_string(s.row) + "]");
  }
  return {};
}

void Dataset::load_one(size_t index, const ImagePreprocess& p, float* dst,
                       const Shape& want) const {
  const Sample& s = samples_.at(index);
  const std::string expects = ", but the input expects " + shape_text(want) + " per sample";
  if (kind_ == Kind::images || kind_ == Kind::idx_images) {
    // An IDX image is named by its row, which is where a user would look.
    const bool idx = kind_ == Kind::idx_images;
    const Image image = idx ? idx_image(rows_, s.row) : read_image(s.path);
    const std::string name = idx ? path_ + "[" + std::to_string(s.row) + "]" : s.path;
    const Shape have = preprocessed_shape(image, p, name);
    if (have != want) {
      fail(ErrorCode::invalid_argument, name + ": the " + std::to_string(image.width) + "x" +
                                            std::to_string(image.height) + " (WxH) image is " +
                                            shape_text(have) + " after preprocessing (" +
                                            describe(p) + ")" + expects);
    }
    preprocess_into(image, p, dst, name);
    return;
  }
  const size_t count = static_cast<size_t>(numel(want));
  if (kind_ == Kind::npy_rows) {
    const Shape have(rows_.shape().begin() + 1, rows_.shape().end());
    if (have != want) {
      fail(ErrorCode::invalid_argument, s.path + ": samples are " + shape_text(have) + expects);
    }
    std::memcpy(dst, rows_.data<float>() + s.row * count, count * sizeof(float));
    return;
  }
  const Tensor t = read_npy(s.path);
  if (t.dtype() != DataType::f32) {
    fail(ErrorCode::invalid_argument,
         s.path + ": holds " + std::string(to_string(t.dtype())) + " data; samples must be f32");
  }
  Shape batched = want;
  batched.insert(batched.begin(), 1);
  if (t.shape() != want && t.shape() != batched) {
    fail(ErrorCode::invalid_argument, s.path + ": holds " + shape_text(t.shape()) + expects);
  }
  std::memcpy(dst, t.data<float>(), count * sizeof(float));
}

void Dataset::load(const std::vector<size_t>& indices, const ImagePreprocess& p,
                   Tensor& batch) const {
  if (batch.dtype() != DataType::f32 || batch.rank() == 0 ||
      batch.dim(0) != static_cast<int64_t>(indices.size())) {
    fail(ErrorCode::invalid_argument,
         "Dataset::load: the batch is " + std::string(to_string(batch.dtype())) + " " +
             shape_text(batch.shape()) + "; it must be f32 with " + std::to_string(indices.size()) +
             " samples in its first dimension");
  }
  if (!is_npy()) validate(p);
  const Shape want(batch.shape().begin() + 1, batch.shape().end());
  const size_t count = static_cast<size_t>(numel(want));
  float* dst = batch.data<float>();
  for (size_t k = 0; k < indices.size(); ++k) load_one(indices[k], p, dst + k * count, want);
}

}  // namespace octet
