"""Reference model definitions that octet is tested against.

Everything here is plain torch / torchvision (no HuggingFace, no downloaded
weights): the models are built from a seed so that every machine produces the
same ONNX file and the same reference logits without network access.

Two families:

* ``BertForSequenceClassification`` -- BERT written in the HuggingFace module
  layout (``embeddings.word_embeddings``, ``encoder.layer.0.attention.self.query``
  ...), so the ONNX node and initializer names read like a real HF export.
* torchvision ``resnet18`` / ``resnet50`` with seeded, *non-trivial* BatchNorm
  statistics and rescaled conv weights (see :func:`build_resnet`).
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


# --------------------------------------------------------------------------
# BERT
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class BertConfig:
    """Hyper-parameters of a BERT encoder (names follow HF's BertConfig)."""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    num_labels: int = 2
    pad_token_id: int = 0


BERT_CONFIGS = {
    "bert-base": BertConfig(),
    "bert-tiny": BertConfig(hidden_size=128, num_hidden_layers=2,
                            num_attention_heads=2, intermediate_size=512),
}


# Span-head models (outputs start_logits, end_logits) on the same encoders.
BERT_QA_CONFIGS = {"bert-tiny-qa": BERT_CONFIGS["bert-tiny"]}


class BertEmbeddings(nn.Module):
    """Word + position + token-type embeddings, then LayerNorm.

    Position ids are built inside forward from the sequence length (not read
    from a buffer) so the exported graph carries a Shape -> Gather -> Range
    chain and works for any sequence length up to max_position_embeddings.
    """

    def __init__(self, cfg):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size,
                                            padding_idx=cfg.pad_token_id)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings,
                                                cfg.hidden_size)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size,
                                                  cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(0.1)

    def forward(self, input_ids, token_type_ids):
        seq_len = input_ids.size(1)
        position_ids = torch.arange(seq_len, dtype=torch.long,
                                    device=input_ids.device).unsqueeze(0)
        x = (self.word_embeddings(input_ids)
             + self.token_type_embeddings(token_type_ids)
             + self.position_embeddings(position_ids))
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    """Multi-head scaled dot-product attention, HF ``BertSelfAttention``."""

    def __init__(self, cfg):
        super().__init__()
        self.num_attention_heads = cfg.num_attention_heads
        self.attention_head_size = cfg.hidden_size // cfg.num_attention_heads
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        self.query = nn.Linear(cfg.hidden_size, self.all_head_size)
        self.key = nn.Linear(cfg.hidden_size, self.all_head_size)
        self.value = nn.Linear(cfg.hidden_size, self.all_head_size)
        self.dropout = nn.Dropout(0.1)

    def transpose_for_scores(self, x):
        """[B, S, H] -> [B, heads, S, head_dim], shape taken from x (dynamic)."""
        new_shape = x.size()[:-1] + (self.num_attention_heads,
                                     self.attention_head_size)
        return x.view(new_shape).permute(0, 2, 1, 3)

    def forward(self, hidden, additive_mask):
        q = self.transpose_for_scores(self.query(hidden))
        k = self.transpose_for_scores(self.key(hidden))
        v = self.transpose_for_scores(self.value(hidden))
        scores = torch.matmul(q, k.transpose(-1, -2))
        scores = scores / math.sqrt(self.attention_head_size)
        scores = scores + additive_mask
        probs = self.dropout(F.softmax(scores, dim=-1))
        context = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        new_shape = context.size()[:-2] + (self.all_head_size,)
        return context.view(new_shape)


class BertSelfOutput(nn.Module):
    """Attention output projection + residual + LayerNorm."""

    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(0.1)

    def forward(self, hidden, residual):
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)


class BertAttention(nn.Module):
    """``attention.self`` + ``attention.output`` as in HF."""

    def __init__(self, cfg):
        super().__init__()
        self.self = BertSelfAttention(cfg)
        self.output = BertSelfOutput(cfg)

    def forward(self, hidden, additive_mask):
        return self.output(self.self(hidden, additive_mask), hidden)


class BertIntermediate(nn.Module):
    """FFN up-projection with exact (erf) GELU."""

    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)

    def forward(self, hidden):
        return F.gelu(self.dense(hidden))


class BertOutput(nn.Module):
    """FFN down-projection + residual + LayerNorm."""

    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg.intermediate_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(0.1)

    def forward(self, hidden, residual):
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)


class BertLayer(nn.Module):
    """One transformer block (post-LN, as in the original BERT)."""

    def __init__(self, cfg):
        super().__init__()
        self.attention = BertAttention(cfg)
        self.intermediate = BertIntermediate(cfg)
        self.output = BertOutput(cfg)

    def forward(self, hidden, additive_mask):
        attn = self.attention(hidden, additive_mask)
        return self.output(self.intermediate(attn), attn)


class BertEncoder(nn.Module):
    """Stack of ``encoder.layer.N``."""

    def __init__(self, cfg):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(cfg)
                                   for _ in range(cfg.num_hidden_layers))

    def forward(self, hidden, additive_mask):
        for layer in self.layer:
            hidden = layer(hidden, additive_mask)
        return hidden


class BertPooler(nn.Module):
    """First ([CLS]) token -> Linear -> tanh."""

    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden):
        return self.activation(self.dense(hidden[:, 0]))


class BertForSequenceClassification(nn.Module):
    """BERT encoder + pooler + 2-way classifier.

    Unlike HF the encoder modules sit at the top level (``embeddings.*``,
    ``encoder.*``, ``pooler.*``, ``classifier``) instead of under ``bert.``;
    the names below that prefix are HF's.
    """

    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = BertEncoder(cfg)
        self.pooler = BertPooler(cfg)
        self.dropout = nn.Dropout(0.1)
        self.classifier = nn.Linear(cfg.hidden_size, cfg.num_labels)

    @staticmethod
    def additive_mask(attention_mask):
        """1/0 mask [B, S] -> additive bias [B, 1, 1, S] (0 keep, -1e4 drop)."""
        return (1 - attention_mask[:, None, None, :].float()) * -10000.0

    def forward(self, input_ids, attention_mask, token_type_ids):
        hidden = self.embeddings(input_ids, token_type_ids)
        hidden = self.encoder(hidden, self.additive_mask(attention_mask))
        pooled = self.pooler(hidden)
        return self.classifier(self.dropout(pooled))


class BertForQuestionAnswering(nn.Module):
    """BERT encoder + SQuAD span head, HF ``BertForQuestionAnswering``.

    ``qa_outputs`` maps each token's hidden state to two logits, taken apart into
    ``start_logits`` and ``end_logits`` [batch, sequence]; no pooler. The
    encoder modules sit at the top level, as in the classifier above.
    """

    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = BertEncoder(cfg)
        self.qa_outputs = nn.Linear(cfg.hidden_size, 2)

    def forward(self, input_ids, attention_mask, token_type_ids):
        hidden = self.embeddings(input_ids, token_type_ids)
        mask = BertForSequenceClassification.additive_mask(attention_mask)
        hidden = self.encoder(hidden, mask)
        logits = self.qa_outputs(hidden)
        # Indexing, not HF's split(1, dim=-1): same values, and it exports as
        # Gather, which octet runs, where split needs ONNX Split.
        return logits[..., 0], logits[..., 1]


def init_bert_weights(model, generator, std=0.02):
    """HF-style init, but with non-trivial LayerNorm and bias values.

    HF initialises LayerNorm to gamma=1, beta=0 and biases to 0; a runtime that
    ignored those tensors would still pass.  Here gamma ~ 1 + N(0, 0.1),
    beta ~ N(0, 0.02) and every Linear bias ~ N(0, 0.02), so each parameter
    influences the logits.  ``std`` is HF's initializer_range (0.02); see
    build_bert for why a larger value can be wanted.
    """
    def normal(t, std, mean=0.0):
        with torch.no_grad():
            t.copy_(torch.randn(t.shape, generator=generator) * std + mean)

    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Embedding)):
            normal(module.weight, std)
            if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        if isinstance(module, nn.Linear) and module.bias is not None:
            normal(module.bias, 0.02)
        if isinstance(module, nn.LayerNorm):
            normal(module.weight, 0.1, mean=1.0)
            normal(module.bias, 0.02)


def build_bert(name, seed=0, init_std=0.02):
    """Seeded ``BertForSequenceClassification`` (or, for the ``-qa`` names,
    ``BertForQuestionAnswering``) in eval mode.

    With HF's init_std 0.02 attention is nearly uniform and each attention
    sublayer adds well under 1% to the residual stream, so in bert-tiny the
    logits barely depend on attention or on the mask.  A larger init_std
    (e.g. 0.05) makes the reference sensitive to attention bugs.
    """
    torch.manual_seed(seed)
    if name in BERT_QA_CONFIGS:
        model = BertForQuestionAnswering(BERT_QA_CONFIGS[name])
    else:
        model = BertForSequenceClassification(BERT_CONFIGS[name])
    generator = torch.Generator().manual_seed(seed)
    init_bert_weights(model, generator, init_std)
    return model.eval()


# --------------------------------------------------------------------------
# ResNet
# --------------------------------------------------------------------------

RESNET_NAMES = ("resnet18", "resnet50")


def randomize_batchnorm(model, generator):
    """Give every BatchNorm non-trivial eval-mode statistics and affine terms.

    torchvision's fresh init (mean 0, var 1, gamma 1, beta 0) makes BN almost an
    identity, so a runtime that folded BN wrongly would go unnoticed.
    """
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            c = module.num_features
            with torch.no_grad():
                module.running_mean.copy_(torch.randn(c, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(c, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(c, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(c, generator=generator) * 0.1)


def calibrate_conv_scales(model, calib_input, target_std=1.0):
    """Rescale each conv so its output has ``target_std`` on ``calib_input``.

    With eval-mode BN the kaiming init no longer keeps activations O(1): the
    random running_var does not match the real variance and every residual
    add grows the signal.  One forward pass with a hook per conv does an
    LSUV-style rescale in forward order: a bias-free conv is linear, so scaling
    its output inside the hook equals scaling its weight, and later layers see
    the corrected activations in the same pass.
    """
    def hook(module, _inputs, output):
        scale = target_std / output.std().clamp_min(1e-12)
        with torch.no_grad():
            module.weight.mul_(scale)
        return output * scale

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            model(calib_input)
    finally:
        for h in handles:
            h.remove()


def build_resnet(name, seed=0, calibrate=True):
    """Seeded torchvision ResNet in eval mode with non-trivial BatchNorm.

    Conv weights start from torchvision's kaiming_normal(fan_out) init and are
    then rescaled by :func:`calibrate_conv_scales` on a seeded N(0, 1) batch
    (unless ``calibrate`` is False, kept to measure what the rescale buys).
    """
    import torchvision  # imported lazily: BERT-only use does not need it

    torch.manual_seed(seed)
    model = getattr(torchvision.models, name)(weights=None)
    generator = torch.Generator().manual_seed(seed)
    randomize_batchnorm(model, generator)
    model.eval()
    if calibrate:
        calib = torch.randn((4, 3, 224, 224), generator=generator)
        calibrate_conv_scales(model, calib)
    return model


def build_model(name, seed=0, init_std=0.02):
    """Dispatch on the model name used by export.py (init_std: BERT only)."""
    if name in BERT_CONFIGS or name in BERT_QA_CONFIGS:
        return build_bert(name, seed, init_std)
    if name in RESNET_NAMES:
        return build_resnet(name, seed)
    raise ValueError(f"unknown model {name!r}")


MODEL_NAMES = tuple(RESNET_NAMES) + tuple(BERT_CONFIGS) + tuple(BERT_QA_CONFIGS)
