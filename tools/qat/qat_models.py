"""octet's real models as torch networks, and their data, for the QAT recipes.

* ``fashion-resnet20``: the demo model apps/models/fashion-resnet20, the
  ResNet-20 of tools/cifar/resnet_cifar.py (1-channel input, option-A
  shortcuts as 1x1 selection convolutions) trained by
  tools/train/fashion_resnet.py. Its weights are read from the committed
  octet model, where BatchNorm is already folded into the convolutions, so
  the torch network is the same network, layer for layer (BatchNorm modules
  become identities and the convolutions get the folded biases).
* ``sst2-bert``: the demo model apps/models/sst2-bert, tools/train/sst2_bert.py's
  BERT (tools/export/models.py), weights read from the octet model.
* ``cifar-resnet20`` / ``cifar-resnet56``: tools/cifar's pretrained
  checkpoints from ../shared, shortcuts in "conv" mode as tools/cifar/export.py
  exports them.
"""

import json
import os
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
for sub in ("tools/cifar", "tools/train", "tools/export", "tests/python"):
    sys.path.insert(0, os.path.join(ROOT, sub))
import resnet_cifar  # noqa: E402

# ../shared next to the repository (or next to a folder of git worktrees).
SHARED = os.environ.get("OCTET_SHARED") or next(
    (p for p in (os.path.join(ROOT, "..", "shared"), os.path.join(ROOT, "..", "..", "shared"))
     if os.path.isdir(p)), os.path.join(ROOT, "..", "shared"))
FASHION = "/usr/share/datasets/fashion-mnist"
CIFAR_DATA = os.path.join(SHARED, "data", "cifar10", "test-a")
SST2 = os.path.join(SHARED, "data", "sst2")


def read_octet(path):
    """(JSON document, {initializer name: float32 array}) of an octet model."""
    base = path[:-len(".octet.json")] if path.endswith(".octet.json") else path
    with open(base + ".octet.json") as f:
        doc = json.load(f)
    blob = np.fromfile(base + ".octet.bin", dtype=np.uint8)
    tensors = {}
    for t in doc["initializers"]:
        if t["dtype"] == "f32":
            a = blob[t["offset"]:t["offset"] + t["length"]].view(np.float32)
            tensors[t["name"]] = a.reshape(t["shape"]).copy()
    return doc, tensors


def _copy(param, array, what):
    if tuple(param.shape) != array.shape:
        raise ValueError(f"{what}: octet has {array.shape}, torch {tuple(param.shape)}")
    with torch.no_grad():
        param.copy_(torch.from_numpy(array))


def fashion_resnet20(path=os.path.join(ROOT, "apps", "models", "fashion-resnet20")):
    """The demo ResNet-20 with the octet model's (BatchNorm-folded) weights."""
    doc, tensors = read_octet(path)
    model = resnet_cifar.ResNetCifar(resnet_cifar.DEPTHS["resnet20"], in_channels=1)
    model.set_shortcut_mode("conv")
    modules = dict(model.named_modules())
    done = set()
    for node in doc["nodes"]:
        parts = node["name"].strip("/").split("/")[:-1]
        if node["op"] == "Gemm":
            _copy(model.linear.weight, tensors[node["inputs"][1]], node["name"])
            _copy(model.linear.bias, tensors[node["inputs"][2]], node["name"])
            done.add("linear")
            continue
        if node["op"] != "Conv":
            continue
        # /layer2/layer2.0/conv1/Conv -> layer2.0.conv1; /conv1/Conv -> conv1
        name = ".".join(parts[-2:]) if len(parts) > 1 else parts[0]
        w = tensors[node["inputs"][1]]
        if name.endswith("shortcut"):
            if not np.array_equal(w, modules[name].select.numpy()):
                raise ValueError(f"{node['name']}: not the option-A selection")
            done.add(name)
            continue
        conv = modules[name]
        conv.bias = nn.Parameter(torch.zeros(conv.out_channels))
        _copy(conv.weight, w, node["name"])
        _copy(conv.bias, tensors[node["inputs"][2]], node["name"])
        bn = name[:-len("conv1")] + "bn1" if name.endswith("conv1") else name[:-5] + "bn2"
        parent, _, attr = bn.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, attr, nn.Identity())
        done.add(name)
    convs = {n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)} | {"linear"}
    convs |= {n for n, m in model.named_modules() if isinstance(m, resnet_cifar.ShortcutA)}
    if convs - done:
        raise ValueError(f"{path}: no weights for {sorted(convs - done)}")
    return model.eval()


def sst2_bert(path=os.path.join(ROOT, "apps", "models", "sst2-bert")):
    """The demo SST-2 BERT with the octet model's weights."""
    import sst2_bert as recipe
    import models
    doc, tensors = read_octet(path)
    model = models.BertForSequenceClassification(recipe.CONFIG)
    params = dict(model.named_parameters())
    done = set()
    for name, p in params.items():
        if name in tensors:
            _copy(p, tensors[name], name)
            done.add(name)
    # Linear layers on 3-D inputs became MatMul [K, N] (+ bias named after the layer).
    for node in doc["nodes"]:
        if node["op"] == "MatMul" and len(node["inputs"]) > 2 and node["inputs"][1] in tensors:
            layer = node["inputs"][2][:-len(".bias")]
            _copy(params[layer + ".weight"], tensors[node["inputs"][1]].T.copy(), node["name"])
            done.add(layer + ".weight")
    missing = set(params) - done
    if missing:
        raise ValueError(f"{path}: no weights for {sorted(missing)}")
    return model.eval()


def cifar_resnet(name):
    """tools/cifar's pretrained ResNet-20 / -56 (BatchNorm kept: prepare folds it)."""
    depth = name.split("-")[-1]
    ckpt = [f for f in os.listdir(os.path.join(SHARED, "models", "cifar10-resnet"))
            if f.startswith(depth + "-") and f.endswith(".th")]
    if len(ckpt) != 1:
        raise FileNotFoundError(f"{SHARED}/models/cifar10-resnet: no {depth} checkpoint")
    model = resnet_cifar.build(depth, os.path.join(SHARED, "models", "cifar10-resnet", ckpt[0]))
    return model.set_shortcut_mode("conv").eval()


# ---------------------------------------------------------------- data

def fashion_split(split, begin=0, end=None):
    """(normalized images [N, 1, 28, 28], labels [N]) of Fashion-MNIST `split`
    ("train" or "t10k"), images [begin, end)."""
    import fashion_resnet
    images, labels = fashion_resnet.load(split, FASHION)
    images, labels = images[begin:end], labels[begin:end]
    return fashion_resnet.normalize(images), torch.from_numpy(labels)


def cifar_modules():
    """tools/cifar's export.py and eval_torch.py. Loaded under their own names:
    tools/export has an export.py too, and eval_torch imports "export"."""
    import importlib.util

    def load(name, path):
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    if "cifar_eval_torch" in sys.modules:
        return sys.modules["cifar_export"], sys.modules["cifar_eval_torch"]
    saved = sys.modules.get("export")
    cifar_export = load("cifar_export", os.path.join(ROOT, "tools", "cifar", "export.py"))
    sys.modules["cifar_export"] = sys.modules["export"] = cifar_export
    try:
        path = os.path.join(ROOT, "tools", "cifar", "eval_torch.py")
        sys.modules["cifar_eval_torch"] = load("cifar_eval_torch", path)
    finally:
        if saved is None:
            del sys.modules["export"]
        else:
            sys.modules["export"] = saved
    return cifar_export, sys.modules["cifar_eval_torch"]


def cifar_split(skip, samples):
    """(normalized images [N, 3, 32, 32], labels) of test-a, per class [skip, skip + samples)."""
    _, eval_torch = cifar_modules()
    items = eval_torch.list_split(CIFAR_DATA, skip, samples)
    x = torch.from_numpy(eval_torch.load_batch([p for p, _ in items]))
    return x, torch.tensor([y for _, y in items])


def sst2_sentences(split, vocab, begin=0, end=None, max_length=128):
    """(token id lists, labels) of SST-2 train.tsv / dev.tsv, rows [begin, end)."""
    import sst2_bert as recipe
    import wordpiece_reference as wordpiece
    rows = recipe.read_tsv(os.path.join(SST2, split + ".tsv"))[begin:end]
    voc = wordpiece.load_vocab(vocab)
    return recipe.encode_all(rows, voc, max_length)


def pad_batch(ids):
    """(input_ids, attention_mask, token_type_ids) padded to the longest of `ids`."""
    width = max(len(t) for t in ids)
    x = torch.zeros(len(ids), width, dtype=torch.long)
    mask = torch.zeros_like(x)
    for r, t in enumerate(ids):
        x[r, :len(t)] = torch.tensor(t)
        mask[r, :len(t)] = 1
    return x, mask, torch.zeros_like(x)
