// octet inspect NAME: the model's interface, then the layers a session
// prepared for concrete shapes would run, with precision and kernel.
#include <iostream>
#include <memory>

#include "apps/octet/commands/commands.hpp"
#include "apps/octet/common/common.hpp"
#include "apps/octet/common/session_flags.hpp"

namespace octet::cli {
namespace {

struct InspectArgs {
  std::string model;
  int64_t batch = 1;
  int64_t seq = 128;
  std::vector<std::string> shapes;
  SessionFlags session;
};

void print_tensors(const char* title, const std::vector<TensorInfo>& tensors) {
  std::vector<std::vector<std::string>> rows = {{title, "dtype", "dims"}};
  for (const TensorInfo& t : tensors)
    rows.push_back({t.name, to_string(t.dtype), format_dims(t.dims)});
  std::cout << format_table(rows) << "\n";
}

void inspect(const InspectArgs& args) {
  const Model model = load_model(args.model);
  std::cout << "model " << args.model << ": " << model.node_count() << " nodes\n\n";
  print_tensors("input", model.inputs());
  print_tensors("output", model.outputs());

  const auto shapes =
      resolve_input_shapes(model.inputs(), args.batch, args.seq, parse_shape_specs(args.shapes));
  std::string shape_text;
  for (const TensorInfo& in : model.inputs()) {
    shape_text += (shape_text.empty() ? "" : ", ") + in.name + "=" + to_string(shapes.at(in.name));
  }
  std::cout << "preparing for " << shape_text << "\n";
  // Flush so that what was learned so far is shown even if prepare() fails.
  std::cout.flush();
  Session session(model, session_options(args.session));
  session.prepare(shapes);
  std::cout << format_precision_report(session);
}

}  // namespace

Command add_inspect(CLI::App& root) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* app = root.add_subcommand("inspect", "Show a model's inputs, outputs and layers");
  app->add_option("model", args->model, "Model NAME (NAME.octet.json) or a .onnx file")->required();
  app->add_option("--shapes", args->shapes, "Input shapes: input=1x3x224x224,...")->delimiter(',');
  app->add_option("--batch", args->batch, "Default for each input's first symbolic dimension")
      ->check(CLI::Range(1, 1 << 20));
  app->add_option("--seq", args->seq, "Default for each input's second symbolic dimension")
      ->check(CLI::Range(1, 1 << 20));
  add_session_flags(*app, args->session);
  return {app, [args] { inspect(*args); }};
}

}  // namespace octet::cli
