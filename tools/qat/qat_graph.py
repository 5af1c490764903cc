"""Where octet quantizes, found on a torch.fx trace of a model.

octet quantizes the graph its ONNX importer makes of the model, so this module
repeats, on the fx graph, the parts of the importer and of the session's
precision plan that decide which tensors are int8 and on which scale:

* BatchNorm after a convolution is folded into it before weights are
  quantized (loaders/onnx/pass_fold_batchnorm.cpp);
* Conv [+ Add(residual)] [+ Relu] is one node (pass_fuse_conv.cpp): its
  output is the Relu's (or the Add's), the residual is read in int8 and the
  Conv's own output is never a tensor of its own. The first Conv in execution
  order whose only reader is the Add takes it;
* int8 layers: Conv (weights a constant), Linear, and MatMul of two
  activations where the CPU has VNNI (without VNNI octet keeps those in fp32:
  ops/matmul.cpp). Each reads its activation inputs in int8;
* a value is worth int8 when an int8 layer reads it, or when it feeds a
  pool / reshape / transpose / concat / add whose output is worth int8
  (runtime/precision.cpp). An int8 layer writes such a value in int8 on the
  value's own range; pools, reshapes and transposes of int8 data stay int8 on
  the *input's* scale (an average is rounded again); a concat of inputs on
  different scales, or an add, writes int8 on its own range;
* a value produced in fp32 is quantized where an int8 layer reads it (a
  quantize step with the value's range); other readers read it in fp32;
* u8 where the graph proves a value non-negative (runtime/calibrator.cpp:
  Relu, Softmax, and pools, reshapes, transposes, slices, concats of such
  values), s8 elsewhere.

:func:`plan` returns these decisions; octet_qat.prepare() rewrites the graph
with them.
"""

import operator
import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torch.fx.passes.shape_prop import TensorMetadata

COMPUTE = ("conv", "linear", "matmul")
# Ops that octet runs on int8 data as produced (no int8 kernel of their own).
KEEPS_SCALE = ("pool_max", "pool_avg", "view", "transpose", "alias")
TRANSPARENT = KEEPS_SCALE + ("cat", "add")
# Ops whose output is non-negative when their (first) input is.
KEEPS_SIGN = KEEPS_SCALE + ("slice",)

_FUNCTIONS = {
    F.relu: "relu", torch.relu: "relu",
    F.softmax: "softmax", torch.softmax: "softmax",
    torch.cat: "cat", torch.concat: "cat",
    torch.flatten: "view", torch.reshape: "view", torch.squeeze: "view",
    torch.unsqueeze: "view",
    torch.transpose: "transpose", torch.permute: "transpose",
    F.dropout: "alias",
    F.max_pool2d: "pool_max", F.avg_pool2d: "pool_avg",
}
_METHODS = {
    "view": "view", "reshape": "view", "flatten": "view", "squeeze": "view",
    "unsqueeze": "view", "permute": "transpose", "transpose": "transpose", "t": "transpose",
    "contiguous": "alias", "relu": "relu", "softmax": "softmax",
}


def float_tensor(node):
    """Whether fx node `node` produces a float tensor (ShapeProp metadata)."""
    meta = getattr(node, "meta", {}).get("tensor_meta") if isinstance(node, torch.fx.Node) else None
    return isinstance(meta, TensorMetadata) and meta.dtype.is_floating_point


def tensor_args(node):
    """The float-tensor fx nodes among `node`'s arguments, in order."""
    out = []

    def visit(a):
        if isinstance(a, torch.fx.Node):
            if float_tensor(a) and a.op != "get_attr":
                out.append(a)
        elif isinstance(a, (list, tuple)):
            for b in a:
                visit(b)
    for a in list(node.args) + list(node.kwargs.values()):
        visit(a)
    return out


def _is_add(node):
    if node.op == "call_function" and node.target in (operator.add, torch.add):
        pass
    elif not (node.op == "call_method" and node.target == "add"):
        return False
    if "alpha" in node.kwargs or len(node.args) != 2:
        return False
    a, b = node.args
    return all(isinstance(x, torch.fx.Node) and float_tensor(x) and x.op != "get_attr"
               for x in (a, b))


def classify(node, modules):
    """octet's view of fx node `node`: an op kind (see the module docstring)."""
    if node.op in ("placeholder", "output", "get_attr"):
        return node.op
    if not float_tensor(node):
        return "other"
    if node.op == "call_module":
        m = modules[node.target]
        if isinstance(m, nn.Conv2d):
            return "conv"
        if isinstance(m, nn.Linear):
            return "linear"
        if isinstance(m, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
            warnings.warn(f"{node.target}: octet has no ConvTranspose op; it stays fp32 here")
            return "fp32"
        if isinstance(m, nn.BatchNorm2d):
            return "bn"
        if isinstance(m, nn.ReLU):
            return "relu"
        if isinstance(m, nn.Softmax):
            return "softmax"
        if isinstance(m, (nn.Dropout, nn.Identity)):
            return "alias"
        if isinstance(m, nn.Flatten):
            return "view"
        if isinstance(m, nn.MaxPool2d):
            return "pool_max"
        if isinstance(m, nn.AvgPool2d):
            return "pool_avg"
        if isinstance(m, nn.AdaptiveAvgPool2d) and m.output_size in (1, (1, 1)):
            return "pool_avg"  # GlobalAveragePool
        return "fp32"
    if node.op == "call_function":
        if _is_add(node):
            return "add"
        if node.target is F.conv2d:
            w = node.args[1] if len(node.args) > 1 else node.kwargs.get("weight")
            return "conv" if isinstance(w, torch.fx.Node) and w.op == "get_attr" else "fp32"
        if node.target is F.linear:
            w = node.args[1] if len(node.args) > 1 else node.kwargs.get("weight")
            return "linear" if isinstance(w, torch.fx.Node) and w.op == "get_attr" else "fp32"
        if node.target in (torch.matmul, operator.matmul, torch.bmm):
            return "matmul" if len(tensor_args(node)) == 2 else "fp32"
        if node.target is F.adaptive_avg_pool2d:
            size = node.args[1] if len(node.args) > 1 else node.kwargs.get("output_size")
            return "pool_avg" if size in (1, (1, 1), [1, 1]) else "fp32"
        if node.target is operator.getitem:
            index = node.args[1]
            parts = index if isinstance(index, tuple) else (index,)
            # Slices keep the sign (ONNX Slice); an integer index is a Gather.
            return "slice" if all(p is None or p is Ellipsis or isinstance(p, slice)
                                  for p in parts) else "fp32"
        return _FUNCTIONS.get(node.target, "fp32")
    if node.op == "call_method":
        if _is_add(node):
            return "add"
        return _METHODS.get(node.target, "fp32")
    return "fp32"


def fold_batchnorm(gm):
    """Folds every BatchNorm2d that is the only reader of a Conv2d into it."""
    modules = dict(gm.named_modules())
    folded = 0
    for node in list(gm.graph.nodes):
        if node.op != "call_module" or not isinstance(modules.get(node.target), nn.BatchNorm2d):
            continue
        src = node.args[0]
        if not (isinstance(src, torch.fx.Node) and src.op == "call_module"
                and isinstance(modules.get(src.target), nn.Conv2d) and len(src.users) == 1):
            continue
        conv, bn = modules[src.target], modules[node.target]
        fused = torch.nn.utils.fusion.fuse_conv_bn_eval(conv.eval(), bn.eval())
        set_submodule(gm, src.target, fused)
        node.replace_all_uses_with(src)
        gm.graph.erase_node(node)
        folded += 1
    gm.graph.lint()
    gm.recompile()
    return folded


def set_submodule(gm, target, module):
    parent, _, name = target.rpartition(".")
    setattr(gm.get_submodule(parent) if parent else gm, name, module)


class Plan:
    """The decisions, per fx node (by node name).

    * ``kind[n]``: classify();
    * ``groups``: int8-capable layers: dicts with ``node`` (the conv, linear or
      matmul), ``reads`` (reader node, activation node) for what it reads in
      int8: x, the fused residual (read by the Add), or both matmul operands,
      ``out`` (the fused output node), ``int8`` (False for a MatMul of
      activations without VNNI);
    * ``own``: value node -> unsigned, for values quantized on their own range;
    * ``after``: node -> home value: a fake quant right after the node, read by
      all its readers (the value is produced in int8 on that home's range);
    * ``edges``: (reader node, input node, home value): a fake quant on
      that edge only (an fp32 value quantized for an int8 reader, or an int8
      value reached through a reshape).
    """

    def __init__(self):
        self.kind, self.groups, self.own, self.after, self.edges = {}, [], {}, {}, []


def plan(gm, target):
    """The quantization plan of fx GraphModule `gm` (BatchNorm already folded,
    ShapeProp metadata present) for a CPU `target` of "vnni" or "avx2"."""
    modules = dict(gm.named_modules())
    nodes = list(gm.graph.nodes)
    p = Plan()
    for n in nodes:
        p.kind[n] = classify(n, modules)
        if p.kind[n] == "bn":
            p.kind[n] = "fp32"  # a BatchNorm that could not be folded runs in fp32

    def readers(n):
        """Readers of n's value, looking through aliases (dropout, identity)."""
        out = []
        for u in n.users:
            out.extend(readers(u) if p.kind[u] == "alias" else [u])
        return out

    # Conv [+ Add] [+ Relu] fusion, in execution order.
    group_of, internal = {}, set()
    fused_adds = set()
    for n in nodes:
        k = p.kind[n]
        if k not in COMPUTE:
            continue
        g = {"node": n, "reads": [(n, tensor_args(n)[0])], "out": n,
             "int8": k != "matmul" or target == "vnni"}
        if k == "matmul":
            g["reads"] = [(n, v) for v in tensor_args(n)[:2]]
        if k == "conv":
            r = readers(n)
            if len(r) == 1 and p.kind[r[0]] == "add" and r[0] not in fused_adds:
                a = r[0]
                others = [x for x in tensor_args(a) if x is not n and _through_alias(x, p) is not n]
                if len(others) == 1:  # Add(y, y) is no residual
                    fused_adds.add(a)
                    internal.add(g["out"])
                    g["out"] = a
                    g["reads"].append((a, others[0]))
            r = readers(g["out"])
            if len(r) == 1 and p.kind[r[0]] == "relu":
                internal.add(g["out"])
                g["out"] = r[0]
        group_of[g["out"]] = len(p.groups)
        p.groups.append(g)

    # Values worth int8 (a backward sweep; readers follow writers).
    wants = {n: False for n in nodes}
    for n in reversed(nodes):
        if n in group_of:
            g = p.groups[group_of[n]]
            if g["int8"]:
                for _, v in g["reads"]:
                    wants[v] = True
        elif n not in internal and p.kind[n] in TRANSPARENT and wants[n]:
            for v in tensor_args(n):
                wants[v] = True

    # Signs, int8 forms (the home value whose range a value is on), edges.
    nonneg, form = {}, {}
    for n in nodes:
        k = p.kind[n]
        ins = tensor_args(n) if n.op != "placeholder" else []
        if n in group_of:
            g = p.groups[group_of[n]]
            nonneg[n] = k == "relu"
            form[n] = n if g["int8"] and wants[n] else None
        elif k in ("relu", "softmax"):
            nonneg[n], form[n] = True, None
        elif k in KEEPS_SIGN:
            nonneg[n] = bool(ins) and nonneg.get(ins[0], False)
            form[n] = form.get(ins[0]) if k in KEEPS_SCALE and ins else None
        elif k == "cat":
            nonneg[n] = bool(ins) and all(nonneg.get(v, False) for v in ins)
            homes = {form.get(v) for v in ins}
            if len(homes) == 1 and None not in homes:
                form[n] = homes.pop()
            else:
                form[n] = n if wants[n] else None
        elif k == "add" and n not in internal:
            nonneg[n] = False
            form[n] = n if wants[n] else None
        else:
            nonneg[n], form[n] = False, None
        if form[n] is n:
            p.own[n] = nonneg[n]
            p.after[n] = n
        elif k == "pool_avg" and form[n] is not None:
            p.after[n] = form[n]  # the average is rounded again onto the input's scale

    for g in p.groups:
        if not g["int8"]:
            continue
        for reader, v in g["reads"]:
            home = form.get(v)
            if home is None:  # quantize step: v's own range, for int8 readers only
                p.own.setdefault(v, nonneg.get(v, False))
                p.edges.append((reader, v, v))
            elif p.after.get(_through_alias(v, p)) is not home:
                p.edges.append((reader, v, home))  # reached through a reshape: same scale
            g.setdefault("homes", []).append(home if home is not None else v)
    p.nonneg = nonneg
    return p


def _through_alias(n, p):
    while p.kind.get(n) == "alias":
        n = tensor_args(n)[0]
    return n
