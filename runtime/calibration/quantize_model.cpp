// quantize(): a calibration table's ranges written into a model's
// quantization section.
#include <cmath>

#include <nlohmann/json.hpp>

#include "runtime/calibration/calibration_methods.hpp"
#include "runtime/model/model.hpp"

namespace octet {

Model quantize(const Model& model, const CalibrationTable& table, const std::string& method) {
  const std::string hash = model.content_hash();
  if (table.model_hash != hash) {
    throw Error(ErrorCode::invalid_argument,
                "the calibration table was made for a different model: the table's model_hash "
                "is " +
                    table.model_hash + ", this model's is " + hash + " (" +
                    model_data(model).source + ")");
  }
  const std::string forced = method.empty() ? std::string() : canonical_method(method);
  Graph g = model_data(model).graph;
  int written = 0, kept = 0;
  for (const TensorCalibration& t : table.tensors) {
    const int id = g.find_value(t.name);
    if (id == kNoValue) {
      throw Error(ErrorCode::invalid_argument,
                  "the calibration table names tensor '" + t.name + "', which the model lacks");
    }
    Value& v = g.values[id];
    if (v.quant && v.quant->source == "qdq") {  // learned by QAT: honoured as given
      ++kept;
      continue;
    }
    float amax = t.amax;
    std::string source = "calibration:" + t.method;
    if (!forced.empty()) {
      const auto it = t.amax_by_method.find(forced);
      if (it == t.amax_by_method.end()) {
        throw Error(ErrorCode::invalid_argument,
                    "the calibration table has no '" + forced + "' range for tensor '" + t.name +
                        "' (compute it with --method " + forced + " or all)");
      }
      amax = it->second;
      source = "calibration:" + forced;
    } else {
      const auto it = t.amax_by_method.find(t.method);
      if (it == t.amax_by_method.end() || it->second != amax) source = "table:edited";
    }
    if (!(amax > 0) || !std::isfinite(amax)) {
      throw Error(ErrorCode::invalid_argument,
                  "tensor '" + t.name + "': amax must be positive and finite");
    }
    v.quant = ActivationQuant{amax, t.dtype, source};
    ++written;
  }
  nlohmann::json provenance = {{"method", forced.empty() ? table.method : forced},
                               {"model_hash", table.model_hash},
                               {"samples", table.samples},
                               {"data_fingerprint", table.data_fingerprint},
                               {"data_source", table.data_source},
                               {"table_date", table.date},
                               {"octet_version", version()},
                               {"ranges_written", written},
                               {"qdq_ranges_kept", kept}};
  g.quantization.provenance_json = provenance.dump();
  return detail::build_model(std::move(g), model_data(model).source, model_data(model).import_log);
}

}  // namespace octet
