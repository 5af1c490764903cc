# Every dependency comes from a Debian 12 package; this file only finds them.
#   libdnnl-dev (oneDNN 2.6)   nlohmann-json3-dev   libstb-dev   doctest-dev
#   libonnx-dev libprotobuf-dev   libcli11-dev   zlib1g-dev
#   pybind11-dev python3-dev (the Python binding: third_party/pybind11.cmake)
find_package(dnnl 2.6 CONFIG REQUIRED)
find_package(nlohmann_json 3 CONFIG REQUIRED)
find_package(ONNX CONFIG REQUIRED)
find_package(Protobuf REQUIRED)
find_package(OpenMP REQUIRED)
find_package(ZLIB REQUIRED)
find_package(PkgConfig REQUIRED)

# Debian's libstb-dev ships the headers under /usr/include/stb and the
# implementations compiled into libstb.
pkg_check_modules(STB REQUIRED IMPORTED_TARGET stb)
add_library(octet_stb INTERFACE)
target_link_libraries(octet_stb INTERFACE PkgConfig::STB)
add_library(octet::stb ALIAS octet_stb)

if(OCTET_BUILD_APPS)
  find_package(CLI11 CONFIG REQUIRED)
endif()
if(OCTET_BUILD_TESTS)
  find_package(doctest CONFIG REQUIRED)
endif()
if(OCTET_PYTHON)
  include(${CMAKE_CURRENT_LIST_DIR}/pybind11.cmake)
endif()
