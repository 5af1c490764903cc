// Pass 1b: zero padding that the next op can do itself.
//   - a Pad whose pads are all 0 is dropped (torch writes one before every
//     AveragePool it exports with count_include_pad, DenseNet's included);
//   - Pad(constant 0, spatial dims only) -> AveragePool becomes the
//     AveragePool with those pads and count_include_pad = 1, which averages
//     over the same zeros (torch's avg_pool2d(padding=p) exports this way:
//     Inception v3);
//   - Pad(constant 0, spatial dims only) -> Conv becomes the Conv with the
//     pads added to its own (the zeros a convolution pads with).
// The pads must be constant, non-negative, and 0 on the batch and channel
// dimensions; an AveragePool merges only when it has no pads of its own or
// already counts them, without ceil_mode, and when the merged pads stay below
// its kernel size.
#include "loaders/onnx/onnx_import.hpp"
#include "loaders/onnx/onnx_passes.hpp"

namespace octet {

namespace {

// The Pad's pads [begin..., end...], when constant and zero-filling; else empty.
std::vector<int64_t> zero_pads(const GraphEditor& editor, const Node& pad) {
  if (pad.attr_string("mode", "constant") != "constant" || pad.inputs.empty() ||
      pad.has_input(3)) {  // opset 18's axes: not seen in these exports
    return {};
  }
  std::vector<int64_t> pads;
  if (pad.has_input(1)) {
    const Tensor* t = editor.constant(pad.inputs[1]);
    if (!t || t->dtype() != DataType::s64 || t->rank() != 1) return {};
    pads.assign(t->data<int64_t>(), t->data<int64_t>() + t->numel());
  } else if (pad.has_attr("pads")) {  // before opset 11
    pads = pad.attr_ints("pads");
  }
  if (pads.empty() || pads.size() % 2 != 0) return {};
  if (pad.has_input(2) && !is_scalar(editor, pad.inputs[2], 0.0)) return {};
  if (pad.attr_float("value", 0.0) != 0.0) return {};
  for (int64_t p : pads) {
    if (p < 0) return {};
  }
  return pads;
}

// The spatial pads of `pads` as a Conv or pool writes them, when N and C get none.
std::vector<int64_t> spatial(const std::vector<int64_t>& pads) {
  const size_t rank = pads.size() / 2;
  if (rank < 3 || pads[0] || pads[1] || pads[rank] || pads[rank + 1]) return {};
  std::vector<int64_t> out(pads.begin() + 2, pads.begin() + static_cast<int64_t>(rank));
  out.insert(out.end(), pads.begin() + static_cast<int64_t>(rank) + 2, pads.end());
  return out;
}

bool all_zero(const std::vector<int64_t>& v) {
  for (int64_t x : v) {
    if (x != 0) return false;
  }
  return true;
}

// Adds the spatial pads to the reader's "pads" (which must be explicit).
bool merge_into(Node& reader, const std::vector<int64_t>& pads) {
  if (reader.attr_string("auto_pad", "NOTSET") != "NOTSET") return false;
  std::vector<int64_t> own = reader.attr_ints("pads", std::vector<int64_t>(pads.size(), 0));
  if (own.size() != pads.size()) return false;
  for (size_t i = 0; i < own.size(); ++i) own[i] += pads[i];
  reader.attrs["pads"] = own;
  return true;
}

// Whether each of the pool's pads is below its kernel size, as AveragePool
// requires (a window of padding only).
bool pads_below_kernel(const Node& pool) {
  const std::vector<int64_t> kernel = pool.attr_ints("kernel_shape", {});
  const std::vector<int64_t> pads = pool.attr_ints("pads", {});
  if (kernel.empty() || pads.size() != 2 * kernel.size()) return false;
  for (size_t i = 0; i < pads.size(); ++i) {
    if (pads[i] >= kernel[i % kernel.size()]) return false;
  }
  return true;
}

void try_fuse(GraphEditor& editor, int p, std::vector<std::string>& log) {
  const Node& pad = editor.node(p);
  const int out = editor.only_output(p);
  if (out == kNoValue || editor.is_graph_output(out)) return;
  const std::vector<int64_t> pads = zero_pads(editor, pad);
  if (pads.empty()) return;
  const std::string name = pad.name;
  if (all_zero(pads)) {
    editor.replace_uses(out, pad.inputs[0]);
    editor.remove(p);
    log.push_back("removed Pad '" + name + "' (all pads 0)");
    return;
  }
  const std::vector<int64_t> sp = spatial(pads);
  const int r = editor.sole_consumer(out);
  if (sp.empty() || r < 0 || editor.node(r).inputs.empty() || editor.node(r).inputs[0] != out)
    return;
  Node reader = editor.node(r);
  if (reader.op == "AveragePool") {
    const bool counted =
        reader.attr_int("count_include_pad", 0) == 1 || all_zero(reader.attr_ints("pads", {}));
    if (!counted || reader.attr_int("ceil_mode", 0) != 0 || !merge_into(reader, sp) ||
        !pads_below_kernel(reader)) {
      return;
    }
    reader.attrs["count_include_pad"] = int64_t{1};
  } else if (reader.op == "Conv") {
    if (!merge_into(reader, sp)) return;
  } else {
    return;
  }
  reader.inputs[0] = pad.inputs[0];
  log.push_back("fused Pad '" + name + "' into " + reader.op + " '" + reader.name + "'");
  editor.remove(p);
  editor.rewrite(r, std::move(reader));
}

}  // namespace

void pass_fuse_pad(Graph& graph, std::vector<std::string>& log) {
  GraphEditor editor(graph);
  for (size_t i = 0; i < editor.node_count(); ++i) {
    const int n = static_cast<int>(i);
    if (editor.is_op(n, "Pad")) try_fuse(editor, n, log);
  }
  editor.finish();
}

}  // namespace octet
