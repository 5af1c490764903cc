# find_package(octet CONFIG) entry point. The shared library keeps oneDNN,
# protobuf and friends private, so consumers need nothing else.
include(${CMAKE_CURRENT_LIST_DIR}/octetTargets.cmake)
