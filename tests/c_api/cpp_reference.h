/* The C++ API's results, callable from C (tests/c_api/cpp_reference.cpp). */
#ifndef OCTET_TESTS_C_API_CPP_REFERENCE_H
#define OCTET_TESTS_C_API_CPP_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cpp_reference_options {
  int threads;
  int int8;               /* octet::Precision::int8, else fp32 */
  const char* fp32_layer; /* NULL: none */
  const char* fp32_op;    /* NULL: none */
};

/* Runs the model's first output for one f32 input through octet::Session
 * into dst (dst_count floats). 0 on success; else 1, the error on stderr. */
int cpp_reference_run(const char* model_path, const struct cpp_reference_options* options,
                      const float* src, const int64_t* dims, size_t rank, float* dst,
                      size_t dst_count);

/* octet::Model::load(model_path): 0 if it loads, else its ErrorCode + 1 (the
 * C API's numbering) with the message in `message`; -1 for any other exception. */
int cpp_reference_load_error(const char* model_path, char* message, size_t size);

#ifdef __cplusplus
}
#endif

#endif
