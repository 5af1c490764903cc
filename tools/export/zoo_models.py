"""The model zoo of issue 16: the networks of Wu et al.'s Table 2 that torch
ships, and the everyday ones users bring, with seeded random weights.

zoo_list.py lists them (inputs, outputs, symbolic axes), without torch;
this file builds them. ``export.py --model NAME`` exports any of them;
``tests/python/zoo_check.py`` runs them through octet.

Weights: torchvision's own seeded init (``weights=None``, and for the
segmentation and detection models ``weights_backbone=None``, so nothing is
downloaded), then :func:`make_nontrivial`:

* every BatchNorm gets random eval statistics and affine terms (as the
  resnets of models.py), so BN folding is tested, not an identity;
* zero-initialised weights (ViT's head), zero biases and ConvNeXt's 1e-6
  layer scales are replaced by random values, so that every parameter moves
  the output;
* an LSUV-style pass scales each Conv/Linear (weight and bias) so that its
  output has std 1 on a seeded N(0, 1) batch: with random BN statistics the
  activations would otherwise grow without bound through the residual
  stages, and int8 would be judged on overflowing nonsense.
"""

import math

import torch
from torch import nn

from zoo_list import ZOO


# --------------------------------------------------------------------------
# weights that are not trivial
# --------------------------------------------------------------------------

def randomize_batchnorm(model, generator):
    """Random eval statistics and affine terms for every BatchNorm (1-D and 2-D)."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(c, generator=generator) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=generator) + 0.5)
                m.weight.copy_(torch.rand(c, generator=generator) + 0.5)
                m.bias.copy_(torch.randn(c, generator=generator) * 0.1)


def randomize_trivial_parameters(model, generator):
    """Zero weights, zero biases and tiny layer scales -> random values.

    torchvision initialises ViT's head to zero (the logits would be all
    zero: a cosine of 1 whatever the runtime does), most biases to zero and
    ConvNeXt's layer scales to 1e-6 (every block an identity).
    """
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
                if not m.weight.any():
                    m.weight.copy_(torch.randn(m.weight.shape, generator=generator) * 0.02)
                if m.bias is not None and not m.bias.any():
                    m.bias.copy_(torch.randn(m.bias.shape, generator=generator) * 0.1)
            if isinstance(m, nn.LayerNorm) and m.elementwise_affine:
                m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape, generator=generator))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=generator))
        for name, p in model.named_parameters():
            if name.endswith("layer_scale"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=generator))


def calibrate_output_scales(model, calib_inputs, types=(nn.Conv1d, nn.Conv2d, nn.Linear)):
    """LSUV-style: scale each layer's weight and bias so its output std is 1.

    A hook per layer runs in forward order; scaling weight and bias scales
    the output exactly, so later layers see the corrected activations in the
    same pass. A layer that runs more than once (none here) keeps its first
    scale.
    """
    done = set()

    def hook(module, _inputs, output):
        if id(module) in done or not isinstance(output, torch.Tensor):
            return output
        done.add(id(module))
        scale = 1.0 / output.std().clamp_min(1e-12)
        with torch.no_grad():
            module.weight.mul_(scale)
            if module.bias is not None:
                module.bias.mul_(scale)
        return output * scale

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, types)]
    try:
        with torch.no_grad():
            model(*calib_inputs)
    finally:
        for h in handles:
            h.remove()


def make_nontrivial(model, generator, calib_inputs):
    """The three steps of the module docstring, in eval mode."""
    randomize_batchnorm(model, generator)
    randomize_trivial_parameters(model, generator)
    model.eval()
    calibrate_output_scales(model, calib_inputs)
    return model


# --------------------------------------------------------------------------
# torchvision networks, wrapped where torch returns more than tensors
# --------------------------------------------------------------------------

class SegmentationOut(nn.Module):
    """torchvision segmentation models return {"out": ...}: the tensor alone."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)["out"]


class RetinaNetHeads(nn.Module):
    """RetinaNet up to the raw head outputs: backbone + FPN (P3..P7), then the
    classification and box-regression heads on every level, concatenated as
    torchvision's heads do ([N, sum HWA, classes] and [N, sum HWA, 4]).
    Image normalisation and resizing (GeneralizedRCNNTransform), anchors, box
    decoding and NMS stay outside the network, as in a deployed detector.
    """

    def __init__(self, model):
        super().__init__()
        self.backbone = model.backbone
        self.head = model.head
        # torchvision starts the class logits at the focal-loss prior,
        # log(0.01 / 0.99) = -4.6 everywhere: a constant that would dominate
        # any cosine of these outputs. Small random biases instead (torch's
        # global generator is seeded by build()).
        with torch.no_grad():
            self.head.classification_head.cls_logits.bias.normal_(0.0, 0.1)

    def forward(self, x):
        features = list(self.backbone(x).values())
        return (self.head.classification_head(features),
                self.head.regression_head(features))


def torchvision_builder(factory_name, module="models", wrap=None, **kwargs):
    """A builder of torchvision.<module>.<factory_name>(weights=None, **kwargs)."""

    def build(generator, inputs):
        import torchvision  # lazily: BERT-only use of export.py does not need it

        namespace = torchvision
        for part in module.split("."):
            namespace = getattr(namespace, part)
        factory = getattr(namespace, factory_name)
        model = factory(weights=None, **kwargs)
        if wrap is not None:
            model = wrap(model)
        return model

    return build


# --------------------------------------------------------------------------
# the base Transformer and a Jasper-style acoustic model
# --------------------------------------------------------------------------

class BaseTransformer(nn.Module):
    """``torch.nn.Transformer`` with the paper's base hyper-parameters
    (d_model 512, 8 heads, 6 + 6 layers, FFN 2048, post-LN), fixed source and
    target lengths, and the decoder's causal mask as a constant buffer (-inf
    above the diagonal, as ``generate_square_subsequent_mask`` makes it).
    Inputs are the already-embedded sequences, batch-first ([N, S, 512], so
    that calibration data indexes samples along axis 0), transposed to
    torch's default sequence-first layout around the module (its
    ``batch_first=True`` fast path does not export); the output is the
    decoder's [N, T, 512].
    """

    def __init__(self, tgt_len):
        super().__init__()
        self.transformer = nn.Transformer(d_model=512, nhead=8, num_encoder_layers=6,
                                          num_decoder_layers=6, dim_feedforward=2048)
        self.register_buffer("tgt_mask", nn.Transformer.generate_square_subsequent_mask(tgt_len))

    def forward(self, src, tgt):
        out = self.transformer(src.transpose(0, 1), tgt.transpose(0, 1), tgt_mask=self.tgt_mask)
        return out.transpose(0, 1)


class JasperSubBlock(nn.Module):
    """Conv1d + BatchNorm (+ ReLU, unless a residual is added first)."""

    def __init__(self, cin, cout, kernel, stride=1, dilation=1, relu=True):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, kernel, stride=stride, dilation=dilation,
                              padding=dilation * (kernel // 2), bias=False)
        self.bn = nn.BatchNorm1d(cout)
        self.relu = relu

    def forward(self, x, residual=None):
        y = self.bn(self.conv(x))
        if residual is not None:
            y = y + residual
        return torch.relu(y) if self.relu or residual is not None else y


class JasperBlock(nn.Module):
    """R sub-blocks; the block input, through a 1x1 Conv1d + BN, is added to the
    last sub-block's BN output before its ReLU (Jasper's residual)."""

    def __init__(self, cin, cout, kernel, repeat):
        super().__init__()
        self.subs = nn.ModuleList(
            JasperSubBlock(cin if i == 0 else cout, cout, kernel, relu=i < repeat - 1)
            for i in range(repeat))
        self.residual = nn.Sequential(nn.Conv1d(cin, cout, 1, bias=False), nn.BatchNorm1d(cout))

    def forward(self, x):
        y = x
        for sub in self.subs[:-1]:
            y = sub(y)
        return self.subs[-1](y, self.residual(x))


class Jasper(nn.Module):
    """A Jasper 5x3 acoustic model (Li et al., 2019) at reduced width: a
    stride-2 prologue, five blocks of three sub-blocks with Jasper's kernel
    sizes 11..25, a dilated epilogue, and per-frame logits over 29 characters.
    Widths are 128..256 instead of 256..768 to keep the test model at 11M
    parameters; the structure (and so the ops) is Jasper's.
    """

    BLOCKS = ((128, 11), (160, 13), (192, 17), (224, 21), (256, 25))

    def __init__(self, features=64, repeat=3, vocab=29):
        super().__init__()
        self.prologue = JasperSubBlock(features, 128, 11, stride=2)
        blocks, cin = [], 128
        for cout, kernel in self.BLOCKS:
            blocks.append(JasperBlock(cin, cout, kernel, repeat))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.epilogue = nn.Sequential(JasperSubBlock(cin, 320, 29, dilation=2),
                                      JasperSubBlock(320, 384, 1))
        self.classifier = nn.Conv1d(384, vocab, 1)

    def forward(self, x):
        return self.classifier(self.epilogue(self.blocks(self.prologue(x))))


def init_jasper(model, generator):
    """Kaiming-normal convs from `generator` (torch's default init is not seeded by it)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv1d):
                fan_in = m.in_channels * m.kernel_size[0] // m.groups
                m.weight.copy_(torch.randn(m.weight.shape, generator=generator)
                               * math.sqrt(2.0 / fan_in))


# --------------------------------------------------------------------------
# the list
# --------------------------------------------------------------------------

def classification(name, **kwargs):
    return torchvision_builder(name, **kwargs)


# Per model of zoo_list.ZOO (but resnet50, which models.py builds): the module.
BUILDERS = {
    "mobilenet_v2": classification("mobilenet_v2"),
    "resnet152": classification("resnet152"),
    "inception_v3": classification("inception_v3", init_weights=True),
    "resnext50_32x4d": classification("resnext50_32x4d"),
    "resnext101_32x8d": classification("resnext101_32x8d"),
    "efficientnet_b0": classification("efficientnet_b0"),
    "efficientnet_b3": classification("efficientnet_b3"),
    "mobilenet_v3_large": classification("mobilenet_v3_large"),
    "densenet121": classification("densenet121"),
    "regnet_y_400mf": classification("regnet_y_400mf"),
    "shufflenet_v2_x1_0": classification("shufflenet_v2_x1_0"),
    "squeezenet1_1": classification("squeezenet1_1"),
    "googlenet": classification("googlenet", init_weights=True),
    "vgg16_bn": classification("vgg16_bn"),
    "convnext_tiny": classification("convnext_tiny"),
    "vit_b_16": classification("vit_b_16"),
    "deeplabv3_resnet50": torchvision_builder(
        "deeplabv3_resnet50", module="models.segmentation", wrap=SegmentationOut,
        weights_backbone=None),
    "retinanet_resnet50_fpn": torchvision_builder(
        "retinanet_resnet50_fpn", module="models.detection", wrap=RetinaNetHeads,
        weights_backbone=None),
    "transformer": lambda generator, inputs: BaseTransformer(inputs["tgt"][1]),
    "jasper": lambda generator, inputs: Jasper(features=inputs["features"][1]),
}

NAMES = tuple(BUILDERS)


def sample_inputs(name, batch, generator):
    """Seeded N(0, 1) inputs (normalised images, embeddings, log-mel features)."""
    out = {}
    for input_name, shape in ZOO[name].inputs.items():
        shape = list(shape)
        shape[0] = batch
        out[input_name] = torch.randn(shape, generator=generator)
    return out


def build(name, seed=0):
    """The seeded model in eval mode, with non-trivial weights."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = BUILDERS[name](generator, ZOO[name].inputs)
    if name == "jasper":
        init_jasper(model, generator)
    calib = sample_inputs(name, 2, generator)
    return make_nontrivial(model, generator, list(calib.values()))
