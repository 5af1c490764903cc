// Images as model inputs: JPEG, PNG and BMP decoded with stb_image, then
// resized, cropped, converted and normalized into f32 tensors.
//
// The pipeline, in this order, is the one torchvision's classification
// transforms apply (Resize, CenterCrop, ToTensor, Normalize):
//   1. decode to 8-bit RGB (grayscale images are replicated, alpha dropped;
//      EXIF orientation is ignored, as stb_image does);
//   2. resize: the shorter side to N, the longer to floor(N * long / short),
//      or to exactly HxW; bilinear with half-pixel centers (OpenCV's
//      INTER_LINEAR, torch's interpolate(align_corners=False) without
//      antialiasing); a resize to the image's own size changes nothing;
//   3. center crop HxW, the offset rounded as torchvision rounds it;
//   4. channels RGB, BGR, or one gray channel (0.299 R + 0.587 G + 0.114 B;
//      a pixel with R = G = B keeps that value exactly);
//   5. values: v / 255 (scale 1, values in [0, 1]) or v (scale 255), then
//      (v - mean[c]) / std[c];
//   6. layout NCHW (default) or NHWC.
//
// Errors are octet::Error and name the file: ErrorCode::io for a missing or
// unreadable file, invalid_model for data that is not a decodable JPEG, PNG or
// BMP (with stb_image's reason) or an image of 0 or more than 16384 pixels a
// side (refused from the header, before anything is allocated),
// invalid_argument for preprocessing that does not fit (a crop larger than
// the image, a mean or std of the wrong length, a std of 0).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "octet/octet.hpp"

namespace octet {

constexpr int kMaxImageSide = 16384;

// A decoded image: height x width x 3 bytes, RGB, row-major.
struct Image {
  int width = 0;
  int height = 0;
  std::shared_ptr<const uint8_t> pixels;
};

// Decodes an in-memory JPEG, PNG or BMP; `name` prefixes error messages.
// Images with a side longer than `max_side` are refused before decoding.
// Safe on arbitrary bytes (the fuzz_image target).
Image decode_image(const void* data, size_t size, const std::string& name,
                   int max_side = kMaxImageSide);
// Reads and decodes a file.
Image read_image(const std::string& path);

enum class ImageChannels { rgb, bgr, gray };
enum class ImageLayout { nchw, nhwc };

struct ImagePreprocess {
  int resize = 0;  // the shorter side to this many pixels (0: no resize)
  // Or exactly this size (both 0: no resize); excludes `resize`.
  int resize_height = 0, resize_width = 0;
  int crop_height = 0, crop_width = 0;  // center crop (0: none)
  ImageChannels channels = ImageChannels::rgb;
  int scale = 1;  // values span [0, 1] (1) or [0, 255] (255), before mean and std
  // Per output channel, in the output's channel order (BGR means for a BGR
  // model); empty: mean 0, std 1.
  std::vector<float> mean, std;
  ImageLayout layout = ImageLayout::nchw;

  int channel_count() const { return channels == ImageChannels::gray ? 1 : 3; }
};
bool operator==(const ImagePreprocess& a, const ImagePreprocess& b);

// Throws Error(invalid_argument) naming the field when `p` cannot be applied
// to any image: a resize or crop size below 0 or above 16384, both kinds of
// resize, scale other than 1 or 255, mean/std lengths other than
// channel_count(), a std of 0 or anything not finite.
void validate(const ImagePreprocess& p);

// The "preprocess" object of a model's metadata, e.g.
//   {"resize": 256, "crop": [224, 224], "channels": "rgb", "scale": 1,
//    "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "layout": "nchw"}
// Keys (all optional, defaults as in ImagePreprocess):
//   resize    N (shorter side) or [H, W] (exact size)
//   crop      N (square) or [H, W]
//   channels  "rgb", "bgr" or "gray"
//   scale     1 (values in [0, 1]) or 255 (values in [0, 255]); not a
//             multiplier: any other value, 1/255 included, is refused
//   mean, std arrays with one number per channel
//   layout    "nchw" or "nhwc"
// An unknown key or a value of the wrong type is an Error(invalid_argument)
// naming "preprocess.<key>"; the result is validated.
ImagePreprocess preprocess_from_json(const nlohmann::json& j);
// The inverse, with every key written; preprocess_from_json(preprocess_to_json(p)) == p.
nlohmann::json preprocess_to_json(const ImagePreprocess& p);
// One line for reports: "resize 256, crop 224x224, rgb, [0,1], mean 0.485,... std ..., NCHW".
std::string describe(const ImagePreprocess& p);

// The per-image shape `p` makes of `image`: [C, H, W] or [H, W, C].
// Throws Error(invalid_argument) naming `name` when the crop is larger than
// the (resized) image or a resized side exceeds 16384.
Shape preprocessed_shape(const Image& image, const ImagePreprocess& p, const std::string& name);
// Writes the preprocessed image to dst, which holds numel(preprocessed_shape(...)) floats.
void preprocess_into(const Image& image, const ImagePreprocess& p, float* dst,
                     const std::string& name);
// A new [1, C, H, W] (or [1, H, W, C]) tensor.
Tensor preprocess(const Image& image, const ImagePreprocess& p, const std::string& name);
// read_image + preprocess.
Tensor load_image(const std::string& path, const ImagePreprocess& p);

}  // namespace octet
