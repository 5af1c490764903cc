#!/usr/bin/python3
"""PyTorch (Debian python3-torch 1.13) latency on the .npy inputs of a folder.

PyTorch cannot run an ONNX file, so this rebuilds the model the ONNX file was
exported from (tools/export/models.py, same seed, hence the same weights)
and, with --check DIR, first checks that claim: its fp32 logits on the
export's own sample inputs against DIR/<model>.expected.logits.npy.

    /usr/bin/python3 bench/peers/torch_bench.py --model resnet50 --precision int8 \\
        --inputs DIR [DIR...] --threads 2 --iterations 20 --warmup 3 [--calib DIR ...] [--check DIR]

fp32: TorchScript, frozen and optimize_for_inference (oneDNN convolutions).
int8: ResNet - FX static quantization calibrated on the --calib folders;
BERT - dynamic quantization of every nn.Linear (s8 weights); TorchScript;
--engine onednn (default) or qnnpack (Debian's torch has no fbgemm, so no
"x86" engine either; qnnpack is several times slower, bench/README.md). One
JSON line per --inputs folder on stdout.
compare.sh runs it with OMP_WAIT_POLICY=PASSIVE and OPENBLAS_NUM_THREADS set
to the thread count (bench/README.md says why).
"""
import argparse
import copy
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "export"))
import models  # noqa: E402

INPUT_ORDER = {"resnet50": ["input"],
               "bert-base": ["input_ids", "attention_mask", "token_type_ids"]}


def load_inputs(model_name, folder, prefix=""):
    return tuple(torch.from_numpy(np.load(os.path.join(folder, prefix + n + ".npy")))
                 for n in INPUT_ORDER[model_name])


def check_same_weights(model, model_name, folder):
    inputs = load_inputs(model_name, folder, model_name + ".input.")
    with torch.no_grad():
        got = model(*inputs).float().numpy().ravel()
    want = np.load(os.path.join(folder, model_name + ".expected.logits.npy")).ravel()
    cosine = float(got @ want / (np.linalg.norm(got) * np.linalg.norm(want)))
    if cosine < 0.9999:
        sys.exit(f"torch_bench.py: {model_name} is not the exported model (cosine {cosine})")


def prepare(model, model_name, precision, example, calib, engine):
    if precision == "int8":
        torch.backends.quantized.engine = engine
    if precision == "int8" and model_name == "resnet50":
        from torch.ao.quantization import get_default_qconfig_mapping
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
        prepared = prepare_fx(model, get_default_qconfig_mapping(engine), example_inputs=example)
        with torch.no_grad():
            for folder in calib:
                prepared(*load_inputs(model_name, folder))
        model = convert_fx(prepared)
    elif precision == "int8":
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    with torch.no_grad():
        traced = torch.jit.freeze(torch.jit.trace(model, example, check_trace=False))
        if precision == "fp32":
            traced = torch.jit.optimize_for_inference(traced)
    return traced


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, choices=sorted(INPUT_ORDER))
    p.add_argument("--precision", required=True, choices=["fp32", "int8"])
    p.add_argument("--inputs", required=True, nargs="+", help="one JSON line per folder")
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--iterations", type=int, nargs="+", default=[20],
                   help="timed runs: one count for all folders, or one per folder")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--calib", nargs="*", default=[])
    p.add_argument("--engine", default="onednn", choices=["onednn", "qnnpack"],
                   help="quantized engine (int8)")
    p.add_argument("--check", help="folder of tools/export/export.py's files")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = models.build_model(args.model, seed=0)
    if args.check:
        check_same_weights(model, args.model, args.check)
    counts = args.iterations * len(args.inputs) if len(args.iterations) == 1 else args.iterations
    if len(counts) != len(args.inputs):
        sys.exit("torch_bench.py: give one --iterations count, or one per --inputs folder")
    for folder, iterations in zip(args.inputs, counts):
        print(json.dumps(time_one(model, args, folder, iterations)), flush=True)


def time_one(model, args, folder, iterations):
    example = load_inputs(args.model, folder)
    t0 = time.perf_counter()
    runnable = prepare(copy.deepcopy(model), args.model, args.precision, example, args.calib, args.engine)
    prepare_ms = (time.perf_counter() - t0) * 1e3
    ms = []
    with torch.no_grad():
        t0 = time.perf_counter()
        runnable(*example)
        first_ms = (time.perf_counter() - t0) * 1e3
        for _ in range(args.warmup):
            runnable(*example)
        for _ in range(iterations):
            t0 = time.perf_counter()
            runnable(*example)
            ms.append((time.perf_counter() - t0) * 1e3)
    ms.sort()
    m = len(ms) // 2
    median = ms[m] if len(ms) % 2 else (ms[m - 1] + ms[m]) / 2  # trtexec's median
    return {"runtime": "pytorch " + torch.__version__, "model": args.model,
            "precision": args.precision, "engine": args.engine if args.precision == "int8" else "",
            "batch": int(example[0].shape[0]), "threads": torch.get_num_threads(),
            "iterations": len(ms), "min_ms": ms[0], "median_ms": median,
            "mean_ms": sum(ms) / len(ms), "max_ms": ms[-1], "prepare_ms": prepare_ms,
            "first_run_ms": first_ms}

if __name__ == "__main__":
    main()
