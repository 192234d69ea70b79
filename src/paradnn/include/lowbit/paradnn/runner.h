// One measurement of one generated model on lowbit's own engines, in the calling process (the
// sweep runs it in a child process: `lowbit paradnn run`, so a crash or out-of-memory becomes
// a failure row and the child's peak RSS is that configuration's alone).
//   lowbit       train: nn modules, softmax cross-entropy, SGD(momentum); infer: ONNX Session
//   lowbit-int8  infer (fc, cnn): the ONNX engine on the QDQ model (ptq::quantize_model, calibrated
//                on the batch); train, and rnn infer: the same modules under the fqt "int8" preset
//                (it swaps Linear and Conv2d layers; rnn cells stay fp32, only the projection is int8)
//   lowbit-bf16  infer (fc, cnn; AVX512-BF16 CPUs): the ONNX engine on the model with every layer
//                bf16 (ptq::build_qdq), lowered to bf16 kernels; elsewhere a ValueError (engines.h)
// Random inputs and labels: speed does not depend on the data.
#pragma once

#include <string>
#include <vector>

#include "lowbit/nn/module.h"
#include "lowbit/onnx/ir.h"
#include "lowbit/paradnn/config.h"

namespace lowbit::paradnn {

struct RunOptions {
  std::string engine = "lowbit";  // lowbit | lowbit-int8 | lowbit-bf16
  std::string mode = "train";     // train | infer
  int warmup = 2;                 // untimed steps first
  int min_steps = 5;              // timed steps: at least this many ...
  double min_time = 0.5;          // ... and at least this many seconds
  uint64_t seed = 1;
};

struct RunResult {
  std::vector<double> step_ms;  // every timed step, in order
  std::vector<double> cpu_ms;   // the process's CPU time in each of those steps
  size_t planned_bytes = 0;     // ONNX engine's planned peak (infer on the ONNX engine), else 0
  int bf16_layers = 0;          // nodes the ONNX engine runs in bf16 (lowbit-bf16 needs > 0)
};

std::vector<std::string> lowbit_engine_names();  // lowbit, lowbit-int8, lowbit-bf16
RunResult run_lowbit(const ModelConfig& c, const RunOptions& o);

// The ONNX model an inference row runs: build_onnx(c, model) in fp32; "int8": the QDQ model
// calibrated on x; "bf16": every Conv/Gemm/MatMul in bf16 (Cast pairs, bf16 weights).
onnx::Graph inference_graph(const ModelConfig& c, nn::Module& model, const onnx::Array& x, const std::string& precision);

// Writes <dir>/model.onnx (inference_graph of build_module(c, seed) at `precision`) and
// <dir>/input_0.npy (the random batch run_lowbit uses) for the ONNX Runtime peer: with "int8"
// ONNX Runtime runs exactly the QDQ model lowbit-int8 runs.
void export_bundle(const ModelConfig& c, const std::string& dir, uint64_t seed, const std::string& precision = "fp32");

}  // namespace lowbit::paradnn
