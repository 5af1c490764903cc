#!/bin/sh
# A CPU without VNNI (oneDNN capped to AVX2 here, whatever the machine has):
# octet warns exactly once per process, however many int8 sessions it
# prepares, and still runs int8; `octet bench --int8` on a model without
# activation ranges says that it calibrated them on the fly.
#
#     no_vnni_check.sh OCTET WORKDIR
set -eu
octet=$1
dir=$2
mkdir -p "$dir"
export ONEDNN_MAX_CPU_ISA=AVX2
warning='this CPU has no VNNI (oneDNN uses avx2)'
fail() {
  echo "FAIL: $1" >&2
  printf '%s\n' "$out" >&2
  exit 1
}

"$octet" zoo resnet18 -o "$dir/resnet18" >/dev/null

# One int8 session.
out=$("$octet" bench "$dir/resnet18" --int8 --iterations 2 --warmup 0 2>&1)
n=$(printf '%s\n' "$out" | grep -cF "$warning" || true)
[ "$n" -eq 1 ] || fail "bench --int8: the warning is printed $n times, expected once"
printf '%s\n' "$out" | grep -q 'Precision: int8 requested; layers:.* int8' ||
  fail "bench --int8: no layer ran int8"
printf '%s\n' "$out" |
  grep -qF 'note: the model has no activation ranges; calibrated them on the fly' ||
  fail "bench --int8 on a model without ranges: no note that it calibrated them on the fly"

# Two int8 sessions (batch 1 and 2) in one process: still one warning.
out=$("$octet" bench "$dir/resnet18" --int8 --sweep batch=1,2 --iterations 2 --warmup 0 2>&1)
n=$(printf '%s\n' "$out" | grep -cF "$warning" || true)
[ "$n" -eq 1 ] || fail "bench --int8 --sweep batch=1,2: the warning is printed $n times, expected once"
rows=$(printf '%s\n' "$out" | grep -cE '^[0-9]+ +[12] +[0-9]+ +.*int8' || true)
[ "$rows" -eq 2 ] || fail "bench --int8 --sweep batch=1,2: expected 2 rows with int8 layers, got $rows"
echo "no-VNNI warning once per process; on-the-fly calibration noted"
