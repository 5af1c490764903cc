#!/usr/bin/python3
"""Summarise an ONNX graph so the C++ side can match its op coverage.

Prints op-type counts (always) and, with ``--dump FILE``, a compact text dump
of every node (op, name, inputs -> outputs, attributes) and every initializer
(name, dtype, shape) -- enough to rebuild the same architecture by hand
without reading protobuf.

Example::

    /usr/bin/python3 tools/export/summarize.py /tmp/octet-ref/bert-base.onnx \
        --dump /tmp/export_summary/bert-base.opset17.txt
"""

import argparse
import collections

import onnx
from onnx import helper, numpy_helper


def parse_args(argv=None):
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", help="ONNX files")
    p.add_argument("--dump", help="write the full node/initializer dump here "
                                  "(only with a single model)")
    return p.parse_args(argv)


def op_counts(graph):
    """Counter of node.op_type, most common first."""
    return collections.Counter(node.op_type for node in graph.node)


def format_attr(attr):
    """One attribute as name=value; tensors shown as small literals or shapes."""
    value = helper.get_attribute_value(attr)
    if isinstance(value, onnx.TensorProto):
        arr = numpy_helper.to_array(value)
        shown = arr.tolist() if arr.size <= 8 else f"<{arr.dtype}{list(arr.shape)}>"
        return f"{attr.name}={shown}"
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if isinstance(value, float):
        value = f"{value:.9g}"
    return f"{attr.name}={value}"


def value_info_line(vi):
    """Graph input/output as name: elem_type[dims] with symbolic dims kept."""
    t = vi.type.tensor_type
    dims = [d.dim_param or str(d.dim_value) for d in t.shape.dim]
    return f"{vi.name}: {onnx.TensorProto.DataType.Name(t.elem_type)}[{','.join(dims)}]"


def dump_lines(model):
    """The whole graph as text lines (io, nodes in order, initializers)."""
    g = model.graph
    lines = [f"# opset {[(o.domain or 'ai.onnx', o.version) for o in model.opset_import]}"
             f" producer {model.producer_name} {model.producer_version}",
             f"# {len(g.node)} nodes, {len(g.initializer)} initializers"]
    lines += ["input  " + value_info_line(v) for v in g.input]
    lines += ["output " + value_info_line(v) for v in g.output]
    lines.append("## nodes: op_type | name | inputs -> outputs | attributes")
    for node in g.node:
        attrs = " ".join(format_attr(a) for a in node.attribute)
        lines.append(f"{node.op_type} | {node.name} | {','.join(node.input)} -> "
                     f"{','.join(node.output)}" + (f" | {attrs}" if attrs else ""))
    lines.append("## initializers: name | dtype | shape")
    for init in g.initializer:
        dtype = onnx.TensorProto.DataType.Name(init.data_type)
        extra = ""
        if len(init.dims) == 0 or (len(init.dims) == 1 and init.dims[0] <= 8):
            extra = f" | {numpy_helper.to_array(init).tolist()}"
        lines.append(f"{init.name} | {dtype} | {list(init.dims)}{extra}")
    return lines


def print_counts(path, model):
    """One model's node count and op histogram."""
    counts = op_counts(model.graph)
    print(f"{path}: {len(model.graph.node)} nodes, {len(model.graph.initializer)} "
          f"initializers")
    print("  " + ", ".join(f"{op} {n}" for op, n in sorted(counts.items())))


def main(argv=None):
    """Print counts for each model; optionally dump one."""
    args = parse_args(argv)
    if args.dump and len(args.models) != 1:
        raise SystemExit("--dump takes exactly one model")
    for path in args.models:
        model = onnx.load(path)
        print_counts(path, model)
        if args.dump:
            with open(args.dump, "w") as f:
                f.write("\n".join(dump_lines(model)) + "\n")
            print(f"  dump -> {args.dump}")


if __name__ == "__main__":
    main()
