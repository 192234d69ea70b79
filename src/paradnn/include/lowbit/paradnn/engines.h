// The sweep's engines, the arithmetic each one measures, and which (engine, family, mode) rows
// an engine cannot run here — decided before any child starts, so those become "unsupported"
// rows with the reason instead of failures:
//   lowbit            fp32: nn modules (train) or the ONNX engine (infer)
//   lowbit-int8       int8: fqt layers (train, rnn infer) or the ONNX engine on the QDQ model
//   lowbit-bf16       bf16: the ONNX engine on the bf16 model `lowbit ptq` writes (Conv/Gemm/MatMul
//                     in bf16, fp32 sums); inference of fc and cnn only, needs AVX512-BF16
//   pytorch           fp32: the PyTorch peer script (train and infer)
//   onnxruntime       fp32: ONNX Runtime (onnxruntime-node) on the float ONNX model (infer)
//   onnxruntime-int8  int8: ONNX Runtime on the same QDQ model lowbit-int8 runs (infer, fc and cnn)
#pragma once

#include <string>
#include <vector>

namespace lowbit::paradnn {

std::vector<std::string> engine_names();
// "fp32", "int8" or "bf16"; ValueError for an unknown engine.
std::string engine_precision(const std::string& engine);
// "" when the engine runs (family, mode) on a CPU with (cpu_bf16) or without AVX512-BF16,
// else "unsupported: <reason>".
std::string engine_unsupported(const std::string& engine, const std::string& family, const std::string& mode,
                               bool cpu_bf16);

}  // namespace lowbit::paradnn
