// `octet zoo`: reference architectures built in C++ with seeded random
// weights, so that benchmarks and tests need neither downloads nor python.
//
// Each graph has exactly the form octet's ONNX importer produces from the
// torch export in tools/export (same executed layers in the same order with
// the same shapes; see tests/test_zoo.cpp), but with no shape-arithmetic
// subgraphs beyond the position ids: reshapes use constant target shapes.
//
//   resnet18, resnet50    torchvision v1.5, BatchNorm folded into the convs,
//                         input `input` f32 [batch,3,224,224], output `logits` [batch,1000]
//   bert-tiny, bert-base  tools/export/models.py's BertForSequenceClassification,
//                         inputs `input_ids`, `attention_mask`, `token_type_ids`
//                         s64 [batch,sequence], output `logits` [batch,2]
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/ir/graph.hpp"

namespace octet::zoo {

// The model names build() accepts, in a fixed order.
std::vector<std::string> names();

// Builds the named model with weights drawn from `seed`: the same seed gives
// byte-identical initializers. Throws Error(invalid_argument) listing the
// valid names for an unknown one.
Graph build(const std::string& name, uint32_t seed);

}  // namespace octet::zoo
