"""The model zoo of issue 16, as data (no torch needed to read it): the
networks of Wu et al.'s Table 2 that torch ships, the everyday ones users
bring, and the paper's other families (segmentation, detection, translation,
speech) as the network part torch exports.

zoo_models.py builds them (models.py builds resnet50), export.py exports
them, tests/python/zoo_check.py runs them through octet, and
tools/readme_lists.py writes README's model list from ZOO.
"""

from dataclasses import dataclass, field
from typing import Dict, Tuple


@dataclass(frozen=True)
class Entry:
    family: str
    source: str                     # what builds it
    inputs: Dict[str, Tuple[int, ...]]  # name -> shape at batch 1 (float32)
    outputs: Tuple[str, ...] = ("logits",)
    kind: str = "image"             # image (N,3,H,W, ImageNet-normalised) or other data
    # name -> {axis: symbol}: the batch axis, left symbolic in the export
    dynamic: Dict[str, Dict[int, str]] = field(default_factory=dict)


def _image(family, source, size=224, outputs=("logits",)):
    dynamic = {"input": {0: "batch"}}
    dynamic.update({o: {0: "batch"} for o in outputs})
    return Entry(family, source, {"input": (1, 3, size, size)}, outputs, "image", dynamic)


def _tv(name, size=224):
    return _image("classification", f"torchvision.models.{name}", size)


ZOO = {
    # the paper's classification networks that torchvision has
    "mobilenet_v2": _tv("mobilenet_v2"),
    "resnet50": _tv("resnet50"),
    "resnet152": _tv("resnet152"),
    "inception_v3": _tv("inception_v3", 299),
    "resnext50_32x4d": _tv("resnext50_32x4d"),
    "resnext101_32x8d": _tv("resnext101_32x8d"),
    "efficientnet_b0": _tv("efficientnet_b0"),
    "efficientnet_b3": _tv("efficientnet_b3"),
    # everyday ones
    "mobilenet_v3_large": _tv("mobilenet_v3_large"),
    "densenet121": _tv("densenet121"),
    "regnet_y_400mf": _tv("regnet_y_400mf"),
    "shufflenet_v2_x1_0": _tv("shufflenet_v2_x1_0"),
    "squeezenet1_1": _tv("squeezenet1_1"),
    "googlenet": _tv("googlenet"),
    "vgg16_bn": _tv("vgg16_bn"),
    "convnext_tiny": _tv("convnext_tiny"),
    "vit_b_16": _tv("vit_b_16"),
    # the paper's other families: the network part
    "deeplabv3_resnet50": _image(
        "segmentation", "torchvision.models.segmentation.deeplabv3_resnet50 (output 'out')",
        outputs=("out",)),
    "retinanet_resnet50_fpn": _image(
        "detection", "torchvision.models.detection.retinanet_resnet50_fpn: backbone, FPN, "
        "heads (no anchors, NMS)", outputs=("cls_logits", "bbox_regression")),
    "transformer": Entry(
        "translation", "torch.nn.Transformer base (512, 6+6 layers), causal mask constant",
        {"src": (1, 32, 512), "tgt": (1, 32, 512)}, ("output",), "sequence",
        {"src": {0: "batch"}, "tgt": {0: "batch"}, "output": {0: "batch"}}),
    "jasper": Entry(
        "speech", "Jasper 5x3 style (tools/export/zoo_models.py), reduced width",
        {"features": (1, 64, 256)}, ("logits",), "audio",
        {"features": {0: "batch"}, "logits": {0: "batch"}}),
}

NAMES = tuple(ZOO)
