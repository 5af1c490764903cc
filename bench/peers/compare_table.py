#!/usr/bin/python3
"""The table of compare.sh: one row per model, batch and precision.

Each cell is the median over the rounds of each runtime's median latency.
The ratios are taken round by round (both runtimes measured minutes apart at
most, under the same machine load), then their median: on a shared machine
they are steadier than the latencies themselves.

    /usr/bin/python3 bench/peers/compare_table.py BUILD/peers/results.jsonl --threads 2
"""
import argparse
import json
import statistics
from collections import defaultdict


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results")
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--skipped", default="", help="runtime:precision:model:batch ... not timed")
    args = p.parse_args()
    ms = defaultdict(dict)  # (model, batch, precision, runtime) -> {round: median ms}
    versions = {}
    for line in open(args.results):
        if not line.strip():
            continue
        row = json.loads(line)
        model, batch, runtime, result = row["model"], row["batch"], row["runtime"], row["result"]
        if runtime == "octet":
            for precision in ("fp32", "int8"):
                ms[model, batch, precision, runtime][row["round"]] = result[precision + "_median_ms"]
            versions["octet"] = "octet " + result["device"]["octet_version"]
        else:
            ms[model, batch, row["precision"], runtime][row["round"]] = result["median_ms"]
            versions[runtime] = result["runtime"]

    def cell(key):
        return statistics.median(ms[key].values()) if ms.get(key) else None

    def ratio(peer, mine):
        rounds = sorted(set(ms.get(peer, {})) & set(ms.get(mine, {})))
        return statistics.median(ms[peer][r] / ms[mine][r] for r in rounds) if rounds else None

    skipped = set(args.skipped.split())

    def text(v, fmt, key=None):
        if v is None and key and f"{key[3]}:{key[2]}:{key[0]}:{key[1]}" in skipped:
            return "skipped"
        return "n/a" if v is None else fmt.format(v)

    print(f"{args.threads} threads; " + ", ".join(versions[k] for k in sorted(versions)))
    print("median latency in ms (median over rounds of each runtime's median); "
          "'x' columns: the peer's time / octet's, per round, median")
    print()
    print("| model | batch | precision | octet | ONNX Runtime | PyTorch | ORT / octet "
          "| PyTorch / octet |")
    print("|---|---|---|---|---|---|---|---|")
    for model, batch in sorted({(k[0], k[1]) for k in ms}, key=lambda k: (k[0], k[1])):
        for precision in ("fp32", "int8"):
            mine = (model, batch, precision, "octet")
            ort = (model, batch, precision, "onnxruntime")
            torch = (model, batch, precision, "pytorch")
            print(f"| {model} | {batch} | {precision} | {text(cell(mine), '{:.1f}')} "
                  f"| {text(cell(ort), '{:.1f}', ort)} | {text(cell(torch), '{:.1f}', torch)} "
                  f"| {text(ratio(ort, mine), '{:.2f}x')} | {text(ratio(torch, mine), '{:.2f}x')} |")
    print()
    print("octet int8 speed-up over its own fp32 (same process, alternating runs): " + ", ".join(
        f"{m} b{b} {ratio((m, b, 'fp32', 'octet'), (m, b, 'int8', 'octet')):.2f}x"
        for m, b in sorted({(k[0], k[1]) for k in ms if k[3] == "octet"})))


if __name__ == "__main__":
    main()
