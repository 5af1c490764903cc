// octet: an int8 inference runtime for x86 CPUs.
//
// The one header an embedding application includes. Standard library only.
//
//   octet::Model model = octet::Model::load("resnet50");      // resnet50.octet.{json,bin}
//   octet::Session session(model, {/*threads=*/2});
//   session.prepare({{"input", {1, 3, 224, 224}}});
//   octet::Tensor& x = session.input("input");               // fill x.data<float>()
//   session.run();
//   const octet::Tensor& y = session.output("logits");
//
// A Model is immutable and may be shared by any number of threads; a Session is
// used by one thread at a time. Tensors use NCHW / ONNX dimension order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

// The shared library exports only what this header declares.
#define OCTET_API __attribute__((visibility("default")))

namespace octet {

// ---------------------------------------------------------------- errors

enum class ErrorCode {
  invalid_argument,  // a caller passed something unusable (wrong name, shape, dtype)
  io,                // a file is missing, unreadable or could not be written
  invalid_model,     // a model, table or data file is malformed
  unsupported,       // valid input that octet does not implement (op, dtype, attribute value)
  backend,           // oneDNN refused or failed
  out_of_memory,
  internal,
};

OCTET_API const char* to_string(ErrorCode code);

// Every failure of the public API is an octet::Error whose message names the
// problem and where it is (file, node, tensor).
class OCTET_API Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message);
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// ---------------------------------------------------------------- tensors

// `boolean` (one byte, 0 or 1) exists for ONNX masks (Equal, Where).
enum class DataType : uint8_t { f32, s8, u8, s32, s64, boolean };

OCTET_API const char* to_string(DataType dtype);
OCTET_API DataType data_type_from_string(const std::string& name);  // "f32", "s8", ... throws Error
OCTET_API size_t size_of(DataType dtype);

using Shape = std::vector<int64_t>;

OCTET_API int64_t numel(const Shape& shape);
OCTET_API std::string to_string(const Shape& shape);  // "1x3x224x224"

// A dense, row-major tensor. Copies share storage (like a shared_ptr); use
// clone() for a deep copy. Storage allocated by octet is 64-byte aligned and
// zero-initialized.
class OCTET_API Tensor {
 public:
  Tensor() = default;
  Tensor(DataType dtype, Shape shape);  // allocates
  // A view of memory owned by the caller, who keeps it alive.
  static Tensor wrap(DataType dtype, Shape shape, void* data);
  // A view that keeps `owner` alive as long as any copy of the tensor lives.
  static Tensor wrap(DataType dtype, Shape shape, std::shared_ptr<const void> owner,
                     const void* data);

  DataType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t dim(size_t i) const { return shape_.at(i); }
  size_t rank() const { return shape_.size(); }
  int64_t numel() const { return octet::numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * size_of(dtype_); }
  bool empty() const { return data_ == nullptr; }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  // Typed access; throws Error if T does not match dtype().
  template <class T>
  T* data();
  template <class T>
  const T* data() const;

  Tensor clone() const;

 private:
  [[noreturn]] static void throw_dtype_mismatch(DataType have, DataType want);

  DataType dtype_ = DataType::f32;
  Shape shape_;
  std::shared_ptr<const void> owner_;
  void* data_ = nullptr;
};

template <class T>
struct DataTypeOf;
template <>
struct DataTypeOf<float> {
  static constexpr DataType value = DataType::f32;
};
template <>
struct DataTypeOf<int8_t> {
  static constexpr DataType value = DataType::s8;
};
template <>
struct DataTypeOf<uint8_t> {
  static constexpr DataType value = DataType::u8;
};
template <>
struct DataTypeOf<int32_t> {
  static constexpr DataType value = DataType::s32;
};
template <>
struct DataTypeOf<int64_t> {
  static constexpr DataType value = DataType::s64;
};
template <>
struct DataTypeOf<bool> {
  static constexpr DataType value = DataType::boolean;
};

template <class T>
T* Tensor::data() {
  if (dtype_ != DataTypeOf<T>::value) throw_dtype_mismatch(dtype_, DataTypeOf<T>::value);
  return static_cast<T*>(data_);
}
template <class T>
const T* Tensor::data() const {
  if (dtype_ != DataTypeOf<T>::value) throw_dtype_mismatch(dtype_, DataTypeOf<T>::value);
  return static_cast<const T*>(data_);
}

// ---------------------------------------------------------------- model

struct Dim {
  int64_t size = -1;   // >= 0 when fixed
  std::string symbol;  // e.g. "batch" when size < 0
};

struct TensorInfo {
  std::string name;
  DataType dtype = DataType::f32;
  std::vector<Dim> dims;
};

// What Model, Session and Calibrator hold: the library's own, defined inside it.
struct ModelData;
struct SessionState;
struct CalibratorState;

// A range written into a model's quantization section (see quantize()).
struct ActivationRange {
  std::string name;               // the value
  DataType dtype = DataType::s8;  // s8, or u8 for a value proven non-negative
  float amax = 0;                 // scale = amax / 127 (s8) or amax / 255 (u8)
  std::string source;             // "calibration:entropy", "qdq" (from a QAT model), ...
};

struct ImportOptions {
  // Fold each BatchNormalization that follows a Conv into the Conv's weights
  // and bias, as every import does by default. false keeps them as separate
  // (fp32) ops: the model computes the same, only slower, and its Conv weights
  // are those before folding, for `octet study`'s weight-quantization rows.
  bool fold_batchnorm = true;
};

// How Model::with_fake_quantized_weights() shares scales.
enum class WeightGranularity {
  per_channel,  // one scale per output channel, as octet's int8 kernels quantize
  per_tensor,   // one scale for the whole weight tensor (studies only)
};

// An immutable, loaded model: graph, weights (memory-mapped) and quantization
// parameters. Cheap to copy; copies share the same data.
class OCTET_API Model {
 public:
  // Loads `path.octet.json` + `path.octet.bin` (`path` may also name either file).
  static Model load(const std::string& path);
  // Imports an ONNX file (opsets 7-17 of the default domain), folding constants
  // and fusing patterns. Ops whose meaning changed between opsets 7 and 17
  // keep the meaning of the model's opset (Softmax before 13, Slice before
  // 10), or the import throws ErrorCode::unsupported naming the node and the
  // opset (BatchNormalization spatial = 0, Dropout in training mode, per-axis
  // QDQ before 13). A model of any other opset is ErrorCode::unsupported too.
  static Model import_onnx(const std::string& onnx_path);
  static Model import_onnx(const std::string& onnx_path, const ImportOptions& options);
  // Writes NAME.octet.json + NAME.octet.bin atomically.
  void save(const std::string& path) const;

  const std::vector<TensorInfo>& inputs() const;
  const std::vector<TensorInfo>& outputs() const;
  size_t node_count() const;
  // Free-form metadata (JSON text of the model's "metadata" object).
  const std::string& metadata_json() const;
  // What the importer did (fusions, folded constants), one line each.
  const std::vector<std::string>& import_log() const;
  // How many activations have a quantization range (0: the model runs fp32).
  size_t activation_range_count() const;
  // Those ranges, in the order of the model's values.
  std::vector<ActivationRange> activation_ranges() const;
  // A hash of what the model computes: graph, attributes and weights, not its
  // quantization section or metadata. 16 hex digits. Calibration tables carry
  // it so that a table is never applied to a model it was not made for.
  std::string content_hash() const;
  // The same model with the named values also as graph outputs (after the
  // existing ones, in this order), e.g. to compare intermediate activations
  // of an int8 session with fp32. A value produced in int8 is output
  // dequantized, exactly as its fp32 readers would see it, and the kernels
  // around it stay as they are (fusion included). Unknown names are an Error.
  Model with_outputs(const std::vector<std::string>& value_names) const;
  // The same model with `layers` (node names or glob patterns) and `ops` (op
  // types) added to the fp32 lists of its quantization section: sessions run
  // them in fp32 as if SessionOptions named them, and save() keeps them.
  Model with_fp32_layers(const std::vector<std::string>& layers,
                         const std::vector<std::string>& ops = {}) const;
  // Weight-only quantization, to measure what int8 weights alone cost (the
  // paper's weight experiments, `octet study`): the same model with the
  // constant weights of every Conv, Gemm and MatMul that octet's int8 kernels
  // quantize replaced by their int8 values dequantized back to f32 (symmetric,
  // zero point 0, scale = max|w| / 127 per output channel or per tensor,
  // rounded half to even; a QAT model's own weight ranges are kept per
  // channel). Run it with Precision::fp32: its activations stay f32.
  Model with_fake_quantized_weights(WeightGranularity granularity) const;
  // The same model with the constant weights of its int8 layers stored as
  // s8 integers and per-channel ranges, about 4x smaller in memory and on
  // disk (save(); format version 2): q = round_half_even(w / (amax_c / 127))
  // in [-127, 127], amax_c = max|w_c| or the range a QAT model learned.
  // Sessions compute the same bits as with the f32 weights, on every CPU. A
  // weight is stored when every node reading it is a Conv, MatMul or Gemm
  // whose int8 kernel quantizes it (along the same axis), has a range on its
  // input, and is not in the model's fp32 lists; the others stay f32. A layer
  // that still runs fp32 (SessionOptions, Precision::fp32, a kernel without
  // an int8 path for the case) multiplies with q x amax_c / 127.
  // A model without activation ranges is Error(invalid_argument).
  Model with_int8_weights() const;

 private:
  friend struct ModelAccess;  // the library's own way to the graph
  explicit Model(std::shared_ptr<const ModelData> data);

  std::shared_ptr<const ModelData> data_;
};

// ---------------------------------------------------------------- session

enum class Precision { fp32, int8 };

struct SessionOptions {
  int threads = 0;                        // 0: every core
  Precision precision = Precision::int8;  // int8 where the model has scales, else fp32
  // Layers forced to fp32: node names or glob patterns ("conv1", "*.attention.*").
  std::vector<std::string> fp32_layers;
  // Op types forced to fp32 ("Softmax").
  std::vector<std::string> fp32_ops;
  bool profile = false;  // time each layer during run(); see Session::profile()
  // Upper bound on the memory prepare() may allocate for activations,
  // scratch space and constants computed for the prepared shapes (0: no
  // limit). Past it, prepare() throws ErrorCode::out_of_memory.
  size_t memory_limit = 0;
  // Plans for other input shapes kept besides the current one, most recently
  // used first: prepare() (or run(inputs)) with shapes prepared before swaps
  // the plan in instead of building it again, so a session serving a few
  // batch sizes or sequence lengths prepares each once. Each kept plan holds
  // its activation memory; with a memory_limit, kept plans are dropped
  // (least recently used first) to stay within it. 0: keep none.
  int kept_plans = 3;
  // fp32 3x3 stride-1 convolutions may take oneDNN's Winograd where the CPU
  // has it (oneDNN 2.6: AVX512 only): ResNet-50 fp32 1.16x faster on a
  // Zen 4, for more memory (peak RSS 220 -> 258 MiB at batch 1) and a
  // longer prepare. false: direct convolutions only (bench/README.md).
  bool winograd = true;
};

// One executed step of a prepared session, for inspection and profiles.
struct LayerInfo {
  std::string name;              // node name (reorders: "reorder:<value>")
  std::string op;                // op type
  std::string precision;         // "fp32", "int8", "s64", ...
  std::string kernel;            // implementation, e.g. "brgconv:avx512_core_vnni" or "ref"
  std::string reason;            // why the layer runs in this precision
  std::string shape;             // first output's shape
  std::string output;            // first output's value name (see Model::with_outputs)
  bool has_int8_kernel = false;  // the op computes in int8 where the plan allows (Conv, MatMul)
};

struct LayerTime {
  std::string name;
  double total_ms = 0;
  int64_t count = 0;
};

// Runs a Model for concrete input shapes. prepare() does all the expensive
// work (shape inference, primitive creation, weight reorders, memory plan);
// run() allocates nothing and creates nothing.
class OCTET_API Session {
 public:
  explicit Session(Model model, SessionOptions options = {});
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  // Concrete shapes for inputs with symbolic dims. Inputs not listed must have
  // fixed shapes in the model. Preparing again (new batch or sequence length)
  // reuses weights; shapes among the last SessionOptions::kept_plans
  // prepared ones reuse their whole plan (prepared_shapes()).
  void prepare(const std::map<std::string, Shape>& input_shapes = {});
  bool prepared() const;

  // Session-owned input buffers (valid until the next prepare()): fill, then run().
  Tensor& input(const std::string& name);
  Tensor& input(size_t index);
  void run();
  // Copies `inputs` (in Model::inputs() order) into the input buffers, preparing
  // first if their shapes differ from the prepared ones, then runs.
  const std::vector<Tensor>& run(const std::vector<Tensor>& inputs);

  // Session-owned outputs of the last run(), valid until the next run() or prepare().
  const Tensor& output(const std::string& name) const;
  const std::vector<Tensor>& outputs() const;

  const Model& model() const;
  const SessionOptions& options() const;
  std::vector<LayerInfo> layers() const;
  double prepare_ms() const;  // wall time of the last prepare()
  // The input shapes of the current plan, then of the kept ones (most recently
  // used first), as given to prepare().
  std::vector<std::map<std::string, Shape>> prepared_shapes() const;
  std::vector<LayerTime> profile() const;  // with options.profile
  void reset_profile();

 private:
  std::unique_ptr<SessionState> state_;
};

// ---------------------------------------------------------------- calibration

// The measured range of one activation: a row of a calibration table
// (docs/calibration-table.md).
struct TensorCalibration {
  std::string name;                             // the value
  DataType dtype = DataType::s8;                // u8 where the graph proves it non-negative
  float min = 0, max = 0;                       // over every sample
  std::map<std::string, float> amax_by_method;  // "max", "entropy", "percentile=99.99", ...
  std::string method;                           // the one chosen
  float amax = 0;                               // the range quantize() uses
  std::vector<int64_t> histogram;               // counts of |x| over [0, max(|min|, |max|)]
};

// Every activation's range by every method computed, plus where they came
// from. Readable and editable JSON; quantize() writes its choices into a model.
// (OCTET_API: its load/parse/save/to_json leave liboctet.so.)
struct OCTET_API CalibrationTable {
  std::string model_hash;  // Model::content_hash() of the calibrated model
  std::string octet_version;
  std::string date;                  // UTC, ISO 8601 (from SOURCE_DATE_EPOCH when set)
  std::vector<std::string> methods;  // computed, canonical names
  std::string method;                // the default choice
  int bins = 0;
  int64_t samples = 0;
  std::string data_fingerprint;  // order-independent hash of the samples' bytes
  std::string data_source;       // where the samples came from, as the caller described it
  std::vector<TensorCalibration> tensors;
  // When `method` was chosen automatically (CalibrationOptions::method
  // "auto"): each method's score, the SQNR in dB of its int8 model's outputs
  // against fp32's (per output, signal and noise summed over the scoring
  // samples; the worst output counts), on `scored_samples` samples. `method`
  // is the best. Empty otherwise.
  std::map<std::string, double> score_by_method;
  int64_t scored_samples = 0;

  // Throws octet::Error naming the file and field for anything malformed.
  static CalibrationTable load(const std::string& path);
  static CalibrationTable parse(const std::string& json_text, const std::string& name_for_errors);
  std::string to_json() const;
  void save(const std::string& path) const;  // atomic: temporary file + rename
};

struct CalibrationOptions {
  // "max", "entropy", "mse", "percentile=P" or "all" (max, entropy, mse and
  // the 99.9, 99.99, 99.999, 99.9999 percentiles).
  std::vector<std::string> methods = {"max"};
  // The table's default choice; empty: the first of `methods` (entropy for
  // "all"); "auto": the method whose int8 model's outputs are closest to
  // fp32's on the samples of a third pass (see start_scoring()).
  std::string method;
  int bins = 2048;  // histogram bins per tensor
  int threads = 0;  // 0: every core
};

// Measures activation ranges on representative inputs in two passes over the
// same data: pass 1 records each activation's min and max, pass 2 fills a
// histogram of |x| over that fixed range. Samples run one at a time, so the
// table does not depend on the batch size or on the order of the samples.
// Memory is O(activations x bins), whatever the number of samples.
//
//   octet::Calibrator calibrator(model, {{"all"}});
//   for (auto& batch : data) calibrator.add(batch);
//   calibrator.start_histograms();
//   for (auto& batch : data) calibrator.add(batch);
//   octet::CalibrationTable table = calibrator.table();
//
// With method "auto", a third pass scores every method without labels:
//   calibrator.start_scoring();
//   for (auto& batch : data) calibrator.add(batch);  // runs fp32 and each int8 model
//   octet::CalibrationTable table = calibrator.table();  // the best method chosen
class OCTET_API Calibrator {
 public:
  explicit Calibrator(Model model, CalibrationOptions options = {});
  ~Calibrator();
  Calibrator(Calibrator&&) noexcept;
  Calibrator& operator=(Calibrator&&) noexcept;

  // Runs one batch (inputs in Model::inputs() order; a leading symbolic batch
  // dimension is split into samples) in fp32 and feeds the current pass.
  void add(const std::vector<Tensor>& inputs);
  // Ends pass 1. Pass 2 must then see the same samples (any order, any batching).
  void start_histograms();
  // Whether the methods need pass 2 (every method but max does).
  bool needs_histograms() const;
  // Ends the measuring passes (after start_histograms() and pass 2, or after
  // pass 1 for max alone) and builds one int8 model per method; add() then
  // runs each sample through the fp32 model and every int8 one and sums
  // their output noise. Any samples will do: octet calibrate feeds the
  // calibration samples again. Only with method "auto".
  void start_scoring();
  bool needs_scoring() const;  // method "auto"
  int pass() const;            // 1, 2 or 3 (scoring)
  int64_t samples() const;     // samples fed to the current pass

  CalibrationTable table() const;
  // quantize(model, table()).
  Model quantized_model() const;

 private:
  std::unique_ptr<CalibratorState> state_;
};

// The model with the table's ranges written into its quantization section:
// each tensor's own choice, or `method` for every tensor when given. Ranges a
// QAT model brought (QDQ) are kept. Throws Error(invalid_argument) if the
// table was made for a different model, with both hashes in the message.
OCTET_API Model quantize(const Model& model, const CalibrationTable& table,
                         const std::string& method = "");

// Versions: octet's own and the oneDNN library it runs on.
OCTET_API std::string version();
OCTET_API std::string onednn_version();
// The instruction set oneDNN dispatches to on this CPU ("avx512_core_vnni",
// "avx2", ...), and whether it has an int8 dot-product instruction (VNNI).
OCTET_API std::string cpu_isa();
OCTET_API bool cpu_has_vnni();

// The ONNX op types octet runs (its op registry), sorted.
OCTET_API std::vector<std::string> supported_op_types();

}  // namespace octet
