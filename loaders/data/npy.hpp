// NumPy .npy files: the input/output format of the CLI and the test fixtures.
//
// Reads format versions 1.0, 2.0 and 3.0 holding C-order, little-endian arrays
// of f32 (<f4), s8 (|i1), u8 (|u1), s32 (<i4), s64 (<i8) or bool (|b1). Anything
// else (float64, float16, big-endian, structured, object, complex, Fortran
// order) is rejected with ErrorCode::unsupported rather than converted, so a
// caller never gets silently changed data. Malformed or truncated files are
// ErrorCode::invalid_model; every message starts with the file name.
#pragma once

#include <cstddef>
#include <string>

#include "octet/octet.hpp"

namespace octet {

// Reads a whole .npy file into a new (owning) tensor. Throws octet::Error.
Tensor read_npy(const std::string& path);
// The same checks, but the tensor is a read-only view of the file mapped into
// memory (kept mapped while any copy of the tensor lives), so a large sample
// file costs page cache, not the process's own memory. Never write through it.
Tensor map_npy(const std::string& path);

// Parses an in-memory .npy image; `name_for_errors` prefixes error messages.
// Safe on arbitrary bytes: the declared size is checked against `size` before
// anything is allocated.
Tensor parse_npy(const void* data, size_t size, const std::string& name_for_errors);

// Writes `t` as a version 1.0 file (2.0 if the header needs more than 64 KiB).
// Atomic: the data goes to a temporary file in the same directory, which is
// then renamed over `path`, so readers never see a partial file.
void write_npy(const std::string& path, const Tensor& t);

}  // namespace octet
