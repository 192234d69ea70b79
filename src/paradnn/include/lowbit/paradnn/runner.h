// One measurement of one generated model on lowbit's own engines, in the calling process (the
// sweep runs it in a child process: `lowbit paradnn run`, so a crash or out-of-memory becomes
// a failure row and the child's peak RSS is that configuration's alone).
//   lowbit       train: nn modules, softmax cross-entropy, SGD(momentum); infer: ONNX Session
//   lowbit-int8  train and infer: the same modules under the fqt "int8" preset (it swaps Linear
//                and Conv2d layers; the rnn cells stay fp32, only their projection is int8)
// Random inputs and labels: speed does not depend on the data.
#pragma once

#include <string>
#include <vector>

#include "lowbit/paradnn/config.h"

namespace lowbit::paradnn {

struct RunOptions {
  std::string engine = "lowbit";  // lowbit | lowbit-int8
  std::string mode = "train";     // train | infer
  int warmup = 2;                 // untimed steps first
  int min_steps = 5;              // timed steps: at least this many ...
  double min_time = 0.5;          // ... and at least this many seconds
  uint64_t seed = 1;
};

struct RunResult {
  std::vector<double> step_ms;  // every timed step, in order
  size_t planned_bytes = 0;     // ONNX engine's planned peak (infer with engine lowbit), else 0
};

std::vector<std::string> lowbit_engine_names();  // lowbit, lowbit-int8
RunResult run_lowbit(const ModelConfig& c, const RunOptions& o);

// Writes <dir>/model.onnx (build_onnx of build_module(c, seed)) and <dir>/input_0.npy (random
// batch of the config's batch size) for the ONNX Runtime peer.
void export_bundle(const ModelConfig& c, const std::string& dir, uint64_t seed);

}  // namespace lowbit::paradnn
