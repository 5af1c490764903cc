# cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -DOCTET_CLI=... -P check.cmake
# Installs octet into WORK_DIR/prefix (LICENSE included), builds README.md's embedding example
# against it with find_package(octet), and runs it on an `octet zoo` ResNet-50.
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
# The license travels with the package.
file(READ ${SOURCE_DIR}/LICENSE license)
file(READ ${WORK_DIR}/prefix/share/doc/octet/LICENSE installed_license)
if(NOT installed_license STREQUAL license)
  message(FATAL_ERROR "the installed share/doc/octet/LICENSE is not the source tree's LICENSE")
endif()

file(READ ${SOURCE_DIR}/README.md readme)
string(REGEX MATCH "```cpp\n([^`]*)```" block "${readme}")
if(NOT CMAKE_MATCH_1)
  message(FATAL_ERROR "README.md has no ```cpp block")
endif()
file(WRITE ${WORK_DIR}/app/main.cpp "${CMAKE_MATCH_1}")
file(COPY ${SOURCE_DIR}/tests/consumer/CMakeLists.txt DESTINATION ${WORK_DIR}/app)

run(${CMAKE_COMMAND} -S ${WORK_DIR}/app -B ${WORK_DIR}/app-build
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/app-build)
run(${OCTET_CLI} zoo resnet50 -o ${WORK_DIR}/run/resnet50)
execute_process(COMMAND ${WORK_DIR}/app-build/app WORKING_DIRECTORY ${WORK_DIR}/run
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "logits\\[0\\] = -?[0-9]")
  message(FATAL_ERROR "the README example failed (${rc}):\n${out}\n${err}")
endif()
message(STATUS "README example ran: ${out}")
