#!/usr/bin/python3
"""README.md's generated lists: the ONNX ops octet runs (from the op registry,
through `octet ops --markdown`) and the models the zoo tests check (from
tools/export/zoo_list.py, with the default subset and CI's share from
tests/python/zoo_check.py).

    tools/readme_lists.py --octet build/apps/octet [README.md]           check
    tools/readme_lists.py --octet build/apps/octet --write [README.md]   update

Each list sits between `<!-- begin NAME -->` and `<!-- end NAME -->` lines.
The check (CTest `readme_lists_current`) exits 1 naming the stale list when
README does not say what the code does.
"""

import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools", "export"))
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))

from zoo_check import CI, SUBSET  # noqa: E402  (neither needs torch)
from zoo_list import ZOO  # noqa: E402


def ops_list(octet):
    return subprocess.run([octet, "ops", "--markdown"], check=True, stdout=subprocess.PIPE,
                          text=True).stdout.strip()


def models_list():
    ci = {}
    for model, opset in SUBSET:
        ci.setdefault(model, []).append(str(opset) + (" (CI)" if (model, opset) in CI else ""))
    rows = ["| model | family | built from | input (batch 1) | `ctest -L zoo` (opset) |",
            "|---|---|---|---|---|"]
    for name, e in ZOO.items():
        shapes = ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in e.inputs.items())
        rows.append(f"| `{name}` | {e.family} | {e.source} | {shapes} | "
                    f"{', '.join(ci.get(name, [])) or '-'} |")
    return "\n".join(rows)


def replace_section(text, name, body):
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    if begin not in text or end not in text:
        raise SystemExit(f"README has no '{begin}' ... '{end}' section")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + begin + "\n" + body + "\n" + end + tail


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("readme", nargs="?", default=os.path.join(ROOT, "README.md"))
    p.add_argument("--octet", required=True, help="the octet executable (for `octet ops`)")
    p.add_argument("--write", action="store_true", help="update README instead of checking it")
    args = p.parse_args()
    with open(args.readme) as f:
        text = f.read()
    sections = {"ops": ops_list(args.octet), "models": models_list()}
    updated = text
    for name, body in sections.items():
        updated = replace_section(updated, name, body)
    if args.write:
        with open(args.readme, "w") as f:
            f.write(updated)
        print(f"wrote {args.readme}")
        return 0
    stale = [n for n, body in sections.items() if replace_section(text, n, body) != text]
    if stale:
        print(f"{args.readme}: the generated list(s) {', '.join(stale)} are stale; run "
              f"tools/readme_lists.py --octet {args.octet} --write")
        return 1
    print(f"{args.readme}: the lists of ops and models are current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
