"""octet, an int8 inference runtime for x86 CPUs, from Python.

    model = octet.Model.load("resnet20")            # NAME.octet.{json,bin} or a .onnx file
    session = octet.Session(model, threads=2, fp32_layers=["conv1"])
    outputs = session.run({"input": images})        # {output name: ndarray}

Inputs: a C-contiguous array of the input's dtype (float32 for f32, int64
for s64 ...) is passed to octet as it is; any other array (float64, a strided
view, a list) is converted by NumPy first (a copy). Session.run() copies the
inputs into the session's own buffers, as the C++ Session::run(inputs) does;
session.input(name) is that buffer itself, to fill in place and then run().
Outputs are copies, or with run(..., copy=False) read-only views of the
session's buffers, overwritten by its next run. While a view (or an
input(name) array) is alive, what would reallocate the buffers (prepare(), a
run with new input shapes) raises octet.Error instead. A Session is used by
one thread at a time.

Calibration: octet.calibrate(model, batches, methods=[...]) reads any
iterable of {input name: array} batches (twice for methods other than max: a
one-shot iterator such as a generator is kept in a list for that); then
octet.quantize(model, table) gives the int8 model, as `octet quantize` does.

Failures raise octet.Error: str(e) is octet's message, e.code its kind
("invalid_argument", "io", "invalid_model", "unsupported", ...: the names
of the C++ octet::ErrorCode enumerators).
"""
from ._octet import (CalibrationTable, Error, Model, Session, calibrate, cpu_has_vnni, cpu_isa,
                     onednn_version, quantize, version)

__version__ = version()
__all__ = ["CalibrationTable", "Error", "Model", "Session", "calibrate", "cpu_has_vnni",
           "cpu_isa", "onednn_version", "quantize", "version"]
