#!/usr/bin/python3
"""Export a seeded reference model to ONNX together with its test vectors.

octet's end-to-end tests load ``DIR/<model>.onnx``, feed it the saved
``DIR/<model>.input.<name>.npy`` arrays and compare what they get with
``DIR/<model>.expected.logits.npy`` (torch fp32, eval mode, no_grad), e.g. with
``tests/python/compare_npy.py``.

Example::

    /usr/bin/python3 tools/export/export.py --model bert-tiny --out /tmp/octet-ref
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
import onnx
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402  (needs the path tweak above)
import zoo_list  # noqa: E402

CLS_ID, SEP_ID, PAD_ID = 101, 102, 0


def parse_args(argv=None):
    """Command line; defaults give the inputs the C++ tests expect."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True,
                   choices=sorted(set(models.MODEL_NAMES + zoo_list.NAMES)))
    p.add_argument("--out", required=True, help="output directory (created)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the weights and of the sample inputs")
    p.add_argument("--opset", type=int, default=17, choices=range(13, 18),
                   metavar="{13..17}",
                   help="ONNX opset (17: LayerNormalization op, "
                        "13: LayerNorm decomposed)")
    p.add_argument("--batch", type=int, default=None,
                   help="sample batch size (default 1 for resnet, 2 for bert)")
    p.add_argument("--seq", type=int, default=128,
                   help="sample sequence length for bert (default 128)")
    p.add_argument("--keep-batchnorm", action="store_true",
                   help="resnet: keep BatchNormalization nodes instead of "
                        "letting torch fold them into Conv (torch's default)")
    p.add_argument("--init-std", type=float, default=0.02,
                   help="bert: std of Linear/embedding init (HF: 0.02; larger "
                        "makes the logits depend more on attention)")
    p.add_argument("--threads", type=int, default=2,
                   help="torch intra-op threads")
    return p.parse_args(argv)


def resnet_inputs(batch, generator):
    """One N(0, 1) NCHW image batch, i.e. an already-normalised image."""
    x = torch.randn((batch, 3, 224, 224), generator=generator)
    return {"input": x}


def bert_row(seq, length, vocab, generator):
    """One padded sentence-pair row: [CLS] a.. [SEP] b.. [SEP] then padding.

    Returns (ids, mask, token_types) as int64 tensors of length ``seq``.
    Word ids are uniform in [0, vocab); padding is id 0, mask 0, type 0.
    """
    ids = torch.randint(0, vocab, (seq,), generator=generator)
    mask = torch.zeros(seq, dtype=torch.long)
    types = torch.zeros(seq, dtype=torch.long)
    mask[:length] = 1
    ids[length:] = PAD_ID
    ids[0] = CLS_ID
    if length >= 2:
        ids[length - 1] = SEP_ID
    if length >= 4:  # room for two segments
        first_sep = int(torch.randint(1, length - 2, (1,), generator=generator))
        ids[first_sep] = SEP_ID
        types[first_sep + 1:length] = 1
    return ids, mask, types


def bert_lengths(batch, seq, generator):
    """Valid lengths per row: row 0 full (batch > 1), the rest padded.

    A batch padded to its longest row has one full row; every other row (and
    the single row when batch == 1) keeps 1/4..3/4 of the row and pads the
    rest, so that ignoring the mask visibly moves the logits.
    """
    low = max(2, seq // 4)
    high = max(low + 1, 3 * seq // 4 + 1)
    lengths = [int(torch.randint(low, high, (1,), generator=generator))
               for _ in range(batch)]
    lengths = [min(n, seq) for n in lengths]
    if batch > 1:
        lengths[0] = seq
    return lengths


def bert_inputs(batch, seq, vocab, generator):
    """Sample ``input_ids``, ``attention_mask``, ``token_type_ids`` (int64)."""
    rows = [bert_row(seq, n, vocab, generator)
            for n in bert_lengths(batch, seq, generator)]
    ids, mask, types = (torch.stack(cols) for cols in zip(*rows))
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def sample_inputs(args):
    """Seeded inputs (separate generator so weights and inputs are independent)."""
    generator = torch.Generator().manual_seed(args.seed + 1_000_003)
    if args.model in zoo_list.ZOO and args.model not in models.RESNET_NAMES:
        import zoo_models  # needs torchvision
        return zoo_models.sample_inputs(args.model, args.batch or 1, generator)
    if args.model in models.RESNET_NAMES:
        return resnet_inputs(args.batch or 1, generator)
    cfg = {**models.BERT_CONFIGS, **models.BERT_QA_CONFIGS}[args.model]
    if not 1 <= args.seq <= cfg.max_position_embeddings:
        raise SystemExit(f"--seq must be in [1, {cfg.max_position_embeddings}]")
    return bert_inputs(args.batch or 2, args.seq, cfg.vocab_size, generator)


def output_names(model_name):
    """``logits``, a span head's two outputs, or a zoo model's."""
    if model_name in zoo_list.ZOO:
        return list(zoo_list.ZOO[model_name].outputs)
    if model_name in models.BERT_QA_CONFIGS:
        return ["start_logits", "end_logits"]
    return ["logits"]


def dynamic_axes(model_name, input_names):
    """Batch (and sequence for BERT) left symbolic in the exported graph."""
    if model_name in zoo_list.ZOO:
        return zoo_list.ZOO[model_name].dynamic
    if model_name in models.RESNET_NAMES:
        axes = {name: {0: "batch"} for name in input_names}
    else:
        axes = {name: {0: "batch", 1: "sequence"} for name in input_names}
    for name in output_names(model_name):
        axes[name] = {0: "batch", 1: "sequence"} if name != "logits" else {0: "batch"}
    return axes


def export_onnx(model, inputs, path, model_name, opset, keep_batchnorm=False):
    """torch.onnx.export with constant folding and dynamic axes.

    torch's default (TrainingMode.EVAL) runs an eval peephole pass that folds
    every BatchNorm into the preceding Conv, so the graph has no
    BatchNormalization at all.  TrainingMode.PRESERVE on an eval-mode model
    skips that pass and keeps BN (inference form) for testing octet's own
    folding; torch then warns about constant folding in training mode, which
    does not apply to an eval-mode model, so that warning is silenced.
    """
    names = list(inputs)
    mode = (torch.onnx.TrainingMode.PRESERVE if keep_batchnorm
            else torch.onnx.TrainingMode.EVAL)
    # Under no_grad an eval-mode nn.MultiheadAttention (ViT's) takes torch's
    # fused fast path, aten::_native_multi_head_attention, which has no ONNX
    # export; with gradients on it runs the plain ops that export.
    has_mha = any(isinstance(m, torch.nn.MultiheadAttention) for m in model.modules())
    grad = torch.enable_grad() if has_mha else torch.no_grad()
    with grad, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="It is recommended that constant folding")
        torch.onnx.export(
            model, tuple(inputs[n] for n in names), path,
            input_names=names, output_names=output_names(model_name),
            dynamic_axes=dynamic_axes(model_name, names),
            opset_version=opset, do_constant_folding=True, training=mode)


def check_onnx(path, input_names, outputs=("logits",)):
    """onnx.checker plus a look that inputs/outputs are named as promised."""
    onnx.checker.check_model(path)
    graph = onnx.load(path).graph
    got_in = [i.name for i in graph.input]
    got_out = [o.name for o in graph.output]
    if got_in != input_names or got_out != list(outputs):
        raise SystemExit(f"unexpected graph io: inputs {got_in}, outputs {got_out}")
    return len(graph.node)


def save_vectors(out_dir, model_name, inputs, outputs):
    """Write the .npy test vectors (``outputs``: name -> tensor); returns their paths."""
    paths = []
    for name, tensor in inputs.items():
        path = os.path.join(out_dir, f"{model_name}.input.{name}.npy")
        np.save(path, tensor.numpy())
        paths.append(path)
    for name, tensor in outputs.items():
        path = os.path.join(out_dir, f"{model_name}.expected.{name}.npy")
        np.save(path, tensor.numpy().astype(np.float32))
        paths.append(path)
    return paths


def main(argv=None):
    """Build, run, export, check; print timings and sizes."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)

    t0 = time.perf_counter()
    if args.model in zoo_list.ZOO and args.model not in models.RESNET_NAMES:
        import zoo_models
        model = zoo_models.build(args.model, args.seed)
    else:
        model = models.build_model(args.model, args.seed, args.init_std)
    t_build = time.perf_counter() - t0

    inputs = sample_inputs(args)
    with torch.no_grad():
        result = model(*inputs.values())
    names = output_names(args.model)
    outputs = dict(zip(names, result if isinstance(result, tuple) else (result,)))
    # One summary line below: the output, or several outputs together.
    logits = torch.cat([t.float().flatten() for t in outputs.values()]) if len(names) > 1 \
        else outputs[names[0]].float()

    onnx_path = os.path.join(args.out, f"{args.model}.onnx")
    t0 = time.perf_counter()
    export_onnx(model, inputs, onnx_path, args.model, args.opset,
                args.keep_batchnorm)
    t_export = time.perf_counter() - t0

    t0 = time.perf_counter()
    n_nodes = check_onnx(onnx_path, list(inputs), names)
    t_check = time.perf_counter() - t0

    vectors = save_vectors(args.out, args.model, inputs, outputs)
    size_mb = os.path.getsize(onnx_path) / 1e6
    shapes = ", ".join(f"{k} {tuple(v.shape)} {v.dtype}" for k, v in inputs.items())
    print(f"{args.model} opset {args.opset} seed {args.seed}: {onnx_path}")
    print(f"  {size_mb:.1f} MB, {n_nodes} nodes; build {t_build:.1f}s, "
          f"export {t_export:.1f}s, check {t_check:.1f}s")
    print(f"  inputs: {shapes}")
    print(f"  {', '.join(names)} {tuple(logits.shape)}: std {logits.std().item():.4g}, "
          f"mean {logits.mean().item():.4g}, max|.| {logits.abs().max().item():.4g}")
    for path in vectors:
        print(f"  wrote {path}")


if __name__ == "__main__":
    main()
