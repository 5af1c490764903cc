#!/usr/bin/python3
"""Seeded benchmark inputs as .npy files, one per model input.

Every runtime of bench/peers/compare.sh reads these same files, so all of
them time the same data (octet through --loadInputs).

    /usr/bin/python3 bench/peers/make_inputs.py --model resnet50 --batch 32 --out DIR
    -> DIR/input.npy                       float32 [32, 3, 224, 224], N(0, 1)
    /usr/bin/python3 bench/peers/make_inputs.py --model bert-base --batch 8 --seq 128 --out DIR
    -> DIR/input_ids.npy, DIR/attention_mask.npy, DIR/token_type_ids.npy   int64 [8, 128]
    /usr/bin/python3 bench/peers/make_inputs.py --model efficientnet_b0 --batch 1 --out DIR
    -> DIR/input.npy   (any model of tools/export/zoo_list.py: each input N(0, 1) at its shape)
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tools", "export"))
from zoo_list import ZOO  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, choices=["bert-base"] + sorted(ZOO))
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    if args.model in ZOO:
        arrays = {name: rng.standard_normal((args.batch,) + tuple(shape[1:]), dtype=np.float32)
                  for name, shape in ZOO[args.model].inputs.items()}
    else:
        # Full-length rows (no padding), so that every runtime does the whole
        # seq x seq attention; ids avoid the special tokens below 1000.
        ids = rng.integers(1000, 30522, (args.batch, args.seq), dtype=np.int64)
        ids[:, 0], ids[:, -1] = 101, 102  # [CLS] ... [SEP]
        arrays = {"input_ids": ids,
                  "attention_mask": np.ones_like(ids),
                  "token_type_ids": np.zeros_like(ids)}
    for name, a in arrays.items():
        np.save(os.path.join(args.out, name + ".npy"), a)


if __name__ == "__main__":
    main()
