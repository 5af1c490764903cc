#!/usr/bin/python3
"""Train the bert_demo's default model: a small BERT on SST-2, from scratch.

A 2-layer BERT (hidden 128, 2 heads, FFN 512, 128 positions) with the
bert-base-uncased WordPiece vocabulary, the module layout of
tools/export/models.py (HuggingFace names), trained on GLUE SST-2's 67,349
labeled sentences and scored on its 872 dev sentences. No pretraining: the
embeddings are learned from SST-2 alone. Exports ONNX for ``octet convert``
with the class names and the tokenizer settings in its ``metadata_props``.
Seeded: the same command on the same torch build gives the same weights.

    /usr/bin/python3 tools/train/sst2_bert.py --vocab build/bert-vocab/vocab.txt \\
        --train ../shared/data/sst2/train.tsv --dev ../shared/data/sst2/dev.tsv \\
        -o build/train/sst2-bert.onnx

Tokenization is tests/python/wordpiece_reference.py, which octet's C++
tokenizer matches on every SST-2 sentence (tests/python/wordpiece_compare.py).
See tools/train/README.md for the accuracy reached.
"""

import argparse
import math
import os
import sys
import time
import warnings

import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "export"))
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
sys.path.insert(0, HERE)
import models  # noqa: E402  (needs the path tweaks above)
import onnx_metadata  # noqa: E402
import wordpiece_reference as wordpiece  # noqa: E402

LABELS = ("negative", "positive")
CONFIG = models.BertConfig(hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=512, max_position_embeddings=128)


def read_tsv(path):
    """[(sentence, label)] of a GLUE-style TSV with a ``sentence<TAB>label`` header."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.rstrip("\n").split("\t")
            if n == 1 and parts[-1] == "label":
                continue
            if len(parts) != 2:
                raise ValueError(f"{path}:{n}: expected sentence<TAB>label")
            rows.append((parts[0], int(parts[1])))
    return rows


def encode_all(rows, vocab, max_length):
    """Token id lists (with [CLS] ... [SEP], truncated) and labels."""
    ids = [wordpiece.encode(vocab, text, max_length=max_length, pad=False)["input_ids"]
           for text, _ in rows]
    return ids, [label for _, label in rows]


def batches(ids, labels, batch, gen, shuffle):
    """Padded (input_ids, attention_mask, labels) batches. Training batches
    group sentences of similar length (shuffled, then sorted within chunks of
    50 batches) so little time goes to padding."""
    order = torch.randperm(len(ids), generator=gen).tolist() if shuffle else list(range(len(ids)))
    chunk = batch * 50
    groups = []
    for i in range(0, len(order), chunk):
        part = order[i:i + chunk]
        if shuffle:
            part.sort(key=lambda k: len(ids[k]))
        groups += [part[j:j + batch] for j in range(0, len(part), batch)]
    if shuffle:
        groups = [groups[k] for k in torch.randperm(len(groups), generator=gen).tolist()]
    for g in groups:
        width = max(len(ids[k]) for k in g)
        x = torch.zeros(len(g), width, dtype=torch.long)
        mask = torch.zeros(len(g), width, dtype=torch.long)
        for r, k in enumerate(g):
            x[r, :len(ids[k])] = torch.tensor(ids[k])
            mask[r, :len(ids[k])] = 1
        yield x, mask, torch.tensor([labels[k] for k in g])


def init_weights(model):
    """BERT's own init: N(0, 0.02) weights, zero biases, LayerNorm 1/0."""
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)
        if isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def evaluate(model, ids, labels):
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, mask, y in batches(ids, labels, 256, None, shuffle=False):
            correct += (model(x, mask, torch.zeros_like(x)).argmax(1) == y).sum().item()
    return 100.0 * correct / len(ids)


def train(args, vocab):
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    train_ids, train_y = encode_all(read_tsv(args.train), vocab, args.max_length)
    dev_ids, dev_y = encode_all(read_tsv(args.dev), vocab, args.max_length)
    print(f"{len(train_ids)} train, {len(dev_ids)} dev sentences tokenized", flush=True)

    model = models.BertForSequenceClassification(CONFIG)
    init_weights(model)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    steps = args.epochs * math.ceil(len(train_ids) / args.batch)
    warmup = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / (steps - warmup))))
    history = []
    for epoch in range(args.epochs):
        model.train()
        start, total, count = time.time(), 0.0, 0
        for x, mask, y in batches(train_ids, train_y, args.batch, gen, shuffle=True):
            loss = F.cross_entropy(model(x, mask, torch.zeros_like(x)), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total, count = total + loss.item(), count + 1
        acc = evaluate(model, dev_ids, dev_y)
        history.append({"epoch": epoch + 1, "loss": total / count, "dev_accuracy": acc,
                        "seconds": time.time() - start})
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total / count:.4f}, "
              f"dev accuracy {acc:.2f}%, {time.time() - start:.0f} s", flush=True)
    return model.eval(), history


def export(model, history, args):
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    x = torch.ones(2, 16, dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["logits"] = {0: "batch"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        torch.onnx.export(model, (x, x, torch.zeros_like(x)), args.output, input_names=names,
                          output_names=["logits"], dynamic_axes=axes, opset_version=17,
                          do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL)
    onnx_metadata.finish_export(args.output, {
        "octet.labels": list(LABELS),
        "octet.tokenizer": {"vocab": "bert-base-uncased", "vocab_size": CONFIG.vocab_size,
                            "lowercase": True, "max_length": CONFIG.max_position_embeddings},
        "octet.source": {
            "recipe": "tools/train/sst2_bert.py", "data": "GLUE SST-2", "seed": args.seed,
            "epochs": args.epochs,
            "dev_accuracy_torch": round(history[-1]["dev_accuracy"], 2) if history else None},
    }, history)


def main(argv=None):
    shared = os.path.join(ROOT, "..", "shared", "data")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", required=True, help="output .onnx path")
    p.add_argument("--vocab", default=os.path.join(ROOT, "build", "bert-vocab", "vocab.txt"),
                   help="bert-base-uncased vocab.txt (default build/bert-vocab/vocab.txt, "
                        "made by tools/vocab_from_npm.sh)")
    p.add_argument("--train", default=os.path.join(shared, "sst2", "train.tsv"))
    p.add_argument("--dev", default=os.path.join(shared, "sst2", "dev.tsv"))
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-4, help="peak learning rate")
    p.add_argument("--max-length", type=int, default=64, help="tokens per training sentence")
    p.add_argument("--seed", type=int, default=20)
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    vocab = wordpiece.load_vocab(args.vocab)
    if len(vocab) != CONFIG.vocab_size:
        raise SystemExit(f"{args.vocab}: {len(vocab)} tokens, expected {CONFIG.vocab_size}")
    model, history = train(args, vocab)
    export(model, history, args)


if __name__ == "__main__":
    main()
