#!/usr/bin/python3
"""Proves that tools/setup.sh installs everything octet's build, tests and demo use.

    tools/check_deps.py [--build BUILD] [--setup SETUP_SH]

A development machine keeps what earlier work installed by hand, so a green
build there can hide a package missing from tools/setup.sh. This script takes
what the configured and built tree BUILD (default: build) really used, each
with the group of setup.sh that must provide it:

  build  every file and package-config directory CMake found (CMakeCache.txt),
         every system header the compiler read (the build's dependency files),
         every shared library the built programs load (ldd);
  test   the programs CTest runs, the Python modules its scripts import
         (followed through local imports and the scripts they start), chromium,
         clang-14 and its libFuzzer/sanitizer runtimes, GCC's sanitizer
         runtimes, node and npm, Fashion-MNIST's test set;
  demo   jq, node, npm, Fashion-MNIST's test set.

`dpkg -S` names the package owning each. It must be in the group's list
(`setup.sh --list`), a hard dependency of one there (Depends/Pre-Depends,
recursively: one `apt-cache depends --recurse` call, kept in
BUILD/check-deps/), or part of Debian's base system (Essential, or Priority
required). A package installed from outside Debian's archive (apt-cache
policy) is refused too, except where it provides a command that setup.sh
installs only where the command is missing (npm): then it is accepted, and
the output says so. Exits 1 naming each missing package; 77 (skipped) when
nothing is missing but a test tool or module is not installed here, so could
not be looked up; 0 otherwise.
"""

import argparse
import ast
import glob
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Where the Python scripts of tests and tools live: local imports resolve here.
PY_DIRS = ["tests/python", "tests/fuzz", "tools", "tools/export", "tools/cifar", "tools/train",
           "tools/qat"]
FASHION = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
# Modules the build makes itself (PYTHONPATH=BUILD/python in their tests): no package's.
OWN_MODULES = {"octet"}
APT_DEPENDS = ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
               "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"]


@dataclass
class Item:
    group: str  # the setup.sh group that must provide it: build, test or demo
    what: str   # where it was found, for the message
    path: str
    command: str = ""  # set for a command found on PATH


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def inside(path, top):
    return os.path.abspath(path).startswith(os.path.abspath(top) + os.sep)


def setup_groups(setup):
    """{group: packages} as setup.sh installs them, and its only-if-missing packages."""
    groups, conditional = {}, set()
    for group, args in (("build", ["build"]), ("test", ["test"]), ("demo", ["demo"])):
        r = run(["bash", setup, "--list", *args])
        if r.returncode != 0:
            sys.exit(f"check_deps.py: {setup} --list {group} failed:\n{r.stderr}")
        groups[group] = set()
        for line in r.stdout.splitlines():
            words = line.split()
            groups[group].add(words[0])
            if words[1:] == ["only-if-missing"]:
                conditional.add(words[0])
    return groups, conditional


def bare(name):
    """'<python3:any>' -> 'python3', 'libfoo:amd64' -> 'libfoo'."""
    return name.strip("<>").split(":")[0]


def apt_cached(name, roots, command, cache_dir):
    """The output of an apt-cache command on `roots`. apt-cache takes seconds
    (it rebuilds its cache each run here), so the output is kept in
    cache_dir/name with its roots: a later run (another copy of setup.sh)
    asking for some of them reuses it while dpkg's and apt's databases are
    unchanged."""
    stamp = " ".join(str(int(os.path.getmtime(p))) for p in
                     ("/var/lib/dpkg/status", "/var/lib/apt/lists") if os.path.exists(p))
    cache = os.path.join(cache_dir, name)
    if os.path.exists(cache):
        with open(cache) as f:
            head, cached_roots, text = (f.read().split("\n", 2) + ["", ""])[:3]
        if head == stamp and roots <= set(cached_roots.split()):
            return text
    r = run(command + sorted(roots))
    if r.returncode != 0:
        sys.exit(f"check_deps.py: {' '.join(command)} failed:\n{r.stderr}")
    os.makedirs(cache_dir, exist_ok=True)
    with open(cache + ".tmp", "w") as f:
        f.write(f"{stamp}\n{' '.join(sorted(roots))}\n{r.stdout}")
    os.replace(cache + ".tmp", cache)
    return r.stdout


def apt_graph(roots, cache_dir):
    """{package: its hard dependencies and their providers}, recursively."""
    text = apt_cached("apt-depends.txt", roots, APT_DEPENDS, cache_dir)
    graph, node = {}, None
    for line in text.splitlines():
        if not line.startswith(" "):
            node = bare(line)
            graph.setdefault(node, set())
        elif line.startswith("    "):  # a provider of the virtual package above
            graph[node].add(bare(line.strip()))
        else:
            kind, _, target = line.strip().lstrip("|").partition(": ")
            if kind in ("Depends", "PreDepends"):
                graph[node].add(bare(target))
    return graph


def closure(graph, roots):
    seen, todo = set(), list(roots)
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo.extend(graph.get(p, ()))
    return seen


def base_system():
    """Installed packages every Debian has: Essential, or Priority required."""
    r = run(["dpkg-query", "-W", "-f", "${Package} ${Essential} ${Priority}\n"])
    return {w[0] for w in (line.split() for line in r.stdout.splitlines())
            if "yes" in w[1:] or "required" in w[1:]}


def usrmerge_aliases(path):
    """Debian 12 merges /bin, /lib... into /usr, but dpkg knows the path a package shipped."""
    m = re.match(r"^/usr(/(bin|sbin|lib|lib32|lib64|libx32)/.*)$", path)
    if m:
        return [path, m.group(1)]
    m = re.match(r"^/(bin|sbin|lib|lib32|lib64|libx32)/.*$", path)
    return [path, "/usr" + path] if m else [path]


def candidates(path):
    """The path, each step of its symlink chain (/usr/bin/c++ -> /etc/alternatives/c++ ->
    /usr/bin/g++), then its real path: the first one dpkg knows names the package."""
    chain, p = [path], path
    for _ in range(16):
        if not os.path.islink(p):
            break
        p = os.path.normpath(os.path.join(os.path.dirname(p), os.readlink(p)))
        chain.append(p)
    chain.append(os.path.realpath(path))
    out = []
    for c in chain:
        out.extend(a for a in usrmerge_aliases(c) if a not in out)
    return out


def owners(paths):
    """{path: [packages]} with one dpkg -S call (empty list: no package owns it)."""
    cands = {p: candidates(p) for p in paths}
    every = sorted({c for cs in cands.values() for c in cs})
    found = {}
    for i in range(0, len(every), 2000):
        r = run(["dpkg-query", "-S", *every[i:i + 2000]])  # exits 1 when one is unowned
        for line in r.stdout.splitlines():
            if line.startswith(("diversion by", "local diversion")):
                continue
            pkgs, _, path = line.partition(": ")
            found[path] = [bare(p.strip()) for p in pkgs.split(",")]
    return {p: next((found[c] for c in cs if c in found), []) for p, cs in cands.items()}


def foreign_packages(pkgs, cache_dir):
    """{package: version} of those installed in a version newer than any that
    Debian's archive has (e.g. NodeSource's nodejs 20; not an outdated Debian
    version, which this machine's older security updates are). apt-cache
    policy lists versions newest first, each with its sources."""
    text = apt_cached("apt-policy.txt", pkgs, ["apt-cache", "policy"], cache_dir)
    newest = {}  # package: (newest version, its sources, is it the installed one)
    pkg, version = None, None
    for line in text.splitlines():
        if not line.startswith(" ") and line.endswith(":"):
            pkg, version = bare(line[:-1]), None
        elif re.match(r"^ (\*\*\*|   ) \S+ -?\d+$", line):
            version = line.split()[-2]
            newest.setdefault(pkg, (version, [], line.startswith(" ***")))
        elif re.match(r"^ {8}-?\d+ ", line) and version == newest.get(pkg, ("",))[0]:
            newest[pkg][1].append(line.split(None, 1)[1])
    return {p: v for p, (v, sources, installed) in newest.items()
            if installed and all(s.startswith("/var/lib/dpkg/status") for s in sources)}


# ---------------------------------------------------------------- what the build used

def cmake_cache_items(build):
    entries = {}
    with open(os.path.join(build, "CMakeCache.txt")) as f:
        for line in f:
            m = re.match(r"^([A-Za-z_][^:#]*):(FILEPATH|PATH|INTERNAL)=(.*)$", line.rstrip("\n"))
            if m:
                entries[m.group(1)] = (m.group(2), m.group(3))
    generator = entries.get("CMAKE_GENERATOR", ("", ""))[1]
    source = entries.get("CMAKE_HOME_DIRECTORY", ("", ROOT))[1]
    items, notes = [], []
    for name, (kind, value) in sorted(entries.items()):
        if kind == "INTERNAL" or name.startswith("CMAKE_INSTALL_"):
            continue
        if name == "CMAKE_MAKE_PROGRAM" and generator != "Unix Makefiles":
            notes.append(f"{value}: the {generator} generator this build was configured with is "
                         "not checked (tools/test.sh uses make)")
            continue
        for v in value.split(";"):
            if not v.startswith("/") or v.endswith("-NOTFOUND") or inside(v, source) or \
                    inside(v, build):
                continue
            what = f"{name} in CMakeCache.txt"
            configs = glob.glob(os.path.join(v, "*onfig.cmake")) if os.path.isdir(v) else []
            if not os.path.isdir(v):
                items.append(Item("build", what, v))
            elif configs:  # a package-config directory (dnnl_DIR): its config files
                items += [Item("build", what, c) for c in configs]
            else:  # a header directory: judged below if one package owns it
                items.append(Item("build", what, v + "/"))
    return items, notes, generator, entries.get("CMAKE_MAKE_PROGRAM", ("", ""))[1], source


def header_items(build, source, generator, make_program):
    """The system headers the compiler read, from the build's dependency files."""
    paths = set()
    if generator.startswith("Ninja"):
        r = run([make_program or "ninja", "-C", build, "-t", "deps"])
        paths = {line.strip() for line in r.stdout.splitlines() if line.startswith("    ")}
    else:
        for d in glob.glob(os.path.join(build, "**", "*.o.d"), recursive=True):
            with open(d) as f:
                words = f.read().replace("\\\n", " ").split()
            paths.update(w for w in words[1:] if not w.endswith(":"))
    paths = {os.path.normpath(p) for p in paths if p.startswith("/")}
    return [Item("build", "a header the compiler read", p) for p in sorted(paths)
            if not inside(p, source) and not inside(p, build)]


def library_items(build):
    """The shared libraries the programs and libraries of the build load (ldd)."""
    elves, own = [], set()
    for top, dirs, files in os.walk(build):
        dirs[:] = [d for d in dirs if d != "CMakeFiles"]
        own.update(files)
        for name in files:
            p = os.path.join(top, name)
            if (os.access(p, os.X_OK) or ".so" in name) and not os.path.islink(p):
                try:  # (tests running beside this one create and remove files)
                    with open(p, "rb") as f:
                        if f.read(4) == b"\x7fELF":
                            elves.append(p)
                except OSError:
                    pass
    libs, missing = set(), set()
    for i in range(0, len(elves), 50):
        for line in run(["ldd", *elves[i:i + 50]]).stdout.splitlines():
            m = re.match(r"^\s+(\S+) => not found", line)
            if m:
                missing.add(m.group(1))
            m = re.match(r"^\s+(?:\S+ => )?(/\S+) \(0x", line)
            if m and not inside(m.group(1), build):
                libs.add(os.path.normpath(m.group(1)))
    # The build's own library (liboctet.so.0), which a program built against
    # an installed copy without an rpath (install_pkgconfig's) finds only
    # through LD_LIBRARY_PATH: no package could provide it.
    missing -= own
    items = [Item("build", "a library the built programs load", p) for p in sorted(libs)]
    items += [Item("build", "a library the built programs load (ldd: not found)", f"/?/{lib}")
              for lib in sorted(missing)]
    return items, len(elves)


# ---------------------------------------------------------------- what the tests use

def ctest_commands(build):
    r = run(["ctest", "--test-dir", build, "--show-only=json-v1"])
    if r.returncode != 0:
        sys.exit(f"check_deps.py: ctest --show-only failed:\n{r.stderr}")
    return [t.get("command", []) for t in json.loads(r.stdout).get("tests", [])]


def local_module(name, importer_dir):
    for d in [importer_dir] + [os.path.join(ROOT, p) for p in PY_DIRS]:
        p = os.path.join(d, name + ".py")
        if os.path.exists(p):
            yield p


def python_modules(scripts):
    """{top-level module: first script importing it}, following local imports
    and the repository scripts a script names (run as subprocesses)."""
    by_name = {}
    for d in PY_DIRS:
        for p in glob.glob(os.path.join(ROOT, d, "*.py")):
            by_name.setdefault(os.path.basename(p), []).append(p)
    seen, todo, modules = set(), list(scripts), {}
    while todo:
        script = todo.pop()
        if script in seen:
            continue
        seen.add(script)
        with open(script) as f:
            tree = ast.parse(f.read(), script)
        here = os.path.dirname(script)
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module.split(".")[0]]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and node.value.endswith(".py"):
                todo.extend(by_name.get(os.path.basename(node.value), []))
            for name in names:
                local = list(local_module(name, here))
                if name in OWN_MODULES:
                    continue
                if local:
                    todo.extend(local)
                else:
                    modules.setdefault(name, os.path.relpath(script, ROOT))
    return modules, len(seen)


def module_items(modules):
    # Where /usr/bin/python3 (the interpreter CTest runs) finds each module,
    # without the checker's own folder on the path.
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(__file__)]
    items = []
    for name, script in sorted(modules.items()):
        what = f"Python module {name} (imported by {script})"
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            items.append(Item("test", what + ": not installed for /usr/bin/python3", "/?/" + name))
        elif spec.origin in ("built-in", "frozen", None) and not spec.submodule_search_locations:
            items.append(Item("test", what, os.path.realpath(sys.executable)))
        else:
            items.append(Item("test", what, spec.origin or list(spec.submodule_search_locations)[0]))
    return items


def command_item(group, command, why):
    path = shutil.which(command)
    return Item(group, f"{command} ({why})", path or f"/?/{command}", command)


def test_items(build):
    items, scripts = [], set()
    for cmd in ctest_commands(build):
        exe = cmd[0] if cmd else ""
        if exe and not inside(exe, build) and not inside(exe, ROOT):
            path = exe if exe.startswith("/") else shutil.which(exe) or "/?/" + exe
            items.append(Item("test", f"{os.path.basename(exe)} (runs CTest tests)", path))
        scripts.update(a for a in cmd if a.endswith(".py") and inside(a, ROOT))
    # The fuzz stage of tools/test.sh runs these seed makers.
    scripts.update(glob.glob(os.path.join(ROOT, "tests/fuzz/*.py")))
    modules, n_scripts = python_modules(sorted(scripts))
    items += module_items(modules)
    # (report_browser.py also takes a chromium-browser.)
    chromium = "chromium-browser" if shutil.which("chromium-browser") and not shutil.which(
        "chromium") else "chromium"
    items += [command_item("test", chromium, "report_browser"),
              command_item("test", "clang-14", "the fuzz stage"),
              command_item("test", "clang++-14", "the fuzz stage"),
              command_item("test", "node", "vocab_from_npm tests"),
              command_item("test", "npm", "vocab_from_npm tests"),
              command_item("test", "pkg-config", "install_pkgconfig"),
              command_item("test", "cc", "install_pkgconfig"),
              Item("test", "Fashion-MNIST's test set (IDX, eval tests)", FASHION)]
    rt = run(["clang++-14", "--print-runtime-dir"]).stdout.strip() if shutil.which("clang++-14") \
        else "/?"
    for lib in ("fuzzer", "asan", "ubsan_standalone"):
        items.append(Item("test", f"clang-14's {lib} runtime (the fuzz stage)",
                          f"{rt}/libclang_rt.{lib}-x86_64.a"))
    for lib in ("asan", "ubsan", "tsan"):
        path = run(["g++", f"-print-file-name=lib{lib}.so"]).stdout.strip()
        items.append(Item("test", f"GCC's {lib} runtime (the sanitizer stages)",
                          path if path.startswith("/") else f"/?/lib{lib}.so"))
    return items, len(modules), n_scripts


def demo_items():
    return [command_item("demo", "jq", "tools/demo.sh"),
            command_item("demo", "node", "tools/vocab_from_npm.sh"),
            command_item("demo", "npm", "tools/vocab_from_npm.sh"),
            Item("demo", "Fashion-MNIST's test set (tools/demo.sh)", FASHION)]


# ---------------------------------------------------------------- the verdict

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--setup", default=os.path.join(ROOT, "tools/setup.sh"))
    args = ap.parse_args()
    start = time.monotonic()
    build = os.path.abspath(args.build)
    if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
        sys.exit(f"check_deps.py: {build} is not a configured build (no CMakeCache.txt)")
    setup = os.path.relpath(args.setup, ROOT) if inside(args.setup, ROOT) else args.setup

    cache_items, notes, generator, make_program, source = cmake_cache_items(build)
    headers = header_items(build, source, generator, make_program)
    if not headers:
        sys.exit(f"check_deps.py: {build} has no compiler dependency files: build it first")
    libs, n_elves = library_items(build)
    tests, n_modules, n_scripts = test_items(build)
    items = cache_items + headers + libs + tests + demo_items()

    groups, conditional = setup_groups(args.setup)
    cache_dir = os.path.join(build, "check-deps")
    graph = apt_graph(set().union(*groups.values()), cache_dir)
    allowed = {g: closure(graph, pkgs) for g, pkgs in groups.items()}
    base = base_system()
    owner = owners({i.path for i in items})
    foreign = foreign_packages({p for ps in owner.values() for p in ps}, cache_dir)
    # The packages that give this machine its own copy of an only-if-missing command.
    own_tools = {p: c for c in conditional if shutil.which(c) for p in owner.get(shutil.which(c), [])}

    failures, accepted, used, absent = {}, {}, {g: set() for g in groups}, []
    shared_dirs = set()
    for item in items:
        pkgs = owner[item.path]
        if item.path.endswith("/") and len(pkgs) != 1:
            shared_dirs.add(item.path)  # (/usr/include: its headers are checked one by one)
            continue
        if item.path.startswith("/?/") or not os.path.exists(item.path.rstrip("/") or "/"):
            if item.group == "build":  # what the build used must be there
                failures.setdefault(item.path, []).append(
                    f"({item.group}) {item.path}: {item.what}: it does not exist")
            else:  # nothing to look up: the tests that need it skip
                absent.append(f"{item.what} ({item.group})")
            continue
        ok = [p for p in pkgs if p in base or (p in allowed[item.group] and p not in foreign)]
        if ok:
            used[item.group].add(ok[0])
            continue
        mine = [p for p in pkgs if p in own_tools]
        if mine or (item.command in conditional):
            p = mine[0] if mine else "no package"
            how = f"{p} {foreign[p]}, installed from outside Debian's archive" if p in foreign \
                else p
            accepted.setdefault(p, (how, own_tools.get(p, item.command), set()))[2].add(item.path)
            continue
        if not pkgs:
            reason = "no Debian package owns it (dpkg -S)"
        elif any(p in foreign for p in pkgs):
            reason = ", ".join(f"{p} {foreign[p]}" for p in pkgs if p in foreign) + \
                " owns it, installed from outside Debian's archive"
        else:
            other = [g for g in allowed if g != item.group and set(pkgs) & allowed[g]]
            reason = f"{' or '.join(pkgs)} owns it, which {setup}'s {item.group} list neither " \
                "names nor pulls in as a hard dependency" + \
                (f" (its {' and '.join(other)} list does)" if other else "")
        failures.setdefault(" or ".join(pkgs) or item.path, []).append(
            f"({item.group}) {item.path}: {item.what}: {reason}")

    print(f"check_deps.py: {os.path.relpath(build, ROOT)} against {setup}: "
          f"{len(cache_items)} CMakeCache.txt paths, {len(headers)} headers, "
          f"{len(libs)} libraries of {n_elves} built programs, {n_modules} Python modules of "
          f"{n_scripts} scripts, {len(tests) - n_modules} other test tools and files")
    for g in groups:
        print(f"  {g}: {len(used[g])} packages: {' '.join(sorted(used[g]))}")
    for d in sorted(shared_dirs):
        print(f"  not checked: {d}, a header directory of many packages (the headers the "
              "compiler read from it are)")
    for note in notes:
        print(f"  not checked: {note}")
    for p, (how, command, paths) in sorted(accepted.items()):
        print(f"  accepted: {', '.join(sorted(paths))} from {how}: {setup} installs Debian's "
              f"{command} only where no {command} exists (only-if-missing)")
    for pkg, lines in sorted(failures.items()):
        for line in lines[:5]:
            print(f"  FAIL {line}")
        if len(lines) > 5:
            print(f"  FAIL ... and {len(lines) - 5} more of {pkg}")
    took = f"({time.monotonic() - start:.1f} s)"
    if failures:
        print(f"check_deps.py: FAILED: not installed by {setup}: {', '.join(sorted(failures))} {took}")
        return 1
    if absent:
        print(f"check_deps.py: skipped: not installed here, so not checked: {'; '.join(absent)} "
              f"(tools/setup.sh test and demo install them) {took}")
        return 77
    print(f"check_deps.py: ok: every package used comes from {setup} {took}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
