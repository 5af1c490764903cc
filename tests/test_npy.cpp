// loaders/npy: round trips, interoperability with numpy, and every rejection.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <string>

#include "loaders/data/npy.hpp"
#include "tests/skip.hpp"
#include "tests/temp_dir.hpp"

namespace fs = std::filesystem;
using octet::DataType;
using octet::ErrorCode;
using octet::Tensor;
using octet::test::TempDir;

namespace {

// A .npy image with the given header dict (no padding) and data bytes.
std::string npy(const std::string& dict, const std::string& data = {}, int major = 1) {
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  const size_t len = dict.size() + 1;
  for (int i = 0; i < (major == 1 ? 2 : 4); ++i) out += static_cast<char>((len >> (8 * i)) & 0xff);
  return out + dict + "\n" + data;
}

std::string f32_header(const std::string& shape) {
  return "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
}

Tensor parse(const std::string& bytes) {
  return octet::parse_npy(bytes.data(), bytes.size(), "t.npy");
}

// Parses `bytes`, expecting an Error with `code` whose message holds every needle.
void check_rejected(const std::string& bytes, ErrorCode code,
                    std::initializer_list<const char*> needles) {
  try {
    parse(bytes);
    FAIL("accepted: " << bytes.substr(0, 120));
  } catch (const octet::Error& e) {
    const std::string msg = e.what();
    CHECK_MESSAGE(e.code() == code, msg);
    CHECK_MESSAGE(msg.rfind("t.npy: ", 0) == 0, msg);
    for (const char* needle : needles) CHECK_MESSAGE(msg.find(needle) != std::string::npos, msg);
  }
}

Tensor iota(DataType dtype, octet::Shape shape) {
  Tensor t(dtype, std::move(shape));
  auto* p = static_cast<unsigned char*>(t.raw());
  for (size_t i = 0; i < t.nbytes(); ++i) p[i] = static_cast<unsigned char>(i * 7 + 1);
  if (dtype == DataType::boolean) {
    for (size_t i = 0; i < t.nbytes(); ++i) p[i] = i % 3 == 0;
  }
  return t;
}

void check_same(const Tensor& a, const Tensor& b) {
  REQUIRE(a.dtype() == b.dtype());
  REQUIRE(a.shape() == b.shape());
  CHECK(std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

bool have_numpy() {
  return std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

}  // namespace

TEST_CASE("npy: every dtype and rank round-trips through write_npy/read_npy") {
  TempDir dir;
  for (DataType dtype : {DataType::f32, DataType::s8, DataType::u8, DataType::s32, DataType::s64,
                         DataType::boolean}) {
    for (const octet::Shape& shape :
         {octet::Shape{}, octet::Shape{5}, octet::Shape{2, 3}, octet::Shape{0},
          octet::Shape{2, 0, 3}, octet::Shape{1, 2, 3, 4}}) {
      CAPTURE(octet::to_string(dtype));
      CAPTURE(octet::to_string(shape));
      const Tensor t = iota(dtype, shape);
      const std::string path = dir.file("a.npy");
      octet::write_npy(path, t);
      check_same(octet::read_npy(path), t);
    }
  }
  // Only the final file is left: the temporary was renamed over it.
  CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 1);
}

TEST_CASE("npy: the written header is numpy's, padded to 64 bytes") {
  TempDir dir;
  octet::write_npy(dir.file("a.npy"), iota(DataType::f32, {2, 3}));
  const std::string bytes = slurp(dir.file("a.npy"));
  REQUIRE(bytes.size() == 128 + 24);
  CHECK(bytes.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  CHECK(static_cast<unsigned char>(bytes[8]) + 256 * static_cast<unsigned char>(bytes[9]) == 118);
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  CHECK(bytes.substr(10, dict.size()) == dict);
  CHECK(bytes[127] == '\n');

  octet::write_npy(dir.file("b.npy"), iota(DataType::s64, {7}));
  CHECK(slurp(dir.file("b.npy")).find("'shape': (7,), }") != std::string::npos);
  octet::write_npy(dir.file("c.npy"), iota(DataType::boolean, {}));
  CHECK(slurp(dir.file("c.npy")).find("{'descr': '|b1', 'fortran_order': False, 'shape': (), }") !=
        std::string::npos);
}

TEST_CASE("npy: headers are parsed as Python literals") {
  const std::string data(24, '\0');
  for (const char* dict : {
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
           "{'shape': (2, 3), 'descr': '<f4', 'fortran_order': False}",
           "{\"fortran_order\":False,\"shape\":(2,3,),\"descr\":\"<f4\"}",
           "  {\t'descr' :'<f4' ,\n 'fortran_order' : False , 'shape' : ( 2 , 3 ) }   ",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (+2, 3), }",
       }) {
    CAPTURE(dict);
    const Tensor t = parse(npy(dict, data));
    CHECK(t.dtype() == DataType::f32);
    CHECK(t.shape() == octet::Shape{2, 3});
  }
  CHECK(parse(npy(f32_header("()"), std::string(4, '\0'))).shape().empty());
  CHECK(parse(npy(f32_header("(5,)"), std::string(20, '\0'))).shape() == octet::Shape{5});
  CHECK(parse(npy(f32_header("(2, 0, -0)"))).shape() == octet::Shape{2, 0, 0});
  // Versions 2.0 and 3.0 differ only in the 4-byte header length.
  CHECK(parse(npy(f32_header("(5,)"), std::string(20, '\0'), 2)).numel() == 5);
  CHECK(parse(npy(f32_header("(5,)"), std::string(20, '\0'), 3)).numel() == 5);
  // One-byte types have no byte order, whatever character numpy's caller used.
  CHECK(parse(npy("{'descr': '<i1', 'fortran_order': False, 'shape': (1,)}", "x")).dtype() ==
        DataType::s8);
  CHECK(parse(npy("{'descr': '=u1', 'fortran_order': False, 'shape': (1,)}", "x")).dtype() ==
        DataType::u8);
}

TEST_CASE("npy: bool bytes other than 0/1 read as true") {
  const Tensor t = parse(
      npy("{'descr': '|b1', 'fortran_order': False, 'shape': (3,)}", std::string("\0\2\1", 3)));
  const auto* b = static_cast<const unsigned char*>(t.raw());
  CHECK(b[0] == 0);
  CHECK(b[1] == 1);
  CHECK(b[2] == 1);
}

TEST_CASE("npy: unsupported dtypes and layouts name the file and the dtype") {
  const auto with = [](const std::string& descr, const std::string& rest = "False") {
    return npy("{'descr': '" + descr + "', 'fortran_order': " + rest + ", 'shape': (1,)}",
               std::string(16, '\0'));
  };
  check_rejected(with("<f8"), ErrorCode::unsupported, {"'<f8'", "astype"});
  check_rejected(with("<f2"), ErrorCode::unsupported, {"'<f2'"});
  check_rejected(with(">f4"), ErrorCode::unsupported, {"'>f4'", "big-endian"});
  check_rejected(with(">i8"), ErrorCode::unsupported, {"'>i8'", "big-endian"});
  check_rejected(with("|O"), ErrorCode::unsupported, {"'|O'"});
  check_rejected(with("<c8"), ErrorCode::unsupported, {"'<c8'"});
  check_rejected(with("<U3"), ErrorCode::unsupported, {"'<U3'"});
  check_rejected(with("<f4", "True"), ErrorCode::unsupported, {"Fortran"});
  check_rejected(npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}"),
                 ErrorCode::unsupported, {"structured"});
  check_rejected(npy(f32_header("(1,)"), "", 4), ErrorCode::unsupported, {"version 4.0"});
  check_rejected(npy(f32_header("(1,)") + std::string(70000, ' '), std::string(4, '\0'), 2),
                 ErrorCode::unsupported, {"header of 70058 bytes"});
}

TEST_CASE("npy: malformed files are rejected") {
  const ErrorCode bad = ErrorCode::invalid_model;
  check_rejected("", bad, {"not a .npy file"});
  check_rejected("\x93NUMPX\x01\x00\x00\x00", bad, {"not a .npy file"});
  check_rejected(std::string("\x93NUMPY\x01\x00\x05", 9), bad, {"truncated .npy header"});
  check_rejected(std::string("\x93NUMPY\x01\x00\xff\x00{}", 12), bad, {"declares 255 bytes"});
  check_rejected(std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff{}", 14), bad, {"declares"});
  for (const char* dict : {
           "",
           "{",
           "}",
           "{'descr': '<f4'",
           "{'descr' '<f4'}",
           "{'descr': '<f4',, }",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x",
           "{1: 2}",
           "{'descr': '<f4\\x', 'fortran_order': False, 'shape': (1,)}",
           "{'descr': '<f4', 'fortran_order': Nope, 'shape': (1,)}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (1.5,)}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (0x10,)}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': "
           "((((((((((((((((((((1,),),),),),),),),),),),),),),),),),),),)}",
       }) {
    CAPTURE(dict);
    check_rejected(npy(dict), bad, {"malformed .npy header"});
  }
  check_rejected(npy("{'descr': '<f4', 'shape': (1,)}"), bad, {"no 'fortran_order'"});
  check_rejected(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), 'x': 1}"), bad,
                 {"unexpected key 'x'"});
  check_rejected(npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}"), bad,
                 {"duplicate key 'descr'"});
  check_rejected(npy("{'descr': 4, 'fortran_order': False, 'shape': ()}"), bad, {"'descr'"});
  check_rejected(npy("{'descr': '<f4', 'fortran_order': 0, 'shape': ()}"), bad,
                 {"'fortran_order'"});
  // "(5)" is the integer 5 in Python, not a tuple.
  check_rejected(npy(f32_header("(5)")), bad, {"not a tuple"});
  check_rejected(npy(f32_header("[5]")), bad, {"not a tuple"});
  check_rejected(npy(f32_header("('5',)")), bad, {"non-integer"});
  check_rejected(npy(f32_header("(2, -3)")), bad, {"negative dimension", "-3"});
  check_rejected(npy(f32_header("(99999999999999999999,)")), bad, {"too large"});
  check_rejected(npy(f32_header("(4294967296, 4294967296)")), bad, {"too large"});
  // The product must be bounded even when a zero makes the element count 0.
  check_rejected(npy(f32_header("(0, 4294967296, 4294967296)")), bad, {"too large"});
  check_rejected(npy(f32_header("(4611686018427387904,)")), bad, {"too large"});
}

TEST_CASE("npy: data size must match the shape") {
  const std::string header = f32_header("(2, 3)");
  check_rejected(npy(header, std::string(20, '\0')), ErrorCode::invalid_model,
                 {"truncated data", "needs 24", "has 20"});
  check_rejected(npy(header, std::string(28, '\0')), ErrorCode::invalid_model,
                 {"trailing data", "needs 24", "has 28"});
  // A huge declared size fails on the size check, before any allocation.
  check_rejected(npy(f32_header("(1000000000000,)"), "abc"), ErrorCode::invalid_model,
                 {"needs 4000000000000", "has 3"});
}

TEST_CASE("npy: file errors") {
  TempDir dir;
  const auto code_of = [](const std::string& path) {
    try {
      octet::read_npy(path);
    } catch (const octet::Error& e) {
      CHECK_MESSAGE(std::string(e.what()).find(path) != std::string::npos, e.what());
      return e.code();
    }
    FAIL("read " << path);
    return ErrorCode::internal;
  };
  CHECK(code_of(dir.file("missing.npy")) == ErrorCode::io);
  CHECK(code_of(dir.path()) == ErrorCode::io);
  std::ofstream(dir.file("empty.npy")).close();
  CHECK(code_of(dir.file("empty.npy")) == ErrorCode::invalid_model);

  try {
    octet::write_npy(dir.file("no/such/dir/a.npy"), iota(DataType::f32, {2}));
    FAIL("wrote into a missing directory");
  } catch (const octet::Error& e) {
    CHECK(e.code() == ErrorCode::io);
    CHECK(std::string(e.what()).find("no/such/dir/a.npy") != std::string::npos);
  }
  CHECK_THROWS_AS(octet::write_npy(dir.file("b.npy"), Tensor()), octet::Error);
  // An existing file is replaced whole.
  octet::write_npy(dir.file("c.npy"), iota(DataType::s32, {100}));
  octet::write_npy(dir.file("c.npy"), iota(DataType::u8, {3}));
  check_same(octet::read_npy(dir.file("c.npy")), iota(DataType::u8, {3}));
  CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 2);
}

TEST_CASE("npy: files written by numpy, and numpy reading ours") {
  if (!have_numpy()) OCTET_SKIP("/usr/bin/python3 with numpy is not available");
  TempDir dir;
  // Every value is i*7+1 truncated to the type, so C++ can recompute it.
  const std::string script = R"PY(
import sys, numpy as np
d = sys.argv[1]
def v(dt, shape):
    n = int(np.prod(shape))
    return ((np.arange(n, dtype=np.int64) * 7 + 1) % 251).astype(dt).reshape(shape)
for dt in ['float32', 'int8', 'uint8', 'int32', 'int64']:
    np.save(f'{d}/{dt}.npy', v(dt, (2, 3)))
np.save(f'{d}/bool.npy', np.array([True, False, True]))
np.save(f'{d}/scalar.npy', np.float32(2.5))
np.save(f'{d}/empty.npy', np.zeros((0, 4), np.int32))
with open(f'{d}/v2.npy', 'wb') as f: np.lib.format.write_array(f, v('float32', (5,)), version=(2, 0))
with open(f'{d}/v3.npy', 'wb') as f: np.lib.format.write_array(f, v('float32', (5,)), version=(3, 0))
np.save(f'{d}/f64.npy', v('float64', (2,)))
np.save(f'{d}/f16.npy', v('float16', (2,)))
np.save(f'{d}/big.npy', v('>f4', (2,)))
np.save(f'{d}/fortran.npy', np.asfortranarray(v('float32', (2, 3))))
np.save(f'{d}/object.npy', np.array([1, 'a'], dtype=object), allow_pickle=True)
np.save(f'{d}/complex.npy', np.zeros(2, np.complex64))
np.save(f'{d}/record.npy', np.zeros(2, dtype=[('a', '<f4')]))
)PY";
  std::ofstream(dir.file("make.py")) << script;
  REQUIRE(std::system(("/usr/bin/python3 " + dir.file("make.py") + " " + dir.path()).c_str()) == 0);

  const Tensor f = octet::read_npy(dir.file("float32.npy"));
  REQUIRE(f.shape() == octet::Shape{2, 3});
  for (int i = 0; i < 6; ++i) CHECK(f.data<float>()[i] == static_cast<float>(i * 7 + 1));
  CHECK(octet::read_npy(dir.file("int8.npy")).data<int8_t>()[5] == 36);
  CHECK(octet::read_npy(dir.file("uint8.npy")).data<uint8_t>()[5] == 36);
  CHECK(octet::read_npy(dir.file("int32.npy")).data<int32_t>()[4] == 29);
  CHECK(octet::read_npy(dir.file("int64.npy")).data<int64_t>()[3] == 22);
  const Tensor b = octet::read_npy(dir.file("bool.npy"));
  CHECK((b.data<bool>()[0] && !b.data<bool>()[1] && b.data<bool>()[2]));
  const Tensor s = octet::read_npy(dir.file("scalar.npy"));
  CHECK((s.rank() == 0 && s.data<float>()[0] == 2.5f));
  CHECK(octet::read_npy(dir.file("empty.npy")).shape() == octet::Shape{0, 4});
  CHECK(octet::read_npy(dir.file("v2.npy")).data<float>()[4] == 29.f);
  CHECK(octet::read_npy(dir.file("v3.npy")).data<float>()[4] == 29.f);
  for (const char* name : {"f64", "f16", "big", "fortran", "object", "complex", "record"}) {
    CAPTURE(name);
    const std::string path = dir.file(std::string(name) + ".npy");
    try {
      octet::read_npy(path);
      FAIL("accepted");
    } catch (const octet::Error& e) {
      CHECK(e.code() == ErrorCode::unsupported);
      CHECK(std::string(e.what()).find(path) != std::string::npos);
    }
  }

  // And numpy reads what octet writes.
  octet::write_npy(dir.file("ours_f32.npy"), f);
  octet::write_npy(dir.file("ours_bool.npy"), b);
  octet::write_npy(dir.file("ours_scalar.npy"), s);
  const std::string check = R"PY(
import sys, numpy as np
d = sys.argv[1]
a = np.load(f'{d}/ours_f32.npy')
assert a.dtype == np.float32 and a.shape == (2, 3) and (a == np.load(f'{d}/float32.npy')).all()
b = np.load(f'{d}/ours_bool.npy')
assert b.dtype == np.bool_ and b.tolist() == [True, False, True]
s = np.load(f'{d}/ours_scalar.npy')
assert s.shape == () and s == 2.5
)PY";
  std::ofstream(dir.file("check.py")) << check;
  CHECK(std::system(("/usr/bin/python3 " + dir.file("check.py") + " " + dir.path()).c_str()) == 0);
}

namespace {
// The process's resident memory (VmRSS), in bytes.
size_t resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string key;
  size_t kb = 0;
  while (status >> key) {
    if (key == "VmRSS:") {
      status >> kb;
      return kb * 1024;
    }
    status.ignore(1 << 10, '\n');
  }
  return 0;
}
}  // namespace

TEST_CASE("npy: map_npy reads the file in place, read_npy copies it") {
  TempDir dir;
  const std::string path = dir.file("big.npy");
  constexpr int64_t rows = 4096, cols = 4096;  // 64 MiB of f32
  {
    Tensor t(DataType::f32, {rows, cols});
    for (int64_t r = 0; r < rows; ++r) t.data<float>()[r * cols + r] = static_cast<float>(r);
    octet::write_npy(path, t);
  }
  const size_t before = resident_bytes();
  const Tensor mapped = octet::map_npy(path);
  REQUIRE(mapped.shape() == octet::Shape{rows, cols});
  CHECK(mapped.data<float>()[77 * cols + 77] == 77.f);
  CHECK(mapped.data<float>()[77 * cols + 78] == 0.f);
  const Tensor view = mapped;  // a copy shares the mapping
  // One row touched: a few pages (and, under ASan, at most the shadow of the
  // mapping, 8 MiB), nowhere near the file's 64 MiB.
  const size_t mapped_growth = resident_bytes() - std::min(before, resident_bytes());
  CHECK_MESSAGE(mapped_growth < (16u << 20), mapped_growth);
  const Tensor copied = octet::read_npy(path);
  CHECK(std::memcmp(copied.raw(), view.raw(), copied.nbytes()) == 0);
  // The measurement would see a copy: read_npy's tensor is resident.
  CHECK(resident_bytes() - before > (48u << 20));
  // Errors are read_npy's.
  CHECK_THROWS_AS(octet::map_npy(dir.file("missing.npy")), octet::Error);
  std::ofstream(dir.file("bad.npy")) << "not numpy";
  CHECK_THROWS_AS(octet::map_npy(dir.file("bad.npy")), octet::Error);
}
