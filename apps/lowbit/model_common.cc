// Model command helpers: --inter-op/--intra-op/--threads (auto: the tuner), .npy inputs (onnx/model_inputs.h).
#include "model_common.h"

#include <cstdio>

#include "lowbit/onnx/model_inputs.h"
#include "lowbit/onnx/npy.h"
#include "lowbit/paradnn/tune.h"

namespace lowbit::app {

using onnx::Array;
using onnx::ElemType;

void add_parallel_options(CLI::App& cmd, ParallelArgs* args) {
  cmd.add_option("--inter-op", args->inter_op, "workers running independent nodes concurrently")
      ->check(CLI::Range(1, 256));
  cmd.add_option("--intra-op", args->intra_op, "threads per kernel (default: hardware threads / inter-op)")
      ->check(CLI::Range(1, 4096));
  cmd.add_option("--threads", args->threads, "N: intra-op threads; auto: the tuner's static inter x intra choice")
      ->check([](const std::string& v) {
        if (v == "auto") return std::string();
        return CLI::Range(1, 4096)(v).empty() ? std::string() : "expected 'auto' or a thread count in [1, 4096], got '" + v + "'";
      });
}

ParallelArgs resolve_parallel(const ParallelArgs& args, const onnx::Graph& g, int64_t batch) {
  ParallelArgs out = args;
  if (args.threads.empty()) return out;
  if (args.threads != "auto") {
    out.intra_op = std::stoi(args.threads);
    return out;
  }
  const paradnn::GraphShape shape = paradnn::graph_shape(g, batch);
  const paradnn::Topology topo = paradnn::detect_topology();
  const paradnn::Recommendation r = paradnn::recommend(shape, topo, batch, 0);
  std::fprintf(stderr, "threads auto: inter-op %d x intra-op %d (heavy ops %d, depth %d, width %.2f; %d physical cores)\n",
               r.inter_op, r.intra_op, shape.heavy_ops, shape.depth, shape.width, topo.physical_cores);
  out.inter_op = r.inter_op;
  out.intra_op = r.intra_op;
  return out;
}

std::vector<Array> load_inputs(const onnx::Graph& g, const std::vector<std::string>& files) {
  LOWBIT_REQUIRE(files.size() == g.inputs.size(), "run", "model has {} inputs, {} --input files given", g.inputs.size(),
                 files.size());
  std::vector<Array> out;
  for (size_t i = 0; i < files.size(); ++i) out.push_back(onnx::fit_input(g, i, onnx::load_npy(files[i]), "file '" + files[i] + "'", "run"));
  return out;
}

std::string describe_type(const onnx::ValueType& t) {
  std::string s = std::string(onnx::elem_name(t.elem));
  if (!t.has_shape) return s + "[?]";
  s += "[";
  for (size_t i = 0; i < t.shape.size(); ++i) s += (i ? ", " : "") + (t.shape[i] < 0 ? std::string("?") : std::to_string(t.shape[i]));
  return s + "]";
}

}  // namespace lowbit::app
