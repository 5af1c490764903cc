// octet study MODEL --data D [--table T] [--qat Q] [--target-drop X] -o S.json:
// the paper's experiments on the user's model and data in one table
// (apps/octet/study/study.hpp): weight-only int8 per channel and per tensor,
// before and after BatchNorm folding; PTQ with every calibrator; the
// per-layer ranking and the fp32 fallback that meets the target; a QAT model.
#include <iostream>
#include <memory>

#include "apps/octet/commands/commands.hpp"
#include "apps/octet/study/study.hpp"
#include "runtime/ir/file_io.hpp"

namespace octet::cli {
namespace {

struct StudyArgs {
  StudyOptions options;
  std::string output;
  bool quiet = false;
  bool no_sensitivity = false;
};

void study(StudyArgs& args) {
  args.options.sensitivity = !args.no_sensitivity;
  if (!args.quiet) args.options.note = [](const std::string& line) { std::cerr << line << "\n"; };
  const StudyResult result = run_study(args.options);
  std::cout << format_study(result);
  if (!args.output.empty()) {
    write_file_atomically(args.output, study_json(result).dump(1) + "\n");
    std::cout << "wrote " << args.output << "\n";
  }
}

}  // namespace

Command add_study(CLI::App& root) {
  auto args = std::make_shared<StudyArgs>();
  StudyOptions& o = args->options;
  CLI::App* app = root.add_subcommand(
      "study",
      "The paper's experiments on your model and data: weight-only int8 (per channel, per tensor, "
      "BatchNorm folded or not), every calibrator, partial quantization, QAT");
  app->add_option("model", o.model,
                  "Model NAME or .onnx file (an .onnx also measures the weights before "
                  "BatchNorm folding)")
      ->required();
  add_data_flags(*app, o.data);
  app->add_option("--table", o.table,
                  "Calibration table from `octet calibrate --method all` (default: calibrate "
                  "every method on the study's samples)");
  app->add_option("--qat", o.qat,
                  "A QAT'd model with QuantizeLinear/DequantizeLinear (.onnx or NAME)");
  app->add_option("--metric", o.metric,
                  "top1 (needs labels), cosine or sqnr (default: top1 with labels, else cosine)");
  app->add_option("--method", o.method,
                  "The per-layer ablation's calibration method (default: the best PTQ row's)");
  app->add_option("--target-drop", o.target_drop,
                  "Fallback to fp32 until the metric is within this many points of fp32 (0.5) "
                  "or percent of it (1%); none: the ranking only")
      ->capture_default_str();
  app->add_option("--batch", o.batch, "Samples per run")->check(CLI::Range(1, 1 << 16));
  app->add_option("--threads", o.threads, "Threads to run on (0: every core)")
      ->check(CLI::Range(0, 4096));
  app->add_option("--max-seconds", o.max_seconds,
                  "Stop the per-layer sweep and the fallback search after this long (0: no limit)")
      ->check(CLI::NonNegativeNumber);
  app->add_flag("--no-sensitivity", args->no_sensitivity,
                "Skip the per-layer ablation (its slowest part: the samples once per int8 layer)");
  app->add_option("-o,--output", args->output,
                  "Write every row as JSON here (octet report --study)");
  app->add_flag("--quiet", args->quiet, "No progress on stderr");
  return {app, [args] { study(*args); }};
}

}  // namespace octet::cli
