#!/usr/bin/python3
"""Export a pretrained CIFAR-10 ResNet-20/56 checkpoint to ONNX for octet.

The graph has input ``input`` float32 ``[batch, 3, 32, 32]`` (normalized RGB,
dynamic batch) and output ``logits`` ``[batch, 10]``. BatchNorm is folded into
the convolutions by torch's exporter (TrainingMode.EVAL), or with
``--keep-batchnorm`` kept as BatchNormalization nodes after them (for
``octet study``'s weight rows before folding). The parameter-free
"option A" shortcut (stride-2 subsample + zero channel padding) is written as
a 1x1 stride-2 Conv with a fixed 0/1 selection weight, because octet has no
``Pad`` op (see resnet_cifar.py and README.md); the graph therefore holds only
Conv, Relu, Add, GlobalAveragePool, Flatten and Gemm.

The model's ``metadata_props`` carry the preprocessing (``octet.preprocess``)
and the class names (``octet.labels``), both as JSON strings.

After export the file is checked: ``onnx.checker``, the op set, the metadata,
and the logits of tests/python/onnx_numpy_ref.py (an independent numpy
interpreter) against torch's original slice+pad model on a seeded random batch.

Example::

    /usr/bin/python3 tools/cifar/export.py --model resnet20 -o /tmp/cifar/resnet20.onnx \
        --checkpoint ../shared/models/cifar10-resnet/resnet20-12fca82f.th
"""

import argparse
import collections
import json
import os
import sys
import time
import warnings

import numpy as np
import onnx
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
import resnet_cifar  # noqa: E402  (needs the path tweak above)

# CIFAR-10's label order (batches.meta of the original dataset).
CIFAR10_LABELS = ("airplane", "automobile", "bird", "cat", "deer",
                  "dog", "frog", "horse", "ship", "truck")
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
# What an application does to an 8-bit RGB image before feeding ``input``:
# resize the shorter side to 32 (CIFAR images already are 32x32), center crop
# 32x32, values v / 255 in [0, 1], then (v - mean) / std per channel, NCHW.
# The schema is octet's (loaders/data/image.hpp, preprocess_from_json): "scale" is
# the value range, 1 for [0, 1] or 255 for [0, 255], not a multiplier; octet
# refuses any other value, 1/255 included.
PREPROCESS = {"resize": 32, "crop": [32, 32], "channels": "rgb", "scale": 1,
              "mean": list(MEAN), "std": list(STD), "layout": "nchw"}
# The ops this export may contain: all in docs/architecture.md's op table.
EXPECTED_OPS = {"Conv", "Relu", "Add", "GlobalAveragePool", "Flatten", "Gemm"}


def parse_args(argv=None):
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, choices=tuple(resnet_cifar.DEPTHS))
    p.add_argument("--checkpoint", required=True,
                   help="resnetNN-*.th (torch.load(...)['state_dict'], keys 'module.*')")
    p.add_argument("-o", "--output", required=True, help="output .onnx path")
    p.add_argument("--opset", type=int, default=17, choices=range(13, 18),
                   metavar="{13..17}", help="ONNX opset (default 17)")
    p.add_argument("--check-batch", type=int, default=4,
                   help="random batch for the numpy-vs-torch check (0: skip it)")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    p.add_argument("--keep-batchnorm", action="store_true",
                   help="export BatchNormalization as its own op instead of folding it into "
                        "the Conv (for octet study's weight rows before folding)")
    return p.parse_args(argv)


def normalize(rgb_u8):
    """uint8 ``[N, 32, 32, 3]`` RGB -> float32 ``[N, 3, 32, 32]``, as PREPROCESS says."""
    x = rgb_u8.astype(np.float32)
    if PREPROCESS["scale"] == 1:  # values in [0, 1], as torchvision's ToTensor
        x = x / np.float32(255)
    x = (x - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def export_onnx(model, path, opset, keep_batchnorm=False):
    """torch.onnx.export (BN folded unless kept, dynamic batch) with the shortcut as Conv.

    TrainingMode.PRESERVE of a model in eval mode writes each BatchNorm as an
    inference-form BatchNormalization node; EVAL folds it into the Conv.
    """
    model.set_shortcut_mode("conv")
    dummy = torch.zeros(1, 3, 32, 32)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, (dummy,), path, input_names=["input"], output_names=["logits"],
                dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                opset_version=opset, do_constant_folding=True,
                training=torch.onnx.TrainingMode.PRESERVE if keep_batchnorm
                else torch.onnx.TrainingMode.EVAL)
    finally:
        model.set_shortcut_mode("slice")


def constants_to_initializers(model):
    """Turn the shortcut's ``Constant`` nodes into named initializers.

    torch writes the non-persistent selection buffer as a Constant node; an
    initializer named ``layerN.B.shortcut.select`` reads better and keeps the
    graph to the ops of EXPECTED_OPS.
    """
    graph = model.graph
    renames, keep = {}, []
    for node in graph.node:
        if node.op_type != "Constant":
            keep.append(node)
            continue
        value = [a for a in node.attribute if a.name == "value"]
        if len(value) != 1:
            raise SystemExit(f"unexpected Constant node {node.name}")
        # '/layer2/layer2.0/shortcut/Constant' -> 'layer2.0.shortcut.select'
        parts = node.name.strip("/").split("/")
        name = ".".join(parts[1:-1]) + ".select" if len(parts) > 2 else node.output[0]
        tensor = onnx.TensorProto()
        tensor.CopyFrom(value[0].t)
        tensor.name = name
        graph.initializer.append(tensor)
        renames[node.output[0]] = name
    del graph.node[:]
    graph.node.extend(keep)
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in renames:
                node.input[i] = renames[name]
    return len(renames)


def add_metadata(path, model_name, checkpoint):
    """Constants -> initializers; octet.preprocess / octet.labels into metadata_props."""
    model = onnx.load(path)
    constants_to_initializers(model)
    props = {
        "octet.preprocess": json.dumps(PREPROCESS),
        "octet.labels": json.dumps(list(CIFAR10_LABELS)),
        "octet.source": json.dumps({"model": model_name,
                                    "checkpoint": os.path.basename(checkpoint),
                                    "licence": "BSD-2-Clause, (c) 2018 Yerlan Idelbayev"}),
    }
    del model.metadata_props[:]
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.producer_name = "octet tools/cifar/export.py"
    onnx.save(model, path)


def check_onnx(path, keep_batchnorm=False):
    """checker, io names, dynamic batch, op set, metadata; returns the op histogram."""
    onnx.checker.check_model(path)
    model = onnx.load(path)
    graph = model.graph
    ins, outs = [i.name for i in graph.input], [o.name for o in graph.output]
    if ins != ["input"] or outs != ["logits"]:
        raise SystemExit(f"unexpected graph io: inputs {ins}, outputs {outs}")
    dims = [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    if dims != ["batch", 3, 32, 32]:
        raise SystemExit(f"unexpected input shape {dims}")
    ops = collections.Counter(n.op_type for n in graph.node)
    expected = EXPECTED_OPS | ({"BatchNormalization"} if keep_batchnorm else set())
    if set(ops) - expected:
        raise SystemExit(f"ops outside octet's table: {sorted(set(ops) - expected)}")
    if keep_batchnorm and ops["BatchNormalization"] != ops["Conv"] - 2:
        # Every 3x3 Conv has its BatchNorm; the two shortcut Convs have none.
        raise SystemExit(f"{ops['BatchNormalization']} BatchNormalization for {ops['Conv']} Conv")
    meta = {p.key: json.loads(p.value) for p in model.metadata_props}
    if meta.get("octet.preprocess") != PREPROCESS or \
            meta.get("octet.labels") != list(CIFAR10_LABELS):
        raise SystemExit("metadata_props missing or wrong")
    return ops


def check_numpy(path, model, batch):
    """onnx_numpy_ref on the file vs torch's slice+pad model; returns (cosine, max|diff|)."""
    import onnx_numpy_ref  # tests/python, imported here so export needs only torch/onnx

    gen = torch.Generator().manual_seed(0)
    x = torch.randn((batch, 3, 32, 32), generator=gen)
    with torch.no_grad():
        want = model(x).numpy().astype(np.float64)
    got = onnx_numpy_ref.run_model(onnx.load(path), {"input": x.numpy()})["logits"]
    got = got.astype(np.float64)
    if got.shape != want.shape:
        raise SystemExit(f"numpy reference gave shape {got.shape}, torch {want.shape}")
    cos = float(got.ravel() @ want.ravel() /
                (np.linalg.norm(got) * np.linalg.norm(want)))
    return cos, float(np.abs(got - want).max())


def check_shortcut_forms(model):
    """The conv form of the shortcut equals the slice+pad form in torch."""
    x = torch.randn((2, 3, 32, 32), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = model.set_shortcut_mode("slice")(x)
        conv = model.set_shortcut_mode("conv")(x)
    model.set_shortcut_mode("slice")
    return float((ref - conv).abs().max())


def main(argv=None):
    """Load, export, annotate, check; print what was written."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    out_dir = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(out_dir, exist_ok=True)

    model = resnet_cifar.build(args.model, args.checkpoint)
    shortcut_diff = check_shortcut_forms(model)
    t0 = time.perf_counter()
    export_onnx(model, args.output, args.opset, args.keep_batchnorm)
    add_metadata(args.output, args.model, args.checkpoint)
    t_export = time.perf_counter() - t0
    ops = check_onnx(args.output, args.keep_batchnorm)

    print(f"{args.model} opset {args.opset}: {args.output} "
          f"({os.path.getsize(args.output) / 1e6:.2f} MB, export {t_export:.1f}s)")
    print(f"  {sum(ops.values())} nodes: " +
          ", ".join(f"{k} {v}" for k, v in ops.most_common()))
    print(f"  shortcut conv form vs slice+pad in torch: max|diff| {shortcut_diff:.3g}")
    if args.check_batch > 0:
        cos, diff = check_numpy(args.output, model, args.check_batch)
        print(f"  onnx (numpy interpreter) vs torch, random batch {args.check_batch}: "
              f"cosine {cos:.9f}, max|diff| {diff:.3g}")
        if cos < 0.99999:
            raise SystemExit("the exported graph does not compute torch's logits")


if __name__ == "__main__":
    main()
