# cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -P pkgconfig_check.cmake
# Installs octet into WORK_DIR/prefix and builds README.md's C example
# against it through pkg-config, as README says: its ```c block, compiled
# with README's own command line `cc app.c $(pkg-config --cflags --libs
# octet) -o app` (PKG_CONFIG_PATH at the prefix), and as strict C99. Runs
# it on the committed Fashion-MNIST ResNet-20, then on a missing model.
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR}/app)
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
file(GLOB pc_files ${WORK_DIR}/prefix/lib*/pkgconfig/octet.pc ${WORK_DIR}/prefix/lib/*/pkgconfig/octet.pc)
if(NOT pc_files)
  message(FATAL_ERROR "no octet.pc installed under ${WORK_DIR}/prefix/lib*/pkgconfig")
endif()
list(GET pc_files 0 pc_file)
get_filename_component(pc_dir ${pc_file} DIRECTORY)
set(ENV{PKG_CONFIG_PATH} ${pc_dir})

# pkg-config finds this prefix's octet, at the project's version.
run(pkg-config --modversion octet)
string(STRIP "${last_output}" version)
file(STRINGS ${SOURCE_DIR}/CMakeLists.txt project_line REGEX "^project\\(octet VERSION")
string(REGEX MATCH "VERSION ([0-9.]+)" _ "${project_line}")
if(NOT version STREQUAL CMAKE_MATCH_1)
  message(FATAL_ERROR "pkg-config --modversion octet is '${version}', the project is ${CMAKE_MATCH_1}")
endif()
run(pkg-config --cflags --libs octet)
string(STRIP "${last_output}" flags)
foreach(part "-I${WORK_DIR}/prefix/" "-L${WORK_DIR}/prefix/" " -loctet")
  string(FIND "${flags}" "${part}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "pkg-config --cflags --libs octet gave '${flags}', without '${part}'")
  endif()
endforeach()

file(READ ${SOURCE_DIR}/README.md readme)
string(REGEX MATCH "```c\n([^`]*)```" block "${readme}")
if(NOT CMAKE_MATCH_1)
  message(FATAL_ERROR "README.md has no ```c block")
endif()
file(WRITE ${WORK_DIR}/app/app.c "${CMAKE_MATCH_1}")
set(command "cc app.c $(pkg-config --cflags --libs octet) -o app")
string(FIND "${readme}" "${command}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "README.md no longer shows the command this test runs: ${command}")
endif()
execute_process(COMMAND sh -c "${command}" WORKING_DIRECTORY ${WORK_DIR}/app
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "README's command failed (${rc}): ${command}\n${out}\n${err}")
endif()
# A C embedder's strictest build: C99, every warning an error.
execute_process(
  COMMAND sh -c "cc -std=c99 -Wall -Wextra -Werror -pedantic app.c $(pkg-config --cflags --libs octet) -o app-c99"
  WORKING_DIRECTORY ${WORK_DIR}/app RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "README's C example is not clean C99 (${rc}):\n${out}\n${err}")
endif()

set(ENV{LD_LIBRARY_PATH} ${pc_dir}/../)
execute_process(COMMAND ${WORK_DIR}/app/app ${SOURCE_DIR}/apps/models/fashion-resnet20
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "octet ${version}: logits\\[0\\] = -?[0-9.]+ of 10 values")
  message(FATAL_ERROR "the README C example failed (${rc}):\n${out}\n${err}")
endif()
message(STATUS "README C example ran: ${out}")
# A failure reaches the caller as a status and a message naming the file.
execute_process(COMMAND ${WORK_DIR}/app/app-c99 ${WORK_DIR}/absent
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 1 OR NOT err MATCHES "octet: .*absent\\.octet\\.json")
  message(FATAL_ERROR "the README C example on a missing model: exit ${rc}, stderr:\n${err}")
endif()
message(STATUS "and on a missing model: ${err}")
