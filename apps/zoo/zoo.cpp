#include "apps/zoo/zoo.hpp"

#include "apps/zoo/architectures.hpp"

namespace octet::zoo {

namespace {

BertConfig bert_tiny() {
  BertConfig c;
  c.name = "bert-tiny";
  c.hidden = 128;
  c.layers = 2;
  c.heads = 2;
  c.intermediate = 512;
  // models.py's default (HF's 0.02) leaves bert-tiny's attention nearly
  // uniform: its logits move by < 3% when the mask is ignored. 0.1 is what
  // tools/export/README.md recommends for tests that must see attention.
  c.init_std = 0.1f;
  return c;
}

BertConfig bert_base() {
  BertConfig c;  // models.py's defaults, init_std 0.02 like HF and export.py
  c.name = "bert-base";
  return c;
}

}  // namespace

std::vector<std::string> names() {
  return {"resnet18", "resnet50", "bert-tiny", "bert-base"};
}

Graph build(const std::string& name, uint32_t seed) {
  if (name == "resnet18") return build_resnet({name, false, {2, 2, 2, 2}}, seed);
  if (name == "resnet50") return build_resnet({name, true, {3, 4, 6, 3}}, seed);
  if (name == "bert-tiny") return build_bert(bert_tiny(), seed);
  if (name == "bert-base") return build_bert(bert_base(), seed);
  std::string valid;
  for (const std::string& n : names()) valid += (valid.empty() ? "" : ", ") + n;
  throw Error(ErrorCode::invalid_argument,
              "unknown zoo model '" + name + "'; valid names: " + valid);
}

}  // namespace octet::zoo
