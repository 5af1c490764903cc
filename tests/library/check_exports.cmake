# cmake -DLIBRARY=liboctet.so -DHEADER=runtime/include/octet/octet.hpp -P check_exports.cmake
#
# What an application that embeds octet gets: liboctet.so needs only oneDNN,
# protobuf/onnx and the C/C++ and OpenMP runtimes (no stb, no zlib: the data
# readers are not in it), exports no data-reader symbol (stb, zlib, tokenizer,
# Unicode tables, datasets, .npy, IDX, images), and every octet symbol it
# exports is named in the public header.
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
if(failures)
  message(FATAL_ERROR "${LIBRARY}:\n${failures}")
endif()
message(STATUS "${LIBRARY}: ${count} needed libraries, ${exported} exported symbols, all allowed")
