// Constant folding at import: torch exports leave small constant subgraphs
// (shape arithmetic on weights, transposed constants) that cost time at every
// prepare or run if kept. Nodes depending on graph inputs are left alone; the
// session evaluates shape-only subgraphs once per prepared shape.
#include "ops/registry.hpp"
#include "runtime/model/model.hpp"

namespace octet {

namespace {

// Folding must not turn a small model into a huge one (Expand, ConstantOfShape).
constexpr size_t kMaxFoldedBytes = size_t(64) << 20;

bool all_inputs_constant(const Graph& g, const Node& n) {
  bool any = false;
  for (int v : n.inputs) {
    if (v == kNoValue) continue;
    if (!g.values[v].is_initializer()) return false;
    any = true;
  }
  return any;
}

}  // namespace

int fold_constants(Graph& g, std::vector<std::string>& log) {
  int folded = 0;
  std::vector<bool> remove(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (!all_inputs_constant(g, n)) continue;
    std::unique_ptr<Op> op = create_op(n);
    if (!op->foldable()) continue;
    InferContext ctx{n, {}, {}, {}, {}};
    std::vector<const Tensor*> src;
    for (int v : n.inputs) {
      SrcInfo info;
      if (v != kNoValue) {
        const Tensor& t = g.values[v].data;
        info = {true, t.shape(), t.dtype(), &t};
      }
      ctx.src.push_back(info);
      src.push_back(v == kNoValue ? nullptr : &g.values[v].data);
    }
    op->infer(ctx);
    size_t bytes = 0;
    for (size_t k = 0; k < ctx.dst_shape.size(); ++k) {
      bytes += static_cast<size_t>(numel(ctx.dst_shape[k])) * size_of(ctx.dst_dtype[k]);
    }
    if (bytes > kMaxFoldedBytes || ctx.dst_shape.size() != n.outputs.size()) continue;
    std::vector<Tensor> dst;
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      dst.emplace_back(ctx.dst_dtype[k], ctx.dst_shape[k]);
    }
    op->reference(src, dst);
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      Value& out = g.values[n.outputs[k]];
      out.dtype = dst[k].dtype();
      out.data = dst[k];
    }
    remove[i] = true;
    ++folded;
  }
  if (folded == 0) return 0;
  std::vector<Node> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!remove[i]) kept.push_back(std::move(g.nodes[i]));
  }
  g.nodes = std::move(kept);
  g.remove_dead();
  log.push_back("folded " + std::to_string(folded) + " constant nodes");
  return folded;
}

}  // namespace octet
