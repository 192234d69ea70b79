// `lowbit inspect model.onnx`: ops, parameters, FLOPs and graph width/depth (all nodes, and the
// heavy-op graph the parallelism tuner reads), at concrete input shapes: symbolic dimensions
// take --batch (the first) or 1, or the sizes --shape gives. When the model cannot be shaped at
// the substituted sizes (an OCR model whose width became 1), it still lists what it can.
#include <cstdio>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "command.h"
#include "lowbit/core/error.h"
#include "lowbit/onnx/analysis.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/shape_inference.h"
#include "model_common.h"
#include "train_common.h"

namespace lowbit::app {
namespace {

struct InspectArgs {
  std::string model, json;
  int64_t batch = 1;
  std::vector<std::string> shapes;  // NAME=D0,D1,...
};

void run_inspect(const InspectArgs& a) {
  const onnx::Graph g = onnx::load_model(a.model);
  std::map<std::string, Shape> given;
  for (const std::string& spec : a.shapes) {
    auto [name, dims] = onnx::parse_input_shape(spec);
    LOWBIT_REQUIRE(given.emplace(name, dims).second, "inspect", "--shape gives input '{}' twice", name);
  }
  bool guessed = false;
  const std::vector<onnx::ValueType> types = onnx::summary_input_types(g, a.batch, given, &guessed);
  const onnx::ModelSummary s = onnx::summarize_guessing(g, types, guessed);
  const bool shaped = s.shape_error.empty();
  std::printf("model       %s (opset %d)\n", a.model.c_str(), s.opset);
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const onnx::Value& value = g.values[static_cast<size_t>(g.inputs[i])];
    const std::string declared = describe_type(value.type), used = describe_type(types[i]);
    if (declared == used || !shaped) std::printf("input       %s %s\n", value.name.c_str(), declared.c_str());
    else std::printf("input       %s %s, inspected as %s\n", value.name.c_str(), declared.c_str(), used.c_str());
  }
  for (const auto& [name, t] : s.outputs) std::printf("output      %s %s\n", name.c_str(), describe_type(t).c_str());
  std::printf("parameters  %lld (%.2f MB of initializers and Constant tensors)\n", static_cast<long long>(s.parameters), s.parameter_bytes / 1e6);
  if (!shaped) {
    std::printf("FLOPs       unknown: the model cannot be shaped with its symbolic dimensions set to %lld (first) and 1\n"
                "            (%s);\n            give the real sizes with --shape NAME=D0,D1,...\n",
                static_cast<long long>(a.batch), s.shape_error.c_str());
    std::printf("nodes       %d (nothing folded without shapes); depth %d, max width %d, avg width %.2f\n", s.nodes, s.depth,
                s.max_width, s.avg_width);
  } else {
    std::printf("FLOPs       %.4g per run at these input shapes (%.3f GFLOP)\n", s.flops, s.flops / 1e9);
    std::printf("nodes       %d after folding; depth %d, max width %d, avg width %.2f\n", s.nodes, s.depth, s.max_width,
                s.avg_width);
  }
  std::printf("heavy ops   %d (Conv/Gemm/MatMul); depth %d, avg width %.2f (inter-op hint)\n", s.heavy_nodes,
              s.heavy_depth, s.heavy_avg_width);
  std::printf("ops        ");
  for (const auto& [op, n] : s.op_counts) std::printf(" %s:%d", op.c_str(), n);
  std::printf("\n");
  if (s.subgraphs.graphs > 0) {
    std::printf("subgraphs   %d (If/Loop/Scan bodies): %d nodes, %lld parameters (%.2f MB); their FLOPs are not counted\n",
                s.subgraphs.graphs, s.subgraphs.nodes, static_cast<long long>(s.subgraphs.parameters),
                s.subgraphs.parameter_bytes / 1e6);
    std::printf("  their ops");
    for (const auto& [op, n] : s.subgraphs.op_counts) std::printf(" %s:%d", op.c_str(), n);
    std::printf("\n");
  }
  if (a.json.empty()) return;
  nlohmann::json inputs = nlohmann::json::object();
  for (size_t i = 0; i < types.size(); ++i) inputs[g.values[static_cast<size_t>(g.inputs[i])].name] = types[i].shape;
  nlohmann::json j = {{"model", a.model}, {"opset", s.opset}, {"batch", a.batch}, {"input_shapes", inputs},
                      {"parameters", s.parameters}, {"parameter_bytes", s.parameter_bytes},
                      {"flops", shaped ? nlohmann::json(s.flops) : nlohmann::json(nullptr)}, {"nodes", s.nodes},
                      {"depth", s.depth}, {"max_width", s.max_width}, {"avg_width", s.avg_width},
                      {"heavy_nodes", s.heavy_nodes}, {"heavy_depth", s.heavy_depth},
                      {"heavy_avg_width", s.heavy_avg_width}, {"ops", s.op_counts},
                      {"subgraphs", {{"graphs", s.subgraphs.graphs}, {"nodes", s.subgraphs.nodes},
                                     {"parameters", s.subgraphs.parameters}, {"ops", s.subgraphs.op_counts}}}};
  if (!shaped) j["shape_error"] = s.shape_error;
  write_json(a.json, j);
}

LOWBIT_COMMAND("inspect", "show an ONNX model's ops, parameters, FLOPs and graph width/depth", [](CLI::App& cmd) {
  auto args = std::make_shared<InspectArgs>();
  cmd.add_option("model", args->model, "model.onnx")->required()->check(CLI::ExistingFile);
  cmd.add_option("--batch", args->batch, "value for a symbolic first (batch) dimension; other symbolic dimensions take 1")
      ->check(CLI::Range(1, 1 << 20));
  cmd.add_option("--shape", args->shapes, "an input's concrete shape, NAME=D0,D1,... (repeat per input; overrides --batch)");
  cmd.add_option("--json", args->json, "also write the summary as JSON (written atomically; - for stdout)");
  cmd.callback([args] { run_inspect(*args); });
});

}  // namespace
}  // namespace lowbit::app
