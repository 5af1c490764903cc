// TensorProto -> Tensor: dtype mapping, shape checks, inline and external data.
// Every size comes from the (untrusted) model, so each is checked against the
// bytes actually present before anything is allocated.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "loaders/onnx/onnx_internal.hpp"

namespace octet {

namespace {

using TP = onnx::TensorProto;

// Bound on the element count of any tensor: far beyond real models, and low
// enough that no byte count or partial product of dims can overflow int64.
constexpr int64_t kMaxElements = int64_t{1} << 40;

[[noreturn]] void fail(ErrorCode code, const std::string& message) {
  throw Error(code, message);
}

Shape checked_shape(const google::protobuf::RepeatedField<int64_t>& dims, const std::string& what) {
  Shape shape;
  int64_t product = 1;  // of the non-zero dims: bounds every prefix product too
  for (int64_t d : dims) {
    if (d < 0)
      fail(ErrorCode::invalid_model, what + " has a negative dimension " + std::to_string(d));
    if (d > 0) {
      if (product > kMaxElements / d) {
        fail(ErrorCode::invalid_model, what + " has too many elements");
      }
      product *= d;
    }
    shape.push_back(d);
  }
  return shape;
}

std::string describe(DataType dtype, const Shape& shape) {
  return std::string(to_string(dtype)) + " " + to_string(shape);
}

// Non-negative decimal integer, as external-data offsets and lengths are written.
int64_t parse_size(const std::string& text, const std::string& what) {
  if (text.empty() || text.size() > 18) {
    fail(ErrorCode::invalid_model, what + ": bad external data number '" + text + "'");
  }
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      fail(ErrorCode::invalid_model, what + ": bad external data number '" + text + "'");
    }
    value = value * 10 + (c - '0');
  }
  return value;
}

struct ExternalRef {
  std::string location;
  int64_t offset = 0;
  int64_t length = -1;  // -1: to the end of the file
};

ExternalRef parse_external_ref(const TP& proto, const std::string& what) {
  ExternalRef ref;
  for (const onnx::StringStringEntryProto& entry : proto.external_data()) {
    if (entry.key() == "location") {
      ref.location = entry.value();
    } else if (entry.key() == "offset") {
      ref.offset = parse_size(entry.value(), what);
    } else if (entry.key() == "length") {
      ref.length = parse_size(entry.value(), what);
    }
  }
  if (ref.location.empty()) {
    fail(ErrorCode::invalid_model, what + " has external data without a location");
  }
  return ref;
}

// The file an external reference names, refusing anything outside base_dir:
// a model must not make the importer read arbitrary files.
std::filesystem::path external_path(const ExternalRef& ref, const std::string& base_dir,
                                    const std::string& what) {
  const std::string quoted = "'" + ref.location + "'";
  if (base_dir.empty()) {
    fail(ErrorCode::invalid_argument,
         what + " has external data " + quoted + " but the model was not loaded from a folder");
  }
  if (ref.location.find('\0') != std::string::npos) {
    fail(ErrorCode::invalid_model, what + " has an external data location with a NUL byte");
  }
  const std::filesystem::path rel(ref.location);
  if (rel.is_absolute() || rel.has_root_path()) {
    fail(ErrorCode::invalid_model, what + ": external data path " + quoted +
                                       " is absolute; it must be inside the model's folder");
  }
  for (const auto& part : rel) {
    if (part == "..") {
      fail(ErrorCode::invalid_model,
           what + ": external data path " + quoted + " escapes the model's folder");
    }
  }
  return std::filesystem::path(base_dir) / rel;
}

Tensor read_external(const TP& proto, DataType dtype, const Shape& shape,
                     const std::string& base_dir, const std::string& what) {
  const ExternalRef ref = parse_external_ref(proto, what);
  const std::filesystem::path path = external_path(ref, base_dir, what);
  std::error_code ec;
  const bool regular = std::filesystem::is_regular_file(path, ec);
  const auto file_size = regular ? std::filesystem::file_size(path, ec) : 0;
  if (!regular || ec) {
    fail(ErrorCode::io, what + ": external data file '" + path.string() +
                            "' does not exist or is not a regular file");
  }
  const int64_t size = static_cast<int64_t>(file_size);
  if (ref.offset > size) {
    fail(ErrorCode::invalid_model, what + ": external data offset " + std::to_string(ref.offset) +
                                       " is beyond the end of '" + path.string() + "' (" +
                                       std::to_string(size) + " bytes)");
  }
  const int64_t length = ref.length < 0 ? size - ref.offset : ref.length;
  if (length > size - ref.offset) {
    fail(ErrorCode::invalid_model, what + ": external data range " + std::to_string(ref.offset) +
                                       "+" + std::to_string(length) + " is beyond the end of '" +
                                       path.string() + "' (" + std::to_string(size) + " bytes)");
  }
  const int64_t expected = numel(shape) * static_cast<int64_t>(size_of(dtype));
  if (length != expected) {
    fail(ErrorCode::invalid_model, what + " has " + std::to_string(length) +
                                       " bytes of external data, expected " +
                                       std::to_string(expected) + " for " + describe(dtype, shape));
  }
  Tensor tensor(dtype, shape);
  std::ifstream file(path, std::ios::binary);
  file.seekg(ref.offset);
  file.read(static_cast<char*>(tensor.raw()), static_cast<std::streamsize>(length));
  if (!file) fail(ErrorCode::io, what + ": cannot read external data from '" + path.string() + "'");
  return tensor;
}

Tensor from_raw(const TP& proto, DataType dtype, const Shape& shape, const std::string& what) {
  const std::string& raw = proto.raw_data();
  const size_t expected = static_cast<size_t>(numel(shape)) * size_of(dtype);
  if (raw.size() != expected) {
    fail(ErrorCode::invalid_model, what + " has " + std::to_string(raw.size()) +
                                       " bytes of raw_data, expected " + std::to_string(expected) +
                                       " for " + describe(dtype, shape));
  }
  Tensor tensor(dtype, shape);
  if (expected) std::memcpy(tensor.raw(), raw.data(), expected);  // x86: little-endian like ONNX
  return tensor;
}

void check_count(int count, const Shape& shape, const char* field, const std::string& what) {
  if (count != numel(shape)) {
    fail(ErrorCode::invalid_model, what + " has " + std::to_string(count) + " values in " + field +
                                       ", expected " + std::to_string(numel(shape)) +
                                       " for shape " + to_string(shape));
  }
}

// The typed repeated fields: float_data, int64_data, and int32_data, which
// ONNX also uses for int8, uint8 and bool.
Tensor from_fields(const TP& proto, DataType dtype, const Shape& shape, const std::string& what) {
  if (dtype == DataType::f32) {
    check_count(proto.float_data_size(), shape, "float_data", what);
    Tensor tensor(dtype, shape);
    std::copy(proto.float_data().begin(), proto.float_data().end(), tensor.data<float>());
    return tensor;
  }
  if (dtype == DataType::s64) {
    check_count(proto.int64_data_size(), shape, "int64_data", what);
    Tensor tensor(dtype, shape);
    std::copy(proto.int64_data().begin(), proto.int64_data().end(), tensor.data<int64_t>());
    return tensor;
  }
  check_count(proto.int32_data_size(), shape, "int32_data", what);
  Tensor tensor(dtype, shape);
  const auto& src = proto.int32_data();
  if (dtype == DataType::s32) {
    std::copy(src.begin(), src.end(), tensor.data<int32_t>());
  } else {
    // Narrowing on purpose: int8/uint8 values are stored widened to int32.
    auto* dst = static_cast<uint8_t*>(tensor.raw());
    for (int i = 0; i < src.size(); ++i) dst[i] = static_cast<uint8_t>(src.Get(i));
  }
  return tensor;
}

}  // namespace

std::optional<DataType> dtype_from_onnx(int32_t onnx_type) {
  switch (onnx_type) {
    case TP::FLOAT:
      return DataType::f32;
    case TP::UINT8:
      return DataType::u8;
    case TP::INT8:
      return DataType::s8;
    case TP::INT32:
      return DataType::s32;
    case TP::INT64:
      return DataType::s64;
    case TP::BOOL:
      return DataType::boolean;
    default:
      return std::nullopt;
  }
}

std::string onnx_dtype_name(int32_t onnx_type) {
  if (onnx::TensorProto_DataType_IsValid(onnx_type)) {
    return onnx::TensorProto_DataType_Name(static_cast<TP::DataType>(onnx_type));
  }
  return "unknown (" + std::to_string(onnx_type) + ")";
}

Tensor tensor_from_onnx(const TP& proto, const std::string& base_dir, const std::string& what) {
  const std::optional<DataType> dtype = dtype_from_onnx(proto.data_type());
  if (!dtype) {
    fail(ErrorCode::unsupported,
         what + " has data type " + onnx_dtype_name(proto.data_type()) +
             "; octet supports FLOAT, INT8, UINT8, INT32, INT64 and BOOL tensors");
  }
  if (proto.has_segment()) fail(ErrorCode::unsupported, what + " is segmented");
  const Shape shape = checked_shape(proto.dims(), what);
  Tensor tensor;
  if (proto.data_location() == TP::EXTERNAL) {
    tensor = read_external(proto, *dtype, shape, base_dir, what);
  } else if (proto.has_raw_data()) {
    tensor = from_raw(proto, *dtype, shape, what);
  } else {
    tensor = from_fields(proto, *dtype, shape, what);
  }
  if (*dtype == DataType::boolean) {
    // Any non-zero byte is true; octet's bool is exactly 0 or 1.
    auto* p = static_cast<uint8_t*>(tensor.raw());
    for (int64_t i = 0; i < tensor.numel(); ++i) p[i] = p[i] != 0;
  }
  return tensor;
}

}  // namespace octet
