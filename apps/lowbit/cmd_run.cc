// `lowbit run model.onnx --input x.npy --output y.npy`: one inference on NumPy inputs (one
// --input per graph input, float32 or int64), writing the first output (or one file per output
// with --output-dir).
#include <cstdio>
#include <filesystem>

#include "command.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/npy.h"
#include "model_common.h"

namespace lowbit::app {
namespace {

struct RunArgs {
  std::string model, output, output_dir;
  std::vector<std::string> inputs;
  ParallelArgs par;
};

void run_model(const RunArgs& a) {
  LOWBIT_REQUIRE(!a.output.empty() || !a.output_dir.empty(), "run", "give --output or --output-dir");
  onnx::Graph g = onnx::load_model(a.model);
  std::vector<onnx::Array> inputs = load_inputs(g, a.inputs);
  const ParallelArgs par = resolve_parallel(a.par, g, inputs.empty() || inputs[0].dim() == 0 ? 1 : inputs[0].shape()[0]);
  onnx::Session session(std::move(g), onnx::SessionOptions{par.inter_op, par.intra_op, true});
  const std::vector<onnx::Array> outputs = session.run(inputs);
  const auto names = session.output_names();
  if (!a.output.empty()) onnx::save_npy(a.output, outputs[0]);
  if (!a.output_dir.empty()) {
    std::filesystem::create_directories(a.output_dir);
    for (size_t i = 0; i < outputs.size(); ++i)
      onnx::save_npy((std::filesystem::path(a.output_dir) / fmt::format("output_{}.npy", i)).string(), outputs[i]);
  }
  for (size_t i = 0; i < outputs.size(); ++i)
    std::printf("%s %s\n", names[i].c_str(),
                describe_type(onnx::ValueType{outputs[i].type(), outputs[i].shape(), true}).c_str());
}

LOWBIT_COMMAND("run", "run an ONNX model on .npy inputs and write .npy outputs", [](CLI::App& cmd) {
  auto args = std::make_shared<RunArgs>();
  cmd.add_option("model", args->model, "model.onnx")->required()->check(CLI::ExistingFile);
  cmd.add_option("--input", args->inputs, "input .npy (repeat for each graph input, in order)")->required();
  cmd.add_option("--output", args->output, "write the first output here (.npy)");
  cmd.add_option("--output-dir", args->output_dir, "write every output as output_<i>.npy here");
  add_parallel_options(cmd, &args->par);
  cmd.callback([args] { run_model(*args); });
});

}  // namespace
}  // namespace lowbit::app
