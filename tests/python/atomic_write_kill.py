#!/usr/bin/env python3
"""Killing octet while it writes a model never leaves a half-written one.

`octet zoo resnet50 -o DIR/m` writes a ~100 MB m.octet.bin and then
m.octet.json, each through a temporary file, fsync and rename
(write_file_atomically, which `octet quantize`, `calibrate` and `sensitivity`
also use). The test runs it once to completion for the reference bytes, then:

- kills it (SIGKILL) the moment its temporary .bin appears, i.e. mid-write,
  several times, and
- kills it at evenly spaced moments across a whole run,

and after every kill checks that m.octet.bin and m.octet.json are each
either absent or byte-identical to the reference: never torn. A run of
kills must have caught at least one temporary file, or the test proves
nothing and fails.

usage: atomic_write_kill.py --octet PATH --dir DIR
"""
import argparse
import glob
import os
import shutil
import signal
import subprocess
import sys
import time


def run_and_kill(octet, out, when):
    """Starts the writer; kills it when `when(elapsed)` says so. Returns
    whether a temporary file existed at the moment of the kill."""
    proc = subprocess.Popen([octet, "zoo", "resnet50", "-o", out],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = time.monotonic()
    while proc.poll() is None:
        tmp = glob.glob(out + ".octet.*.tmp.*")
        if when(time.monotonic() - start, tmp):
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return bool(tmp)
        time.sleep(0.002)
    return False


def check(out, ref, label):
    for ext in (".octet.bin", ".octet.json"):
        path = out + ext
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            got = f.read()
        if got != ref[ext]:
            sys.exit(f"FAIL ({label}): {path} exists but differs from a complete write "
                     f"({len(got)} bytes, expected {len(ref[ext])})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--octet", required=True)
    ap.add_argument("--dir", required=True)
    args = ap.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    os.makedirs(args.dir)
    ref_name = os.path.join(args.dir, "ref")
    start = time.monotonic()
    subprocess.run([args.octet, "zoo", "resnet50", "-o", ref_name], check=True,
                   stdout=subprocess.DEVNULL)
    full = time.monotonic() - start
    ref = {}
    for ext in (".octet.bin", ".octet.json"):
        with open(ref_name + ext, "rb") as f:
            ref[ext] = f.read()

    caught = 0
    trials = 0
    # Mid-write: the moment the temporary .bin shows up.
    for i in range(3):
        out = os.path.join(args.dir, f"mid{i}")
        caught += run_and_kill(args.octet, out, lambda t, tmp: any(".bin.tmp." in p for p in tmp))
        trials += 1
        check(out, ref, f"killed while writing the .bin, trial {i}")
    # Anywhere: evenly spaced over a whole run, the same destination each time,
    # so a later kill may find an earlier complete or partial state.
    out = os.path.join(args.dir, "anywhere")
    for k in range(1, 9):
        at = full * k / 9
        caught += run_and_kill(args.octet, out, lambda t, tmp, at=at: t >= at)
        trials += 1
        check(out, ref, f"killed at {at:.2f} s of {full:.2f} s")
    # And a complete run over whatever the kills left.
    subprocess.run([args.octet, "zoo", "resnet50", "-o", out], check=True,
                   stdout=subprocess.DEVNULL)
    check(out, ref, "complete run after kills")
    if not all(os.path.exists(out + ext) for ext in ref):
        sys.exit("FAIL: the complete run left no model")
    if caught == 0:
        sys.exit(f"FAIL: none of {trials} kills caught a temporary file: the test proved nothing")
    print(f"ok: {trials} kills, {caught} of them mid-write; every model file present was "
          f"complete (a full write takes {full:.2f} s)")


if __name__ == "__main__":
    main()
