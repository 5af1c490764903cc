// NumPy arrays <-> octet::Tensor for the Python module (apps/python).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "octet/octet.hpp"

namespace octet::python {

namespace py = pybind11;

py::dtype numpy_dtype(DataType dtype);

// One model input as a Tensor. A C-contiguous array of the input's dtype is
// wrapped as it is (no copy); anything else NumPy can cast "same_kind" to it
// (float64 to f32, a list, a strided view) is converted into a new array
// first. `keep` holds the array the tensor points into until the caller is
// done with it. Throws Error(invalid_argument) naming the input otherwise.
Tensor to_tensor(const TensorInfo& info, py::handle value, std::vector<py::object>& keep);

// `feeds` ({name: array}) in Model::inputs() order; a missing or unknown
// name is an Error naming it.
std::vector<Tensor> to_tensors(const std::vector<TensorInfo>& inputs, py::handle feeds,
                               std::vector<py::object>& keep);

// A NumPy array of `tensor`: a copy, or (base given) a view of its memory
// that keeps `base` alive, read-only unless `writable`.
py::array to_array(const Tensor& tensor);
py::array to_view(const Tensor& tensor, py::handle base, bool writable);

}  // namespace octet::python
