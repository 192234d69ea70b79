// `lowbit inspect model.onnx`: ops, parameters, FLOPs and graph width/depth (all nodes, and the
// heavy-op graph the parallelism tuner reads), for batch 1 unless --batch says otherwise.
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "command.h"
#include "lowbit/onnx/analysis.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/shape_inference.h"
#include "model_common.h"

namespace lowbit::app {
namespace {

struct InspectArgs {
  std::string model, json;
  int64_t batch = 1;
};

void run_inspect(const InspectArgs& a) {
  const onnx::Graph g = onnx::load_model(a.model);
  const onnx::ModelSummary s = onnx::summarize(g, onnx::declared_input_types(g, a.batch));
  std::printf("model       %s (opset %d)\n", a.model.c_str(), s.opset);
  for (const auto& [name, t] : s.inputs) std::printf("input       %s %s\n", name.c_str(), describe_type(t).c_str());
  for (const auto& [name, t] : s.outputs) std::printf("output      %s %s\n", name.c_str(), describe_type(t).c_str());
  std::printf("parameters  %lld (%.2f MB of initializers)\n", static_cast<long long>(s.parameters), s.parameter_bytes / 1e6);
  std::printf("FLOPs       %.4g per run at batch %lld (%.3f GFLOP)\n", s.flops, static_cast<long long>(a.batch), s.flops / 1e9);
  std::printf("nodes       %d after folding; depth %d, max width %d, avg width %.2f\n", s.nodes, s.depth, s.max_width,
              s.avg_width);
  std::printf("heavy ops   %d (Conv/Gemm/MatMul); depth %d, avg width %.2f (inter-op hint)\n", s.heavy_nodes,
              s.heavy_depth, s.heavy_avg_width);
  std::printf("ops        ");
  for (const auto& [op, n] : s.op_counts) std::printf(" %s:%d", op.c_str(), n);
  std::printf("\n");
  if (a.json.empty()) return;
  nlohmann::json j = {{"model", a.model}, {"opset", s.opset}, {"batch", a.batch}, {"parameters", s.parameters},
                      {"parameter_bytes", s.parameter_bytes}, {"flops", s.flops}, {"nodes", s.nodes},
                      {"depth", s.depth}, {"max_width", s.max_width}, {"avg_width", s.avg_width},
                      {"heavy_nodes", s.heavy_nodes}, {"heavy_depth", s.heavy_depth},
                      {"heavy_avg_width", s.heavy_avg_width}, {"ops", s.op_counts}};
  std::ofstream(a.json) << j.dump(1) << "\n";
}

LOWBIT_COMMAND("inspect", "show an ONNX model's ops, parameters, FLOPs and graph width/depth", [](CLI::App& cmd) {
  auto args = std::make_shared<InspectArgs>();
  cmd.add_option("model", args->model, "model.onnx")->required()->check(CLI::ExistingFile);
  cmd.add_option("--batch", args->batch, "value for symbolic batch dimensions")->check(CLI::Range(1, 1 << 20));
  cmd.add_option("--json", args->json, "also write the summary as JSON");
  cmd.callback([args] { run_inspect(*args); });
});

}  // namespace
}  // namespace lowbit::app
