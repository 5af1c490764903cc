#!/usr/bin/python3
"""`octet report` rendered by a real browser (headless Chromium).

Makes the zoo's bert-tiny, calibrates it on synthetic token ids written as
.npy, writes a small sensitivity file by hand (its fallback keeps one int8
layer in fp32; one layer name and the data description carry markup), runs
`octet report`, then loads the page in headless Chromium with a screenshot
and a DOM dump, and checks:

- the page's script finished: <body data-status="ok">, and Chromium logged
  no console message and no uncaught exception;
- one layer row and one precision-map square per executed layer, with the
  names in `octet inspect`'s order (inspect run with the same fallback), and
  the fallback layer shown as fp32;
- one histogram per tensor of the calibration table, in the table's order;
- the markup in names shows as text (no element made from it);
- the screenshot is a PNG that is not blank and shows the precision map's
  int8 and fp32 colours.

    report_browser.py --octet BUILD/apps/octet --dir WORKDIR

Exits 77 (skipped) when no `chromium` is installed (tools/setup.sh test
installs it). Standard library only.
"""

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from html.parser import HTMLParser

SEQ = 16
SAMPLES = 4
EVIL = 'evil</script><img src=x onerror="document.title=1">&amp;'
INT8_RGB = (0x2B, 0x8A, 0x3E)  # --int8 in report_html.cpp
FP32_RGB = (0xE8, 0x59, 0x0C)  # --fp32


def fail(message):
    sys.exit("report_browser.py: FAIL: " + message)


TIMES = {}  # seconds per command, printed at the end: the test should stay under ~20 s


def run(cmd, timeout=120):
    env = dict(os.environ, OMP_NUM_THREADS="2")
    start = time.monotonic()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    key = os.path.basename(cmd[0]) + " " + cmd[1]
    TIMES[key] = TIMES.get(key, 0) + time.monotonic() - start
    if r.returncode != 0:
        fail(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return r


def write_npy_i64(path, rows):
    """A C-order int64 .npy of `rows` (a list of equal-length lists)."""
    header = "{'descr': '<i8', 'fortran_order': False, 'shape': (%d, %d), }" % (
        len(rows), len(rows[0]))
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        for row in rows:
            f.write(struct.pack("<%dq" % len(row), *row))


def inspect_layers(octet, model, fp32_layers):
    """(name, op, precision) of every layer `octet inspect` lists."""
    cmd = [octet, "inspect", model, "--seq", str(SEQ), "--threads", "2"]
    if fp32_layers:
        cmd += ["--fp32-layers", ",".join(fp32_layers)]
    lines = run(cmd).stdout.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("name ") and "precision" in l)
    layers = []
    for line in lines[start + 2:]:
        if not line.strip():
            break
        name, op, precision = re.split(r"\s{2,}", line.strip())[:3]
        layers.append((name, op, precision))
    m = re.search(r"^(\d+) layers, prepared in", "\n".join(lines), re.M)
    if not m or int(m.group(1)) != len(layers):
        fail("could not read inspect's layer table:\n" + "\n".join(lines))
    return layers


class Dom(HTMLParser):
    """What the checks need from the dumped DOM."""

    def __init__(self):
        super().__init__()
        self.stack = []
        self.status = None
        self.rows = []       # per #layer-rows > tr: the texts of its cells
        self.cells = 0       # rect.cell in svg#strip
        self.figures = []    # the <b> caption of each figure.hist in #hists
        self.imgs = 0
        self.text = []
        self._row = None
        self._cell_text = None
        self._caption = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        ids = [x.get("id") for _, x in self.stack]
        if tag == "body":
            self.status = a.get("data-status")
        if tag == "img":
            self.imgs += 1
        if tag == "tr" and ids and ids[-1] == "layer-rows":
            self._row = []
        if tag == "td" and self._row is not None:
            self._cell_text = ""
        if tag == "rect" and "cell" in classes and "strip" in ids:
            self.cells += 1
        if tag == "figure" and "hist" in classes and "hists" in ids:
            self.figures.append("")
            self._caption = None
        if tag == "b" and self.figures and "figcaption" in [t for t, _ in self.stack]:
            self._caption = ""
        if tag not in ("rect", "line", "path", "input", "meta", "br"):
            self.stack.append((tag, a))

    def handle_endtag(self, tag):
        if tag == "td" and self._row is not None and self._cell_text is not None:
            self._row.append(self._cell_text)
            self._cell_text = None
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        if tag == "b" and self._caption is not None:
            self.figures[-1] = self._caption
            self._caption = None
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        self.text.append(data)
        if self._cell_text is not None:
            self._cell_text += data
        if self._caption is not None:
            self._caption += data


def read_png(path):
    """(width, height, channels, rows of bytes) of an 8-bit non-interlaced PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path} is not a PNG")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color, _, _, interlace = ihdr
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color)
    if depth != 8 or channels is None or interlace:
        fail(f"{path}: unexpected PNG format (depth {depth}, color type {color})")
    raw, stride, bpp = zlib.decompress(idat), width * channels, channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, upleft = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - upleft
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else upleft
                line[i] = (line[i] + pred) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, channels, rows


def check_screenshot(path):
    width, height, channels, rows = read_png(path)
    if (width, height) != (1280, 2000):
        fail(f"screenshot is {width}x{height}, not the 1280x2000 window")
    colors, n, total, total2 = set(), 0, 0, 0
    for row in rows[::2]:
        for x in range(0, width * channels, channels * 2):
            rgb = tuple(row[x:x + 3]) if channels >= 3 else (row[x],) * 3
            colors.add(rgb)
            g = sum(rgb) / 3
            n, total, total2 = n + 1, total + g, total2 + g * g
    variance = total2 / n - (total / n) ** 2
    near = lambda want: any(all(abs(c - w) <= 3 for c, w in zip(rgb, want)) for rgb in colors)
    if variance < 50 or len(colors) < 20:
        fail(f"the screenshot looks blank: variance {variance:.1f}, {len(colors)} colours")
    if not near(INT8_RGB) or not near(FP32_RGB):
        fail("the screenshot shows no int8 or no fp32 square of the precision map")
    return variance, len(colors)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--octet", required=True)
    ap.add_argument("--dir", required=True)
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("report_browser.py: skipped: chromium is not installed (tools/setup.sh test)")
        sys.exit(77)
    octet = os.path.abspath(args.octet)
    work = os.path.abspath(args.dir)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    f = lambda name: os.path.join(work, name)

    model = f("bert-tiny")
    run([octet, "zoo", "bert-tiny", "-o", model])
    ids = [[(7 * s + 3 * t + 1) % 100 for t in range(SEQ)] for s in range(SAMPLES)]
    mask = [[1 if t < SEQ - s else 0 for t in range(SEQ)] for s in range(SAMPLES)]
    types = [[0 if t < SEQ // 2 else 1 for t in range(SEQ)] for s in range(SAMPLES)]
    for name, rows in (("input_ids", ids), ("attention_mask", mask), ("token_type_ids", types)):
        write_npy_i64(f(name + ".npy"), rows)
    data = ",".join(f"{n}={f(n + '.npy')}" for n in ("input_ids", "attention_mask",
                                                      "token_type_ids"))
    # 1024 bins: still 4 per drawn bar, and the entropy search is 4x shorter than with 2048.
    run([octet, "calibrate", model, "--data", data, "--method", "all", "--bins", "1024",
         "--quiet", "--threads", "2", "-o", f("table.json")])
    with open(f("table.json")) as fh:
        table = json.load(fh)
    run([octet, "quantize", model, "--table", f("table.json"), "-o", f("bert-tiny-int8")])

    # The expected page, from `octet inspect`: the int8 layers, one kept in fp32.
    int8 = [l for l in inspect_layers(octet, f("bert-tiny-int8"), [])
            if l[2] == "int8" and l[1] in ("MatMul", "Gemm", "Conv")]
    if len(int8) < 3:
        fail(f"bert-tiny has {len(int8)} int8 MatMul/Gemm layers; expected several")
    fallback = int8[1][0]
    expected = inspect_layers(octet, f("bert-tiny-int8"), [fallback])
    if next(l for l in expected if l[0] == fallback)[2] != "fp32":
        fail(f"inspect --fp32-layers {fallback} did not keep it in fp32")

    layers = [{"rank": i + 1, "name": name, "op": op, "sensitivity": 0.8 / (i + 1) - 0.1,
               "only_this_int8": {"metric": 80 - 0.8 / (i + 1), "drop": 0.8 / (i + 1)},
               "all_but_this_int8": {"metric": 79.5, "drop": 0.5},
               "output_error": {"sqnr_db": 30.0 - i, "cosine": 0.999}}
              for i, (name, op, _) in enumerate(int8)]
    layers.append({"rank": len(layers) + 1, "name": EVIL, "sensitivity": -0.05,
                   "output_error": {"sqnr_db": None}})
    sensitivity = {
        "format": "octet-sensitivity", "version": 1, "model": "bert-tiny",
        "model_hash": table["model_hash"], "table": "table.json", "method": table["method"],
        "metric": "accuracy", "metric_unit": "%", "higher_is_better": True,
        "data": "synthetic </script> & <b>ids</b>", "samples": SAMPLES, "seconds": 1.5,
        "fp32": {"metric": 80.0}, "int8": {"metric": 79.2, "drop": 0.8}, "layers": layers,
        "fallback": {"target": 79.5, "reached": True,
                     "steps": [{"fp32_layers": [fallback], "metric": 79.7, "drop": 0.3}],
                     "fp32_layers": [fallback], "int8_layers": len(int8) - 1,
                     "layers": len(int8), "latency_ms": {"fp32": 1.2, "int8": 0.6,
                                                         "fallback": 0.7}, "batch": 1}}
    with open(f("sensitivity.json"), "w") as fh:
        json.dump(sensitivity, fh, indent=1)

    html = f("report.html")
    run([octet, "report", model, "--table", f("table.json"), "--sensitivity",
         f("sensitivity.json"), "--seq", str(SEQ), "--runs", "3", "--threads", "2", "-o", html])

    png = f("report.png")
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="octet-chromium-") as profile:
        r = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--user-data-dir=" + profile,
             "--enable-logging=stderr", "--v=0", "--screenshot=" + png, "--dump-dom",
             "--window-size=1280,2000", "file://" + html],
            capture_output=True, text=True, timeout=90)
    TIMES["chromium"] = time.monotonic() - start
    if r.returncode != 0:
        fail(f"chromium exited {r.returncode}:\n{r.stderr[-3000:]}")
    console = [l for l in r.stderr.splitlines() if "CONSOLE" in l or "Uncaught" in l]
    if console:
        fail("the page logged to the console:\n" + "\n".join(console))
    dom = Dom()
    dom.feed(r.stdout)
    if dom.status != "ok":
        fail(f"<body data-status> is {dom.status!r}, not 'ok'")

    names = [row[1] for row in dom.rows]
    if names != [l[0] for l in expected]:
        fail(f"{len(dom.rows)} layer rows; inspect lists {len(expected)} layers:\n"
             f"page:    {names}\ninspect: {[l[0] for l in expected]}")
    if [row[3] for row in dom.rows] != [l[2] for l in expected]:
        fail("the rows' precisions differ from inspect's")
    if dom.cells != len(expected):
        fail(f"{dom.cells} precision-map squares for {len(expected)} layers")
    tensors = list(table["tensors"])
    if dom.figures != tensors:
        fail(f"{len(dom.figures)} histograms for {len(tensors)} calibrated tensors")
    text = "".join(dom.text)
    if dom.imgs or EVIL not in text or "synthetic </script> & <b>ids</b>" not in text:
        fail("markup in a layer name or the data description was not shown as text")
    start = time.monotonic()
    variance, colors = check_screenshot(png)
    TIMES["png check"] = time.monotonic() - start
    print("report_browser.py: seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in TIMES.items()))
    print(f"report_browser.py: ok: {len(expected)} layer rows, {len(tensors)} histograms, "
          f"screenshot variance {variance:.0f} with {colors} colours")


if __name__ == "__main__":
    main()
