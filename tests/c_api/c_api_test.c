/* The C API from C (C11, -Wall -Wextra -Werror -pedantic):
 *   c_api_test MODEL SCRATCH_DIR
 *   c_api_test --onnx TINY.onnx      (test_onnx, below)
 * MODEL is apps/models/fashion-resnet20 (input "input" batch x 1 x 28 x 28,
 * output "logits" batch x 10, int8 ranges). Its outputs through the C API
 * must be bit for bit those of the C++ API (tests/c_api/cpp_reference.cpp)
 * for the same input and options: fp32, int8, int8 with fp32 layers and ops,
 * and after a change of batch size. Every error path must return its status
 * with a message naming the problem; none may throw (the functions are
 * noexcept, so an escaping exception would abort the test). */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpp_reference.h"
#include "octet/octet_c.h"

static int failures = 0;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

/* A call that must succeed. */
#define OK(call) expect_ok(__LINE__, #call, (call))
/* A call that must fail with `status`, its message holding each string given. */
#define FAILS(call, status, ...) \
  expect_error(__LINE__, #call, (call), status, (const char* const[]){__VA_ARGS__, NULL})

static int expect_ok(int line, const char* call, octet_status got) {
  if (got == OCTET_OK) return 1;
  fprintf(stderr, "line %d: %s failed: %s: %s\n", line, call, octet_status_name(got),
          octet_last_error());
  ++failures;
  return 0;
}

static void expect_error(int line, const char* call, octet_status got, octet_status want,
                         const char* const* needles) {
  const char* message = octet_last_error();
  int ok = got == want;
  for (const char* const* n = needles; *n; ++n) ok = ok && strstr(message, *n) != NULL;
  if (!ok) {
    fprintf(stderr, "line %d: %s returned %s (%s), expected %s with:", line, call,
            octet_status_name(got), message, octet_status_name(want));
    for (const char* const* n = needles; *n; ++n) fprintf(stderr, " \"%s\"", *n);
    fprintf(stderr, "\n");
    ++failures;
  }
}

enum { CLASSES = 10, PIXELS = 28 * 28, MAX_BATCH = 2 };

static float input[MAX_BATCH * PIXELS];

static void fill_input(void) {
  /* Deterministic, varied, roughly the normalized images' range. */
  for (int i = 0; i < MAX_BATCH * PIXELS; ++i) input[i] = (float)((i * 7919) % 1000) / 400 - 1;
}

static void test_basics(void) {
  int major = -1, minor = -1, patch = -1;
  CHECK(sscanf(octet_version(), "%d.%d.%d", &major, &minor, &patch) == 3 && major >= 0);
  CHECK(strcmp(octet_status_name(OCTET_OK), "ok") == 0);
  CHECK(strcmp(octet_status_name(OCTET_ERROR_INVALID_ARGUMENT), "invalid argument") == 0);
  CHECK(strcmp(octet_status_name(OCTET_ERROR_IO), "i/o error") == 0);
  CHECK(strcmp(octet_status_name(OCTET_ERROR_INTERNAL), "internal error") == 0);
  CHECK(strcmp(octet_status_name((octet_status)42), "unknown") == 0);
  CHECK(strcmp(octet_dtype_name(OCTET_DTYPE_F32), "f32") == 0);
  CHECK(strcmp(octet_dtype_name(OCTET_DTYPE_BOOL), "bool") == 0);
  CHECK(strcmp(octet_dtype_name((octet_dtype)-1), "unknown") == 0);
  CHECK(octet_dtype_size(OCTET_DTYPE_F32) == 4 && octet_dtype_size(OCTET_DTYPE_S64) == 8);
  CHECK(octet_dtype_size(OCTET_DTYPE_U8) == 1 && octet_dtype_size((octet_dtype)6) == 0);
  /* Destroying nothing is allowed. */
  octet_model_destroy(NULL);
  octet_session_options_destroy(NULL);
  octet_session_destroy(NULL);
}

static void test_model_info(const octet_model* model) {
  size_t count = 0, rank = 0;
  const char* name = NULL;
  const int64_t* dims = NULL;
  octet_dtype dtype = OCTET_DTYPE_S8;
  if (OK(octet_model_input_count(model, &count))) CHECK(count == 1);
  if (OK(octet_model_input_name(model, 0, &name))) CHECK(strcmp(name, "input") == 0);
  if (OK(octet_model_input_dtype(model, 0, &dtype))) CHECK(dtype == OCTET_DTYPE_F32);
  if (OK(octet_model_input_shape(model, 0, &dims, &rank))) {
    CHECK(rank == 4 && dims[0] == -1 && dims[1] == 1 && dims[2] == 28 && dims[3] == 28);
  }
  if (OK(octet_model_output_count(model, &count))) CHECK(count == 1);
  if (OK(octet_model_output_name(model, 0, &name))) CHECK(strcmp(name, "logits") == 0);
  if (OK(octet_model_output_dtype(model, 0, &dtype))) CHECK(dtype == OCTET_DTYPE_F32);
  if (OK(octet_model_output_shape(model, 0, &dims, &rank))) {
    CHECK(rank == 2 && dims[0] == -1 && dims[1] == CLASSES);
  }
  FAILS(octet_model_input_name(model, 1, &name), OCTET_ERROR_INVALID_ARGUMENT,
        "octet_model_input_name", "input index 1 is out of range", "1 input");
  FAILS(octet_model_output_shape(model, 5, &dims, &rank), OCTET_ERROR_INVALID_ARGUMENT,
        "output index 5 is out of range");
}

struct run_case {
  const char* what;
  struct cpp_reference_options options;
};

/* A session made through the C API with the case's options. */
static octet_session* make_session(const octet_model* model, const struct run_case* c) {
  octet_session_options* options = NULL;
  octet_session* session = NULL;
  if (!OK(octet_session_options_create(&options))) return NULL;
  OK(octet_session_options_set_threads(options, c->options.threads));
  OK(octet_session_options_set_precision(
      options, c->options.int8 ? OCTET_PRECISION_INT8 : OCTET_PRECISION_FP32));
  if (c->options.fp32_layer)
    OK(octet_session_options_add_fp32_layer(options, c->options.fp32_layer));
  if (c->options.fp32_op) OK(octet_session_options_add_fp32_op(options, c->options.fp32_op));
  OK(octet_session_create(model, options, &session));
  octet_session_options_destroy(options); /* the session keeps a copy */
  return session;
}

/* Runs `batch` images through `session` and through the C++ API; both
 * outputs must be identical. Returns the C API's logits in `logits`. */
static void run_and_compare(const char* model_path, octet_session* session,
                            const struct run_case* c, int64_t batch, float* logits) {
  const int64_t dims[4] = {batch, 1, 28, 28};
  const size_t n = (size_t)batch * CLASSES;
  float expected[MAX_BATCH * CLASSES];
  const int64_t* out_dims = NULL;
  size_t out_rank = 0, nbytes = 0;
  const void* data = NULL;
  octet_dtype dtype = OCTET_DTYPE_S8;
  if (!OK(octet_session_set_input(session, "input", OCTET_DTYPE_F32, dims, 4, input,
                                  (size_t)batch * PIXELS * sizeof(float))) ||
      !OK(octet_session_run(session)) ||
      !OK(octet_session_copy_output(session, "logits", logits, n * sizeof(float)))) {
    return;
  }
  if (OK(octet_session_output_shape(session, "logits", &out_dims, &out_rank))) {
    CHECK(out_rank == 2 && out_dims[0] == batch && out_dims[1] == CLASSES);
  }
  if (OK(octet_session_output_dtype(session, "logits", &dtype))) CHECK(dtype == OCTET_DTYPE_F32);
  if (OK(octet_session_output_data(session, "logits", &data, &nbytes))) {
    CHECK(nbytes == n * sizeof(float) && memcmp(data, logits, nbytes) == 0);
  }
  if (cpp_reference_run(model_path, &c->options, input, dims, 4, expected, n) != 0) {
    ++failures;
    return;
  }
  double max_diff = 0;
  for (size_t i = 0; i < n; ++i) max_diff = fmax(max_diff, fabs(logits[i] - expected[i]));
  if (memcmp(logits, expected, n * sizeof(float)) != 0) {
    fprintf(stderr, "%s, batch %lld: C API and C++ API differ (max abs diff %g)\n", c->what,
            (long long)batch, max_diff);
    ++failures;
  }
  printf("%s, batch %lld: logits[0] = %g, equal to the C++ API's\n", c->what, (long long)batch,
         logits[0]);
}

static void test_runs(const char* model_path, const octet_model* model) {
  const struct run_case cases[] = {
      {"fp32", {1, 0, NULL, NULL}},
      {"int8", {1, 1, NULL, NULL}},
      {"int8, /layer1/* and Gemm in fp32", {1, 1, "/layer1/*", "Gemm"}},
  };
  float results[3][MAX_BATCH * CLASSES];
  for (int i = 0; i < 3; ++i) {
    octet_session* session = make_session(model, &cases[i]);
    if (!session) continue;
    run_and_compare(model_path, session, &cases[i], 2, results[i]);
    run_and_compare(model_path, session, &cases[i], 1, results[i]); /* prepares again */
    /* Inputs stay set: another run gives the same outputs. */
    float again[CLASSES];
    if (OK(octet_session_run(session)) &&
        OK(octet_session_copy_output(session, "logits", again, sizeof again))) {
      CHECK(memcmp(again, results[i], sizeof again) == 0);
    }
    octet_session_destroy(session);
  }
  /* The options reached the session: each case computes something else. */
  CHECK(memcmp(results[0], results[1], CLASSES * sizeof(float)) != 0);
  CHECK(memcmp(results[1], results[2], CLASSES * sizeof(float)) != 0);
}

static void write_file(const char* path, const char* text) {
  FILE* f = fopen(path, "w");
  CHECK(f != NULL);
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

/* The C API's status and message for a bad model file are the C++ API's. */
static void expect_load_error(const char* path, octet_status want, const char* needle) {
  char cpp_message[4096];
  octet_model* model = (octet_model*)&model; /* not NULL: a failed load must reset it */
  const int cpp_status = cpp_reference_load_error(path, cpp_message, sizeof cpp_message);
  FAILS(octet_model_load(path, &model), want, needle);
  CHECK(model == NULL);
  CHECK(cpp_status == (int)want);
  CHECK(strcmp(octet_last_error(), cpp_message) == 0);
}

static void test_load_errors(const char* scratch) {
  char path[4096], onnx[4096];
  snprintf(path, sizeof path, "%s/absent", scratch);
  expect_load_error(path, OCTET_ERROR_IO, "absent.octet.json");
  snprintf(path, sizeof path, "%s/corrupt.octet.bin", scratch);
  write_file(path, "");
  snprintf(path, sizeof path, "%s/corrupt.octet.json", scratch);
  write_file(path, "{ \"format\": ");
  expect_load_error(path, OCTET_ERROR_INVALID_MODEL, "corrupt.octet.json");
  snprintf(onnx, sizeof onnx, "%s/not-onnx.onnx", scratch);
  write_file(onnx, "this is text, not protobuf");
  octet_model* model = NULL;
  FAILS(octet_model_import_onnx(onnx, &model), OCTET_ERROR_INVALID_MODEL, "not-onnx.onnx",
        "not an ONNX model");
  CHECK(model == NULL);
  snprintf(onnx, sizeof onnx, "%s/absent.onnx", scratch);
  FAILS(octet_model_import_onnx(onnx, &model), OCTET_ERROR_IO, "absent.onnx");
}

static void test_input_errors(const octet_model* model) {
  octet_session* session = NULL;
  if (!OK(octet_session_create(model, NULL, &session))) return;
  const int64_t good[4] = {1, 1, 28, 28}, channels[4] = {1, 3, 28, 28}, rank3[3] = {1, 28, 28};
  const size_t bytes = PIXELS * sizeof(float);
  float logits[CLASSES];
  FAILS(octet_session_run(session), OCTET_ERROR_INVALID_ARGUMENT, "input 'input' was not set");
  FAILS(octet_session_copy_output(session, "logits", logits, sizeof logits),
        OCTET_ERROR_INVALID_ARGUMENT, "octet_session_run has not succeeded");
  FAILS(octet_session_set_input(session, "image", OCTET_DTYPE_F32, good, 4, input, bytes),
        OCTET_ERROR_INVALID_ARGUMENT, "no input 'image'", "inputs: input");
  FAILS(octet_session_set_input(session, "input", OCTET_DTYPE_S64, good, 4, input, bytes),
        OCTET_ERROR_INVALID_ARGUMENT, "input 'input' must be f32, got s64");
  FAILS(octet_session_set_input(session, "input", (octet_dtype)9, good, 4, input, bytes),
        OCTET_ERROR_INVALID_ARGUMENT, "dtype 9 is not an octet_dtype");
  FAILS(octet_session_set_input(session, "input", OCTET_DTYPE_F32, good, 4, input, bytes - 4),
        OCTET_ERROR_INVALID_ARGUMENT, "input 'input'", "1x1x28x28 f32 is 3136 bytes, got 3132");
  const int64_t negative[4] = {1, -1, 28, 28};
  FAILS(octet_session_set_input(session, "input", OCTET_DTYPE_F32, negative, 4, input, bytes),
        OCTET_ERROR_INVALID_ARGUMENT, "negative dimension");
  /* The shape is checked against the model when the session prepares. */
  static float big[3 * PIXELS];
  OK(octet_session_set_input(session, "input", OCTET_DTYPE_F32, channels, 4, big, sizeof big));
  FAILS(octet_session_run(session), OCTET_ERROR_INVALID_ARGUMENT, "input 'input'",
        "dimension 1 must be 1");
  FAILS(octet_session_copy_output(session, "logits", logits, sizeof logits),
        OCTET_ERROR_INVALID_ARGUMENT, "has not succeeded");
  OK(octet_session_set_input(session, "input", OCTET_DTYPE_F32, rank3, 3, input, bytes));
  FAILS(octet_session_run(session), OCTET_ERROR_INVALID_ARGUMENT, "input 'input'",
        "expected rank 4");
  /* 2^58 floats: sized right, but no allocator can give 2^60 bytes. */
  const int64_t huge[4] = {(int64_t)1 << 52, 1, 8, 8};
  FAILS(octet_session_set_input(session, "input", OCTET_DTYPE_F32, huge, 4, input, (size_t)1 << 60),
        OCTET_ERROR_OUT_OF_MEMORY, "cannot allocate");
  const int64_t overflow[4] = {(int64_t)1 << 40, 1 << 20, 28, 28};
  FAILS(octet_session_set_input(session, "input", OCTET_DTYPE_F32, overflow, 4, input, bytes),
        OCTET_ERROR_INVALID_ARGUMENT, "too large");
  /* The session recovers. */
  OK(octet_session_set_input(session, "input", OCTET_DTYPE_F32, good, 4, input, bytes));
  OK(octet_session_run(session));
  FAILS(octet_session_copy_output(session, "logits", logits, sizeof logits - 4),
        OCTET_ERROR_INVALID_ARGUMENT, "output 'logits' is 1x10 f32, 40 bytes, dst_nbytes is 36");
  FAILS(octet_session_copy_output(session, "probs", logits, sizeof logits),
        OCTET_ERROR_INVALID_ARGUMENT, "no output 'probs'", "logits");
  octet_session_destroy(session);

  /* A memory limit the prepare cannot meet. */
  octet_session_options* options = NULL;
  if (!OK(octet_session_options_create(&options))) return;
  OK(octet_session_options_set_memory_limit(options, 1));
  OK(octet_session_options_set_kept_plans(options, 0));
  OK(octet_session_options_set_winograd(options, 0));
  FAILS(octet_session_options_set_kept_plans(options, -1), OCTET_ERROR_INVALID_ARGUMENT,
        "kept_plans must be >= 0", "-1");
  FAILS(octet_session_options_set_threads(options, -2), OCTET_ERROR_INVALID_ARGUMENT,
        "threads must be >= 0", "-2");
  FAILS(octet_session_options_set_precision(options, (octet_precision)3),
        OCTET_ERROR_INVALID_ARGUMENT, "precision 3");
  if (OK(octet_session_create(model, options, &session))) {
    OK(octet_session_set_input(session, "input", OCTET_DTYPE_F32, good, 4, input, bytes));
    FAILS(octet_session_run(session), OCTET_ERROR_OUT_OF_MEMORY, "memory limit");
    octet_session_destroy(session);
  }
  octet_session_options_destroy(options);
}

static void test_null_arguments(const octet_model* model) {
  octet_model* out = (octet_model*)&out;
  octet_session* session = (octet_session*)&session;
  const int64_t dims[4] = {1, 1, 28, 28};
  size_t count = 0;
  const char* name = NULL;
  FAILS(octet_model_load(NULL, &out), OCTET_ERROR_INVALID_ARGUMENT,
        "octet_model_load: path is NULL");
  CHECK(out == NULL);
  FAILS(octet_model_load("x", NULL), OCTET_ERROR_INVALID_ARGUMENT,
        "octet_model_load: model is NULL");
  FAILS(octet_model_import_onnx(NULL, &out), OCTET_ERROR_INVALID_ARGUMENT,
        "octet_model_import_onnx: path is NULL");
  FAILS(octet_model_input_count(NULL, &count), OCTET_ERROR_INVALID_ARGUMENT,
        "octet_model_input_count: model is NULL");
  FAILS(octet_model_output_count(model, NULL), OCTET_ERROR_INVALID_ARGUMENT,
        "octet_model_output_count: count is NULL");
  FAILS(octet_model_input_name(model, 0, NULL), OCTET_ERROR_INVALID_ARGUMENT, "name is NULL");
  FAILS(octet_model_output_name(NULL, 0, &name), OCTET_ERROR_INVALID_ARGUMENT, "model is NULL");
  FAILS(octet_session_create(NULL, NULL, &session), OCTET_ERROR_INVALID_ARGUMENT,
        "octet_session_create: model is NULL");
  CHECK(session == NULL);
  FAILS(octet_session_create(model, NULL, NULL), OCTET_ERROR_INVALID_ARGUMENT, "session is NULL");
  FAILS(octet_session_options_create(NULL), OCTET_ERROR_INVALID_ARGUMENT, "options is NULL");
  FAILS(octet_session_options_set_threads(NULL, 1), OCTET_ERROR_INVALID_ARGUMENT,
        "octet_session_options_set_threads: options is NULL");
  FAILS(octet_session_options_set_winograd(NULL, 1), OCTET_ERROR_INVALID_ARGUMENT,
        "octet_session_options_set_winograd: options is NULL");
  FAILS(octet_session_run(NULL), OCTET_ERROR_INVALID_ARGUMENT,
        "octet_session_run: session is NULL");
  if (!OK(octet_session_create(model, NULL, &session))) return;
  FAILS(octet_session_set_input(session, NULL, OCTET_DTYPE_F32, dims, 4, input, 3136),
        OCTET_ERROR_INVALID_ARGUMENT, "octet_session_set_input: name is NULL");
  FAILS(octet_session_set_input(session, "input", OCTET_DTYPE_F32, NULL, 4, input, 3136),
        OCTET_ERROR_INVALID_ARGUMENT, "dims is NULL");
  FAILS(octet_session_set_input(session, "input", OCTET_DTYPE_F32, dims, 4, NULL, 3136),
        OCTET_ERROR_INVALID_ARGUMENT, "data is NULL");
  OK(octet_session_set_input(session, "input", OCTET_DTYPE_F32, dims, 4, input, 3136));
  OK(octet_session_run(session));
  FAILS(octet_session_copy_output(session, "logits", NULL, 40), OCTET_ERROR_INVALID_ARGUMENT,
        "dst is NULL");
  FAILS(octet_session_output_data(session, NULL, NULL, NULL), OCTET_ERROR_INVALID_ARGUMENT,
        "is NULL");
  FAILS(octet_session_output_shape(session, "logits", NULL, &count), OCTET_ERROR_INVALID_ARGUMENT,
        "dims is NULL");
  octet_session_destroy(session);
}

/* octet_last_error() is per thread: another thread's failure does not touch it. */
struct thread_seen {
  char before[256], after[256]; /* the thread's messages, copied: they die with it */
};

static void* fail_in_thread(void* arg) {
  struct thread_seen* seen = arg;
  snprintf(seen->before, sizeof seen->before, "%s", octet_last_error()); /* none yet */
  octet_model* model = NULL;
  octet_model_load(NULL, &model);
  snprintf(seen->after, sizeof seen->after, "%s", octet_last_error());
  return NULL;
}

static void test_thread_local_error(void) {
  octet_session_run(NULL);
  struct thread_seen seen = {"?", "?"};
  pthread_t thread;
  CHECK(pthread_create(&thread, NULL, fail_in_thread, &seen) == 0);
  CHECK(pthread_join(thread, NULL) == 0);
  CHECK(strcmp(seen.before, "") == 0);
  CHECK(strstr(seen.after, "octet_model_load: path is NULL") != NULL);
  CHECK(strstr(octet_last_error(), "octet_session_run: session is NULL") != NULL);
}

/* tests/c_api/tiny_onnx.py's model, imported: y = Relu(x @ W + b) with
 * W[i][j] = 0.5 (i + 1) - j and b[j] = 0.25 j - 0.5, checked against the
 * formula. */
static void test_onnx(const char* path) {
  enum { BATCH = 3, ROWS = 4, COLS = 3 };
  octet_model* model = NULL;
  octet_session* session = NULL;
  const int64_t* dims = NULL;
  size_t rank = 0;
  if (!OK(octet_model_import_onnx(path, &model))) return;
  if (OK(octet_model_input_shape(model, 0, &dims, &rank))) {
    CHECK(rank == 2 && dims[0] == -1 && dims[1] == ROWS);
  }
  float x[BATCH * ROWS], y[BATCH * COLS];
  for (int i = 0; i < BATCH * ROWS; ++i) x[i] = (float)(i % 5) * 0.75f - 1.2f;
  const int64_t x_dims[2] = {BATCH, ROWS};
  if (OK(octet_session_create(model, NULL, &session)) &&
      OK(octet_session_set_input(session, "x", OCTET_DTYPE_F32, x_dims, 2, x, sizeof x)) &&
      OK(octet_session_run(session)) && OK(octet_session_copy_output(session, "y", y, sizeof y))) {
    int clipped = 0, positive = 0;
    for (int n = 0; n < BATCH; ++n) {
      for (int j = 0; j < COLS; ++j) {
        double z = 0.25 * j - 0.5;
        for (int i = 0; i < ROWS; ++i) z += (double)x[n * ROWS + i] * (0.5 * (i + 1) - j);
        const double want = z > 0 ? z : 0;
        clipped += z < 0;
        positive += z > 0;
        if (fabs(y[n * COLS + j] - want) > 1e-5 * (1 + fabs(want))) {
          fprintf(stderr, "onnx: y[%d][%d] = %g, want %g\n", n, j, y[n * COLS + j], want);
          ++failures;
        }
      }
    }
    CHECK(clipped > 0 && positive > 0); /* the Relu mattered */
    printf("onnx: %d outputs equal Relu(x W + b), %d of them clipped\n", BATCH * COLS, clipped);
  }
  octet_session_destroy(session);
  octet_model_destroy(model);
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "--onnx") == 0) {
    FILE* f = fopen(argv[2], "rb");
    if (!f) {
      printf("SKIP: %s is missing (c_api_onnx_model makes it where onnx is installed)\n", argv[2]);
      return 77;
    }
    fclose(f);
    test_onnx(argv[2]);
    return failures ? 1 : 0;
  }
  if (argc != 3) {
    fprintf(stderr, "usage: c_api_test MODEL SCRATCH_DIR | --onnx TINY.onnx\n");
    return 2;
  }
  fill_input();
  test_basics();
  octet_model* model = NULL;
  if (!OK(octet_model_load(argv[1], &model))) return 1;
  test_model_info(model);
  test_runs(argv[1], model);
  test_load_errors(argv[2]);
  test_input_errors(model);
  test_null_arguments(model);
  test_thread_local_error();
  octet_model_destroy(model);
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("C API: every check passed\n");
  return 0;
}
