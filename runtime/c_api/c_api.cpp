// The C API (octet/octet_c.h) over the public C++ API of octet.hpp, and
// nothing else: this file's include path is runtime/include alone
// (tests/floors checks), so it reaches the library as an embedder does.
//
// Every entry point runs its body in guarded(): an octet::Error becomes its
// code and message, std::bad_alloc OCTET_ERROR_OUT_OF_MEMORY, anything else
// OCTET_ERROR_INTERNAL. The functions are noexcept (OCTET_C_NOEXCEPT), so an
// exception that slipped past guarded() would terminate, never unwind into C.
#include "octet/octet_c.h"

#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "octet/octet.hpp"

using octet::DataType;
using octet::Error;
using octet::ErrorCode;

// The C enums are octet's own, value for value: a status is its ErrorCode
// plus one (OCTET_OK is 0), a dtype its DataType.
static_assert(static_cast<int>(ErrorCode::invalid_argument) + 1 == OCTET_ERROR_INVALID_ARGUMENT);
static_assert(static_cast<int>(ErrorCode::io) + 1 == OCTET_ERROR_IO);
static_assert(static_cast<int>(ErrorCode::invalid_model) + 1 == OCTET_ERROR_INVALID_MODEL);
static_assert(static_cast<int>(ErrorCode::unsupported) + 1 == OCTET_ERROR_UNSUPPORTED);
static_assert(static_cast<int>(ErrorCode::backend) + 1 == OCTET_ERROR_BACKEND);
static_assert(static_cast<int>(ErrorCode::out_of_memory) + 1 == OCTET_ERROR_OUT_OF_MEMORY);
static_assert(static_cast<int>(ErrorCode::internal) + 1 == OCTET_ERROR_INTERNAL);
static_assert(static_cast<int>(DataType::f32) == OCTET_DTYPE_F32);
static_assert(static_cast<int>(DataType::s8) == OCTET_DTYPE_S8);
static_assert(static_cast<int>(DataType::u8) == OCTET_DTYPE_U8);
static_assert(static_cast<int>(DataType::s32) == OCTET_DTYPE_S32);
static_assert(static_cast<int>(DataType::s64) == OCTET_DTYPE_S64);
static_assert(static_cast<int>(DataType::boolean) == OCTET_DTYPE_BOOL);

namespace {

std::vector<std::vector<int64_t>> dims_of(const std::vector<octet::TensorInfo>& infos) {
  std::vector<std::vector<int64_t>> all;
  for (const octet::TensorInfo& info : infos) {
    std::vector<int64_t> dims;
    for (const octet::Dim& d : info.dims) dims.push_back(d.size >= 0 ? d.size : -1);
    all.push_back(std::move(dims));
  }
  return all;
}

}  // namespace

struct octet_model {
  explicit octet_model(octet::Model m)
      : model(std::move(m)),
        input_dims(dims_of(model.inputs())),
        output_dims(dims_of(model.outputs())) {}

  octet::Model model;
  // TensorInfo's dims as the plain arrays octet_model_*_shape lend out.
  std::vector<std::vector<int64_t>> input_dims, output_dims;
};

struct octet_session_options {
  octet::SessionOptions options;
};

struct octet_session {
  octet_session(const octet::Model& model, const octet::SessionOptions& options)
      : session(model, options),
        inputs(model.inputs().size()),
        input_set(model.inputs().size(), false) {}

  octet::Session session;
  // The caller's inputs, copied by octet_session_set_input (in the model's
  // input order; empty until set): the caller may free its buffer at once,
  // and a GC'd language need not pin it between calls. Session::run(inputs)
  // copies them into the session and prepares when their shapes changed.
  std::vector<octet::Tensor> inputs;
  std::vector<bool> input_set;
  bool has_outputs = false;  // the last run succeeded
};

namespace {

thread_local std::string last_error_text;
thread_local const char* last_error = "";

// Stores the message for octet_last_error(); never throws.
octet_status fail(octet_status status, const char* a, const char* b = "",
                  const char* c = "") noexcept {
  try {
    last_error_text = a;
    last_error_text += b;
    last_error_text += c;
    last_error = last_error_text.c_str();
  } catch (...) {
    last_error = "out of memory (while storing the message of an error)";
  }
  return status;
}

// What an entry point's body gets: its own name for the messages.
struct Call {
  const char* function;

  [[noreturn]] void invalid(const std::string& message) const {
    throw Error(ErrorCode::invalid_argument, std::string(function) + ": " + message);
  }
  void check(const void* pointer, const char* argument) const {
    if (!pointer) invalid(std::string(argument) + " is NULL");
  }
  template <class T>
  T& need(T* pointer, const char* argument) const {
    check(pointer, argument);
    return *pointer;
  }
  std::string text(const char* string, const char* argument) const {
    check(string, argument);
    return string;
  }
};

template <class Body>
octet_status guarded(const char* function, Body&& body) noexcept {
  try {
    body(Call{function});
    return OCTET_OK;
  } catch (const Error& e) {
    return fail(static_cast<octet_status>(static_cast<int>(e.code()) + 1), e.what());
  } catch (const std::bad_alloc&) {
    return fail(OCTET_ERROR_OUT_OF_MEMORY, function, ": out of memory");
  } catch (const std::exception& e) {
    return fail(OCTET_ERROR_INTERNAL, function, ": internal error: ", e.what());
  } catch (...) {
    return fail(OCTET_ERROR_INTERNAL, function, ": internal error: an unknown exception");
  }
}

// A C caller may pass any int where an enum is declared; in C++, merely
// loading a value outside the enumerators' range is undefined (clang's UBSan
// reports it), so enums are validated from their bytes.
template <class Enum>
int raw_value(const Enum& value) {
  static_assert(sizeof(Enum) == sizeof(int));
  int raw;
  std::memcpy(&raw, &value, sizeof raw);
  return raw;
}

bool valid_dtype(const octet_dtype& dtype) {
  const int raw = raw_value(dtype);
  return raw >= OCTET_DTYPE_F32 && raw <= OCTET_DTYPE_BOOL;
}

// The model's inputs or outputs, for octet_model_{input,output}_*.
struct ModelSide {
  const std::vector<octet::TensorInfo>& infos;
  const std::vector<std::vector<int64_t>>& dims;
  const char* what;  // "input", "output"
};

ModelSide inputs_of(const octet_model& m) {
  return {m.model.inputs(), m.input_dims, "input"};
}
ModelSide outputs_of(const octet_model& m) {
  return {m.model.outputs(), m.output_dims, "output"};
}

size_t checked_index(const Call& call, const ModelSide& side, size_t index) {
  if (index >= side.infos.size()) {
    call.invalid(std::string(side.what) + " index " + std::to_string(index) +
                 " is out of range: the model has " + std::to_string(side.infos.size()) + " " +
                 side.what + (side.infos.size() == 1 ? "" : "s"));
  }
  return index;
}

octet_status side_count(const char* fn, const octet_model* model,
                        ModelSide (*side)(const octet_model&), size_t* count) {
  return guarded(fn, [&](const Call& call) {
    size_t& dst = call.need(count, "count");
    dst = side(call.need(model, "model")).infos.size();
  });
}

octet_status side_name(const char* fn, const octet_model* model,
                       ModelSide (*side)(const octet_model&), size_t index, const char** name) {
  return guarded(fn, [&](const Call& call) {
    const char*& dst = call.need(name, "name");
    const ModelSide s = side(call.need(model, "model"));
    dst = s.infos[checked_index(call, s, index)].name.c_str();
  });
}

octet_status side_dtype(const char* fn, const octet_model* model,
                        ModelSide (*side)(const octet_model&), size_t index, octet_dtype* dtype) {
  return guarded(fn, [&](const Call& call) {
    octet_dtype& dst = call.need(dtype, "dtype");
    const ModelSide s = side(call.need(model, "model"));
    dst = static_cast<octet_dtype>(s.infos[checked_index(call, s, index)].dtype);
  });
}

octet_status side_shape(const char* fn, const octet_model* model,
                        ModelSide (*side)(const octet_model&), size_t index, const int64_t** dims,
                        size_t* rank) {
  return guarded(fn, [&](const Call& call) {
    const int64_t*& dst_dims = call.need(dims, "dims");
    size_t& dst_rank = call.need(rank, "rank");
    const ModelSide s = side(call.need(model, "model"));
    const std::vector<int64_t>& d = s.dims[checked_index(call, s, index)];
    dst_dims = d.data();
    dst_rank = d.size();
  });
}

octet_status load(const char* fn, octet::Model (*loader)(const std::string&), const char* path,
                  octet_model** model) {
  if (model) *model = nullptr;
  return guarded(fn, [&](const Call& call) {
    octet_model*& dst = call.need(model, "model");
    const std::string p = call.text(path, "path");
    dst = new octet_model(loader(p));
  });
}

// An output of the last successful run.
const octet::Tensor& output_of(const Call& call, const octet_session* session, const char* name) {
  const octet_session& s = call.need(session, "session");
  const std::string n = call.text(name, "name");
  if (!s.has_outputs) call.invalid("no outputs: octet_session_run has not succeeded yet");
  return s.session.output(n);
}

std::string describe(const octet::Tensor& t) {
  return octet::to_string(t.shape()) + " " + octet::to_string(t.dtype()) + ", " +
         std::to_string(t.nbytes()) + " bytes";
}

}  // namespace

extern "C" {

const char* octet_last_error(void) noexcept {
  return last_error;
}

const char* octet_status_name(octet_status status) noexcept {
  const int raw = raw_value(status);
  if (raw == OCTET_OK) return "ok";
  if (raw < OCTET_ERROR_INVALID_ARGUMENT || raw > OCTET_ERROR_INTERNAL) return "unknown";
  return octet::to_string(static_cast<ErrorCode>(raw - 1));
}

const char* octet_version(void) noexcept {
  static const std::string version = [] {
    try {
      return octet::version();
    } catch (...) {
      return std::string();
    }
  }();
  return version.c_str();
}

const char* octet_dtype_name(octet_dtype dtype) noexcept {
  return valid_dtype(dtype) ? octet::to_string(static_cast<DataType>(dtype)) : "unknown";
}

size_t octet_dtype_size(octet_dtype dtype) noexcept {
  return valid_dtype(dtype) ? octet::size_of(static_cast<DataType>(dtype)) : 0;
}

// ---------------------------------------------------------------- model

octet_status octet_model_load(const char* path, octet_model** model) noexcept {
  return load(__func__, &octet::Model::load, path, model);
}

octet_status octet_model_import_onnx(const char* onnx_path, octet_model** model) noexcept {
  return load(__func__, &octet::Model::import_onnx, onnx_path, model);
}

void octet_model_destroy(octet_model* model) noexcept {
  delete model;
}

octet_status octet_model_input_count(const octet_model* model, size_t* count) noexcept {
  return side_count(__func__, model, inputs_of, count);
}
octet_status octet_model_input_name(const octet_model* model, size_t index,
                                    const char** name) noexcept {
  return side_name(__func__, model, inputs_of, index, name);
}
octet_status octet_model_input_dtype(const octet_model* model, size_t index,
                                     octet_dtype* dtype) noexcept {
  return side_dtype(__func__, model, inputs_of, index, dtype);
}
octet_status octet_model_input_shape(const octet_model* model, size_t index, const int64_t** dims,
                                     size_t* rank) noexcept {
  return side_shape(__func__, model, inputs_of, index, dims, rank);
}
octet_status octet_model_output_count(const octet_model* model, size_t* count) noexcept {
  return side_count(__func__, model, outputs_of, count);
}
octet_status octet_model_output_name(const octet_model* model, size_t index,
                                     const char** name) noexcept {
  return side_name(__func__, model, outputs_of, index, name);
}
octet_status octet_model_output_dtype(const octet_model* model, size_t index,
                                      octet_dtype* dtype) noexcept {
  return side_dtype(__func__, model, outputs_of, index, dtype);
}
octet_status octet_model_output_shape(const octet_model* model, size_t index, const int64_t** dims,
                                      size_t* rank) noexcept {
  return side_shape(__func__, model, outputs_of, index, dims, rank);
}

// ---------------------------------------------------------------- session options

octet_status octet_session_options_create(octet_session_options** options) noexcept {
  if (options) *options = nullptr;
  return guarded(__func__, [&](const Call& call) {
    // The NULL check first: in `need(...) = new ...` the allocation comes
    // first (C++17 sequences an assignment's right side before its left)
    // and a NULL `options` would leak it.
    octet_session_options*& dst = call.need(options, "options");
    dst = new octet_session_options();
  });
}

void octet_session_options_destroy(octet_session_options* options) noexcept {
  delete options;
}

octet_status octet_session_options_set_threads(octet_session_options* options,
                                               int threads) noexcept {
  return guarded(__func__, [&](const Call& call) {
    octet_session_options& o = call.need(options, "options");
    if (threads < 0)
      call.invalid("threads must be >= 0 (0 means every core), got " + std::to_string(threads));
    o.options.threads = threads;
  });
}

octet_status octet_session_options_set_precision(octet_session_options* options,
                                                 octet_precision precision) noexcept {
  return guarded(__func__, [&](const Call& call) {
    octet_session_options& o = call.need(options, "options");
    const int raw = raw_value(precision);
    if (raw != OCTET_PRECISION_FP32 && raw != OCTET_PRECISION_INT8) {
      call.invalid("precision " + std::to_string(raw) +
                   " is neither OCTET_PRECISION_FP32 nor OCTET_PRECISION_INT8");
    }
    o.options.precision =
        precision == OCTET_PRECISION_FP32 ? octet::Precision::fp32 : octet::Precision::int8;
  });
}

octet_status octet_session_options_add_fp32_layer(octet_session_options* options,
                                                  const char* layer) noexcept {
  return guarded(__func__, [&](const Call& call) {
    octet_session_options& o = call.need(options, "options");
    o.options.fp32_layers.push_back(call.text(layer, "layer"));
  });
}

octet_status octet_session_options_add_fp32_op(octet_session_options* options,
                                               const char* op_type) noexcept {
  return guarded(__func__, [&](const Call& call) {
    octet_session_options& o = call.need(options, "options");
    o.options.fp32_ops.push_back(call.text(op_type, "op_type"));
  });
}

octet_status octet_session_options_set_memory_limit(octet_session_options* options,
                                                    size_t bytes) noexcept {
  return guarded(__func__, [&](const Call& call) {
    call.need(options, "options").options.memory_limit = bytes;
  });
}

octet_status octet_session_options_set_kept_plans(octet_session_options* options,
                                                  int plans) noexcept {
  return guarded(__func__, [&](const Call& call) {
    octet_session_options& o = call.need(options, "options");
    if (plans < 0)
      call.invalid("kept_plans must be >= 0 (0 keeps none), got " + std::to_string(plans));
    o.options.kept_plans = plans;
  });
}

octet_status octet_session_options_set_winograd(octet_session_options* options,
                                                int enabled) noexcept {
  return guarded(__func__, [&](const Call& call) {
    call.need(options, "options").options.winograd = enabled != 0;
  });
}

// ---------------------------------------------------------------- session

octet_status octet_session_create(const octet_model* model, const octet_session_options* options,
                                  octet_session** session) noexcept {
  if (session) *session = nullptr;
  return guarded(__func__, [&](const Call& call) {
    octet_session*& dst = call.need(session, "session");
    const octet_model& m = call.need(model, "model");
    dst = new octet_session(m.model, options ? options->options : octet::SessionOptions());
  });
}

void octet_session_destroy(octet_session* session) noexcept {
  delete session;
}

octet_status octet_session_set_input(octet_session* session, const char* name, octet_dtype dtype,
                                     const int64_t* dims, size_t rank, const void* data,
                                     size_t nbytes) noexcept {
  return guarded(__func__, [&](const Call& call) {
    octet_session& s = call.need(session, "session");
    const std::string input = call.text(name, "name");
    if (rank > 0) call.check(dims, "dims");
    if (nbytes > 0) call.check(data, "data");
    const std::vector<octet::TensorInfo>& infos = s.session.model().inputs();
    size_t index = 0;
    while (index < infos.size() && infos[index].name != input) ++index;
    if (index == infos.size()) {
      std::string names;
      for (const octet::TensorInfo& t : infos) names += (names.empty() ? "" : ", ") + t.name;
      call.invalid("the model has no input '" + input + "' (inputs: " + names + ")");
    }
    if (!valid_dtype(dtype)) {
      call.invalid("input '" + input + "': dtype " + std::to_string(raw_value(dtype)) +
                   " is not an octet_dtype");
    }
    const DataType type = static_cast<DataType>(dtype);
    if (type != infos[index].dtype) {
      call.invalid("input '" + input + "' must be " + octet::to_string(infos[index].dtype) +
                   ", got " + octet::to_string(type));
    }
    // The element count, refusing what would overflow size_t on the way.
    const octet::Shape shape(dims, dims + rank);
    size_t expected = octet::size_of(type);
    for (int64_t d : shape) {
      if (d < 0)
        call.invalid("input '" + input + "': negative dimension in " + octet::to_string(shape));
      if (d > 0 && expected > std::numeric_limits<size_t>::max() / static_cast<uint64_t>(d)) {
        call.invalid("input '" + input + "': " + octet::to_string(shape) + " is too large");
      }
      expected *= static_cast<size_t>(d);
    }
    if (nbytes != expected) {
      call.invalid("input '" + input + "': " + octet::to_string(shape) + " " +
                   octet::to_string(type) + " is " + std::to_string(expected) + " bytes, got " +
                   std::to_string(nbytes));
    }
    octet::Tensor& staged = s.inputs[index];
    if (staged.empty() || staged.shape() != shape) staged = octet::Tensor(type, shape);
    if (nbytes > 0) std::memcpy(staged.raw(), data, nbytes);
    s.input_set[index] = true;
  });
}

octet_status octet_session_run(octet_session* session) noexcept {
  return guarded(__func__, [&](const Call& call) {
    octet_session& s = call.need(session, "session");
    for (size_t i = 0; i < s.inputs.size(); ++i) {
      if (!s.input_set[i]) {
        call.invalid("input '" + s.session.model().inputs()[i].name +
                     "' was not set (octet_session_set_input)");
      }
    }
    s.has_outputs = false;
    s.session.run(s.inputs);
    s.has_outputs = true;
  });
}

octet_status octet_session_output_dtype(const octet_session* session, const char* name,
                                        octet_dtype* dtype) noexcept {
  return guarded(__func__, [&](const Call& call) {
    octet_dtype& dst = call.need(dtype, "dtype");
    dst = static_cast<octet_dtype>(output_of(call, session, name).dtype());
  });
}

octet_status octet_session_output_shape(const octet_session* session, const char* name,
                                        const int64_t** dims, size_t* rank) noexcept {
  return guarded(__func__, [&](const Call& call) {
    const int64_t*& dst_dims = call.need(dims, "dims");
    size_t& dst_rank = call.need(rank, "rank");
    const octet::Tensor& t = output_of(call, session, name);
    dst_dims = t.shape().data();
    dst_rank = t.rank();
  });
}

octet_status octet_session_output_data(const octet_session* session, const char* name,
                                       const void** data, size_t* nbytes) noexcept {
  return guarded(__func__, [&](const Call& call) {
    const void*& dst_data = call.need(data, "data");
    size_t& dst_nbytes = call.need(nbytes, "nbytes");
    const octet::Tensor& t = output_of(call, session, name);
    dst_data = t.raw();
    dst_nbytes = t.nbytes();
  });
}

octet_status octet_session_copy_output(const octet_session* session, const char* name, void* dst,
                                       size_t dst_nbytes) noexcept {
  return guarded(__func__, [&](const Call& call) {
    const octet::Tensor& t = output_of(call, session, name);
    if (dst_nbytes != t.nbytes()) {
      call.invalid("output '" + std::string(name) + "' is " + describe(t) + ", dst_nbytes is " +
                   std::to_string(dst_nbytes));
    }
    if (dst_nbytes == 0) return;
    call.check(dst, "dst");
    std::memcpy(dst, t.raw(), dst_nbytes);
  });
}

}  // extern "C"
