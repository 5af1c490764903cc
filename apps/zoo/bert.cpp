// BERT for sequence classification, tools/export/models.py's architecture,
// in the form octet's ONNX importer gives the torch export (opset 17):
// Linear layers on 3-D tensors are MatMul(x, W^T) with the bias fused (and
// the exact GELU fused into the FFN's first MatMul), LayerNormalization is
// one op, the pooler and classifier are Gemm(transB=1).
//
// The node order follows the export's node for node, so that a session runs
// the same layers in the same order. Where the export computes a Reshape
// target from Shape/Gather/Unsqueeze/Concat at every layer, this graph uses a
// constant target with 0 (copy the dim: batch, sequence) and so works for any
// batch and sequence length. The position ids keep the export's
// Shape -> Gather -> Range -> Unsqueeze chain (without its no-op Cast of an
// s64 to s64): the session folds it, and the position-embedding Gather after
// it, once per prepared shape.
//
// Weights as models.py's init_bert_weights: Linear and embedding weights
// N(0, init_std) with the padding row (id 0) of the word embeddings zero,
// Linear biases N(0, 0.02), LayerNorm gamma 1 + N(0, 0.1), beta N(0, 0.02).
#include <algorithm>
#include <cmath>

#include "apps/zoo/architectures.hpp"
#include "apps/zoo/graph_builder.hpp"

namespace octet::zoo {

namespace {

constexpr int64_t kPadTokenId = 0;

using Ints = std::vector<int64_t>;

class BertBuilder {
 public:
  BertBuilder(const BertConfig& c, uint32_t seed) : c_(c), b_(c.name, seed) {}

  Graph build() {
    const std::vector<Dim> dims = {sym("batch"), sym("sequence")};
    const int ids = b_.input("input_ids", DataType::s64, dims);
    const int mask = b_.input("attention_mask", DataType::s64, dims);
    const int types = b_.input("token_type_ids", DataType::s64, dims);
    int h = embeddings(ids, types);
    const int additive = additive_mask(mask);
    // Shared by every layer: the split / merge of heads and the score scale.
    const int64_t head_dim = c_.hidden / c_.heads;
    split_heads_ = b_.ints("attention.split_heads_shape", {0, 0, c_.heads, head_dim});
    merge_heads_ = b_.ints("attention.merge_heads_shape", {0, 0, c_.hidden});
    alpha_ = static_cast<float>(1.0 / std::sqrt(static_cast<float>(head_dim)));
    for (int64_t i = 0; i < c_.layers; ++i) {
      h = layer("encoder.layer." + std::to_string(i) + ".", h, additive);
    }
    const int logits = pooler_and_classifier(h);
    b_.output(logits, {sym("batch"), fixed(c_.labels)});
    return b_.finish(R"({"source":"octet zoo","model":")" + c_.name + R"(","seed":)" +
                     std::to_string(b_.seed()) + R"(,"init_std":)" + std::to_string(c_.init_std) +
                     R"(,"weights":"random","architecture":"tools/export/models.py"})");
  }

 private:
  int embeddings(int ids, int types) {
    const std::string p = "embeddings.";
    const int word = b_.normal(p + "word_embeddings.weight", {c_.vocab, c_.hidden}, 0, c_.init_std);
    Tensor& word_data = b_.graph().values[word].data;  // nn.Embedding(padding_idx=0)
    std::fill_n(word_data.data<float>() + kPadTokenId * c_.hidden, c_.hidden, 0.f);
    const int position =
        b_.normal(p + "position_embeddings.weight", {c_.max_positions, c_.hidden}, 0, c_.init_std);
    const int token_type =
        b_.normal(p + "token_type_embeddings.weight", {c_.type_vocab, c_.hidden}, 0, c_.init_std);

    // position_ids = arange(input_ids.size(1)).unsqueeze(0), from the shape alone.
    const int shape = b_.node("Shape", p + "shape", {ids});
    const int one = b_.scalar_s64("one", 1);
    zero_ = b_.scalar_s64("zero", 0);
    const int seq = b_.node("Gather", p + "sequence_length", {shape, one}, {{"axis", int64_t{0}}});
    const int range = b_.node("Range", p + "range", {zero_, seq, one});
    const int position_ids =
        b_.node("Unsqueeze", p + "position_ids", {range, b_.ints("axes_0", {0})});

    const int w = b_.node("Gather", p + "word_embeddings", {word, ids});
    const int t = b_.node("Gather", p + "token_type_embeddings", {token_type, types});
    int x = b_.node("Add", p + "add", {w, t});
    const int pos = b_.node("Gather", p + "position_embeddings", {position, position_ids});
    x = b_.node("Add", p + "add_1", {x, pos});
    return layer_norm(p + "LayerNorm", x);
  }

  // (1 - mask[:, None, None, :].float()) * -10000, as the export computes it.
  int additive_mask(int mask) {
    int m = b_.node("Unsqueeze", "mask.unsqueeze", {mask, b_.ints("axes_1", {1})});
    m = b_.node("Unsqueeze", "mask.unsqueeze_1", {m, b_.ints("axes_2", {2})});
    m = b_.node("Cast", "mask.cast", {m}, {{"to", int64_t{1}}});  // ONNX FLOAT
    m = b_.node("Sub", "mask.sub", {b_.scalar_f32("mask.one", 1.f), m});
    return b_.node("Mul", "mask.mul", {m, b_.scalar_f32("mask.neg_10000", -10000.f)}, {},
                   "additive_mask");
  }

  int layer(const std::string& p, int h, int additive) {
    const std::string a = p + "attention.self.";
    const Ints perm = {0, 2, 1, 3};
    const int q = linear(a + "query", h, c_.hidden, c_.hidden);
    const int qr = b_.node("Reshape", a + "reshape_query", {q, split_heads_});
    const int qt = b_.node("Transpose", a + "transpose_query", {qr}, {{"perm", perm}});
    const int k = linear(a + "key", h, c_.hidden, c_.hidden);
    const int kr = b_.node("Reshape", a + "reshape_key", {k, split_heads_});
    const int v = linear(a + "value", h, c_.hidden, c_.hidden);
    const int vr = b_.node("Reshape", a + "reshape_value", {v, split_heads_});
    const int vt = b_.node("Transpose", a + "transpose_value", {vr}, {{"perm", perm}});
    // K goes straight to [batch, heads, head_dim, sequence]: torch fuses
    // permute(0,2,1,3) and transpose(-1,-2) into one perm.
    const int kt = b_.node("Transpose", a + "transpose_key", {kr}, {{"perm", Ints{0, 2, 3, 1}}});
    // scores / sqrt(head_dim) as the importer fuses the Div: the MatMul's alpha.
    int s = b_.node("MatMul", a + "scores", {qt, kt}, {{"alpha", alpha_}});
    s = b_.node("Add", a + "add_mask", {s, additive});
    s = b_.node("Softmax", a + "softmax", {s}, {{"axis", int64_t{-1}}});
    int ctx = b_.node("MatMul", a + "context", {s, vt});
    ctx = b_.node("Transpose", a + "transpose_context", {ctx}, {{"perm", perm}});
    ctx = b_.node("Reshape", a + "reshape_context", {ctx, merge_heads_});

    const std::string o = p + "attention.output.";
    // The residual Adds as the importer fuses them: the Linear's input 3.
    int x = linear(o + "dense", ctx, c_.hidden, c_.hidden, "", h);
    const int attn = layer_norm(o + "LayerNorm", x);

    x = linear(p + "intermediate.dense", attn, c_.hidden, c_.intermediate, "gelu");
    x = linear(p + "output.dense", x, c_.intermediate, c_.hidden, "", attn);
    return layer_norm(p + "output.LayerNorm", x);
  }

  int pooler_and_classifier(int h) {
    // hidden[:, 0]: a scalar index drops the sequence axis.
    const int cls = b_.node("Gather", "pooler.first_token", {h, zero_}, {{"axis", int64_t{1}}});
    int x = gemm("pooler.dense", cls, c_.hidden, c_.hidden, "");
    x = b_.node("Tanh", "pooler.activation", {x});
    return gemm("classifier", x, c_.hidden, c_.labels, "logits");
  }

  // nn.Linear on a 3-D tensor: MatMul(x, W^T [in, out], bias) as fused by the importer.
  int linear(const std::string& name, int x, int64_t in, int64_t out,
             const std::string& activation = "", int residual = kNoValue) {
    const int w = b_.normal(name + ".weight_t", {in, out}, 0, c_.init_std);
    const int bias = b_.normal(name + ".bias", {out}, 0, 0.02f);
    std::map<std::string, AttrValue> attrs;
    if (!activation.empty()) attrs["activation"] = activation;
    std::vector<int> inputs{x, w, bias};
    if (residual != kNoValue) inputs.push_back(residual);
    return b_.node("MatMul", name, inputs, std::move(attrs));
  }

  // nn.Linear on a 2-D tensor: Gemm with the weight as torch stores it, [out, in].
  int gemm(const std::string& name, int x, int64_t in, int64_t out, const std::string& output) {
    const int w = b_.normal(name + ".weight", {out, in}, 0, c_.init_std);
    const int bias = b_.normal(name + ".bias", {out}, 0, 0.02f);
    return b_.node("Gemm", name, {x, w, bias},
                   {{"alpha", 1.0}, {"beta", 1.0}, {"transB", int64_t{1}}}, output);
  }

  int layer_norm(const std::string& name, int x) {
    const int gamma = b_.normal(name + ".weight", {c_.hidden}, 1.f, 0.1f);
    const int beta = b_.normal(name + ".bias", {c_.hidden}, 0.f, 0.02f);
    return b_.node("LayerNormalization", name, {x, gamma, beta},
                   {{"axis", int64_t{-1}}, {"epsilon", c_.layer_norm_eps}});
  }

  const BertConfig& c_;
  GraphBuilder b_;
  int zero_ = kNoValue;  // s64 scalar 0: Range start, the pooler's token index
  int split_heads_ = kNoValue, merge_heads_ = kNoValue;
  double alpha_ = 1;
};

}  // namespace

Graph build_bert(const BertConfig& config, uint32_t seed) {
  return BertBuilder(config, seed).build();
}

}  // namespace octet::zoo
