#!/usr/bin/python3
"""torch fp32 reference accuracy of a CIFAR-10 ResNet on a folder split.

The data folder holds one sub-folder per class (``<data>/<class>/*.jpg``).
Classes are taken in sorted folder order (for CIFAR-10 that is the standard
label order, airplane .. truck) and, per class, the files in sorted name order
``[skip, skip + n)``. Images are decoded with PIL and preprocessed exactly as
the export's ``octet.preprocess`` metadata says (export.normalize).

Example::

    /usr/bin/python3 tools/cifar/eval_torch.py --model resnet20 \
        --checkpoint ../shared/models/cifar10-resnet/resnet20-12fca82f.th \
        --data ../shared/data/cifar10/test-a --per-class-skip 100 --per-class-samples 400
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import export  # noqa: E402  (PREPROCESS, labels, normalize)
import resnet_cifar  # noqa: E402

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm")


def parse_args(argv=None):
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, choices=tuple(resnet_cifar.DEPTHS))
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True, help="folder with one sub-folder per class")
    p.add_argument("--per-class-skip", type=int, default=0)
    p.add_argument("--per-class-samples", type=int, default=None,
                   help="images per class (default: all after the skipped ones)")
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    p.add_argument("--json", help="also write the results to this JSON file")
    return p.parse_args(argv)


def list_split(data, skip=0, samples=None):
    """[(path, label)], classes in sorted folder order, files in sorted order.

    Fails unless the folder names are the CIFAR-10 classes, so that a folder
    index is the model's class index.
    """
    classes = sorted(d for d in os.listdir(data) if os.path.isdir(os.path.join(data, d)))
    if tuple(classes) != export.CIFAR10_LABELS:
        raise SystemExit(f"{data}: class folders {classes} are not CIFAR-10's")
    items = []
    for label, name in enumerate(classes):
        folder = os.path.join(data, name)
        files = sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS))
        end = len(files) if samples is None else skip + samples
        if end > len(files):
            raise SystemExit(f"{folder}: {len(files)} images, the split needs {end}")
        items += [(os.path.join(folder, f), label) for f in files[skip:end]]
    return items


def load_rgb(path):
    """uint8 ``[32, 32, 3]``: PIL decode, RGB, resize shorter side + center crop."""
    size = export.PREPROCESS["resize"]
    crop_h, crop_w = export.PREPROCESS["crop"]
    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        if min(w, h) != size:
            f = size / min(w, h)
            im = im.resize((max(size, round(w * f)), max(size, round(h * f))),
                           Image.BILINEAR)
            w, h = im.size
        left, top = (w - crop_w) // 2, (h - crop_h) // 2
        im = im.crop((left, top, left + crop_w, top + crop_h))
        return np.asarray(im, dtype=np.uint8)


def load_batch(paths):
    """Normalized float32 ``[N, 3, 32, 32]`` for a list of image paths."""
    return export.normalize(np.stack([load_rgb(p) for p in paths]))


def evaluate(model, items, batch):
    """Top-1 / top-5 counts and per-class top-1 over ``items``."""
    n_classes = len(export.CIFAR10_LABELS)
    top1 = top5 = 0
    per_class = np.zeros((n_classes, 2), np.int64)  # correct, total
    for start in range(0, len(items), batch):
        chunk = items[start:start + batch]
        x = torch.from_numpy(load_batch([p for p, _ in chunk]))
        labels = torch.tensor([y for _, y in chunk])
        with torch.no_grad():
            logits = model(x)
        best5 = logits.topk(5, dim=1).indices
        hit1 = best5[:, 0] == labels
        top1 += int(hit1.sum())
        top5 += int((best5 == labels[:, None]).any(dim=1).sum())
        np.add.at(per_class[:, 0], labels.numpy(), hit1.numpy().astype(np.int64))
        np.add.at(per_class[:, 1], labels.numpy(), 1)
    return top1, top5, per_class


def main(argv=None):
    """Evaluate and print top-1 / top-5 and the per-class top-1."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    model = resnet_cifar.build(args.model, args.checkpoint)
    items = list_split(args.data, args.per_class_skip, args.per_class_samples)
    t0 = time.perf_counter()
    top1, top5, per_class = evaluate(model, items, args.batch)
    seconds = time.perf_counter() - t0
    n = len(items)
    print(f"{args.model} fp32 torch on {args.data}: {n} images "
          f"(per class skip {args.per_class_skip}, {n // len(per_class)} each), {seconds:.1f}s")
    print(f"  top-1 {100 * top1 / n:.2f}% ({top1}/{n})  top-5 {100 * top5 / n:.2f}% ({top5}/{n})")
    print("  per class top-1: " + ", ".join(
        f"{name} {100 * c / t:.1f}" for name, (c, t) in zip(export.CIFAR10_LABELS, per_class)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": args.model, "images": n, "top1": top1 / n, "top5": top5 / n,
                       "per_class_top1": {name: float(c / t) for name, (c, t)
                                          in zip(export.CIFAR10_LABELS, per_class)},
                       "split": {"data": os.path.abspath(args.data),
                                 "skip": args.per_class_skip,
                                 "samples": args.per_class_samples}}, f, indent=1)


if __name__ == "__main__":
    main()
