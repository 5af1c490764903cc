// The precision report on the command line: `octet inspect` on int8 zoo
// models (calibrated on random inputs by `octet calibrate`), --fp32-layers and
// --fp32-ops sending the named layers to fp32, and --verbose on the other
// commands printing the same report.
#include <doctest/doctest.h>

// Compiled only when apps/ is built: octet_cli_lib defines this for its users.
#ifdef OCTET_HAVE_CLI_LIB

#include <filesystem>
#include <functional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "loaders/data/npy.hpp"
#include "tests/cli_runner.hpp"
#include "tests/expected_isa.hpp"
#include "tests/op_harness.hpp"
#include "tests/temp_dir.hpp"

using namespace octet;
using namespace octet::test;

namespace {

// One row of a precision report (apps/octet/common/common.hpp, format_precision_report).
struct ReportRow {
  std::string name, op, precision, kernel, shape, reason;
};

std::string trimmed(const std::string& s) {
  const size_t first = s.find_first_not_of(' ');
  return first == std::string::npos ? "" : s.substr(first, s.find_last_not_of(' ') - first + 1);
}

// The rows of the first precision report in `text`, read by the columns of
// its header line; empty when there is none.
std::vector<ReportRow> report_rows(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("name ", 0) == 0 && has(line, "  precision  ") && has(line, "  reason")) break;
  }
  std::vector<ReportRow> rows;
  if (!in) return rows;
  std::vector<size_t> at = {0};
  for (const char* column : {"op", "precision", "kernel", "shape", "reason"}) {
    at.push_back(line.find(std::string("  ") + column) + 2);
  }
  std::getline(in, line);  // the rule
  while (std::getline(in, line) && !line.empty()) {
    std::vector<std::string> cells;
    for (size_t k = 0; k < at.size(); ++k) {
      const size_t end = k + 1 < at.size() ? at[k + 1] : std::string::npos;
      cells.push_back(at[k] < line.size() ? trimmed(line.substr(at[k], end - at[k])) : "");
    }
    rows.push_back({cells[0], cells[1], cells[2], cells[3], cells[4], cells[5]});
  }
  return rows;
}

std::vector<ReportRow> rows_of(const std::vector<ReportRow>& rows, const std::string& op) {
  std::vector<ReportRow> out;
  for (const ReportRow& r : rows) {
    if (r.op == op) out.push_back(r);
  }
  return out;
}

bool starts_with(const std::string& s, const std::string& head) {
  return s.rfind(head, 0) == 0;
}

// Every one of ResNet-18's 20 convs in int8 on a oneDNN kernel, with no reason.
void check_resnet18_convs_int8(const std::vector<ReportRow>& rows) {
  const std::vector<ReportRow> convs = rows_of(rows, "Conv");
  CHECK(convs.size() == 20);
  for (const ReportRow& r : convs) {
    CAPTURE(r.name);
    CHECK(r.precision == "int8");
    CHECK(r.kernel != "ref");
    CHECK(r.reason.empty());
  }
}

}  // namespace

TEST_CASE("cli precision: inspect, --fp32-layers/--fp32-ops and --verbose on an int8 resnet18") {
  OCTET_REQUIRE_CLI();
  TempDir dir;
  CliResult r = octet_cli(dir, "zoo resnet18 -o " + dir.file("r18"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  write_npy(dir.file("x.npy"), random_tensor(DataType::f32, {2, 3, 224, 224}, 1, -2.f, 2.f));
  write_npy(dir.file("x1.npy"), random_tensor(DataType::f32, {1, 3, 224, 224}, 2, -2.f, 2.f));

  // calibrate --verbose: the report of the model quantized with the new table.
  r = octet_cli(dir, "calibrate " + dir.file("r18") + " --data " + dir.file("x.npy") +
                         " --method max --batch 2 --quiet --verbose -o " + dir.file("t.json"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(has(r.err, "=== Precision report: " + dir.file("r18") + " quantized with "));
  check_resnet18_convs_int8(report_rows(r.err));
  CHECK(report_rows(r.out).empty());  // on stderr only

  // quantize --verbose: the report of the result.
  r = octet_cli(dir, "quantize " + dir.file("r18") + " --table " + dir.file("t.json") + " -o " +
                         dir.file("r18-int8") + " --verbose");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(has(r.err, "=== Precision report: " + dir.file("r18-int8") + " ==="));
  check_resnet18_convs_int8(report_rows(r.err));

  // inspect: int8 end to end, the pools move int8 data.
  r = octet_cli(dir, "inspect " + dir.file("r18-int8"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  std::vector<ReportRow> rows = report_rows(r.out);
  check_resnet18_convs_int8(rows);
  for (const char* op : {"Gemm", "MaxPool", "GlobalAveragePool"}) {
    CAPTURE(op);
    REQUIRE(rows_of(rows, op).size() == 1);
    CHECK(rows_of(rows, op)[0].precision == "int8");
  }
  CHECK(has(r.out, std::to_string(rows.size()) + " layers, prepared in "));

  // --fp32-layers (a name and a glob) and --fp32-ops: those layers fp32, with
  // the pattern that caught them; the other convs int8.
  r = octet_cli(
      dir, "inspect " + dir.file("r18-int8") + " --fp32-layers 'conv1,layer1.*' --fp32-ops Gemm");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  rows = report_rows(r.out);
  int listed = 0;
  for (const ReportRow& c : rows_of(rows, "Conv")) {
    CAPTURE(c.name);
    if (c.name == "conv1") {
      CHECK(c.precision == "fp32");
      CHECK(c.reason == "blacklisted: fp32 layer pattern 'conv1'");
      ++listed;
    } else if (starts_with(c.name, "layer1.")) {
      CHECK(c.precision == "fp32");
      CHECK(c.reason == "blacklisted: fp32 layer pattern 'layer1.*'");
      ++listed;
    } else {
      CHECK(c.precision == "int8");
    }
  }
  CHECK(listed == 5);
  REQUIRE(rows_of(rows, "Gemm").size() == 1);
  CHECK(rows_of(rows, "Gemm")[0].precision == "fp32");
  CHECK(rows_of(rows, "Gemm")[0].reason == "blacklisted: fp32 op type Gemm");

  // The fp32 3x3 stride-1 convs of layer1 take oneDNN's Winograd where the
  // CPU has AVX512 (tests/test_conv.cpp), and none with --no-winograd.
  auto winograd_convs = [](const std::vector<ReportRow>& report) {
    int n = 0;
    for (const ReportRow& c : rows_of(report, "Conv")) n += has(c.kernel, "wino");
    return n;
  };
  const bool avx512 = test::expected_isa().name.rfind("avx512_core", 0) == 0;
  INFO(test::expected_isa().why);
  CHECK((winograd_convs(rows) == 4) == avx512);
  r = octet_cli(dir, "inspect " + dir.file("r18-int8") + " --fp32-layers 'layer1.*' --no-winograd");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(winograd_convs(report_rows(r.out)) == 0);
  CHECK(rows_of(report_rows(r.out), "Conv").size() == 20);

  // bench --verbose prints the same report: with every Conv blacklisted,
  // the convs and the max pool between them run fp32, and say why.
  r = octet_cli(dir, "bench " + dir.file("r18-int8") +
                         " --fp32-ops Conv --iterations 1 --warmup 0 --verbose");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  REQUIRE(has(r.out, "=== Layer Information ==="));
  rows = report_rows(r.out.substr(r.out.find("=== Layer Information ===")));
  const std::vector<ReportRow> convs = rows_of(rows, "Conv");
  CHECK(convs.size() == 20);
  for (const ReportRow& c : convs) {
    CAPTURE(c.name);
    CHECK(c.precision == "fp32");
    CHECK(c.reason == "blacklisted: fp32 op type Conv");
  }
  REQUIRE(rows_of(rows, "MaxPool").size() == 1);
  CHECK(rows_of(rows, "MaxPool")[0].precision == "fp32");
  CHECK(rows_of(rows, "MaxPool")[0].reason == "int8 only on int8 inputs, and its inputs are fp32");
  CHECK(rows_of(rows, "Gemm")[0].precision == "int8");

  // run: the fp32 model, the int8 model, and the int8 model with every
  // quantizable layer blacklisted, which must give the fp32 logits when the
  // model keeps f32 weights (--fp32-weights); with its weights stored as s8
  // (quantize's default) it multiplies with the dequantized weights instead.
  r = octet_cli(dir, "quantize " + dir.file("r18") + " --table " + dir.file("t.json") + " -o " +
                         dir.file("r18-int8-f32w") + " --fp32-weights");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const auto logits = [&](const std::string& model, const std::string& flags) {
    const std::string out = dir.file("out-" + std::to_string(std::hash<std::string>()(flags)));
    const CliResult run =
        octet_cli(dir, "run " + dir.file(model) + " --input input=" + dir.file("x1.npy") + " -o " +
                           out + " " + flags);
    REQUIRE_MESSAGE(run.code == 0, run.err);
    return std::make_pair(read_npy(out + "/logits.npy"), run.err);
  };
  const auto [fp32, fp32_err] = logits("r18", "");
  CHECK(fp32_err.empty());  // no report without --verbose
  const auto [int8, int8_err] = logits("r18-int8", "--verbose");
  check_resnet18_convs_int8(report_rows(int8_err));
  const auto [all_fp32, all_fp32_err] = logits("r18-int8-f32w", "--fp32-ops Conv,Gemm --verbose");
  for (const ReportRow& row : report_rows(all_fp32_err)) {
    CAPTURE(row.name);
    CHECK(row.precision != "int8");
  }
  CHECK(max_abs_diff(all_fp32, fp32) <= 1e-5 * max_abs(fp32));
  const auto [dequantized, dequantized_err] = logits("r18-int8", "--fp32-ops Conv,Gemm");
  CHECK(max_abs_diff(dequantized, fp32) > 0);
  CHECK(cosine(dequantized, fp32) >= 0.999);
  CHECK(max_abs_diff(int8, fp32) > 1e-3 * max_abs(fp32));  // int8 really ran
  CHECK(cosine(int8, fp32) >= 0.99);
}

TEST_CASE("cli precision: inspect an int8 bert-tiny: why Softmax, LayerNorm and Tanh are fp32") {
  OCTET_REQUIRE_CLI();
  TempDir dir;
  CliResult r = octet_cli(dir, "zoo bert-tiny -o " + dir.file("bt"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const Shape shape{4, 32};
  Tensor ids = random_tensor(DataType::s64, shape, 3, 100, 5000);
  Tensor mask(DataType::s64, shape), types(DataType::s64, shape);
  for (int64_t i = 0; i < ids.numel(); ++i) {
    mask.data<int64_t>()[i] = 1;
    types.data<int64_t>()[i] = i % 32 >= 16;
  }
  write_npy(dir.file("ids.npy"), ids);
  write_npy(dir.file("mask.npy"), mask);
  write_npy(dir.file("types.npy"), types);
  const std::string data = " --data input_ids=" + dir.file("ids.npy") +
                           ",attention_mask=" + dir.file("mask.npy") +
                           ",token_type_ids=" + dir.file("types.npy");
  r = octet_cli(
      dir, "calibrate " + dir.file("bt") + data + " --method max --quiet -o " + dir.file("t.json"));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  r = octet_cli(dir, "quantize " + dir.file("bt") + " --table " + dir.file("t.json") + " -o " +
                         dir.file("bt-int8"));
  REQUIRE_MESSAGE(r.code == 0, r.err);

  r = octet_cli(dir, "inspect " + dir.file("bt-int8") + " --seq 32");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  std::vector<ReportRow> rows = report_rows(r.out);
  CHECK(rows_of(rows, "Softmax").size() == 2);
  CHECK(rows_of(rows, "LayerNormalization").size() == 5);
  // A LayerNorm's output is the residual (f32) and the next Linear's input
  // (int8): the LayerNorm writes both; the last one is read by the pooler's
  // Gather only, which picks the first token in int8: it writes int8 only.
  // The Softmax writes its probabilities in u8 itself
  // where its one reader, the context matmul, is int8 (a CPU with VNNI:
  // tests/expected_isa.hpp).
  INFO(test::expected_isa().why);
  const bool vnni = test::expected_isa().vnni;
  const std::string writes = "computes in f32, writes int8 for its int8 readers";
  for (const char* op : {"Softmax", "LayerNormalization", "Tanh"}) {
    CHECK(!rows_of(rows, op).empty());
    for (const ReportRow& row : rows_of(rows, op)) {
      CAPTURE(row.name);
      const bool ln = std::string(op) == "LayerNormalization";
      const bool int8_only = (vnni && std::string(op) == "Softmax") ||
                             (ln && row.name == "encoder.layer.1.output.LayerNorm");
      CHECK(row.precision == (int8_only ? "int8" : "fp32"));
      CHECK(row.reason == (int8_only || ln ? writes : "op has no int8 kernel"));
    }
  }
  // The Linear layers (MatMul with weights) and the pooler and classifier in int8.
  int linear = 0;
  for (const ReportRow& row : rows_of(rows, "MatMul")) {
    if (has(row.name, ".attention.self.scores") || has(row.name, ".attention.self.context")) {
      continue;  // int8 where the CPU has VNNI (tests/test_int8_models.cpp)
    }
    CAPTURE(row.name);
    CHECK(row.precision == "int8");
    ++linear;
  }
  CHECK(linear == 12);
  for (const ReportRow& row : rows_of(rows, "Gemm")) CHECK(row.precision == "int8");
  // No fp32 layer without a reason.
  for (const ReportRow& row : rows) {
    CAPTURE(row.name);
    if (row.precision == "fp32" && row.op != "Reorder" && row.op != "Dequantize") {
      CHECK_FALSE(row.reason.empty());
    }
  }

  // A glob over the self-attention blocks, and an op type.
  r = octet_cli(dir, "inspect " + dir.file("bt-int8") +
                         " --seq 32 --fp32-layers '*.attention.self.*' --fp32-ops Gemm");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  rows = report_rows(r.out);
  int listed = 0, others = 0;
  for (const ReportRow& row : rows_of(rows, "MatMul")) {
    CAPTURE(row.name);
    if (has(row.name, ".attention.self.")) {
      CHECK(row.precision == "fp32");
      CHECK(row.reason == "blacklisted: fp32 layer pattern '*.attention.self.*'");
      ++listed;
    } else {
      CHECK(row.precision == "int8");
      ++others;
    }
  }
  CHECK(listed == 10);  // query, key, value, scores, context in 2 layers
  CHECK(others == 6);
  REQUIRE(rows_of(rows, "Gemm").size() == 2);
  for (const ReportRow& row : rows_of(rows, "Gemm")) {
    CHECK(row.precision == "fp32");
    CHECK(row.reason == "blacklisted: fp32 op type Gemm");
  }

  // sensitivity --verbose: the report of the fully int8 model it analyses.
  r = octet_cli(dir, "sensitivity " + dir.file("bt") + " --table " + dir.file("t.json") + data +
                         " --metric cosine --bench-runs 0 --suggest 0 --quiet --verbose");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(has(r.err, "=== Precision report: " + dir.file("bt") + " quantized with "));
  rows = report_rows(r.err);
  CHECK(rows_of(rows, "Softmax").size() == 2);
  int int8 = 0;
  for (const ReportRow& row : rows_of(rows, "MatMul")) int8 += row.precision == "int8";
  CHECK(int8 >= 12);
}

#endif  // OCTET_HAVE_CLI_LIB
