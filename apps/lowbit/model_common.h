// Shared pieces of the model commands (inspect, run, bench model): thread options, input
// loading (.npy per graph input; random inputs are onnx::random_inputs).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "lowbit/onnx/executor.h"

namespace lowbit::app {

struct ParallelArgs {
  int inter_op = 1;
  int intra_op = 0;     // 0: hardware threads / inter_op
  std::string threads;  // --threads: "" (use the two above), N (intra-op N) or "auto"
};

// Adds --inter-op N --intra-op M --threads N|auto.
void add_parallel_options(CLI::App& cmd, ParallelArgs* args);
// Applies --threads: N sets intra-op; "auto" takes the tuner's static choice for this graph at
// this batch (paradnn::recommend over the hwloc topology) and says so on stderr.
ParallelArgs resolve_parallel(const ParallelArgs& args, const onnx::Graph& g, int64_t batch);

// One .npy per graph input, in order, each checked by onnx::fit_input (type, shape, token ids).
std::vector<onnx::Array> load_inputs(const onnx::Graph& g, const std::vector<std::string>& files);

std::string describe_type(const onnx::ValueType& t);

}  // namespace lowbit::app
