// Image decoding (stb_image, compiled into Debian's libstb) and preprocessing.
//
// stb_image reads many formats; only JPEG, PNG and BMP are let through (by
// their magic bytes), so that the formats octet promises are the only ones
// its inputs can reach. Dimensions are read from the header with stbi_info
// first, so that an absurd size is refused before stbi_load allocates it.
#include "loaders/data/image.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include <stb_image.h>
#include <nlohmann/json.hpp>

namespace octet {
namespace {

using nlohmann::json;

[[noreturn]] void fail(ErrorCode code, const std::string& name, const std::string& what) {
  throw Error(code, name + ": " + what);
}

// A larger file is not an image octet would decode (16384 x 16384 x 3 bytes
// of uncompressed BMP is 768 MiB).
constexpr long long kMaxFileBytes = 1LL << 30;

const char* sniff_format(const unsigned char* p, size_t size) {
  static const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff) return "JPEG";
  if (size >= 8 && std::memcmp(p, png, 8) == 0) return "PNG";
  if (size >= 2 && p[0] == 'B' && p[1] == 'M') return "BMP";
  return nullptr;
}

std::string first_bytes(const unsigned char* p, size_t size) {
  std::string out;
  char buf[4];
  for (size_t i = 0; i < size && i < 4; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", p[i]);
    out += (i ? " " : "") + std::string(buf);
  }
  return out.empty() ? "an empty file" : "first bytes " + out;
}

// stb_image's reason for a failure. It tries every decoder it has in turn, so
// when the right one gives up on a broken header the reason left is another
// format's ("bad png sig" for a JPEG) or "unknown image type".
std::string stb_reason(const char* format) {
  const char* reason = stbi_failure_reason();
  const std::string r = reason ? reason : "";
  if (r.empty() || r == "unknown image type" ||
      (r == "bad png sig" && std::strcmp(format, "PNG"))) {
    return "truncated or corrupt header";
  }
  return r;
}

std::string read_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    fail(ErrorCode::io, path, errno == ENOENT ? "no such file" : std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) fail(ErrorCode::io, path, "is a directory, not an image file");
  if (st.st_size > kMaxFileBytes) {
    fail(ErrorCode::invalid_model, path,
         std::to_string(st.st_size) + " bytes is too large for an image file (limit 1 GiB)");
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail(ErrorCode::io, path, std::string("cannot open: ") + std::strerror(errno));
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  const size_t got = std::fread(bytes.data(), 1, bytes.size(), f);
  const bool error = std::ferror(f) != 0;
  std::fclose(f);
  if (error) fail(ErrorCode::io, path, "read error");
  bytes.resize(got);  // the file may have shrunk since stat()
  return bytes;
}

// ---------------------------------------------------------------- geometry

// Where each output pixel comes from: the resized size, the crop offset into
// it and the output size.
struct Geometry {
  int resized_h = 0, resized_w = 0;
  int top = 0, left = 0;
  int out_h = 0, out_w = 0;
};

// torchvision's CenterCrop: int(round(diff / 2.0)), Python rounding half to even.
int center_offset(int diff) {
  const int half = diff / 2;
  return diff % 2 == 0 || half % 2 == 0 ? half : half + 1;
}

Geometry geometry(const Image& image, const ImagePreprocess& p, const std::string& name) {
  Geometry g;
  int64_t h = image.height, w = image.width;
  if (p.resize > 0) {
    // torchvision: the longer side is int(size * long / short).
    if (w <= h) {
      h = int64_t(p.resize) * h / w;
      w = p.resize;
    } else {
      w = int64_t(p.resize) * w / h;
      h = p.resize;
    }
  } else if (p.resize_height > 0) {
    h = p.resize_height;
    w = p.resize_width;
  }
  const std::string size =
      std::to_string(image.width) + "x" + std::to_string(image.height) + " (WxH)";
  if (h > kMaxImageSide || w > kMaxImageSide) {
    fail(ErrorCode::invalid_argument, name,
         "resizing the " + size + " image to " + std::to_string(h) + "x" + std::to_string(w) +
             " (HxW) makes a side longer than " + std::to_string(kMaxImageSide));
  }
  g.resized_h = static_cast<int>(h);
  g.resized_w = static_cast<int>(w);
  g.out_h = g.resized_h;
  g.out_w = g.resized_w;
  if (p.crop_height > 0) {
    if (p.crop_height > g.resized_h || p.crop_width > g.resized_w) {
      fail(ErrorCode::invalid_argument, name,
           "crop " + std::to_string(p.crop_height) + "x" + std::to_string(p.crop_width) +
               " (HxW) is larger than the image, " + std::to_string(g.resized_h) + "x" +
               std::to_string(g.resized_w) +
               (h == image.height && w == image.width ? "" : " after resizing"));
    }
    g.out_h = p.crop_height;
    g.out_w = p.crop_width;
    g.top = center_offset(g.resized_h - p.crop_height);
    g.left = center_offset(g.resized_w - p.crop_width);
  }
  return g;
}

// Bilinear sampling along one axis, half-pixel centers: output index o reads
// source pixels i0 and i1 with weights 1 - f and f. For a resize to the
// source's own size, i0 = o and f = 0 exactly.
struct AxisTaps {
  std::vector<int> i0, i1;
  std::vector<float> f;
};

AxisTaps axis_taps(int src, int resized, int offset, int out) {
  AxisTaps t;
  t.i0.resize(out);
  t.i1.resize(out);
  t.f.resize(out);
  const double scale = double(src) / resized;
  for (int o = 0; o < out; ++o) {
    double s = (o + offset + 0.5) * scale - 0.5;
    if (s < 0) s = 0;
    int i0 = static_cast<int>(s);
    if (i0 >= src - 1) {
      i0 = src - 1;
      s = i0;
    }
    t.i0[o] = i0;
    t.i1[o] = std::min(i0 + 1, src - 1);
    t.f[o] = static_cast<float>(s - i0);
  }
  return t;
}

// ---------------------------------------------------------------- json

[[noreturn]] void bad_key(const std::string& key, const std::string& what) {
  throw Error(ErrorCode::invalid_argument, "preprocess." + key + ": " + what);
}

int json_int(const json& v, const std::string& key) {
  if (!v.is_number_integer()) bad_key(key, "expected an integer, got " + v.dump());
  const int64_t x = v.get<int64_t>();
  if (x < 0 || x > kMaxImageSide) bad_key(key, std::to_string(x) + " is out of range");
  return static_cast<int>(x);
}

// N or [H, W].
void json_size(const json& v, const std::string& key, int& h, int& w) {
  if (v.is_array()) {
    if (v.size() != 2) bad_key(key, "expected N or [H, W], got " + v.dump());
    h = json_int(v[0], key);
    w = json_int(v[1], key);
  } else {
    h = w = json_int(v, key);
  }
}

std::vector<float> json_floats(const json& v, const std::string& key) {
  if (!v.is_array()) bad_key(key, "expected an array of numbers, got " + v.dump());
  std::vector<float> out;
  for (const json& x : v) {
    if (!x.is_number()) bad_key(key, "expected an array of numbers, got " + v.dump());
    out.push_back(x.get<float>());
  }
  return out;
}

std::string json_string(const json& v, const std::string& key) {
  if (!v.is_string()) bad_key(key, "expected a string, got " + v.dump());
  return v.get<std::string>();
}

std::string join(const std::vector<float>& v) {
  std::ostringstream out;
  for (size_t i = 0; i < v.size(); ++i) out << (i ? "," : "") << v[i];
  return out.str();
}

void check_dims(long long w, long long h, int max_side, const std::string& name) {
  const std::string dims = std::to_string(w) + "x" + std::to_string(h) + " (WxH)";
  if (w <= 0 || h <= 0) fail(ErrorCode::invalid_model, name, "the image is " + dims);
  if (w > max_side || h > max_side) {
    fail(ErrorCode::invalid_model, name,
         "the image is " + dims + ", more than " + std::to_string(max_side) +
             " pixels a side (corrupt?)");
  }
}

// stb_image trusts a PNG chunk's declared length: one IDAT header claiming
// 2 GiB makes it grow its buffer to that size before it reads a byte of the
// chunk. Walking the chunks first turns such a file into an error that names
// the chunk, at the cost of one pass over a few headers.
void check_png_chunks(const unsigned char* p, size_t size, const std::string& name) {
  size_t at = 8;  // after the signature
  while (at < size) {
    if (size - at < 12) {
      fail(ErrorCode::invalid_model, name,
           "truncated PNG: a chunk header at byte " + std::to_string(at) + " is cut off");
    }
    const uint32_t length = (uint32_t(p[at]) << 24) | (uint32_t(p[at + 1]) << 16) |
                            (uint32_t(p[at + 2]) << 8) | uint32_t(p[at + 3]);
    std::string type(reinterpret_cast<const char*>(p + at + 4), 4);
    for (char& c : type) {
      if (!std::isalpha(static_cast<unsigned char>(c))) c = '?';
    }
    // 12 = length, type and CRC around the data.
    if (length > size - at - 12) {
      fail(ErrorCode::invalid_model, name,
           "truncated or corrupt PNG: chunk '" + type + "' at byte " + std::to_string(at) +
               " declares " + std::to_string(length) + " bytes of data, the file has " +
               std::to_string(size - at - 12) + " left");
    }
    if (type == "IEND") return;
    at += 12 + size_t(length);
  }
}

}  // namespace

// ---------------------------------------------------------------- decoding

Image decode_image(const void* data, size_t size, const std::string& name, int max_side) {
  const auto* p = static_cast<const unsigned char*>(data);
  const char* format = sniff_format(p, size);
  if (!format) {
    fail(ErrorCode::invalid_model, name,
         "not a JPEG, PNG or BMP image (" + first_bytes(p, size) + ")");
  }
  if (size > static_cast<size_t>(INT_MAX)) {
    fail(ErrorCode::invalid_model, name, "too large for an image file");
  }
  if (std::strcmp(format, "PNG") == 0) check_png_chunks(p, size, name);
  const int len = static_cast<int>(size);
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(p, len, &w, &h, &comp)) {
    fail(ErrorCode::invalid_model, name,
         std::string("corrupt ") + format + ": " + stb_reason(format));
  }
  // stbi_info gives a top-down BMP a negative height.
  check_dims(std::llabs(w), std::llabs(h), max_side, name);
  unsigned char* pixels = stbi_load_from_memory(p, len, &w, &h, &comp, 3);
  if (!pixels) {
    fail(ErrorCode::invalid_model, name,
         std::string("corrupt ") + format + ": " + stb_reason(format));
  }
  // The decoder's own idea of the size is what the pixels follow.
  try {
    check_dims(w, h, max_side, name);
  } catch (...) {
    stbi_image_free(pixels);
    throw;
  }
  Image image;
  image.width = w;
  image.height = h;
  image.pixels = std::shared_ptr<const uint8_t>(
      pixels, [](const uint8_t* q) { stbi_image_free(const_cast<uint8_t*>(q)); });
  return image;
}

Image read_image(const std::string& path) {
  const std::string bytes = read_file(path);
  return decode_image(bytes.data(), bytes.size(), path);
}

// ---------------------------------------------------------------- parameters

bool operator==(const ImagePreprocess& a, const ImagePreprocess& b) {
  return a.resize == b.resize && a.resize_height == b.resize_height &&
         a.resize_width == b.resize_width && a.crop_height == b.crop_height &&
         a.crop_width == b.crop_width && a.channels == b.channels && a.scale == b.scale &&
         a.mean == b.mean && a.std == b.std && a.layout == b.layout;
}

void validate(const ImagePreprocess& p) {
  auto bad = [](const std::string& what) { throw Error(ErrorCode::invalid_argument, what); };
  auto size_ok = [](int v) { return v >= 0 && v <= kMaxImageSide; };
  if (!size_ok(p.resize) || !size_ok(p.resize_height) || !size_ok(p.resize_width) ||
      !size_ok(p.crop_height) || !size_ok(p.crop_width)) {
    bad("preprocess: resize and crop sizes must be within [0, " + std::to_string(kMaxImageSide) +
        "]");
  }
  if ((p.resize_height > 0) != (p.resize_width > 0)) {
    bad("preprocess: an exact resize needs both a height and a width");
  }
  if (p.resize > 0 && p.resize_height > 0) {
    bad("preprocess: resize the shorter side or to an exact size, not both");
  }
  if ((p.crop_height > 0) != (p.crop_width > 0)) {
    bad("preprocess: a crop needs both a height and a width");
  }
  if (p.scale != 1 && p.scale != 255) {
    bad("preprocess: scale is " + std::to_string(p.scale) +
        "; it must be 1 (values in [0, 1]) or 255 (values in [0, 255])");
  }
  const size_t c = static_cast<size_t>(p.channel_count());
  const std::string channels = std::to_string(c) + (c == 1 ? " channel" : " channels");
  for (const auto* v : {&p.mean, &p.std}) {
    const char* what = v == &p.mean ? "mean" : "std";
    if (!v->empty() && v->size() != c) {
      bad(std::string("preprocess: ") + what + " has " + std::to_string(v->size()) +
          " values, but the image has " + channels);
    }
    for (float x : *v) {
      if (!std::isfinite(x)) bad(std::string("preprocess: ") + what + " holds " + join(*v));
    }
  }
  if (!p.mean.empty() && p.std.empty()) bad("preprocess: mean without std");
  if (p.mean.empty() && !p.std.empty()) bad("preprocess: std without mean");
  for (float s : p.std) {
    if (s == 0) bad("preprocess: std holds 0 (" + join(p.std) + "): division by zero");
  }
}

ImagePreprocess preprocess_from_json(const json& j) {
  if (!j.is_object()) bad_key("", "expected an object, got " + j.dump());
  ImagePreprocess p;
  for (const auto& [key, v] : j.items()) {
    if (key == "resize") {
      if (v.is_array()) {
        json_size(v, key, p.resize_height, p.resize_width);
      } else {
        p.resize = json_int(v, key);
      }
    } else if (key == "crop") {
      json_size(v, key, p.crop_height, p.crop_width);
    } else if (key == "channels") {
      const std::string s = json_string(v, key);
      if (s == "rgb") {
        p.channels = ImageChannels::rgb;
      } else if (s == "bgr") {
        p.channels = ImageChannels::bgr;
      } else if (s == "gray") {
        p.channels = ImageChannels::gray;
      } else {
        bad_key(key, "'" + s + "' is not rgb, bgr or gray");
      }
    } else if (key == "scale") {
      if (!v.is_number() || (v.get<double>() != 1 && v.get<double>() != 255)) {
        bad_key(key, v.dump() + " is not 1 (values in [0, 1]) or 255 (values in [0, 255])");
      }
      p.scale = static_cast<int>(v.get<double>());
    } else if (key == "mean") {
      p.mean = json_floats(v, key);
    } else if (key == "std") {
      p.std = json_floats(v, key);
    } else if (key == "layout") {
      const std::string s = json_string(v, key);
      if (s != "nchw" && s != "nhwc") bad_key(key, "'" + s + "' is not nchw or nhwc");
      p.layout = s == "nchw" ? ImageLayout::nchw : ImageLayout::nhwc;
    } else {
      bad_key(key, "unknown key (known: resize, crop, channels, scale, mean, std, layout)");
    }
  }
  validate(p);
  return p;
}

json preprocess_to_json(const ImagePreprocess& p) {
  json j = json::object();
  if (p.resize > 0) {
    j["resize"] = p.resize;
  } else if (p.resize_height > 0) {
    j["resize"] = {p.resize_height, p.resize_width};
  }
  if (p.crop_height > 0) j["crop"] = {p.crop_height, p.crop_width};
  const char* channels[] = {"rgb", "bgr", "gray"};
  j["channels"] = channels[static_cast<int>(p.channels)];
  j["scale"] = p.scale;
  if (!p.mean.empty()) j["mean"] = p.mean;
  if (!p.std.empty()) j["std"] = p.std;
  j["layout"] = p.layout == ImageLayout::nchw ? "nchw" : "nhwc";
  return j;
}

std::string describe(const ImagePreprocess& p) {
  std::string out;
  if (p.resize > 0) out += "resize " + std::to_string(p.resize) + ", ";
  if (p.resize_height > 0) {
    out +=
        "resize " + std::to_string(p.resize_height) + "x" + std::to_string(p.resize_width) + ", ";
  }
  if (p.crop_height > 0) {
    out += "crop " + std::to_string(p.crop_height) + "x" + std::to_string(p.crop_width) + ", ";
  }
  const char* channels[] = {"rgb", "bgr", "gray"};
  out += std::string(channels[static_cast<int>(p.channels)]) + ", ";
  out += p.scale == 1 ? "[0,1]" : "[0,255]";
  if (!p.mean.empty()) out += ", mean " + join(p.mean) + ", std " + join(p.std);
  out += p.layout == ImageLayout::nchw ? ", NCHW" : ", NHWC";
  return out;
}

// ---------------------------------------------------------------- preprocessing

Shape preprocessed_shape(const Image& image, const ImagePreprocess& p, const std::string& name) {
  validate(p);
  const Geometry g = geometry(image, p, name);
  const int64_t c = p.channel_count();
  if (p.layout == ImageLayout::nhwc) return {g.out_h, g.out_w, c};
  return {c, g.out_h, g.out_w};
}

void preprocess_into(const Image& image, const ImagePreprocess& p, float* dst,
                     const std::string& name) {
  validate(p);
  const Geometry g = geometry(image, p, name);
  const AxisTaps ys = axis_taps(image.height, g.resized_h, g.top, g.out_h);
  const AxisTaps xs = axis_taps(image.width, g.resized_w, g.left, g.out_w);
  const int c_out = p.channel_count();
  // v -> (v * to_unit - mean) / std, with ToTensor's division by 255 for [0, 1].
  float mean[3] = {0, 0, 0}, std[3] = {1, 1, 1};
  for (int c = 0; c < c_out && !p.mean.empty(); ++c) {
    mean[c] = p.mean[c];
    std[c] = p.std[c];
  }
  const size_t plane = size_t(g.out_h) * g.out_w;
  const size_t row_bytes = size_t(image.width) * 3;
  const uint8_t* src = image.pixels.get();
  for (int y = 0; y < g.out_h; ++y) {
    const uint8_t* r0 = src + ys.i0[y] * row_bytes;
    const uint8_t* r1 = src + ys.i1[y] * row_bytes;
    const float fy = ys.f[y];
    for (int x = 0; x < g.out_w; ++x) {
      const int x0 = xs.i0[x] * 3, x1 = xs.i1[x] * 3;
      const float fx = xs.f[x];
      float rgb[3];
      for (int c = 0; c < 3; ++c) {
        const float top = r0[x0 + c] + (r0[x1 + c] - r0[x0 + c]) * fx;
        const float bottom = r1[x0 + c] + (r1[x1 + c] - r1[x0 + c]) * fx;
        rgb[c] = top + (bottom - top) * fy;
      }
      float v[3];
      if (p.channels == ImageChannels::gray) {
        // A gray pixel keeps its exact value (in float the weights' sum is
        // not exactly 1), as PIL's integer conversion keeps it.
        const bool gray = rgb[0] == rgb[1] && rgb[1] == rgb[2];
        v[0] = gray ? rgb[0] : 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2];
      } else {
        const bool bgr = p.channels == ImageChannels::bgr;
        for (int c = 0; c < 3; ++c) v[c] = rgb[bgr ? 2 - c : c];
      }
      const size_t pixel = size_t(y) * g.out_w + x;
      for (int c = 0; c < c_out; ++c) {
        float value = p.scale == 1 ? v[c] / 255.f : v[c];
        value = (value - mean[c]) / std[c];
        if (p.layout == ImageLayout::nchw) {
          dst[c * plane + pixel] = value;
        } else {
          dst[pixel * c_out + c] = value;
        }
      }
    }
  }
}

Tensor preprocess(const Image& image, const ImagePreprocess& p, const std::string& name) {
  Shape shape = preprocessed_shape(image, p, name);
  shape.insert(shape.begin(), 1);
  Tensor t(DataType::f32, shape);
  preprocess_into(image, p, t.data<float>(), name);
  return t;
}

Tensor load_image(const std::string& path, const ImagePreprocess& p) {
  validate(p);
  return preprocess(read_image(path), p, path);
}

}  // namespace octet
