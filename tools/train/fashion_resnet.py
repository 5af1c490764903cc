#!/usr/bin/python3
"""Train the resnet_demo's default model: a ResNet-20 on Fashion-MNIST.

Reads the IDX files of Debian's ``dataset-fashion-mnist`` package, trains the
CIFAR-style ResNet-20 of tools/cifar/resnet_cifar.py with a 1-channel first
convolution on the 60,000 training images, reports top-1 on the 10,000 test
images, and exports ONNX for ``octet convert`` with the preprocessing and the
class names in its ``metadata_props``. Seeded: the same command on the same
torch build gives the same weights.

    /usr/bin/python3 tools/train/fashion_resnet.py -o build/train/fashion-resnet20.onnx

Training: SGD (momentum 0.9, Nesterov, weight decay 5e-4), batch 128, a
one-cycle learning rate peaking at 0.1, random 2-pixel shifts and horizontal
flips. See tools/train/README.md for the commands and the accuracy reached.
"""

import argparse
import gzip
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "cifar"))
sys.path.insert(0, HERE)
import onnx_metadata  # noqa: E402
import resnet_cifar  # noqa: E402  (needs the path tweaks above)

DATA = "/usr/share/datasets/fashion-mnist"
LABELS = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
# Statistics of the 60,000 training images, values in [0, 1].
MEAN, STD = 0.2860, 0.3530
# What an application does to an image before feeding ``input``: one gray
# channel, 28x28, v / 255, then (v - mean) / std (octet's schema,
# loaders/data/image.hpp). A colour photo is converted to gray by octet first.
PREPROCESS = {"resize": 28, "crop": [28, 28], "channels": "gray", "scale": 1,
              "mean": [MEAN], "std": [STD], "layout": "nchw"}


def read_idx(path):
    """An IDX file (gzipped or not) as a numpy array of its declared shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\0\0" or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(split, data_dir):
    """(images uint8 [N, 28, 28], labels int64 [N]) of 'train' or 't10k'."""
    images = read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte.gz"))
    return images, labels.astype(np.int64)


def normalize(images_u8):
    """uint8 [N, 28, 28] -> float32 [N, 1, 28, 28], as PREPROCESS says."""
    x = torch.from_numpy(images_u8.astype(np.float32) / 255.0)
    return ((x - MEAN) / STD).unsqueeze(1)


def augment(x, gen):
    """Random shifts of up to 2 pixels (zero padding) and horizontal flips."""
    n = x.shape[0]
    padded = F.pad(x, (2, 2, 2, 2), value=-MEAN / STD)  # pad with black
    dx = torch.randint(0, 5, (n,), generator=gen)
    dy = torch.randint(0, 5, (n,), generator=gen)
    out = torch.empty_like(x)
    for i in range(n):
        out[i] = padded[i, :, dy[i]:dy[i] + 28, dx[i]:dx[i] + 28]
    flip = torch.rand(n, generator=gen) < 0.5
    out[flip] = out[flip].flip(-1)
    return out


def evaluate(model, x, y, batch=1000):
    """Top-1 accuracy in % of ``model`` on normalized images ``x``."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return 100.0 * correct / len(x)


def train(args):
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    train_u8, train_y = load("train", args.data)
    test_u8, test_y = load("t10k", args.data)
    if args.limit:
        train_u8, train_y = train_u8[:args.limit], train_y[:args.limit]
    x_train, y_train = normalize(train_u8), torch.from_numpy(train_y)
    x_test, y_test = normalize(test_u8), torch.from_numpy(test_y)

    model = resnet_cifar.ResNetCifar(resnet_cifar.DEPTHS["resnet20"], in_channels=1)
    steps_per_epoch = (len(x_train) + args.batch - 1) // args.batch
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                          weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                                steps_per_epoch=steps_per_epoch)
    history = []
    for epoch in range(args.epochs):
        model.train()
        start = time.time()
        order = torch.randperm(len(x_train), generator=gen)
        total_loss = 0.0
        for step in range(steps_per_epoch):
            idx = order[step * args.batch:(step + 1) * args.batch]
            xb, yb = augment(x_train[idx], gen), y_train[idx]
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item()
        acc = evaluate(model, x_test, y_test)
        history.append({"epoch": epoch + 1, "loss": total_loss / steps_per_epoch,
                        "test_top1": acc, "seconds": time.time() - start})
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total_loss / steps_per_epoch:.4f}, "
              f"test top-1 {acc:.2f}%, {time.time() - start:.0f} s", flush=True)
    return model.eval(), history, x_test


def export(model, history, x_test, args):
    model.set_shortcut_mode("conv")  # octet has no Pad op; see resnet_cifar.py
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    sample = x_test[:2]
    torch.onnx.export(model, sample, args.output, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      opset_version=13, training=torch.onnx.TrainingMode.EVAL,
                      do_constant_folding=True)
    onnx_metadata.finish_export(args.output, {
        "octet.preprocess": PREPROCESS,
        "octet.labels": list(LABELS),
        "octet.source": {
            "recipe": "tools/train/fashion_resnet.py", "data": "Fashion-MNIST (dataset-fashion-mnist)",
            "seed": args.seed, "epochs": args.epochs,
            "test_top1_torch": round(history[-1]["test_top1"], 2) if history else None},
    }, history)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", required=True, help="output .onnx path")
    p.add_argument("--data", default=DATA, help=f"folder of the IDX files (default {DATA})")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1, help="peak learning rate")
    p.add_argument("--seed", type=int, default=20)
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    p.add_argument("--limit", type=int, default=0, help="train on the first N images only (0: all)")
    p.add_argument("--save-png", metavar="DIR",
                   help="also write the first test image of each class as DIR/<index>-<class>.png")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, history, x_test = train(args)
    export(model, history, x_test, args)
    if args.save_png:
        save_pngs(args)


def save_pngs(args):
    from PIL import Image
    images, labels = load("t10k", args.data)
    os.makedirs(args.save_png, exist_ok=True)
    for c, name in enumerate(LABELS):
        i = int(np.nonzero(labels == c)[0][0])
        slug = name.lower().replace("/", "-").replace(" ", "-")
        Image.fromarray(images[i]).save(os.path.join(args.save_png, f"{i:04d}-{slug}.png"))


if __name__ == "__main__":
    main()
