#!/usr/bin/python3
"""Tiny numpy interpreter for the ONNX ops in octet's reference exports.

onnx 1.12 has no reference evaluator and onnxruntime is not available, so
this is the only independent check that an exported file really computes
torch's logits -- in particular that the dynamic axes are dynamic (no shape
baked in by tracing).  It covers exactly the ops tools/export produces for
resnet18/50 and BERT at opsets 13..17, nothing more; an unknown op is an
error, never silently skipped.  float32 throughout, like the graph.

Example::

    tests/python/onnx_numpy_ref.py /tmp/ref/bert-tiny.onnx --vectors /tmp/ref \
        --out /tmp/bert-tiny.numpy.logits.npy
"""

import argparse
import math
import os
import sys

import numpy as np
import onnx
from onnx import helper, mapping, numpy_helper

_erf = np.frompyfunc(math.erf, 1, 1)


def attrs(node):
    """Node attributes as a plain dict."""
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def op_conv(x, w, b=None, *, pads=(0, 0, 0, 0), strides=(1, 1),
            dilations=(1, 1), group=1, kernel_shape=None, auto_pad=b"NOTSET"):
    """2-D convolution, group 1, via im2col + one matmul."""
    if group != 1 or auto_pad not in (b"NOTSET", "NOTSET"):
        raise NotImplementedError("Conv: only group=1, explicit pads")
    n, c, _, _ = x.shape
    m, _, kh, kw = w.shape
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    (sh, sw), (dh, dw) = strides, dilations
    oh = (x.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (x.shape[3] - dw * (kw - 1) - 1) // sw + 1
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = x[:, :, i * dh:i * dh + sh * oh:sh,
                                 j * dw:j * dw + sw * ow:sw]
    y = np.einsum("mk,nkp->nmp", w.reshape(m, -1),
                  cols.reshape(n, c * kh * kw, oh * ow), optimize=True)
    y = y.reshape(n, m, oh, ow)
    return y if b is None else y + b.reshape(1, m, 1, 1)


def op_maxpool(x, *, kernel_shape, pads=(0, 0, 0, 0), strides=(1, 1),
               ceil_mode=0, dilations=(1, 1), auto_pad=b"NOTSET",
               storage_order=0):
    """2-D max pooling with -inf padding (ceil_mode 0, no dilation)."""
    if ceil_mode or tuple(dilations) != (1, 1):
        raise NotImplementedError("MaxPool: ceil_mode/dilations")
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])),
               constant_values=-np.inf)
    (kh, kw), (sh, sw) = kernel_shape, strides
    oh = (x.shape[2] - kh) // sh + 1
    ow = (x.shape[3] - kw) // sw + 1
    out = np.full(x.shape[:2] + (oh, ow), -np.inf, dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            out = np.maximum(out, x[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw])
    return out


def op_batchnorm(x, scale, bias, mean, var, *, epsilon=1e-5, momentum=0.9,
                 training_mode=0):
    """Inference-form BatchNormalization over axis 1."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    inv = (scale / np.sqrt(var + epsilon)).reshape(shape)
    return (x - mean.reshape(shape)) * inv + bias.reshape(shape)


def op_layernorm(x, scale, bias=None, *, axis=-1, epsilon=1e-5, stash_type=1):
    """LayerNormalization over axes [axis, rank)."""
    axes = tuple(range(axis % x.ndim, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + epsilon) * scale
    return y if bias is None else y + bias


def op_gemm(a, b, c=None, *, alpha=1.0, beta=1.0, transA=0, transB=0):
    """Y = alpha * A' B' + beta * C."""
    y = alpha * ((a.T if transA else a) @ (b.T if transB else b))
    return y if c is None else y + beta * c


def op_softmax(x, *, axis=-1):
    """Numerically stable softmax (opset 13 semantics: one axis)."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def op_reshape(x, shape, *, allowzero=0):
    """Reshape where 0 copies the input dim (allowzero 0) and -1 is inferred."""
    shape = [int(s) for s in shape]
    if not allowzero:
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def op_unsqueeze(x, axes):
    """Unsqueeze with axes as an input (opset >= 13)."""
    out_rank = x.ndim + len(axes)
    for a in sorted(int(a) % out_rank for a in axes):
        x = np.expand_dims(x, a)
    return x


def op_reducemean(x, axes=None, *, keepdims=1, noop_with_empty_axes=0):
    """ReduceMean with axes as an attribute (opset <= 17)."""
    return x.mean(axis=tuple(axes) if axes is not None else None,
                  keepdims=bool(keepdims))


def op_cast(x, *, to):
    """Cast to the numpy dtype of an ONNX TensorProto type."""
    return x.astype(mapping.TENSOR_TYPE_TO_NP_TYPE[to])


def op_constant(**kw):
    """Constant from its value attribute (the only form torch emits)."""
    return numpy_helper.to_array(kw["value"])


def _binary(fn):
    """Elementwise op that keeps float32 and integer dtypes as ONNX does."""
    def run(a, b):
        return fn(a, b).astype(np.result_type(a, b), copy=False)
    return run


OPS = {
    "Add": _binary(np.add), "Sub": _binary(np.subtract),
    "Mul": _binary(np.multiply), "Pow": _binary(np.power),
    "Div": lambda a, b: (a // b if a.dtype.kind in "iu" else a / b),
    "MatMul": np.matmul, "Gemm": op_gemm,
    "Relu": lambda x: np.maximum(x, 0), "Tanh": np.tanh, "Sqrt": np.sqrt,
    "Erf": lambda x: _erf(x).astype(x.dtype),
    "Softmax": op_softmax, "LayerNormalization": op_layernorm,
    "BatchNormalization": op_batchnorm, "ReduceMean": op_reducemean,
    "Conv": op_conv, "MaxPool": op_maxpool,
    "GlobalAveragePool": lambda x: x.mean(axis=(2, 3), keepdims=True),
    "Flatten": lambda x, axis=1: x.reshape(int(np.prod(x.shape[:axis])), -1),
    "Shape": lambda x: np.array(x.shape, dtype=np.int64),
    "Gather": lambda x, i, axis=0: np.take(x, i, axis=axis),
    "Unsqueeze": op_unsqueeze, "Reshape": op_reshape,
    "Concat": lambda *xs, axis: np.concatenate(xs, axis=axis),
    "Transpose": lambda x, perm=None: np.transpose(x, perm),
    "Range": lambda s, l, d: np.arange(s, l, d).astype(np.result_type(s, l, d)),
    "Cast": op_cast, "Constant": op_constant,
}


def run_model(model, feeds):
    """Evaluate ``model`` on a dict of numpy inputs; returns output dict."""
    env = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    env.update(feeds)
    for node in model.graph.node:
        fn = OPS.get(node.op_type)
        if fn is None:
            raise NotImplementedError(f"op {node.op_type} ({node.name})")
        args = [env[name] if name else None for name in node.input]
        while args and args[-1] is None:
            args.pop()
        result = fn(*args, **attrs(node))
        env[node.output[0]] = np.asarray(result)
    return {out.name: env[out.name] for out in model.graph.output}


def load_vectors(directory, model_name, input_names):
    """The ``<model>.input.<name>.npy`` files written by export.py."""
    return {name: np.load(os.path.join(directory, f"{model_name}.input.{name}.npy"))
            for name in input_names}


def parse_args(argv=None):
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", help="ONNX file written by tools/export/export.py")
    p.add_argument("--vectors", help="directory with <model>.input.*.npy "
                                     "(default: the model's directory)")
    p.add_argument("--out", required=True, help="where to save the logits .npy")
    return p.parse_args(argv)


def main(argv=None):
    """Run one exported model on its saved inputs and save the logits."""
    args = parse_args(argv)
    model = onnx.load(args.model)
    name = os.path.basename(args.model)[:-len(".onnx")]
    vectors = args.vectors or os.path.dirname(os.path.abspath(args.model))
    feeds = load_vectors(vectors, name, [i.name for i in model.graph.input])
    outputs = run_model(model, feeds)
    np.save(args.out, outputs["logits"].astype(np.float32))
    print(f"{args.out}: logits {outputs['logits'].shape}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
