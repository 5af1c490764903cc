#include "arrays.hpp"

namespace octet::python {

py::dtype numpy_dtype(DataType dtype) {
  switch (dtype) {
    case DataType::f32:
      return py::dtype::of<float>();
    case DataType::s8:
      return py::dtype::of<int8_t>();
    case DataType::u8:
      return py::dtype::of<uint8_t>();
    case DataType::s32:
      return py::dtype::of<int32_t>();
    case DataType::s64:
      return py::dtype::of<int64_t>();
    case DataType::boolean:
      return py::dtype::of<bool>();
  }
  throw Error(ErrorCode::internal, "numpy_dtype: unknown DataType");
}

Tensor to_tensor(const TensorInfo& info, py::handle value, std::vector<py::object>& keep) {
  py::module_ np = py::module_::import("numpy");
  const py::dtype want = numpy_dtype(info.dtype);
  py::array src = np.attr("asarray")(value);
  // same_kind: f64 -> f32 or s32 -> s64 are what users mean; a float fed to
  // token ids would be truncated silently, so that is refused.
  if (!np.attr("can_cast")(src.dtype(), want, py::arg("casting") = "same_kind").cast<bool>()) {
    throw Error(ErrorCode::invalid_argument,
                "input '" + info.name + "': the model takes " + to_string(info.dtype) +
                    ", got a NumPy array of " + py::str(src.dtype()).cast<std::string>() +
                    " (which does not cast to it without losing its kind)");
  }
  // ascontiguousarray returns `src` itself when it already fits.
  py::array dst = np.attr("ascontiguousarray")(src, want);
  Shape shape(static_cast<size_t>(dst.ndim()));
  for (size_t i = 0; i < shape.size(); ++i) shape[i] = static_cast<int64_t>(dst.shape(i));
  keep.push_back(dst);
  // The session only reads its inputs (Session::run copies them into its own
  // buffers), so a read-only array is fine too.
  return Tensor::wrap(info.dtype, shape, const_cast<void*>(dst.data()));
}

std::vector<Tensor> to_tensors(const std::vector<TensorInfo>& inputs, py::handle feeds,
                               std::vector<py::object>& keep) {
  if (!py::isinstance<py::dict>(feeds)) {
    throw Error(ErrorCode::invalid_argument, "inputs must be a dict {input name: array}, got " +
                                                 py::str(py::type::of(feeds)).cast<std::string>());
  }
  const py::dict dict = py::reinterpret_borrow<py::dict>(feeds);
  std::string names;
  for (const TensorInfo& info : inputs) names += (names.empty() ? "" : ", ") + info.name;
  for (auto item : dict) {
    const std::string name = py::str(item.first).cast<std::string>();
    bool known = false;
    for (const TensorInfo& info : inputs) known = known || info.name == name;
    if (!known) {
      throw Error(ErrorCode::invalid_argument,
                  "unknown input '" + name + "' (the model's inputs: " + names + ")");
    }
  }
  std::vector<Tensor> tensors;
  for (const TensorInfo& info : inputs) {
    if (!dict.contains(info.name)) {
      throw Error(ErrorCode::invalid_argument,
                  "missing input '" + info.name + "' (the model's inputs: " + names + ")");
    }
    tensors.push_back(to_tensor(info, dict[py::str(info.name)], keep));
  }
  return tensors;
}

namespace {
std::vector<py::ssize_t> dims(const Tensor& tensor) {
  return std::vector<py::ssize_t>(tensor.shape().begin(), tensor.shape().end());
}
}  // namespace

py::array to_array(const Tensor& tensor) {
  // Without a base, pybind11 allocates the array and copies the data into it.
  return py::array(numpy_dtype(tensor.dtype()), dims(tensor), tensor.raw());
}

py::array to_view(const Tensor& tensor, py::handle base, bool writable) {
  py::array view(numpy_dtype(tensor.dtype()), dims(tensor), tensor.raw(), base);
  if (!writable) view.attr("setflags")(py::arg("write") = false);
  return view;
}

}  // namespace octet::python
