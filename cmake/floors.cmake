# Include roots: what makes the floors physical. A target does not get the
# source tree as an include directory; it gets a folder under the build tree
# holding symbolic links to only the source folders it may include, made at
# configure time. `#include "runtime/model/model.hpp"` from ops/ then fails
# with "No such file or directory": ops' root has no runtime/model.
#
#   octet_include_root(<target> <PUBLIC|PRIVATE|INTERFACE> <folder>...)
#
# A floor's root is PUBLIC when the floors above may include its headers, and
# PRIVATE when its headers are its own (tests/floors checks both ways).
function(octet_include_root target scope)
  set(root ${PROJECT_BINARY_DIR}/include-roots/${target})
  file(REMOVE_RECURSE ${root})
  foreach(folder IN LISTS ARGN)
    if(NOT IS_DIRECTORY ${PROJECT_SOURCE_DIR}/${folder})
      message(FATAL_ERROR "octet_include_root(${target}): no folder ${folder}")
    endif()
    cmake_path(GET folder PARENT_PATH parent)
    file(MAKE_DIRECTORY ${root}/${parent})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${folder} ${root}/${folder} SYMBOLIC)
  endforeach()
  target_include_directories(${target} ${scope} $<BUILD_INTERFACE:${root}>)
endfunction()
