// octet run NAME --input name=file.npy ... --output-dir DIR: run a model once
// on inputs from .npy files and write every output as DIR/<output>.npy.
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

#include "apps/octet/commands/commands.hpp"
#include "apps/octet/common/common.hpp"
#include "apps/octet/common/session_flags.hpp"
#include "loaders/data/npy.hpp"

namespace octet::cli {
namespace {

struct RunArgs {
  std::string model;
  std::vector<std::string> inputs;  // name=file.npy
  std::string output_dir;
  SessionFlags session;
};

std::string input_names(const Model& model) {
  std::string names;
  for (const TensorInfo& in : model.inputs()) names += (names.empty() ? "" : ", ") + in.name;
  return names;
}

// name -> file, checked against the model's inputs.
std::map<std::string, std::string> input_files(const RunArgs& args, const Model& model) {
  std::map<std::string, std::string> files;
  for (const std::string& spec : args.inputs) {
    const size_t eq = spec.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
      throw Error(ErrorCode::invalid_argument, "--input '" + spec + "' is not NAME=FILE.npy");
    }
    const std::string name = spec.substr(0, eq);
    if (!files.emplace(name, spec.substr(eq + 1)).second) {
      throw Error(ErrorCode::invalid_argument, "input '" + name + "' is given twice");
    }
  }
  for (const auto& [name, file] : files) {
    bool known = false;
    for (const TensorInfo& in : model.inputs()) known |= in.name == name;
    if (!known) {
      throw Error(ErrorCode::invalid_argument,
                  "the model has no input '" + name + "' (inputs: " + input_names(model) + ")");
    }
  }
  for (const TensorInfo& in : model.inputs()) {
    if (!files.count(in.name)) {
      throw Error(ErrorCode::invalid_argument,
                  "missing input '" + in.name + "': give it with --input " + in.name + "=FILE.npy");
    }
  }
  return files;
}

void run(const RunArgs& args) {
  const Model model = load_model(args.model);
  const auto files = input_files(args, model);

  std::map<std::string, Tensor> data;
  std::map<std::string, Shape> shapes;
  for (const TensorInfo& in : model.inputs()) {
    const std::string& file = files.at(in.name);
    Tensor t = read_npy(file);
    if (t.dtype() != in.dtype) {
      throw Error(ErrorCode::invalid_argument, "input '" + in.name + "' is " + to_string(in.dtype) +
                                                   ", but " + file + " holds " +
                                                   to_string(t.dtype()));
    }
    shapes[in.name] = t.shape();
    data[in.name] = t;
  }

  Session session(model, session_options(args.session));
  session.prepare(shapes);
  if (args.session.verbose) print_precision_report(args.model, session);
  for (const auto& [name, t] : data) {
    Tensor& dst = session.input(name);
    if (dst.nbytes() != t.nbytes()) {
      throw Error(ErrorCode::internal, "input '" + name + "' buffer has " +
                                           std::to_string(dst.nbytes()) + " bytes, expected " +
                                           std::to_string(t.nbytes()));
    }
    if (t.nbytes()) std::memcpy(dst.raw(), t.raw(), t.nbytes());
  }
  const auto start = Clock::now();
  session.run();
  const double run_ms = ms_since(start);

  std::error_code ec;
  std::filesystem::create_directories(args.output_dir, ec);
  if (ec) {
    throw Error(ErrorCode::io, args.output_dir + ": cannot create directory: " + ec.message());
  }
  std::cout << "prepared in " << format_ms(session.prepare_ms(), 1) << " ms, ran in "
            << format_ms(run_ms, 1) << " ms\n";
  for (const TensorInfo& out : model.outputs()) {
    const Tensor& t = session.output(out.name);
    const std::string path =
        (std::filesystem::path(args.output_dir) / output_file_name(out.name)).string();
    write_npy(path, t);
    std::cout << out.name << ": " << to_string(t.dtype()) << " " << to_string(t.shape()) << " -> "
              << path << "\n";
  }
}

}  // namespace

Command add_run(CLI::App& root) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* app = root.add_subcommand("run", "Run a model once on .npy inputs");
  app->add_option("model", args->model, "Model NAME (NAME.octet.json) or a .onnx file")->required();
  app->add_option("-i,--input", args->inputs, "NAME=FILE.npy for each model input (repeatable)");
  app->add_option("-o,--output-dir", args->output_dir, "Where to write <output>.npy")->required();
  add_session_flags(*app, args->session);
  return {app, [args] { run(*args); }};
}

}  // namespace octet::cli
