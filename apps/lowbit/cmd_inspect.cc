// `lowbit inspect model.onnx`: ops, parameters, FLOPs and graph width/depth (all nodes, and the
// heavy-op graph the parallelism tuner reads), at concrete input shapes: symbolic dimensions
// take --batch (the first) or 1, or the sizes --shape gives. When the model cannot be shaped at
// the substituted sizes (an OCR model whose width became 1), it still lists what it can.
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>

#include <fmt/format.h>
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

// --shape NAME=D0,D1,... parsed and checked against the graph's declared inputs.
std::map<std::string, Shape> parse_shapes(const onnx::Graph& g, const std::vector<std::string>& specs) {
  std::map<std::string, Shape> out;
  for (const std::string& spec : specs) {
    const size_t eq = spec.rfind('=');
    LOWBIT_REQUIRE(eq != std::string::npos && eq > 0 && eq + 1 < spec.size(), "inspect",
                   "--shape '{}' is not NAME=D0,D1,... (e.g. x=1,3,48,320)", spec);
    const std::string name = spec.substr(0, eq);
    const int v = g.find_value(name);
    bool is_input = false;
    for (int in : g.inputs) is_input = is_input || in == v;
    LOWBIT_REQUIRE(is_input, "inspect", "--shape '{}': the model has no input '{}'", spec, name);
    Shape dims;
    size_t at = eq + 1;
    while (at <= spec.size()) {
      const size_t comma = std::min(spec.find(',', at), spec.size());
      const std::string d = spec.substr(at, comma - at);
      size_t used = 0;
      long long value = -1;
      try {
        value = std::stoll(d, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      LOWBIT_REQUIRE(used == d.size() && !d.empty() && value >= 0 && value <= (int64_t{1} << 40), "inspect",
                     "--shape '{}': '{}' is not a dimension (an integer 0..2^40)", spec, d);
      dims.push_back(value);
      at = comma + 1;
    }
    const onnx::ValueType& declared = g.values[static_cast<size_t>(v)].type;
    if (declared.has_shape) {
      LOWBIT_REQUIRE(dims.size() == declared.shape.size(), "inspect", "--shape '{}': input '{}' has rank {} ({}), not {}",
                     spec, name, declared.shape.size(), describe_type(declared), dims.size());
      for (size_t i = 0; i < dims.size(); ++i)
        LOWBIT_REQUIRE(declared.shape[i] < 0 || declared.shape[i] == dims[i], "inspect",
                       "--shape '{}': dimension {} of input '{}' is fixed at {} ({})", spec, i, name, declared.shape[i],
                       describe_type(declared));
    }
    LOWBIT_REQUIRE(out.emplace(name, dims).second, "inspect", "--shape gives input '{}' twice", name);
  }
  return out;
}

void run_inspect(const InspectArgs& a) {
  const onnx::Graph g = onnx::load_model(a.model);
  const std::map<std::string, Shape> given = parse_shapes(g, a.shapes);
  // Concrete shapes: --shape, else the declared one with symbolic dims = --batch (first) or 1.
  std::vector<onnx::ValueType> types;
  bool substituted = false;
  for (int v : g.inputs) {
    const onnx::Value& value = g.values[static_cast<size_t>(v)];
    onnx::ValueType t = value.type;
    if (auto it = given.find(value.name); it != given.end()) {
      t.shape = it->second;
      t.has_shape = true;
    } else {
      LOWBIT_REQUIRE(t.has_shape, "inspect", "input '{}' declares no shape; give one with --shape {}=D0,D1,...", value.name,
                     value.name);
      for (size_t i = 0; i < t.shape.size(); ++i)
        if (t.shape[i] < 0) {
          t.shape[i] = i == 0 ? a.batch : 1;
          substituted = true;
        }
    }
    types.push_back(t);
  }
  onnx::ModelSummary s;
  std::optional<std::string> shape_error;  // why the model could not be shaped at the substituted sizes
  try {
    s = onnx::summarize(g, types);
  } catch (const Error& e) {
    if (!substituted) throw;  // the sizes are the model's own or the user's: a real error
    shape_error = e.what();
    s = onnx::summarize_structure(g);
  }
  std::printf("model       %s (opset %d)\n", a.model.c_str(), s.opset);
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const onnx::Value& value = g.values[static_cast<size_t>(g.inputs[i])];
    const std::string declared = describe_type(value.type), used = describe_type(types[i]);
    if (declared == used || shape_error) std::printf("input       %s %s\n", value.name.c_str(), declared.c_str());
    else std::printf("input       %s %s, inspected as %s\n", value.name.c_str(), declared.c_str(), used.c_str());
  }
  for (const auto& [name, t] : s.outputs) std::printf("output      %s %s\n", name.c_str(), describe_type(t).c_str());
  std::printf("parameters  %lld (%.2f MB of initializers and Constant tensors)\n", static_cast<long long>(s.parameters), s.parameter_bytes / 1e6);
  if (shape_error) {
    std::printf("FLOPs       unknown: the model cannot be shaped with its symbolic dimensions set to %lld (first) and 1\n"
                "            (%s);\n            give the real sizes with --shape NAME=D0,D1,...\n",
                static_cast<long long>(a.batch), shape_error->c_str());
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
                      {"flops", shape_error ? nlohmann::json(nullptr) : nlohmann::json(s.flops)}, {"nodes", s.nodes},
                      {"depth", s.depth}, {"max_width", s.max_width}, {"avg_width", s.avg_width},
                      {"heavy_nodes", s.heavy_nodes}, {"heavy_depth", s.heavy_depth},
                      {"heavy_avg_width", s.heavy_avg_width}, {"ops", s.op_counts},
                      {"subgraphs", {{"graphs", s.subgraphs.graphs}, {"nodes", s.subgraphs.nodes},
                                     {"parameters", s.subgraphs.parameters}, {"ops", s.subgraphs.op_counts}}}};
  if (shape_error) j["shape_error"] = *shape_error;
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
