// Error, DataType and Tensor: the value types of the public header.
#include <cstdlib>
#include <cstring>
#include <new>

#include "octet/octet.hpp"

namespace octet {

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_argument:
      return "invalid argument";
    case ErrorCode::io:
      return "i/o error";
    case ErrorCode::invalid_model:
      return "invalid model";
    case ErrorCode::unsupported:
      return "unsupported";
    case ErrorCode::backend:
      return "backend error";
    case ErrorCode::out_of_memory:
      return "out of memory";
    case ErrorCode::internal:
      return "internal error";
  }
  return "error";
}

Error::Error(ErrorCode code, const std::string& message)
    : std::runtime_error(message), code_(code) {}

const char* to_string(DataType dtype) {
  switch (dtype) {
    case DataType::f32:
      return "f32";
    case DataType::s8:
      return "s8";
    case DataType::u8:
      return "u8";
    case DataType::s32:
      return "s32";
    case DataType::s64:
      return "s64";
    case DataType::boolean:
      return "bool";
  }
  return "?";
}

DataType data_type_from_string(const std::string& name) {
  for (DataType t : {DataType::f32, DataType::s8, DataType::u8, DataType::s32, DataType::s64,
                     DataType::boolean}) {
    if (name == to_string(t)) return t;
  }
  throw Error(ErrorCode::invalid_argument,
              "unknown data type '" + name + "' (expected f32, s8, u8, s32, s64 or bool)");
}

size_t size_of(DataType dtype) {
  switch (dtype) {
    case DataType::f32:
    case DataType::s32:
      return 4;
    case DataType::s64:
      return 8;
    case DataType::s8:
    case DataType::u8:
    case DataType::boolean:
      return 1;
  }
  return 0;
}

int64_t numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string to_string(const Shape& shape) {
  if (shape.empty()) return "scalar";
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(shape[i]);
  }
  return s;
}

void Tensor::throw_dtype_mismatch(DataType have, DataType want) {
  throw Error(ErrorCode::invalid_argument,
              std::string("tensor holds ") + to_string(have) + ", accessed as " + to_string(want));
}

Tensor::Tensor(DataType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  for (int64_t d : shape_) {
    if (d < 0) {
      throw Error(ErrorCode::invalid_argument,
                  "negative dimension in tensor shape " + to_string(shape_));
    }
  }
  // Round up so that even an empty tensor has a distinct, aligned buffer.
  size_t bytes = (nbytes() + 63) / 64 * 64 + 64;
  void* p = std::aligned_alloc(64, bytes);
  if (!p) {
    throw Error(ErrorCode::out_of_memory,
                "cannot allocate " + std::to_string(bytes) + " bytes for a tensor");
  }
  std::memset(p, 0, bytes);
  owner_ = std::shared_ptr<const void>(p, [](const void* q) { std::free(const_cast<void*>(q)); });
  data_ = p;
}

Tensor Tensor::wrap(DataType dtype, Shape shape, void* data) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.data_ = data;
  return t;
}

Tensor Tensor::wrap(DataType dtype, Shape shape, std::shared_ptr<const void> owner,
                    const void* data) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.owner_ = std::move(owner);
  t.data_ = const_cast<void*>(data);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t(dtype_, shape_);
  if (nbytes()) std::memcpy(t.data_, data_, nbytes());
  return t;
}

}  // namespace octet
