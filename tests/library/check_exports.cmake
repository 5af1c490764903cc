# cmake -DLIBRARY=liboctet.so -DHEADER=runtime/include/octet/octet.hpp
#       -DC_HEADER=runtime/include/octet/octet_c.h -P check_exports.cmake
#
# What an application that embeds octet gets: liboctet.so needs only oneDNN,
# protobuf/onnx and the C/C++ and OpenMP runtimes (no stb, no zlib: the data
# readers are not in it), exports no data-reader symbol (stb, zlib, tokenizer,
# Unicode tables, datasets, .npy, IDX, images), every octet symbol it
# exports is named in the public header, every C symbol octet_* it exports
# is a function of the C header, and each of those is exported.
cmake_policy(SET CMP0057 NEW)  # if(IN_LIST)
execute_process(COMMAND readelf -d ${LIBRARY} RESULT_VARIABLE rc OUTPUT_VARIABLE dynamic)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readelf -d ${LIBRARY} failed")
endif()
string(REGEX MATCHALL "Shared library: \\[[^]]+\\]" needed "${dynamic}")
# libOpenCL: Debian's dnnl-config.cmake links it (libdnnl.so.2 needs it
# itself); a sanitizer build's link keeps it as NEEDED, a Release link drops it.
set(allowed "^(libdnnl|libOpenCL|libonnx_proto|libprotobuf|libgomp|libstdc\\+\\+|libm|libgcc_s|libc|ld-linux-x86-64|libasan|libubsan|libtsan)\\.so")
set(failures "")
set(count 0)
foreach(entry IN LISTS needed)
  string(REGEX REPLACE "Shared library: \\[([^]]+)\\]" "\\1" lib "${entry}")
  math(EXPR count "${count} + 1")
  if(NOT lib MATCHES "${allowed}")
    string(APPEND failures "liboctet.so needs ${lib}\n")
  endif()
endforeach()
if(count EQUAL 0)
  message(FATAL_ERROR "no NEEDED entry found in ${LIBRARY}")
endif()

execute_process(COMMAND nm -D --defined-only -C ${LIBRARY} RESULT_VARIABLE rc OUTPUT_VARIABLE symbols)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nm -D ${LIBRARY} failed")
endif()
file(READ ${HEADER} header)
file(READ ${C_HEADER} c_header)
string(REGEX MATCHALL "OCTET_C_API[^;(]* (octet_[a-z0-9_]+)\\(" c_declared "${c_header}")
list(TRANSFORM c_declared REPLACE ".* (octet_[a-z0-9_]+)\\($" "\\1")
if(NOT c_declared)
  message(FATAL_ERROR "no OCTET_C_API function found in ${C_HEADER}")
endif()
set(c_exported "")
string(REPLACE "\n" ";" lines "${symbols}")
set(exported 0)
foreach(line IN LISTS lines)
  if(line STREQUAL "")
    continue()
  endif()
  math(EXPR exported "${exported} + 1")
  if(line MATCHES "stbi|inflate|deflate|crc32|gz(open|read)|char32_t|octet::(unicode|Tokenizer|WordPiece|Dataset|Image|Idx|Npy|read_npy|write_npy|read_idx|decode_image)")
    string(APPEND failures "a data reader's symbol is exported: ${line}\n")
  endif()
  # octet's own symbols (not the std templates over its types) must be
  # named in the public header: the identifier before the parameter list.
  string(REGEX REPLACE "^[0-9a-f]+ [A-Za-z] " "" name "${line}")
  # A std template instantiated over octet's types is not octet's own symbol,
  # though its demangled name may begin with an octet return type (an -O1
  # sanitizer build exports e.g. "octet::Tensor& std::vector<...>::emplace_back<...>(...)").
  string(REGEX REPLACE "\\(.*" "" qualified "${name}")
  if(qualified MATCHES " std::")
    continue()
  endif()
  if(name MATCHES "^octet_")
    list(APPEND c_exported "${name}")
    if(NOT name IN_LIST c_declared)
      string(APPEND failures "exported but not a function of the C header: ${line}\n")
    endif()
  endif()
  if(name MATCHES "^((typeinfo|typeinfo name|vtable) for )?octet::")
    string(REGEX REPLACE "\\(.*" "" name "${name}")
    string(REGEX REPLACE "\\[abi:cxx11\\]" "" name "${name}")
    string(REGEX REPLACE ".*::~?" "" name "${name}")
    string(REGEX MATCH "[^A-Za-z0-9_]${name}[^A-Za-z0-9_]" in_header "${header}")
    if(NOT in_header)
      string(APPEND failures "exported but not in the public header: ${line}\n")
    endif()
  endif()
endforeach()
foreach(function IN LISTS c_declared)
  if(NOT function IN_LIST c_exported)
    string(APPEND failures "declared in the C header but not exported: ${function}\n")
  endif()
endforeach()
if(failures)
  message(FATAL_ERROR "${LIBRARY}:\n${failures}")
endif()
list(LENGTH c_declared c_count)
message(STATUS "${LIBRARY}: ${count} needed libraries, ${exported} exported symbols, all allowed, "
               "the ${c_count} functions of the C API among them")
