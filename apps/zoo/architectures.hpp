// The zoo's model families; zoo.cpp maps names onto these.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/ir/graph.hpp"

namespace octet::zoo {

struct ResNetConfig {
  std::string name;         // "resnet18"
  bool bottleneck = false;  // Bottleneck (expansion 4) or BasicBlock (1)
  std::vector<int> blocks;  // per stage, e.g. {2, 2, 2, 2}
};

Graph build_resnet(const ResNetConfig& config, uint32_t seed);

// tools/export/models.py's BertConfig, plus the init std of Linear and
// embedding weights (models.py's init_std).
struct BertConfig {
  std::string name;  // "bert-base"
  int64_t hidden = 768;
  int64_t layers = 12;
  int64_t heads = 12;
  int64_t intermediate = 3072;
  int64_t vocab = 30522;
  int64_t max_positions = 512;
  int64_t type_vocab = 2;
  double layer_norm_eps = 1e-12;
  int64_t labels = 2;
  float init_std = 0.02f;
};

Graph build_bert(const BertConfig& config, uint32_t seed);

}  // namespace octet::zoo
