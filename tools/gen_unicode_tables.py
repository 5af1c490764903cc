#!/usr/bin/python3
"""Writes loaders/data/unicode_tables*.cpp: the Unicode data the BERT tokenizer needs.

    tools/gen_unicode_tables.py [--dir loaders/data] [--check]

HuggingFace's BertTokenizer is written in Python on top of ``unicodedata`` and
``str.lower()``; octet's tokenizer (loaders/data/tokenizer.cpp) reproduces it in C++
with these tables, taken from the same Python functions, so that both agree
code point for code point:

- lower-case mappings (``str.lower()`` of each code point: the full mapping,
  U+0130 becomes two code points) and, for Final_Sigma, which code points are
  cased and which are case-ignorable, found by asking ``str.lower()`` itself;
- canonical decompositions, one level (``unicodedata.decomposition`` without a
  <tag>; Hangul syllables are algorithmic and not listed) and canonical
  combining classes, enough for NFD;
- general categories: Mn (stripped after NFD), P* (punctuation), Cc/Cf
  (dropped as control characters), Zs, and ``str.isspace()``.

Before writing, the script checks that NFD computed from the tables equals
``unicodedata.normalize('NFD', c)`` for every code point. ``--check`` compares
the files with what would be written instead (exit 1 if they differ, 77 if
this Python's Unicode version is not the files', so the check is skipped).
"""

import argparse
import os
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DIR = os.path.join(os.path.dirname(HERE), "loaders", "data")
N = sys.maxunicode + 1
SKIP = 77


def is_surrogate(c):
    return 0xD800 <= c <= 0xDFFF


def ranges(pred):
    """Maximal [first, last] runs of code points where pred holds."""
    out = []
    for c in range(N):
        if is_surrogate(c) or not pred(c):
            continue
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def valued_ranges(value):
    """Maximal [first, last, v] runs of equal non-zero value(c)."""
    out = []
    for c in range(N):
        v = 0 if is_surrogate(c) else value(c)
        if not v:
            continue
        if out and out[-1][1] == c - 1 and out[-1][2] == v:
            out[-1][1] = c
        else:
            out.append([c, c, v])
    return out


def lower_runs():
    """Single code point mappings as [first, last, delta, stride] runs, plus the multi ones."""
    runs, multi = [], []
    for c in range(N):
        if is_surrogate(c):
            continue
        low = chr(c).lower()
        if low == chr(c):
            continue
        if len(low) != 1:
            multi.append([c] + [ord(x) for x in low])
            continue
        delta = ord(low) - c
        if runs and runs[-1][2] == delta:
            first, last, _, stride = runs[-1]
            step = c - last
            if (stride == 0 and step in (1, 2)) or step == stride:
                runs[-1] = [first, c, delta, step]
                continue
        runs.append([c, c, delta, 0])
    for r in runs:
        r[3] = max(r[3], 1)
    return runs, multi


def case_kind(c):
    """1: case-ignorable (skipped by Final_Sigma), 2: cased, 0: neither.

    CPython's lower() turns U+03A3 into final sigma when a cased letter comes
    before it (skipping case-ignorable ones) and none after; probing lower()
    gives exactly the classes that rule sees.
    """
    ch = chr(c)
    if (ch + "\u03a3").lower()[-1] == "\u03c2":
        return 2
    if ("A" + ch + "\u03a3").lower()[-1] == "\u03c2":
        return 1
    return 0


def decompositions():
    pairs, singles = [], []
    for c in range(N):
        d = unicodedata.decomposition(chr(c))
        if not d or d.startswith("<"):
            continue
        parts = [int(x, 16) for x in d.split()]
        if len(parts) == 2:
            pairs.append([c] + parts)
        elif len(parts) == 1:
            singles.append([c] + parts)
        else:
            raise SystemExit("unexpected decomposition of U+%04X: %s" % (c, d))
    return pairs, singles


def check_nfd(pairs, singles, ccc_runs):
    """NFD from the tables, as loaders/data/unicode.cpp computes it, against unicodedata."""
    table = {p[0]: p[1:] for p in pairs}
    table.update({s[0]: s[1:] for s in singles})
    ccc = {}
    for first, last, v in ccc_runs:
        for c in range(first, last + 1):
            ccc[c] = v

    def expand(c, out):
        if 0xAC00 <= c <= 0xD7A3:
            s = c - 0xAC00
            out += [0x1100 + s // 588, 0x1161 + (s % 588) // 28]
            if s % 28:
                out.append(0x11A7 + s % 28)
        elif c in table:
            for d in table[c]:
                expand(d, out)
        else:
            out.append(c)

    for c in range(N):
        if is_surrogate(c):
            continue
        out = []
        expand(c, out)
        # Stable sort of each run of non-zero combining classes.
        i = 0
        while i < len(out):
            if not ccc.get(out[i], 0):
                i += 1
                continue
            j = i
            while j < len(out) and ccc.get(out[j], 0):
                j += 1
            out[i:j] = sorted(out[i:j], key=lambda x: ccc[x])
            i = j
        want = [ord(x) for x in unicodedata.normalize("NFD", chr(c))]
        if out != want:
            raise SystemExit("NFD of U+%04X: tables give %s, unicodedata %s" % (c, out, want))


def emit(name, ctype, rows, width):
    """A C++ array definition, rows packed up to 100 columns."""
    cells = ["{" + ",".join(("0x%X" % v) if k < width else str(v) for k, v in enumerate(r)) + "}"
             for r in rows]
    lines = ["const %s %s[] = {" % (ctype, name)]
    line = "   "
    for cell in cells:
        if len(line) + len(cell) + 2 > 100:
            lines.append(line.rstrip())
            line = "   "
        line += " " + cell + ","
    lines.append(line.rstrip())
    lines.append("};")
    size = "const size_t %s_size = sizeof %s / sizeof *%s;" % (name, name, name)
    lines.append(size if len(size) <= 100 else size.replace("= ", "=\n    ", 1))
    return "\n".join(lines)


def source(sections, what):
    out = [
        "// %s, generated by tools/gen_unicode_tables.py" % what,
        "// from Python %d.%d's unicodedata (Unicode %s). Do not edit; regenerate with the script."
        % (sys.version_info[0], sys.version_info[1], unicodedata.unidata_version),
        "// clang-format off",
        '#include "loaders/data/unicode_tables.hpp"',
        "",
        "namespace octet::unicode::tables {",
    ]
    for name, ctype, rows, width, comment in sections:
        out += ["", "// " + comment, emit(name, ctype, rows, width)]
    out += ["", "}  // namespace octet::unicode::tables", ""]
    return "\n".join(out)


def generate():
    """{file name: text} for both generated files."""
    lower, lower_multi = lower_runs()
    if any(len(m) != 3 for m in lower_multi):
        raise SystemExit("a lower-case mapping longer than two code points: %s" % lower_multi)
    pairs, singles = decompositions()
    ccc = valued_ranges(lambda c: unicodedata.combining(chr(c)))
    check_nfd(pairs, singles, ccc)
    cat = unicodedata.category
    nfd = [
        ("kDecompositionPairs", "Mapping2", pairs, 3,
         "canonical decompositions into two code points (one level)"),
        ("kDecompositionSingles", "Mapping1", singles, 2,
         "canonical decompositions into one code point (singletons)"),
        ("kCombiningClasses", "ValuedRange", ccc, 2, "canonical combining class (non-zero)"),
    ]
    properties = [
        ("kLowerRuns", "LowerRun", lower, 2,
         "str.lower() of one code point: c -> c + delta for c = first, first + stride, ... <= last"),
        ("kLowerMulti", "Mapping2", lower_multi, 3, "str.lower() giving two code points"),
        ("kCaseKinds", "ValuedRange", valued_ranges(case_kind), 2,
         "Final_Sigma classes: 1 case-ignorable, 2 cased (and not case-ignorable)"),
        ("kNonspacingMarks", "Range", ranges(lambda c: cat(chr(c)) == "Mn"), 2, "category Mn"),
        ("kPunctuation", "Range", ranges(lambda c: cat(chr(c)).startswith("P")), 2,
         "categories Pc, Pd, Ps, Pe, Pi, Pf, Po"),
        ("kControl", "Range", ranges(lambda c: cat(chr(c)) in ("Cc", "Cf")), 2,
         "categories Cc and Cf"),
        ("kSpaceSeparators", "Range", ranges(lambda c: cat(chr(c)) == "Zs"), 2, "category Zs"),
        ("kPythonSpace", "Range", ranges(lambda c: chr(c).isspace()), 2, "str.isspace()"),
    ]
    version = 'const char* const kUnicodeVersion = "%s";' % unicodedata.unidata_version
    props = source(properties, "Case mappings and general categories")
    props = props.replace("namespace octet::unicode::tables {\n",
                          "namespace octet::unicode::tables {\n\n" + version + "\n", 1)
    return {
        "unicode_tables.cpp": props,
        "unicode_tables_nfd.cpp": source(nfd, "Canonical decompositions and combining classes"),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", default=DEFAULT_DIR, help="where the files go (default: loaders/data/)")
    p.add_argument("--check", action="store_true",
                   help="compare the files in --dir with what would be written; write nothing")
    args = p.parse_args()
    files = generate()
    if args.check:
        for name, text in files.items():
            path = os.path.join(args.dir, name)
            with open(path, encoding="utf-8") as f:
                current = f.read()
            if "(Unicode %s)" % unicodedata.unidata_version not in current:
                print("skipped: %s was generated from another Unicode version than this "
                      "Python's %s" % (path, unicodedata.unidata_version))
                return SKIP
            if current != text:
                print("%s is out of date: run tools/gen_unicode_tables.py" % path)
                return 1
        print("%s match Python's unicodedata %s" % (", ".join(files), unicodedata.unidata_version))
        return 0
    for name, text in files.items():
        path = os.path.join(args.dir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        print("wrote %s (%d lines)" % (path, text.count("\n")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
