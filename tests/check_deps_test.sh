#!/bin/sh
# tools/check_deps.py must fail, naming the package, when tools/setup.sh loses
# one that the build or the tests use: a copy of setup.sh without it, for a
# package the CMake configure finds (ocl-icd-opencl-dev, whose absence broke a
# fresh machine once), the oneDNN package itself, a Python module's package
# and a test tool.
#   check_deps_test.sh SOURCE_DIR BUILD_DIR WORK_DIR
set -u
src=$1 build=$2 work=$3
mkdir -p "$work"
for pkg in ocl-icd-opencl-dev libdnnl-dev python3-onnx chromium; do
  sed "s/ $pkg\b//g" "$src/tools/setup.sh" >"$work/setup.sh"
  if bash "$work/setup.sh" --list build demo test | grep -qx -- "$pkg"; then
    echo "FAIL: $pkg is still in $work/setup.sh"
    exit 1
  fi
  /usr/bin/python3 "$src/tools/check_deps.py" --build "$build" --setup "$work/setup.sh" \
    >"$work/$pkg.log" 2>&1
  status=$?
  if [ "$status" = 77 ]; then
    echo "SKIP: $pkg is not installed here, so check_deps.py cannot look at its files"
    exit 77
  elif [ "$status" = 0 ]; then
    echo "FAIL: check_deps.py passed with $pkg removed from setup.sh (log: $work/$pkg.log)"
    exit 1
  fi
  if ! tail -1 "$work/$pkg.log" | grep -q "FAILED: not installed by .*[ :,]$pkg\b"; then
    echo "FAIL: check_deps.py failed without naming $pkg:"
    cat "$work/$pkg.log"
    exit 1
  fi
  echo "without $pkg: $(tail -1 "$work/$pkg.log")"
done
