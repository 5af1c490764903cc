"""CIFAR-10 ResNet-20 / ResNet-56 (He et al. 2016, section 4.2), written to load
the pretrained checkpoints of Yerlan Idelbayev's pytorch_resnet_cifar10
(BSD-2-Clause; the checkpoints are in ../shared/models/cifar10-resnet/).

Layout, matching the checkpoints' state_dict keys (after the ``module.``
prefix is stripped):

* ``conv1`` 3->16 3x3 + ``bn1`` + relu;
* ``layer1``, ``layer2``, ``layer3``: n BasicBlocks each with 16, 32, 64
  channels (n = 3 for ResNet-20, 9 for ResNet-56); the first block of
  layer2 and layer3 has stride 2;
* BasicBlock: ``conv1`` 3x3 - ``bn1`` - relu - ``conv2`` 3x3 - ``bn2``, plus
  the shortcut, then relu;
* global average pool, ``linear`` 64->10.

The shortcut where the shape changes is the paper's "option A": subsample
``x[:, :, ::2, ::2]`` and zero-pad the channels by ``planes // 4`` on each
side. It has no parameters. :class:`ShortcutA` computes it in one of two
equivalent ways:

* ``"slice"`` (default): strided slice + ``F.pad``, the original definition;
  used for the torch reference numbers.
* ``"conv"``: a 1x1 convolution with stride 2 and a fixed 0/1 selection weight
  ``W[o, i] = 1 if o == i + planes // 4`` (no bias). In fp32 every output is
  ``1 * x`` plus exact zeros, so it equals the slice form bit for bit. This is
  the form ``export.py`` writes: octet has no ``Pad`` op, while Conv is its
  best-supported op (oneDNN, int8, residual add fused as a sum post-op).
"""

import torch
import torch.nn.functional as F
from torch import nn

DEPTHS = {"resnet20": 3, "resnet56": 9}
SHORTCUT_MODES = ("slice", "conv")


class ShortcutA(nn.Module):
    """Parameter-free "option A" shortcut: stride-2 subsample + zero channels."""

    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.in_planes, self.planes, self.stride = in_planes, planes, stride
        self.pad = planes // 4
        if in_planes + 2 * self.pad != planes:
            raise ValueError(f"option A needs planes == in_planes + 2 * (planes // 4), "
                             f"got {in_planes} -> {planes}")
        self.mode = "slice"
        # Not part of the checkpoint: a non-persistent buffer, so a strict
        # load_state_dict neither expects nor writes it.
        weight = torch.zeros(planes, in_planes, 1, 1)
        weight[torch.arange(in_planes) + self.pad, torch.arange(in_planes)] = 1.0
        self.register_buffer("select", weight, persistent=False)

    def forward(self, x):
        if self.mode == "conv":
            return F.conv2d(x, self.select, stride=self.stride)
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad, self.pad))


class BasicBlock(nn.Module):
    """conv3x3-bn-relu-conv3x3-bn + shortcut, relu."""

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride != 1 or in_planes != planes:
            self.shortcut = ShortcutA(in_planes, planes, stride)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNetCifar(nn.Module):
    """ResNet-(6n+2) for 32x32 (CIFAR) or 28x28 (Fashion-MNIST, 1 channel) inputs."""

    def __init__(self, blocks_per_stage, num_classes=10, in_channels=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        in_planes = 16
        stages = []
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for b in range(blocks_per_stage):
                blocks.append(BasicBlock(in_planes, planes, stride if b == 0 else 1))
                in_planes = planes
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.linear = nn.Linear(64, num_classes)

    def set_shortcut_mode(self, mode):
        """Switch every option-A shortcut to ``"slice"`` or ``"conv"``."""
        if mode not in SHORTCUT_MODES:
            raise ValueError(f"shortcut mode must be one of {SHORTCUT_MODES}")
        for m in self.modules():
            if isinstance(m, ShortcutA):
                m.mode = mode
        return self

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)


def load_checkpoint_state(path):
    """The checkpoint's state_dict with the ``module.`` (DataParallel) prefix removed."""
    ckpt = torch.load(path, map_location="cpu")
    state = ckpt["state_dict"] if "state_dict" in ckpt else ckpt
    return {(k[len("module."):] if k.startswith("module.") else k): v
            for k, v in state.items()}


def build(name, checkpoint=None):
    """ResNet-20 or -56 in eval mode, with the checkpoint's weights (strict load)."""
    if name not in DEPTHS:
        raise ValueError(f"unknown model {name!r}; one of {tuple(DEPTHS)}")
    model = ResNetCifar(DEPTHS[name])
    if checkpoint is not None:
        # The checkpoints predate BatchNorm's num_batches_tracked buffer;
        # BatchNorm adds it itself for a state_dict without version metadata
        # (as this plain dict is), so a strict load checks every other key.
        model.load_state_dict(load_checkpoint_state(checkpoint), strict=True)
    return model.eval()
