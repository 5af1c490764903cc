#!/usr/bin/python3
"""octet against PyTorch on the pretrained CIFAR-10 ResNet-20, on real images.

    cifar_export_check.py --octet BIN --dir DIR [--shared PATH] [--model resnet20]
                          [--min-cosine 0.99999] [--max-rel-err 1e-3]

1. exports the checkpoint from ``<shared>/models/cifar10-resnet/`` with
   tools/cifar/export.py to ``DIR/<model>.onnx`` (which itself checks the file
   with onnx.checker and the numpy interpreter);
2. takes the first image (sorted names) of each of the first 8 classes (sorted
   folders) of ``<shared>/data/cifar10/test-a``, decodes it with PIL and
   preprocesses it in numpy as the export's ``octet.preprocess`` says, into
   ``DIR/<model>.input.input.npy`` ``[8, 3, 32, 32]``;
3. torch logits of the original model (slice + zero-pad shortcut);
4. ``octet convert`` + ``octet run`` on the same array;
5. passes when cosine(octet, torch) >= --min-cosine over all 80 logits and on
   every row, max|diff| <= --max-rel-err x max|torch|, and the 8 top-1 classes
   agree.

Exits 77 (CTest's skip code) when Debian's torch / onnx / PIL or ../shared
(the checkpoint or the images) are missing, 1 on a failed comparison.
"""

import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CIFAR_TOOLS = os.path.join(ROOT, "tools", "cifar")
SKIP = 77
CHECKPOINTS = {"resnet20": "resnet20-12fca82f.th", "resnet56": "resnet56-4bfd9763.th"}
N_IMAGES = 8


def run(cmd):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--octet", required=True, help="the octet command-line binary")
    p.add_argument("--dir", required=True, help="work directory (created)")
    p.add_argument("--shared", default=os.path.join(os.path.dirname(ROOT), "shared"),
                   help="the shared data folder (default: ../shared next to the repository)")
    p.add_argument("--model", choices=tuple(CHECKPOINTS), default="resnet20")
    p.add_argument("--min-cosine", type=float, default=0.99999)
    p.add_argument("--max-rel-err", type=float, default=1e-3)
    return p.parse_args(argv)


def missing_prerequisite(args):
    """Why the check cannot run here, or None."""
    try:
        import numpy  # noqa: F401
        import onnx  # noqa: F401
        import PIL  # noqa: F401
        import torch  # noqa: F401
    except ImportError as err:
        return f"Debian's python3-torch, -onnx, -numpy and -pil are needed ({err})"
    checkpoint = os.path.join(args.shared, "models", "cifar10-resnet", CHECKPOINTS[args.model])
    if not os.path.isfile(checkpoint):
        return f"{checkpoint} is missing"
    images = os.path.join(args.shared, "data", "cifar10", "test-a")
    if not os.path.isdir(images):
        return f"{images} is missing"
    return None


def cosine(a, b):
    import numpy as np
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def main(argv=None):
    args = parse_args(argv)
    why = missing_prerequisite(args)
    if why:
        print(f"SKIP: {why}")
        return SKIP

    import numpy as np
    import torch
    sys.path.insert(0, CIFAR_TOOLS)
    import eval_torch  # noqa: E402  (tools/cifar: split listing, PIL decode, normalize)
    import resnet_cifar  # noqa: E402

    torch.set_num_threads(2)
    os.makedirs(args.dir, exist_ok=True)
    checkpoint = os.path.join(args.shared, "models", "cifar10-resnet", CHECKPOINTS[args.model])
    data = os.path.join(args.shared, "data", "cifar10", "test-a")
    onnx_path = os.path.join(args.dir, args.model + ".onnx")
    run([sys.executable, os.path.join(CIFAR_TOOLS, "export.py"), "--model", args.model,
         "--checkpoint", checkpoint, "-o", onnx_path])

    # The first image of each of the first 8 classes.
    items = eval_torch.list_split(data, skip=0, samples=1)[:N_IMAGES]
    x = eval_torch.load_batch([path for path, _ in items])
    labels = [label for _, label in items]
    input_path = os.path.join(args.dir, args.model + ".input.input.npy")
    np.save(input_path, x)
    with torch.no_grad():
        want = resnet_cifar.build(args.model, checkpoint)(torch.from_numpy(x)).numpy()
    np.save(os.path.join(args.dir, args.model + ".expected.logits.npy"), want)

    converted = os.path.join(args.dir, "octet", args.model)
    os.makedirs(os.path.dirname(converted), exist_ok=True)
    out_dir = os.path.join(args.dir, "octet-out")
    run([args.octet, "convert", onnx_path, "-o", converted])
    run([args.octet, "run", converted, "--input", f"input={input_path}",
         "--output-dir", out_dir, "--threads", "2"])
    got = np.load(os.path.join(out_dir, "logits.npy"), allow_pickle=False)

    if got.shape != want.shape:
        print(f"FAIL: octet logits {got.shape}, torch {want.shape}")
        return 1
    cos = cosine(got, want)
    row_cos = [cosine(g, w) for g, w in zip(got, want)]
    rel = float(np.abs(got - want).max() / np.abs(want).max())
    top_got, top_want = got.argmax(1), want.argmax(1)
    print(f"{args.model}: {N_IMAGES} images, labels {labels}")
    print(f"  torch top-1 {top_want.tolist()}, octet top-1 {top_got.tolist()}")
    print(f"  cosine {cos:.9f} (worst row {min(row_cos):.9f}), "
          f"max|diff| / max|torch| {rel:.3g}")
    ok = (np.all(np.isfinite(got)) and cos >= args.min_cosine and min(row_cos) >= args.min_cosine
          and rel <= args.max_rel_err and np.array_equal(top_got, top_want))
    print("PASS" if ok else
          f"FAIL: need cosine >= {args.min_cosine} (all and per row), "
          f"max rel err <= {args.max_rel_err}, equal top-1")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
