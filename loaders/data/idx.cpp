// IDX reader, plain and gzipped. Both go through one byte source, so the
// header and size checks are the same code; a gzipped file is inflated
// straight into the tensor, never further than the header declares plus one
// byte to prove that nothing follows.
#include "loaders/data/idx.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>

#include <zlib.h>

namespace octet {
namespace {

[[noreturn]] void fail(ErrorCode code, const std::string& name, const std::string& what) {
  throw Error(code, name + ": " + what);
}
[[noreturn]] void invalid(const std::string& name, const std::string& what) {
  fail(ErrorCode::invalid_model, name, what);
}

// Deflate's best case is 258 bytes from 2 bits, plus block overhead: no
// gzip stream inflates to more than 1032 times its size.
constexpr uint64_t kMaxDeflateRatio = 1032;
constexpr uint64_t kDeflateSlack = 1024;  // tiny files: headers and trailers
constexpr size_t kMaxHeaderBytes = 4 + 255 * 4;

std::string hex_bytes(const unsigned char* p, size_t n) {
  std::string out;
  char buf[4];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", p[i]);
    out += (i ? " " : "") + std::string(buf);
  }
  return out;
}

// The bytes of the file after its gzip wrapping, if any.
class Source {
 public:
  Source(const unsigned char* data, size_t size, const std::string& name)
      : data_(data), size_(size), name_(name) {
    gzip_ = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    if (!gzip_) return;
    // 16 + 15: a gzip wrapper (no zlib or raw deflate), the largest window.
    if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) {
      fail(ErrorCode::out_of_memory, name, "cannot start zlib");
    }
    z_.next_in = const_cast<unsigned char*>(data);
    z_.avail_in = static_cast<uInt>(std::min<size_t>(size, UINT_MAX));
  }
  ~Source() {
    if (gzip_) inflateEnd(&z_);
  }
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  bool gzip() const { return gzip_; }
  // Whether the gzip data ended without the end of its stream (and CRC).
  bool cut_short() const { return cut_short_; }
  // Fills dst with up to n bytes; fewer only at the end of the data.
  size_t read(unsigned char* dst, size_t n) {
    if (!gzip_) {
      const size_t k = std::min(n, size_ - pos_);
      if (k) std::memcpy(dst, data_ + pos_, k);
      pos_ += k;
      return k;
    }
    size_t done = 0;
    while (done < n && !ended_) {
      z_.next_out = dst + done;
      z_.avail_out = static_cast<uInt>(std::min<size_t>(n - done, UINT_MAX));
      const uInt before = z_.avail_out;
      const int r = inflate(&z_, Z_NO_FLUSH);
      done += before - z_.avail_out;
      refill();
      if (r == Z_STREAM_END) {
        ended_ = true;
        if (z_.avail_in > 0 || consumed() < size_) {
          invalid(name_, std::to_string(size_ - consumed()) +
                             " bytes follow the end of the gzip stream (concatenated gzip "
                             "members are not supported)");
        }
      } else if (r == Z_BUF_ERROR && z_.avail_in == 0) {
        // The compressed bytes end before the stream does.
        ended_ = cut_short_ = true;
      } else if (r != Z_OK && r != Z_BUF_ERROR) {
        invalid(name_, std::string("corrupt gzip data: ") + (z_.msg ? z_.msg : "zlib error"));
      }
    }
    return done;
  }
  // Plain files: the bytes not read yet.
  size_t remaining() const { return size_ - pos_; }
  // The gzip trailer's ISIZE: the uncompressed size modulo 2^32.
  uint32_t gzip_isize() const {
    const unsigned char* t = data_ + size_ - 4;
    return uint32_t(t[0]) | uint32_t(t[1]) << 8 | uint32_t(t[2]) << 16 | uint32_t(t[3]) << 24;
  }

 private:
  size_t consumed() const { return static_cast<size_t>(z_.next_in - data_); }
  // zlib's avail_in is 32 bits; a file over 4 GiB is fed in pieces.
  void refill() {
    if (z_.avail_in == 0 && consumed() < size_) {
      z_.avail_in = static_cast<uInt>(std::min<size_t>(size_ - consumed(), UINT_MAX));
    }
  }

  const unsigned char* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& name_;
  bool gzip_ = false;
  bool ended_ = false;
  bool cut_short_ = false;
  z_stream z_{};
};

struct Header {
  const char* type = "u8";  // in the file
  DataType dtype = DataType::u8;
  size_t file_item = 1;  // bytes per element in the file
  Shape shape;
  uint64_t data_bytes = 0;
  size_t bytes = 0;  // the header's own size
};

const char* type_name(unsigned type) {
  switch (type) {
    case 0x08:
      return "u8";
    case 0x09:
      return "s8";
    case 0x0B:
      return "i16";
    case 0x0C:
      return "i32";
    case 0x0D:
      return "f32";
    case 0x0E:
      return "f64";
  }
  return nullptr;
}

Header read_header(Source& src, const std::string& name) {
  unsigned char h[kMaxHeaderBytes];
  const size_t got = src.read(h, 4);
  if (got < 4) {
    invalid(name, "truncated: " + std::string(src.gzip() ? "the gzip stream holds " : "") +
                      std::to_string(got) + " bytes, fewer than the 4-byte IDX magic");
  }
  const std::string magic = hex_bytes(h, 4);
  if (h[0] != 0 || h[1] != 0) {
    invalid(name, "not an IDX file: it starts with " + magic +
                      "; an IDX file starts with two zero bytes, a type byte and a dimension "
                      "count (MNIST images: 00 00 08 03)");
  }
  const char* type = type_name(h[2]);
  if (!type) {
    fail(ErrorCode::unsupported, name,
         "unknown IDX type byte " + hex_bytes(h + 2, 1) + " (magic " + magic +
             "); the types are 08 u8, 09 s8, 0b i16, 0c i32, 0d f32 and 0e f64");
  }
  if (h[2] == 0x0E) {
    fail(ErrorCode::unsupported, name,
         "f64 data (magic " + magic + ") is not supported; octet reads u8, s8, i16, i32 and f32");
  }
  Header out;
  out.type = type;
  out.dtype = h[2] == 0x08   ? DataType::u8
              : h[2] == 0x09 ? DataType::s8
              : h[2] == 0x0D ? DataType::f32
                             : DataType::s32;
  out.file_item = h[2] == 0x0B ? 2 : size_of(out.dtype);
  const size_t rank = h[3];
  if (rank == 0) invalid(name, "the magic " + magic + " declares 0 dimensions");
  out.bytes = 4 + 4 * rank;
  const size_t dims_got = src.read(h + 4, 4 * rank);
  if (dims_got < 4 * rank) {
    invalid(name, "truncated header: " + std::to_string(rank) + " dimensions need " +
                      std::to_string(out.bytes) + " bytes, the " +
                      (src.gzip() ? "gzip stream holds " : "file has ") +
                      std::to_string(4 + dims_got));
  }
  // The product of the non-zero dimensions is bounded, not only the total:
  // every partial product, in any order, must fit in int64 (numel()), also
  // when a zero dimension makes the total 0.
  std::string dims_text;
  uint64_t nonzero = 1;
  bool overflow = false, zero = false;
  for (size_t i = 0; i < rank; ++i) {
    const unsigned char* d = h + 4 + 4 * i;
    const uint64_t dim = uint64_t(d[0]) << 24 | uint64_t(d[1]) << 16 | uint64_t(d[2]) << 8 | d[3];
    dims_text += (i ? "x" : "") + std::to_string(dim);
    out.shape.push_back(static_cast<int64_t>(dim));
    zero |= dim == 0;
    // Kept below 2^62, so neither this test nor the byte count overflows.
    if (dim && nonzero > (uint64_t(1) << 62) / dim) overflow = true;
    if (dim && !overflow) nonzero *= dim;
  }
  if (overflow || nonzero > (uint64_t(1) << 62) / out.file_item) {
    invalid(name, "the dimensions " + dims_text + " (" + type +
                      ") are too large: their product overflows 64-bit sizes");
  }
  const uint64_t elements = zero ? 0 : nonzero;
  out.data_bytes = elements * out.file_item;
  return out;
}

std::string size_text(const Header& h) {
  return to_string(h.shape) + " " + h.type;
}

// Converts from the file's big-endian order in place; i16 widens into s32.
void to_native(unsigned char* p, size_t file_item, size_t count) {
  if (file_item == 1) return;
  if (file_item == 2) {
    // Backwards, so that each 2-byte source is read before a 4-byte result covers it.
    for (size_t i = count; i-- > 0;) {
      const auto v = static_cast<int16_t>(uint16_t(p[2 * i]) << 8 | p[2 * i + 1]);
      const int32_t w = v;
      std::memcpy(p + 4 * i, &w, 4);
    }
    return;
  }
  for (size_t i = 0; i < count; ++i) std::reverse(p + 4 * i, p + 4 * i + 4);
}

}  // namespace

Tensor parse_idx(const void* data, size_t size, const std::string& name) {
  const auto* p = static_cast<const unsigned char*>(data);
  Source src(p, size, name);
  const Header h = read_header(src, name);
  const uint64_t total = h.bytes + h.data_bytes;
  // Every size check happens before the tensor is allocated.
  if (!src.gzip()) {
    if (src.remaining() != h.data_bytes) {
      invalid(
          name,
          std::string(src.remaining() < h.data_bytes ? "truncated" : "unexpected trailing data") +
              ": " + size_text(h) + " needs " + std::to_string(h.data_bytes) +
              " data bytes after the " + std::to_string(h.bytes) + "-byte header, so " +
              std::to_string(total) + " bytes in all; the file has " + std::to_string(size));
    }
  } else {
    if (size < 18 || src.gzip_isize() != static_cast<uint32_t>(total)) {
      invalid(name, "the header declares " + size_text(h) + ", " + std::to_string(total) +
                        " bytes decompressed, but the gzip trailer says " +
                        (size < 18 ? std::string("nothing (too short)")
                                   : std::to_string(src.gzip_isize()) +
                                         " (modulo 2^32): a truncated or corrupt file?"));
    }
    if (total > kMaxDeflateRatio * size + kDeflateSlack) {
      invalid(name, "the header declares " + size_text(h) + ", " + std::to_string(total) +
                        " bytes decompressed, more than " + std::to_string(size) +
                        " bytes of gzip can hold");
    }
  }
  Tensor t(h.dtype, h.shape);
  auto* dst = static_cast<unsigned char*>(t.raw());
  const size_t got = h.data_bytes ? src.read(dst, h.data_bytes) : 0;
  const std::string cut = src.cut_short() ? " (the compressed data is cut short)" : "";
  if (got < h.data_bytes) {
    invalid(name, "truncated: " + size_text(h) + " needs " + std::to_string(total) +
                      " bytes decompressed, the gzip stream holds " +
                      std::to_string(h.bytes + got) + cut);
  }
  unsigned char extra = 0;
  if (src.read(&extra, 1)) {
    invalid(name, "unexpected trailing data: " + size_text(h) + " needs " + std::to_string(total) +
                      " bytes decompressed, the gzip stream holds more");
  }
  if (src.cut_short()) {
    invalid(name, "truncated: the compressed data ends before the gzip stream's end and CRC");
  }
  to_native(dst, h.file_item, static_cast<size_t>(t.numel()));
  return t;
}

Tensor read_idx(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    fail(ErrorCode::io, path, errno == ENOENT ? "no such file" : std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) fail(ErrorCode::io, path, "not a regular file");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail(ErrorCode::io, path, std::string("cannot open: ") + std::strerror(errno));
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  const size_t got = std::fread(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  if (got != bytes.size()) fail(ErrorCode::io, path, "read error");
  return parse_idx(bytes.data(), bytes.size(), path);
}

// ---------------------------------------------------------------- image sets

IdxImages pair_idx(Tensor images, const std::string& images_name, const Tensor* labels,
                   const std::string& labels_name) {
  if (images.dtype() != DataType::u8 || images.rank() != 3) {
    fail(ErrorCode::invalid_argument, images_name,
         "holds " + std::string(to_string(images.dtype())) + " " + to_string(images.shape()) +
             "; IDX images are u8 [N, height, width]");
  }
  for (size_t axis : {1, 2}) {
    if (images.dim(axis) < 1 || images.dim(axis) > kMaxImageSide) {
      fail(ErrorCode::invalid_argument, images_name,
           "images of " + to_string(images.shape()) + " have a side outside [1, " +
               std::to_string(kMaxImageSide) + "]");
    }
  }
  IdxImages out;
  if (labels) {
    const DataType dt = labels->dtype();
    if (labels->rank() != 1 || dt == DataType::f32) {
      fail(ErrorCode::invalid_argument, labels_name,
           "holds " + std::string(to_string(dt)) + " " + to_string(labels->shape()) +
               "; IDX labels are integers [N]");
    }
    if (labels->dim(0) != images.dim(0)) {
      fail(ErrorCode::invalid_argument, labels_name,
           "holds " + std::to_string(labels->dim(0)) + " labels, but " + images_name + " holds " +
               std::to_string(images.dim(0)) + " images");
    }
    for (int64_t i = 0; i < labels->dim(0); ++i) {
      const int64_t v = dt == DataType::u8   ? labels->data<uint8_t>()[i]
                        : dt == DataType::s8 ? labels->data<int8_t>()[i]
                                             : labels->data<int32_t>()[i];
      if (v < 0) {
        fail(ErrorCode::invalid_argument, labels_name,
             "label " + std::to_string(i) + " is " + std::to_string(v) + "; labels are >= 0");
      }
      out.labels.push_back(static_cast<int>(v));
    }
  }
  out.images = std::move(images);
  return out;
}

bool is_idx_name(const std::string& path) {
  std::string name = std::filesystem::path(path).filename().string();
  if (name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0) name.resize(name.size() - 3);
  const std::string tail = "-ubyte";
  if (name.size() < tail.size() + 4 || name.compare(name.size() - tail.size(), tail.size(), tail))
    return false;
  const size_t idx = name.rfind("idx", name.size() - tail.size());
  if (idx == std::string::npos) return false;
  const std::string digits = name.substr(idx + 3, name.size() - tail.size() - idx - 3);
  return !digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos;
}

std::string find_idx_labels(const std::string& images_path) {
  const std::filesystem::path p(images_path);
  std::string name = p.filename().string();
  // "images-idx3" (MNIST's own names) or "images.idx3" (a common rename).
  for (const char* sep : {"-", "."}) {
    const std::string from = std::string("images") + sep + "idx3";
    const size_t at = name.rfind(from);
    if (at == std::string::npos) continue;
    std::string labels = name;
    labels.replace(at, from.size(), std::string("labels") + sep + "idx1");
    const bool gz = labels.size() > 3 && labels.compare(labels.size() - 3, 3, ".gz") == 0;
    const std::string plain = gz ? labels.substr(0, labels.size() - 3) : labels;
    for (const std::string& candidate : {labels, gz ? plain : plain + ".gz"}) {
      std::error_code ec;
      const std::filesystem::path full = p.parent_path() / candidate;
      if (std::filesystem::is_regular_file(full, ec)) return full.string();
    }
  }
  return "";
}

Image idx_image(const Tensor& images, int64_t index) {
  const int h = static_cast<int>(images.dim(1)), w = static_cast<int>(images.dim(2));
  const size_t plane = size_t(h) * w;
  const uint8_t* src = images.data<uint8_t>() + static_cast<size_t>(index) * plane;
  std::shared_ptr<uint8_t> rgb(new uint8_t[plane * 3], std::default_delete<uint8_t[]>());
  for (size_t i = 0; i < plane; ++i)
    rgb.get()[3 * i] = rgb.get()[3 * i + 1] = rgb.get()[3 * i + 2] = src[i];
  Image image;
  image.width = w;
  image.height = h;
  image.pixels = rgb;
  return image;
}

}  // namespace octet
