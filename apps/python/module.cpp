// The `octet` Python module (octet._octet, re-exported by octet/__init__.py):
// Model, Session, calibration and quantize() over the public C++ API
// (octet/octet.hpp) and nothing else. NumPy arrays in and out (arrays.hpp
// says when they are copied); every octet::Error becomes octet.Error with the
// same message and its code.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "arrays.hpp"
#include "octet/octet.hpp"

namespace octet::python {
namespace {

// octet.Error, created at import (a RuntimeError, as octet::Error is a
// std::runtime_error).
py::handle error_type;

// e.code: the C++ enumerator's name, for code to compare against.
const char* code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_argument:
      return "invalid_argument";
    case ErrorCode::io:
      return "io";
    case ErrorCode::invalid_model:
      return "invalid_model";
    case ErrorCode::unsupported:
      return "unsupported";
    case ErrorCode::backend:
      return "backend";
    case ErrorCode::out_of_memory:
      return "out_of_memory";
    case ErrorCode::internal:
      return "internal";
  }
  return "internal";
}

void translate_error(std::exception_ptr p) {
  try {
    if (p) std::rethrow_exception(p);
  } catch (const Error& e) {
    py::object exc = py::reinterpret_borrow<py::object>(error_type)(e.what());
    exc.attr("code") = code_name(e.code());
    PyErr_SetObject(error_type.ptr(), exc.ptr());
  }
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// As `octet` commands take models: a .onnx file is imported, anything else
// is NAME(.octet.json|.octet.bin).
Model load_model(const std::string& path) {
  return ends_with(path, ".onnx") ? Model::import_onnx(path) : Model::load(path);
}

py::list describe(const std::vector<TensorInfo>& values) {
  py::list out;
  for (const TensorInfo& v : values) {
    py::list shape;
    for (const Dim& d : v.dims) {
      if (d.size >= 0) {
        shape.append(d.size);
      } else {
        shape.append(d.symbol);
      }
    }
    out.append(py::dict(py::arg("name") = v.name, py::arg("dtype") = to_string(v.dtype),
                        py::arg("shape") = shape));
  }
  return out;
}

// A Session and the arrays it lent out (run(copy=False), input()): views of
// its buffers, which prepare() frees and reallocates. While one is alive,
// whatever would prepare again is refused, so that no array ever points
// into freed memory.
struct PySession {
  Session session;
  std::vector<py::weakref> views;

  py::array lend(py::array view) {
    views.emplace_back(view);
    return view;
  }
  // Throws when a lent array is still alive; forgets the dead ones.
  void check_no_views(const char* what) {
    std::vector<py::weakref> alive;
    for (py::weakref& w : views) {
      if (!w().is_none()) alive.push_back(w);
    }
    views.swap(alive);
    if (!views.empty()) {
      throw Error(ErrorCode::invalid_argument,
                  std::string(what) + " would reallocate the session's buffers, and " +
                      std::to_string(views.size()) +
                      " array(s) from run(copy=False) or input() still view them: delete them "
                      "first (or use copy=True)");
    }
  }
};

PySession make_session(const Model& model, int threads, const std::vector<std::string>& fp32_layers,
                       const std::vector<std::string>& fp32_ops, const std::string& precision,
                       size_t memory_limit) {
  SessionOptions options;
  options.threads = threads;
  options.fp32_layers = fp32_layers;
  options.fp32_ops = fp32_ops;
  options.memory_limit = memory_limit;
  if (precision == "int8") {
    options.precision = Precision::int8;
  } else if (precision == "fp32") {
    options.precision = Precision::fp32;
  } else {
    throw Error(ErrorCode::invalid_argument,
                "precision must be \"int8\" or \"fp32\", got \"" + precision + "\"");
  }
  return PySession{Session(model, options), {}};
}

py::dict outputs_of(PySession& s, py::handle self, bool copy) {
  py::dict out;
  const std::vector<TensorInfo>& infos = s.session.model().outputs();
  const std::vector<Tensor>& tensors = s.session.outputs();
  for (size_t i = 0; i < infos.size(); ++i) {
    out[py::str(infos[i].name)] =
        copy ? to_array(tensors[i]) : s.lend(to_view(tensors[i], self, /*writable=*/false));
  }
  return out;
}

py::dict run(py::object self, py::object feeds, bool copy) {
  PySession& s = self.cast<PySession&>();
  Session& session = s.session;
  if (feeds.is_none()) {
    if (!session.prepared()) {
      throw Error(ErrorCode::invalid_argument,
                  "run() without inputs runs on the session's input buffers: prepare() first, "
                  "fill session.input(name), then run()");
    }
    py::gil_scoped_release unlocked;
    session.run();
  } else {
    std::vector<py::object> keep;  // the arrays the tensors point into
    const std::vector<Tensor> inputs = to_tensors(session.model().inputs(), feeds, keep);
    // Session::run(inputs) prepares again when the shapes changed.
    bool same = session.prepared();
    for (size_t i = 0; same && i < inputs.size(); ++i) {
      same = session.input(i).shape() == inputs[i].shape();
    }
    if (!same) s.check_no_views("run() with new input shapes");
    py::gil_scoped_release unlocked;
    session.run(inputs);
  }
  return outputs_of(s, self, copy);
}

py::list layers_of(const PySession& s) {
  const Session& session = s.session;
  py::list out;
  for (const LayerInfo& l : session.layers()) {
    out.append(py::dict(py::arg("name") = l.name, py::arg("op") = l.op,
                        py::arg("precision") = l.precision, py::arg("kernel") = l.kernel,
                        py::arg("reason") = l.reason, py::arg("shape") = l.shape,
                        py::arg("has_int8_kernel") = l.has_int8_kernel));
  }
  return out;
}

// One pass of calibration over `data` (an iterable of {name: array}).
void feed_pass(Calibrator& calibrator, const Model& model, py::handle data) {
  for (py::handle batch : data) {
    std::vector<py::object> keep;
    const std::vector<Tensor> inputs = to_tensors(model.inputs(), batch, keep);
    py::gil_scoped_release unlocked;
    calibrator.add(inputs);
  }
}

CalibrationTable calibrate(const Model& model, py::object data,
                           const std::vector<std::string>& methods, const std::string& method,
                           int bins, int threads, const std::string& data_source) {
  CalibrationOptions options;
  options.methods = methods;
  options.method = method;
  options.bins = bins;
  options.threads = threads;
  Calibrator calibrator(model, options);  // checks the options before the data is read
  // Every method but max reads the samples twice (auto three times). An
  // iterator (a generator) can be read once: its batches are kept in a list.
  const bool passes = calibrator.needs_histograms() || calibrator.needs_scoring();
  const bool one_shot = py::iter(data).is(data);
  if (passes && one_shot) data = py::list(data);
  feed_pass(calibrator, model, data);
  if (calibrator.samples() == 0) {
    throw Error(ErrorCode::invalid_argument, "calibrate: the data gave no samples");
  }
  if (calibrator.needs_histograms()) {
    calibrator.start_histograms();
    feed_pass(calibrator, model, data);
  }
  if (calibrator.needs_scoring()) {
    calibrator.start_scoring();
    feed_pass(calibrator, model, data);
  }
  CalibrationTable table = calibrator.table();
  table.data_source =
      data_source.empty()
          ? "Python: " + py::str(py::type::of(data).attr("__name__")).cast<std::string>()
          : data_source;
  return table;
}

py::list tensors_of(const CalibrationTable& table) {
  py::list out;
  for (const TensorCalibration& t : table.tensors) {
    out.append(py::dict(py::arg("name") = t.name, py::arg("dtype") = to_string(t.dtype),
                        py::arg("min") = t.min, py::arg("max") = t.max, py::arg("amax") = t.amax,
                        py::arg("method") = t.method,
                        py::arg("amax_by_method") = t.amax_by_method));
  }
  return out;
}

}  // namespace
}  // namespace octet::python

PYBIND11_MODULE(_octet, m) {
  using namespace octet;
  using namespace octet::python;
  namespace py = pybind11;
  m.doc() = "octet, an int8 inference runtime for x86 CPUs (see README.md)";
  // numpy is needed by every array conversion: fail at import, not at the first run.
  py::module_::import("numpy");

  error_type = PyErr_NewExceptionWithDoc(
      "octet.Error", "An octet failure: str(e) is octet's message, e.code its kind.",
      PyExc_RuntimeError, nullptr);
  m.attr("Error") = error_type;
  py::register_exception_translator(translate_error);

  py::class_<Model>(m, "Model", "An immutable loaded model; copies share its data.")
      .def_static("load", &load_model, py::arg("path"),
                  "NAME (NAME.octet.json + NAME.octet.bin) or a .onnx file (imported)")
      .def("save", &Model::save, py::arg("path"), "Writes PATH.octet.json + PATH.octet.bin")
      .def_property_readonly("inputs", [](const Model& m) { return describe(m.inputs()); })
      .def_property_readonly("outputs", [](const Model& m) { return describe(m.outputs()); })
      .def_property_readonly("node_count", &Model::node_count)
      .def_property_readonly("activation_range_count", &Model::activation_range_count)
      .def_property_readonly("content_hash", &Model::content_hash)
      .def("with_fp32_layers", &Model::with_fp32_layers, py::arg("layers"),
           py::arg("ops") = std::vector<std::string>{})
      .def("with_outputs", &Model::with_outputs, py::arg("values"))
      .def("with_int8_weights", &Model::with_int8_weights,
           "The int8 layers' weights stored as s8 (about 4x smaller), computing the same bits")
      .def("__repr__", [](const Model& m) {
        return "<octet.Model " + std::to_string(m.node_count()) + " nodes, " +
               std::to_string(m.activation_range_count()) + " activation ranges>";
      });

  py::class_<PySession>(m, "Session", "Runs a Model; used by one thread at a time.")
      .def(py::init(&make_session), py::arg("model"), py::arg("threads") = 0,
           py::arg("fp32_layers") = std::vector<std::string>{},
           py::arg("fp32_ops") = std::vector<std::string>{}, py::arg("precision") = "int8",
           py::arg("memory_limit") = 0)
      .def("run", &run, py::arg("inputs") = py::none(), py::arg("copy") = true,
           "run({name: array}) -> {output name: array}. copy=False returns read-only views "
           "of the session's outputs, overwritten by the next run")
      .def(
          "prepare",
          [](PySession& s, const std::map<std::string, Shape>& shapes) {
            s.check_no_views("prepare()");
            s.session.prepare(shapes);
          },
          py::arg("shapes") = std::map<std::string, Shape>{})
      .def(
          "input",
          [](py::object self, const std::string& name) {
            PySession& s = self.cast<PySession&>();
            return s.lend(to_view(s.session.input(name), self, /*writable=*/true));
          },
          py::arg("name"),
          "The session's own input buffer as a writable array (no copy): fill it, then run()")
      .def_property_readonly("model", [](const PySession& s) { return Model(s.session.model()); })
      .def_property_readonly("threads",
                             [](const PySession& s) { return s.session.options().threads; })
      .def("layers", &layers_of);

  py::class_<CalibrationTable>(m, "CalibrationTable",
                               "Every activation's range (docs/calibration-table.md)")
      .def_static("load", &CalibrationTable::load, py::arg("path"))
      .def("save", &CalibrationTable::save, py::arg("path"))
      .def("to_json", &CalibrationTable::to_json)
      .def_readonly("model_hash", &CalibrationTable::model_hash)
      .def_readonly("methods", &CalibrationTable::methods)
      .def_readonly("method", &CalibrationTable::method)
      .def_readonly("samples", &CalibrationTable::samples)
      .def_readonly("score_by_method", &CalibrationTable::score_by_method)
      .def_readwrite("data_source", &CalibrationTable::data_source)
      .def_property_readonly("tensors", &tensors_of);

  m.def("calibrate", &calibrate, py::arg("model"), py::arg("data"),
        py::arg("methods") = std::vector<std::string>{"max"}, py::arg("method") = "",
        py::arg("bins") = 2048, py::arg("threads") = 0, py::arg("data_source") = "",
        "A CalibrationTable from an iterable of {input name: array} batches");
  m.def(
      "quantize",
      [](const Model& model, const CalibrationTable& table, const std::string& method) {
        return quantize(model, table, method);
      },
      py::arg("model"), py::arg("table"), py::arg("method") = "",
      "The model with the table's ranges: what `octet quantize` writes");
  m.def("version", &version);
  m.def("onednn_version", &onednn_version);
  m.def("cpu_isa", &cpu_isa);
  m.def("cpu_has_vnni", &cpu_has_vnni);
}
