// The C++ API's answers for tests/c_api/c_api_test.c to compare the C API
// with: the same model, options and input through octet::Session, and what
// octet::Model::load throws for a bad path.
#include "cpp_reference.h"

#include <cstdio>
#include <cstring>
#include <exception>

#include "octet/octet.hpp"

extern "C" int cpp_reference_run(const char* model_path, const struct cpp_reference_options* o,
                                 const float* src, const int64_t* dims, size_t rank, float* dst,
                                 size_t dst_count) {
  try {
    octet::SessionOptions options;
    options.threads = o->threads;
    options.precision = o->int8 ? octet::Precision::int8 : octet::Precision::fp32;
    if (o->fp32_layer) options.fp32_layers.push_back(o->fp32_layer);
    if (o->fp32_op) options.fp32_ops.push_back(o->fp32_op);
    octet::Session session(octet::Model::load(model_path), options);
    const octet::Tensor x = octet::Tensor::wrap(
        octet::DataType::f32, octet::Shape(dims, dims + rank), const_cast<float*>(src));
    const octet::Tensor& y = session.run({x}).at(0);
    if (static_cast<size_t>(y.numel()) != dst_count) {
      std::fprintf(stderr, "cpp_reference_run: the output has %lld values, not %zu\n",
                   static_cast<long long>(y.numel()), dst_count);
      return 1;
    }
    std::memcpy(dst, y.data<float>(), y.nbytes());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cpp_reference_run: %s\n", e.what());
    return 1;
  }
}

extern "C" int cpp_reference_load_error(const char* model_path, char* message, size_t size) {
  try {
    octet::Model::load(model_path);
    std::snprintf(message, size, "(loaded)");
    return 0;
  } catch (const octet::Error& e) {
    std::snprintf(message, size, "%s", e.what());
    return static_cast<int>(e.code()) + 1;
  } catch (const std::exception& e) {
    std::snprintf(message, size, "not an octet::Error: %s", e.what());
    return -1;
  }
}
