#include "apps/octet/common/session_flags.hpp"

namespace octet::cli {

void add_verbose_flag(CLI::App& app, bool& verbose, const std::string& help) {
  app.add_flag("--verbose", verbose,
               help.empty() ? "Print the precision report (every layer's precision, kernel and "
                              "why) on stderr"
                            : help);
}

void add_session_flags(CLI::App& app, SessionFlags& flags, const std::string& verbose_help) {
  app.add_option("--threads", flags.threads, "Threads to run on (0: every core)")
      ->check(CLI::Range(0, 4096));
  app.add_option("--fp32-layers", flags.fp32_layers,
                 "Comma-separated node names or glob patterns to keep in fp32")
      ->delimiter(',');
  app.add_option("--fp32-ops", flags.fp32_ops, "Comma-separated op types to keep in fp32")
      ->delimiter(',');
  app.add_flag("--no-winograd", flags.no_winograd,
               "fp32 3x3 convolutions without oneDNN's Winograd (less memory, slower on AVX512 "
               "CPUs; other CPUs have none)");
  add_verbose_flag(app, flags.verbose, verbose_help);
}

SessionOptions session_options(const SessionFlags& flags) {
  SessionOptions options;
  options.threads = flags.threads;
  options.fp32_layers = flags.fp32_layers;
  options.fp32_ops = flags.fp32_ops;
  options.winograd = !flags.no_winograd;
  return options;
}

std::vector<std::pair<std::string, std::unique_ptr<Session>>> eval_sessions(
    const Model& model, const SessionFlags& flags, bool fp32_only, std::string& int8_note) {
  std::vector<std::pair<std::string, std::unique_ptr<Session>>> sessions;
  SessionOptions options = session_options(flags);
  options.precision = Precision::fp32;
  sessions.emplace_back("fp32", std::make_unique<Session>(model, options));
  if (fp32_only) {
    int8_note = "skipped (--fp32-only)";
  } else if (model.activation_range_count() == 0) {
    int8_note = "skipped: the model has no activation ranges (calibrate it first)";
  } else {
    options.precision = Precision::int8;
    sessions.emplace_back("int8", std::make_unique<Session>(model, options));
  }
  return sessions;
}

}  // namespace octet::cli
