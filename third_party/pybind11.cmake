# The Python binding's dependencies (apps/python), Debian's pybind11-dev and
# python3-dev. Debian's /usr/bin/python3 is the interpreter the binding is
# built for and the tests run: a python3 earlier on PATH (pyenv, a venv) has
# another ABI or lacks Debian's numpy and pytest.
if(NOT DEFINED Python3_EXECUTABLE AND EXISTS /usr/bin/python3)
  set(Python3_EXECUTABLE /usr/bin/python3 CACHE FILEPATH "The Python the binding is built for")
endif()
find_package(Python3 COMPONENTS Interpreter Development.Module)
if(NOT Python3_Development.Module_FOUND)
  message(FATAL_ERROR "OCTET_PYTHON needs Python's headers (Debian: python3-dev, tools/setup.sh "
    "build), or configure with -DOCTET_PYTHON=OFF")
endif()
# pybind11 finds Python through FindPython3 (the interpreter chosen above).
set(PYBIND11_FINDPYTHON ON)
find_package(pybind11 2.6 CONFIG QUIET)
if(NOT pybind11_FOUND)
  message(FATAL_ERROR "OCTET_PYTHON needs pybind11 (Debian: pybind11-dev, tools/setup.sh build), "
    "or configure with -DOCTET_PYTHON=OFF")
endif()
