/* octet: the C API, for C programs and for FFI from Rust, Go, C# and others.
 *
 * A thin layer over the C++ API of octet.hpp (runtime/c_api/c_api.cpp): the
 * same Model and Session behind opaque handles. No C++ exception crosses it:
 * every function that can fail returns an octet_status, and
 * octet_last_error() says what went wrong.
 *
 *   octet_model* model = NULL;
 *   octet_session* session = NULL;
 *   if (octet_model_load("resnet50", &model) != OCTET_OK ||
 *       octet_session_create(model, NULL, &session) != OCTET_OK) {
 *     fprintf(stderr, "%s\n", octet_last_error());
 *   }
 *   int64_t dims[4] = {1, 3, 224, 224};
 *   octet_session_set_input(session, "input", OCTET_DTYPE_F32, dims, 4, x, sizeof x);
 *   octet_session_run(session);
 *   octet_session_copy_output(session, "logits", y, sizeof y);
 *   octet_session_destroy(session);
 *   octet_model_destroy(model);
 *
 * Threads: as in C++, a model may be used by any number of threads at once
 * (sessions of it included); a session by one thread at a time. Strings are
 * UTF-8 and NUL-terminated. Shapes are in NCHW / ONNX dimension order; tensor
 * data is dense and row-major. Pointers returned through `const` out-parameters
 * are borrowed: they stay valid for as long as the text of each function says,
 * and must not be freed. Compiles as C99 and as C++. */
#ifndef OCTET_OCTET_C_H
#define OCTET_OCTET_C_H

#include <stddef.h>
#include <stdint.h>

/* liboctet.so exports only the functions declared here and the C++ API. */
#define OCTET_C_API __attribute__((visibility("default")))
/* To C++ callers, the promise that no exception leaves these functions. */
#ifdef __cplusplus
#define OCTET_C_NOEXCEPT noexcept
#else
#define OCTET_C_NOEXCEPT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------- status */

/* What a call returned. The values are fixed (FFI bindings may hard-code
 * them); the failures mirror octet::ErrorCode, in its order, plus OK. */
typedef enum octet_status {
  OCTET_OK = 0,
  OCTET_ERROR_INVALID_ARGUMENT = 1, /* a wrong name, shape, dtype, size, NULL... */
  OCTET_ERROR_IO = 2,               /* a file is missing or unreadable */
  OCTET_ERROR_INVALID_MODEL = 3,    /* a model file is malformed */
  OCTET_ERROR_UNSUPPORTED = 4,      /* valid, but not something octet implements */
  OCTET_ERROR_BACKEND = 5,          /* oneDNN refused or failed */
  OCTET_ERROR_OUT_OF_MEMORY = 6,    /* an allocation or the memory limit failed */
  OCTET_ERROR_INTERNAL = 7          /* a bug in octet: any other exception */
} octet_status;

/* The message of the last failed call on this thread ("" before any),
 * naming the problem and where (file, node, tensor), as octet::Error does.
 * Valid until the next failing call on this thread; never NULL, never freed.
 *
 * Why a thread-local message and not a status object to free: a binding
 * then needs one integer per call and one getter, with no ownership to
 * track (Rust's `Result`, C#'s exceptions and Go's `error` are each built in
 * a few lines, and a caller who ignores the message leaks nothing). Go moves
 * goroutines between threads: read the message in the same cgo call as the
 * failing one (a C helper in the preamble), or under runtime.LockOSThread(). */
OCTET_C_API const char* octet_last_error(void) OCTET_C_NOEXCEPT;

/* "ok", or octet::to_string(ErrorCode) for a failure ("invalid argument",
 * "i/o error", ...); "unknown" for a value outside the enum. */
OCTET_C_API const char* octet_status_name(octet_status status) OCTET_C_NOEXCEPT;

/* octet's version, e.g. "0.1.0". */
OCTET_C_API const char* octet_version(void) OCTET_C_NOEXCEPT;

/* ------------------------------------------------------------- data types */

/* octet::DataType, in its order. OCTET_DTYPE_BOOL is one byte, 0 or 1. */
typedef enum octet_dtype {
  OCTET_DTYPE_F32 = 0,
  OCTET_DTYPE_S8 = 1,
  OCTET_DTYPE_U8 = 2,
  OCTET_DTYPE_S32 = 3,
  OCTET_DTYPE_S64 = 4,
  OCTET_DTYPE_BOOL = 5
} octet_dtype;

/* "f32", "s8", "u8", "s32", "s64", "bool"; "unknown" outside the enum. */
OCTET_C_API const char* octet_dtype_name(octet_dtype dtype) OCTET_C_NOEXCEPT;
/* Bytes per element; 0 outside the enum. */
OCTET_C_API size_t octet_dtype_size(octet_dtype dtype) OCTET_C_NOEXCEPT;

/* ------------------------------------------------------------- model */

/* An immutable loaded model (octet::Model). */
typedef struct octet_model octet_model;

/* Loads `path.octet.json` + `path.octet.bin` (`path` may name either file).
 * On failure *model is set to NULL. */
OCTET_C_API octet_status octet_model_load(const char* path, octet_model** model) OCTET_C_NOEXCEPT;
/* Imports an ONNX file (opsets 7-17), as octet::Model::import_onnx. */
OCTET_C_API octet_status octet_model_import_onnx(const char* onnx_path,
                                                 octet_model** model) OCTET_C_NOEXCEPT;
/* NULL does nothing. Sessions made from the model keep working after it. */
OCTET_C_API void octet_model_destroy(octet_model* model) OCTET_C_NOEXCEPT;

/* The model's inputs and outputs, by index in [0, count). The name and
 * dims stay valid until the model is destroyed. A symbolic dimension (a
 * batch size or sequence length the model leaves open) is -1. */
OCTET_C_API octet_status octet_model_input_count(const octet_model* model,
                                                 size_t* count) OCTET_C_NOEXCEPT;
OCTET_C_API octet_status octet_model_input_name(const octet_model* model, size_t index,
                                                const char** name) OCTET_C_NOEXCEPT;
OCTET_C_API octet_status octet_model_input_dtype(const octet_model* model, size_t index,
                                                 octet_dtype* dtype) OCTET_C_NOEXCEPT;
OCTET_C_API octet_status octet_model_input_shape(const octet_model* model, size_t index,
                                                 const int64_t** dims,
                                                 size_t* rank) OCTET_C_NOEXCEPT;
OCTET_C_API octet_status octet_model_output_count(const octet_model* model,
                                                  size_t* count) OCTET_C_NOEXCEPT;
OCTET_C_API octet_status octet_model_output_name(const octet_model* model, size_t index,
                                                 const char** name) OCTET_C_NOEXCEPT;
OCTET_C_API octet_status octet_model_output_dtype(const octet_model* model, size_t index,
                                                  octet_dtype* dtype) OCTET_C_NOEXCEPT;
OCTET_C_API octet_status octet_model_output_shape(const octet_model* model, size_t index,
                                                  const int64_t** dims,
                                                  size_t* rank) OCTET_C_NOEXCEPT;

/* ------------------------------------------------------------- session options */

/* octet::SessionOptions, built by setters so that new options never change
 * the ABI. Defaults: every core, int8 where the model has scales. */
typedef struct octet_session_options octet_session_options;

typedef enum octet_precision {
  OCTET_PRECISION_FP32 = 0, /* everything in fp32 */
  OCTET_PRECISION_INT8 = 1  /* int8 where the model has scales, else fp32 */
} octet_precision;

OCTET_C_API octet_status octet_session_options_create(octet_session_options** options)
    OCTET_C_NOEXCEPT;
/* NULL does nothing. */
OCTET_C_API void octet_session_options_destroy(octet_session_options* options) OCTET_C_NOEXCEPT;
/* 0: every core. */
OCTET_C_API octet_status octet_session_options_set_threads(octet_session_options* options,
                                                           int threads) OCTET_C_NOEXCEPT;
OCTET_C_API octet_status octet_session_options_set_precision(
    octet_session_options* options, octet_precision precision) OCTET_C_NOEXCEPT;
/* A layer kept in fp32: a node name or a glob pattern ("conv1", "*.attention.*"). */
OCTET_C_API octet_status octet_session_options_add_fp32_layer(octet_session_options* options,
                                                              const char* layer) OCTET_C_NOEXCEPT;
/* An op type kept in fp32 ("Softmax"). */
OCTET_C_API octet_status octet_session_options_add_fp32_op(octet_session_options* options,
                                                           const char* op_type) OCTET_C_NOEXCEPT;
/* The most a session may allocate when it prepares (0: no limit); past it,
 * octet_session_run fails with OCTET_ERROR_OUT_OF_MEMORY. */
OCTET_C_API octet_status octet_session_options_set_memory_limit(octet_session_options* options,
                                                                size_t bytes) OCTET_C_NOEXCEPT;
/* How many plans of earlier input shapes a session keeps besides the current
 * one, to swap back in when those shapes come again (default 3; 0: none). */
OCTET_C_API octet_status octet_session_options_set_kept_plans(octet_session_options* options,
                                                              int plans) OCTET_C_NOEXCEPT;
/* Whether fp32 3x3 convolutions may take oneDNN's Winograd where the CPU has
 * it (AVX512): faster, more memory. Default 1; 0: direct convolutions only. */
OCTET_C_API octet_status octet_session_options_set_winograd(octet_session_options* options,
                                                            int enabled) OCTET_C_NOEXCEPT;

/* ------------------------------------------------------------- session */

/* Runs a model (octet::Session). */
typedef struct octet_session octet_session;

/* `options` may be NULL (the defaults); it is copied, so it may be destroyed
 * right after. The session shares the model's data: the model handle may be
 * destroyed first. */
OCTET_C_API octet_status octet_session_create(const octet_model* model,
                                              const octet_session_options* options,
                                              octet_session** session) OCTET_C_NOEXCEPT;
/* NULL does nothing. */
OCTET_C_API void octet_session_destroy(octet_session* session) OCTET_C_NOEXCEPT;

/* Copies `nbytes` of `data` (dtype, dims[rank], dense row-major) into the
 * session as the input named `name`; the caller's buffer is free again when
 * the call returns (so a garbage-collected buffer needs pinning only during
 * the call). `nbytes` must equal the product of the dims times the dtype's
 * size. An input keeps its value across runs until set again. Shapes are
 * checked against the model by the next run. */
OCTET_C_API octet_status octet_session_set_input(octet_session* session, const char* name,
                                                 octet_dtype dtype, const int64_t* dims,
                                                 size_t rank, const void* data,
                                                 size_t nbytes) OCTET_C_NOEXCEPT;

/* Runs on the inputs set, every input of the model set at least once. The
 * first run and any run whose input shapes changed prepare the session
 * (primitives, weights, memory); the others allocate nothing. */
OCTET_C_API octet_status octet_session_run(octet_session* session) OCTET_C_NOEXCEPT;

/* The outputs of the last successful run, by name. The dims and data stay
 * valid until the next octet_session_run or the session's destruction. */
OCTET_C_API octet_status octet_session_output_dtype(const octet_session* session, const char* name,
                                                    octet_dtype* dtype) OCTET_C_NOEXCEPT;
OCTET_C_API octet_status octet_session_output_shape(const octet_session* session, const char* name,
                                                    const int64_t** dims,
                                                    size_t* rank) OCTET_C_NOEXCEPT;
OCTET_C_API octet_status octet_session_output_data(const octet_session* session, const char* name,
                                                   const void** data,
                                                   size_t* nbytes) OCTET_C_NOEXCEPT;
/* Copies the output into `dst`, whose size `dst_nbytes` must be the output's. */
OCTET_C_API octet_status octet_session_copy_output(const octet_session* session, const char* name,
                                                   void* dst, size_t dst_nbytes) OCTET_C_NOEXCEPT;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* OCTET_OCTET_C_H */
