// .npy reader and writer. The format (numpy/lib/format.py): the magic
// "\x93NUMPY", a major and minor version byte, the header length (uint16 LE in
// 1.0, uint32 LE in 2.0 and 3.0), then the header: a Python dict literal with
// the keys 'descr', 'fortran_order' and 'shape', padded with spaces and ended by
// '\n'. The raw array data follows.
//
// The reader is a fuzzing target, so every length is checked against the bytes
// actually present before it is used, and nothing is allocated before the data
// size declared by the header has been matched against the file size.
#include "loaders/data/npy.hpp"

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace octet {
namespace {

constexpr unsigned char kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
constexpr size_t kMaxHeader = 65536;

[[noreturn]] void fail(ErrorCode code, const std::string& name, const std::string& what) {
  throw Error(code, name + ": " + what);
}
[[noreturn]] void invalid(const std::string& name, const std::string& what) {
  fail(ErrorCode::invalid_model, name, what);
}

constexpr auto npos = std::string_view::npos;

// Header text for messages: bounded and printable whatever the input was.
std::string printable(std::string_view s, size_t max = 120) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    out += c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?';
  }
  return s.size() > max ? out + "..." : out;
}

// ---------------------------------------------------------------- header dict

// The subset of Python literals a header can hold. The header is parsed the
// way numpy's ast.literal_eval sees it, so any key order, spacing, trailing
// commas and quote style are accepted.
struct PyValue {
  enum class Kind { string, integer, boolean, none, tuple, list };
  Kind kind = Kind::none;
  std::string text;  // string
  int64_t integer = 0;
  bool negative = false;  // integer < 0 (the magnitude is in `integer`)
  bool overflow = false;  // integer magnitude does not fit in int64
  bool flag = false;      // boolean
  std::vector<PyValue> items;
};

using HeaderDict = std::vector<std::pair<std::string, PyValue>>;

class LiteralParser {
 public:
  LiteralParser(std::string_view text, const std::string& name) : s_(text), name_(name) {}

  HeaderDict parse_dict() {
    HeaderDict dict;
    skip_space();
    expect('{');
    skip_space();
    while (!accept('}')) {
      PyValue key = parse_value(0);
      if (key.kind != PyValue::Kind::string) malformed("dict keys must be strings");
      skip_space();
      expect(':');
      dict.emplace_back(key.text, parse_value(0));
      skip_space();
      if (accept('}')) break;
      expect(',');
      skip_space();
    }
    skip_space();
    if (pos_ != s_.size()) malformed("unexpected text after the dict");
    return dict;
  }

 private:
  // Deeper nesting than any real header; bounds the recursion on fuzzed input.
  static constexpr int kMaxDepth = 16;

  PyValue parse_value(int depth) {
    if (depth > kMaxDepth) malformed("values nested too deeply");
    skip_space();
    if (pos_ == s_.size()) malformed("unexpected end");
    const char c = s_[pos_];
    PyValue v;
    if (c == '\'' || c == '"') {
      v.kind = PyValue::Kind::string;
      v.text = parse_string();
    } else if (c == '(' || c == '[') {
      v = parse_sequence(depth);
    } else if (c == '-' || c == '+' || is_digit(c)) {
      v = parse_integer();
    } else {
      const size_t start = pos_;
      while (pos_ < s_.size() && (is_alpha(s_[pos_]) || is_digit(s_[pos_]))) ++pos_;
      const std::string_view word = s_.substr(start, pos_ - start);
      if (word == "True" || word == "False") {
        v.kind = PyValue::Kind::boolean;
        v.flag = word == "True";
      } else if (word != "None") {
        pos_ = start;
        malformed("unexpected character");
      }
    }
    return v;
  }

  // "(x)" is just x in Python; "(x,)" and "()" are tuples.
  PyValue parse_sequence(int depth) {
    const char close = s_[pos_] == '(' ? ')' : ']';
    PyValue seq;
    seq.kind = close == ')' ? PyValue::Kind::tuple : PyValue::Kind::list;
    ++pos_;
    bool comma = false;
    skip_space();
    while (!accept(close)) {
      seq.items.push_back(parse_value(depth + 1));
      skip_space();
      if (accept(close)) break;
      expect(',');
      comma = true;
      skip_space();
    }
    if (close == ')' && seq.items.size() == 1 && !comma) return std::move(seq.items[0]);
    return seq;
  }

  PyValue parse_integer() {
    PyValue v;
    v.kind = PyValue::Kind::integer;
    if (s_[pos_] == '-' || s_[pos_] == '+') {
      v.negative = s_[pos_++] == '-';
      skip_space();
    }
    if (pos_ == s_.size() || !is_digit(s_[pos_])) malformed("expected a digit");
    for (; pos_ < s_.size() && is_digit(s_[pos_]); ++pos_) {
      const int digit = s_[pos_] - '0';
      if (v.integer > (std::numeric_limits<int64_t>::max() - digit) / 10) v.overflow = true;
      if (!v.overflow) v.integer = v.integer * 10 + digit;
    }
    if (pos_ < s_.size() && (is_alpha(s_[pos_]) || s_[pos_] == '.')) {
      malformed("only decimal integers are allowed");
    }
    return v;
  }

  std::string parse_string() {
    const char quote = s_[pos_++];
    const size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != quote) {
      // Real headers never need escapes; refusing them keeps the parser small.
      if (s_[pos_] == '\\' || s_[pos_] == '\n') malformed("unsupported character in string");
      ++pos_;
    }
    if (pos_ == s_.size()) malformed("unterminated string");
    return std::string(s_.substr(start, pos_++ - start));
  }

  static bool is_digit(char c) { return c >= '0' && c <= '9'; }
  static bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  }
  void skip_space() {
    while (pos_ < s_.size() && std::string_view(" \t\n\r\f\v").find(s_[pos_]) != npos) ++pos_;
  }
  bool accept(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) return ++pos_, true;
    return false;
  }
  void expect(char c) {
    if (!accept(c)) malformed(std::string("expected '") + c + "'");
  }

  [[noreturn]] void malformed(const std::string& what) const {
    invalid(name_, "malformed .npy header (" + what + " at offset " + std::to_string(pos_) +
                       "): " + printable(s_.substr(0, s_.find_last_not_of(" \t\n\r\f\v") + 1)));
  }

  std::string_view s_;
  const std::string& name_;
  size_t pos_ = 0;
};

struct NpyHeader {
  DataType dtype = DataType::f32;
  Shape shape;
  uint64_t data_bytes = 0;
};

constexpr std::pair<DataType, const char*> kDescrs[] = {
    {DataType::f32, "<f4"}, {DataType::s8, "|i1"},  {DataType::u8, "|u1"},
    {DataType::s32, "<i4"}, {DataType::s64, "<i8"}, {DataType::boolean, "|b1"}};

const char* npy_descr(DataType dtype) {
  for (const auto& [t, descr] : kDescrs) {
    if (t == dtype) return descr;
  }
  return "?";
}

DataType dtype_from_descr(std::string descr, const std::string& name) {
  const std::string shown = printable(descr);
  // A single byte has no byte order: numpy writes '|', but '<', '>' and '=' mean the same.
  if (descr.size() == 3 && descr[2] == '1' && std::string_view("<>=").find(descr[0]) != npos) {
    descr[0] = '|';
  }
  for (const auto& [t, d] : kDescrs) {
    if (descr == d) return t;
  }
  std::string why = "unsupported dtype '" + shown + "'";
  if (!descr.empty() && descr[0] == '>') why += " (big-endian)";
  if (descr == "<f8" || descr == "<f2") why += " (convert with a.astype(numpy.float32))";
  fail(ErrorCode::unsupported, name, why + "; octet reads <f4, |i1, |u1, <i4, <i8 and |b1");
}

// Parses the header text (without the prefix) and checks that its shape is
// addressable; the data size is checked by the caller.
NpyHeader parse_npy_header(std::string_view text, const std::string& name) {
  const HeaderDict dict = LiteralParser(text, name).parse_dict();
  const PyValue* descr = nullptr;
  const PyValue* fortran = nullptr;
  const PyValue* shape = nullptr;
  for (const auto& [key, value] : dict) {
    const PyValue** slot = key == "descr"           ? &descr
                           : key == "fortran_order" ? &fortran
                           : key == "shape"         ? &shape
                                                    : nullptr;
    if (!slot) invalid(name, "unexpected key '" + printable(key) + "' in .npy header");
    if (*slot) invalid(name, "duplicate key '" + printable(key) + "' in .npy header");
    *slot = &value;
  }
  for (auto [value, key] :
       {std::pair{descr, "descr"}, {fortran, "fortran_order"}, {shape, "shape"}}) {
    if (!value) invalid(name, std::string(".npy header has no '") + key + "'");
  }
  if (descr->kind == PyValue::Kind::list) {
    fail(ErrorCode::unsupported, name, "structured dtype (record array)");
  }
  if (descr->kind != PyValue::Kind::string) invalid(name, "'descr' in .npy header is not a string");
  if (fortran->kind != PyValue::Kind::boolean) {
    invalid(name, "'fortran_order' in .npy header is not True or False");
  }
  if (shape->kind != PyValue::Kind::tuple) invalid(name, "'shape' in .npy header is not a tuple");

  NpyHeader h;
  h.dtype = dtype_from_descr(descr->text, name);
  if (fortran->flag) {
    fail(ErrorCode::unsupported, name,
         "Fortran-order arrays are not supported; save numpy.ascontiguousarray(a)");
  }
  if (shape->items.size() > 64) fail(ErrorCode::unsupported, name, "more than 64 dimensions");
  std::string shape_text = "(";
  for (size_t i = 0; i < shape->items.size(); ++i) {
    const PyValue& d = shape->items[i];
    if (d.kind != PyValue::Kind::integer)
      invalid(name, "'shape' in .npy header holds a non-integer");
    shape_text += (i ? ", " : "") + std::string(d.negative ? "-" : "") +
                  (d.overflow ? "<huge>" : std::to_string(d.integer));
  }
  shape_text += shape->items.size() == 1 ? ",)" : ")";
  // Every partial product must fit in int64 whatever the order of the
  // dimensions, so the product of the non-zero ones is bounded.
  int64_t nonzero_product = 1;
  bool has_zero = false;
  for (const PyValue& d : shape->items) {
    if (d.negative && (d.integer != 0 || d.overflow)) {
      invalid(name, "negative dimension in shape " + shape_text);
    }
    if (d.overflow ||
        (d.integer && nonzero_product > std::numeric_limits<int64_t>::max() / d.integer)) {
      invalid(name, "shape " + shape_text + " is too large");
    }
    if (d.integer) nonzero_product *= d.integer;
    has_zero |= d.integer == 0;
    h.shape.push_back(d.integer);
  }
  const uint64_t item = size_of(h.dtype);
  const uint64_t elements = has_zero ? 0 : static_cast<uint64_t>(nonzero_product);
  if (elements > std::numeric_limits<uint64_t>::max() / item) {
    invalid(name, "shape " + shape_text + " is too large");
  }
  h.data_bytes = elements * item;
  return h;
}

// ---------------------------------------------------------------- files

// Finds the header text in a file image, checking the magic, the version and
// that the declared header length fits in the file.
std::string_view find_header(const unsigned char* p, size_t size, const std::string& name) {
  if (size < 8 || std::memcmp(p, kMagic, sizeof kMagic) != 0) {
    invalid(name, "not a .npy file (no \\x93NUMPY magic)");
  }
  const int major = p[6], minor = p[7];
  if (major < 1 || major > 3 || minor != 0) {
    fail(ErrorCode::unsupported, name,
         "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
             " (octet reads 1.0, 2.0 and 3.0)");
  }
  const size_t offset = major == 1 ? 10 : 12;
  if (size < offset) invalid(name, "truncated .npy header");
  size_t len = 0;
  for (size_t i = 8; i < offset; ++i) len |= static_cast<size_t>(p[i]) << (8 * (i - 8));
  if (len > size - offset) {
    invalid(name, "truncated .npy header: it declares " + std::to_string(len) +
                      " bytes, the file has " + std::to_string(size - offset) +
                      " after the prefix");
  }
  // The parser's memory is a small multiple of the header size; numpy itself
  // refuses headers over 10000 bytes by default.
  if (len > kMaxHeader) {
    fail(ErrorCode::unsupported, name,
         ".npy header of " + std::to_string(len) + " bytes (octet reads up to " +
             std::to_string(kMaxHeader) + ")");
  }
  return {reinterpret_cast<const char*>(p) + offset, len};
}

// The complete header block: prefix, dict, space padding and '\n', sized so
// that the data starts at a multiple of 64 bytes as numpy does.
std::string encode_header(const Tensor& t) {
  std::string dict =
      std::string("{'descr': '") + npy_descr(t.dtype()) + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < t.rank(); ++i) dict += (i ? ", " : "") + std::to_string(t.dim(i));
  dict += t.rank() == 1 ? ",), }" : "), }";
  // Version 1.0 unless the header length does not fit in its uint16.
  const size_t prefix = (10 + dict.size() + 1 + 63) / 64 * 64 - 10 <= 0xffff ? 10 : 12;
  const size_t len = (prefix + dict.size() + 1 + 63) / 64 * 64 - prefix;
  std::string out(reinterpret_cast<const char*>(kMagic), sizeof kMagic);
  out += static_cast<char>(prefix == 10 ? 1 : 2);
  out += '\0';
  for (size_t i = 0; i < prefix - 8; ++i) out += static_cast<char>((len >> (8 * i)) & 0xff);
  out += dict;
  out.append(len - dict.size() - 1, ' ');
  out += '\n';
  return out;
}

std::string errno_text() {
  return std::strerror(errno);
}

// The header of an in-memory .npy image, and where its data starts; the data
// size is checked against the image's.
std::pair<NpyHeader, size_t> locate_data(const unsigned char* p, size_t size,
                                         const std::string& name) {
  const std::string_view header = find_header(p, size, name);
  const NpyHeader h = parse_npy_header(header, name);
  const size_t offset =
      static_cast<size_t>(header.data() + header.size() - reinterpret_cast<const char*>(p));
  const uint64_t available = size - offset;
  if (available != h.data_bytes) {
    invalid(name,
            std::string(available < h.data_bytes ? "truncated data" : "unexpected trailing data") +
                ": shape " + to_string(h.shape) + " of " + to_string(h.dtype) + " needs " +
                std::to_string(h.data_bytes) + " data bytes, the file has " +
                std::to_string(available) + " after the " + std::to_string(offset) +
                "-byte header");
  }
  return {h, offset};
}

// The file mapped read-only, unmapped when the last user lets go.
std::shared_ptr<const void> map_file(const std::string& path, size_t& size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(ErrorCode::io, path, "cannot open: " + errno_text());
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(ErrorCode::io, path, "not a regular file");
  }
  size = static_cast<size_t>(st.st_size);
  void* map = size ? ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0) : nullptr;
  const std::string map_error = map == MAP_FAILED ? errno_text() : "";
  ::close(fd);
  if (map == MAP_FAILED) fail(ErrorCode::io, path, "cannot map: " + map_error);
  return std::shared_ptr<const void>(map, [size](const void* m) {
    if (m) ::munmap(const_cast<void*>(m), size);
  });
}

}  // namespace

Tensor parse_npy(const void* data, size_t size, const std::string& name_for_errors) {
  const auto* p = static_cast<const unsigned char*>(data);
  // Checked before allocating, so a header cannot make us allocate more than
  // the file holds.
  const auto [h, offset] = locate_data(p, size, name_for_errors);
  Tensor t(h.dtype, h.shape);
  if (t.nbytes()) std::memcpy(t.raw(), p + offset, t.nbytes());
  // numpy writes bools as 0/1, but any other byte would make reading the
  // tensor as `bool` undefined behaviour.
  if (t.dtype() == DataType::boolean) {
    auto* b = static_cast<unsigned char*>(t.raw());
    for (size_t i = 0; i < t.nbytes(); ++i) b[i] = b[i] != 0;
  }
  return t;
}

Tensor read_npy(const std::string& path) {
  // Mapping rather than reading avoids holding the data twice.
  size_t size = 0;
  const std::shared_ptr<const void> map = map_file(path, size);
  return parse_npy(map.get(), size, path);
}

Tensor map_npy(const std::string& path) {
  size_t size = 0;
  std::shared_ptr<const void> map = map_file(path, size);
  const auto* p = static_cast<const unsigned char*>(map.get());
  const auto [h, offset] = locate_data(p, size, path);
  // Bools are normalized to 0/1 on a copy; numpy aligns the data to 64 bytes,
  // an unaligned file is copied too.
  if (h.dtype == DataType::boolean || offset % size_of(h.dtype) != 0) {
    return parse_npy(p, size, path);
  }
  return Tensor::wrap(h.dtype, h.shape, std::move(map), p + offset);
}

void write_npy(const std::string& path, const Tensor& t) {
  if (t.empty() && t.nbytes()) fail(ErrorCode::invalid_argument, path, "tensor has no data");
  const std::string header = encode_header(t);
  static std::atomic<unsigned> counter{0};
  const std::string tmp =
      path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
  std::FILE* f = std::fopen(tmp.c_str(), "wbx");  // "x": fail if it exists
  if (!f) fail(ErrorCode::io, path, "cannot create " + tmp + ": " + errno_text());
  int error = 0;
  errno = 0;
  auto check = [&error](bool ok) {
    if (!ok && !error) error = errno ? errno : EIO;
  };
  check(std::fwrite(header.data(), 1, header.size(), f) == header.size());
  if (t.nbytes()) check(std::fwrite(t.raw(), 1, t.nbytes(), f) == t.nbytes());
  check(std::fflush(f) == 0);
  // Without fsync a crash soon after the rename could leave an empty file.
  check(::fsync(::fileno(f)) == 0);
  check(std::fclose(f) == 0);
  if (!error) check(std::rename(tmp.c_str(), path.c_str()) == 0);
  if (error) {
    ::unlink(tmp.c_str());
    fail(ErrorCode::io, path, "cannot write: " + std::string(std::strerror(error)));
  }
}

}  // namespace octet
