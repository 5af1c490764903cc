// IDX files: the format of MNIST and Fashion-MNIST.
//
// A 4-byte magic (two zero bytes, a type byte, the number of dimensions), each
// dimension as a big-endian uint32, then the data, big-endian, row-major.
// Types: 0x08 u8, 0x09 s8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64. MNIST's
// images are 0x00000803 (u8 [N, 28, 28]), its labels 0x00000801 (u8 [N]).
// i16 is widened to s32, exactly; f64 is refused (ErrorCode::unsupported)
// rather than narrowed, as .npy files are (loaders/data/npy.hpp).
//
// Files may be gzipped, as they are distributed and as Debian's
// dataset-fashion-mnist ships them (/usr/share/datasets/fashion-mnist/
// t10k-images-idx3-ubyte.gz): the gzip magic is recognized, whatever the
// name, and the data inflated with zlib, never more than the header declares.
// Before anything is allocated, the declared size must match the gzip
// trailer's and be within what the compressed bytes can hold (deflate expands
// at most 1032:1), so a small file cannot make octet allocate gigabytes.
//
// Errors are octet::Error naming the file: invalid_model for a bad magic
// (showing the bytes), a truncated file (expected and actual bytes),
// trailing data, corrupt gzip data and dimensions whose product overflows;
// unsupported for an unknown or f64 type; io for a missing file.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "loaders/data/image.hpp"
#include "octet/octet.hpp"

namespace octet {

// Reads a whole IDX file, plain or gzipped, into a new tensor.
Tensor read_idx(const std::string& path);
// Parses an in-memory IDX file, plain or gzipped; `name` prefixes messages.
// Safe on arbitrary bytes (the fuzz_idx target).
Tensor parse_idx(const void* data, size_t size, const std::string& name);

// An image set: u8 [N, height, width] and, if there is a labels file, N labels.
struct IdxImages {
  Tensor images;
  std::vector<int> labels;  // empty when unlabeled
};
// Checks that `images` is u8 [N, H, W] (sides 1 to 16384) and `labels` (if
// not empty) an integer [N] of labels >= 0: Error(invalid_argument) naming
// the files otherwise, e.g. when the label count is not the image count.
IdxImages pair_idx(Tensor images, const std::string& images_name, const Tensor* labels,
                   const std::string& labels_name);

// Whether a file name follows the IDX naming: "...idx<N>-ubyte", optionally ".gz".
bool is_idx_name(const std::string& path);
// The labels file next to an images file by the standard naming
// ("t10k-images-idx3-ubyte.gz" -> "t10k-labels-idx1-ubyte.gz", or without
// ".gz"), if it exists; "" otherwise.
std::string find_idx_labels(const std::string& images_path);

// A copy of image `index` of a u8 [N, H, W] tensor with the gray value in
// all three channels, for the image preprocessing (loaders/data/image.hpp).
Image idx_image(const Tensor& images, int64_t index);

}  // namespace octet
