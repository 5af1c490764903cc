# cmake -DCXX=... -DSOURCE_DIR=... -DWORK_DIR=... -DINCLUDES_<floor>=dir|dir... -P check.cmake
#
# For each case, a one-line file including HEADER is compiled (syntax only)
# with the include directories of FLOOR's own sources: "compiles" must
# succeed, "refused" must fail because the header is not found (any other
# failure, e.g. a broken header, fails the test too). Then no C++ file may
# climb out of its folder with #include "../...", the one way around the roots.

# floor   header                                        expected
set(cases
  "ir       runtime/ir/graph.hpp                          compiles"
  "ir       ops/op.hpp                                    refused"
  "ir       loaders/formats/model_format.hpp              refused"
  "ops      ops/registry.hpp                              compiles"
  "ops      runtime/model/model.hpp                       refused"
  "ops      loaders/formats/model_format.hpp              refused"
  "formats  loaders/onnx/onnx_import.hpp                  compiles"
  "formats  loaders/formats/model_format.hpp              compiles"
  "formats  ops/registry.hpp                              refused"
  "formats  runtime/calibration/calibration_methods.hpp   refused"
  "formats  loaders/data/npy.hpp                          refused"
  "runtime  runtime/session/session_state.hpp             compiles"
  "runtime  loaders/onnx/onnx_import.hpp                  compiles"
  "runtime  loaders/data/npy.hpp                          refused"
  "c_api    octet/octet.hpp                               compiles"
  "c_api    octet/octet_c.h                               compiles"
  "c_api    runtime/ir/graph.hpp                          refused"
  "c_api    runtime/session/session_state.hpp             refused"
  "data     loaders/data/dataset.hpp                      compiles"
  "data     ops/op.hpp                                    refused"
  "data     loaders/formats/model_format.hpp              refused"
  "apps     loaders/data/tokenizer.hpp                    compiles"
  "apps     loaders/formats/model_format.hpp              compiles"
  "apps     runtime/model/model.hpp                       refused"
  "apps     ops/op.hpp                                    refused")

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(failures "")
set(checked 0)
set(n 0)
foreach(line IN LISTS cases)
  string(REGEX REPLACE " +" ";" fields "${line}")
  list(GET fields 0 floor)
  list(GET fields 1 header)
  list(GET fields 2 expected)
  math(EXPR n "${n} + 1")
  if(NOT DEFINED INCLUDES_${floor})
    continue()  # that floor's target is not built in this configuration
  endif()
  string(REPLACE "|" ";" dirs "${INCLUDES_${floor}}")
  set(flags)
  foreach(dir IN LISTS dirs)
    list(APPEND flags "-I${dir}")
  endforeach()
  set(probe ${WORK_DIR}/probe${n}.cpp)
  file(WRITE ${probe} "#include \"${header}\"\n")
  execute_process(COMMAND ${CXX} -std=c++17 -fsyntax-only ${flags} ${probe}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  math(EXPR checked "${checked} + 1")
  string(FIND "${err}" "${header}: No such file or directory" gcc_missing)
  string(FIND "${err}" "'${header}' file not found" clang_missing)
  if(expected STREQUAL "compiles" AND NOT rc EQUAL 0)
    string(APPEND failures "${floor} cannot include ${header}:\n${err}\n")
  elseif(expected STREQUAL "refused")
    if(rc EQUAL 0)
      string(APPEND failures "${floor} can include ${header}, a floor above it\n")
    elseif(gcc_missing EQUAL -1 AND clang_missing EQUAL -1)
      string(APPEND failures "${floor} including ${header} failed, but not as not found:\n${err}\n")
    endif()
  endif()
  message(STATUS "${floor}: ${header}: ${expected}")
endforeach()
if(checked EQUAL 0)
  message(FATAL_ERROR "no floor's include directories were given")
endif()

file(GLOB_RECURSE sources ${SOURCE_DIR}/runtime/*.[ch]pp ${SOURCE_DIR}/ops/*.[ch]pp
     ${SOURCE_DIR}/loaders/*.[ch]pp ${SOURCE_DIR}/apps/*.[ch]pp ${SOURCE_DIR}/tests/*.[ch]pp)
foreach(source IN LISTS sources)
  file(STRINGS ${source} climbing REGEX "^[ \t]*#[ \t]*include[ \t]*\"\\.\\./")
  if(climbing)
    string(APPEND failures "${source}: ${climbing}\n")
  endif()
endforeach()

if(failures)
  message(FATAL_ERROR "the floors do not hold:\n${failures}")
endif()
message(STATUS "${checked} includes checked; no relative include leaves its folder")
