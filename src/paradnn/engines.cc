// Engine names, their precision, and the rows an engine cannot run (engines.h).
#include "lowbit/paradnn/engines.h"

#include <algorithm>

#include "lowbit/core/error.h"

namespace lowbit::paradnn {

std::vector<std::string> engine_names() {
  return {"lowbit", "lowbit-int8", "lowbit-bf16", "pytorch", "onnxruntime", "onnxruntime-int8"};
}

std::string engine_precision(const std::string& engine) {
  const auto names = engine_names();
  if (std::find(names.begin(), names.end(), engine) == names.end())
    throw ValueError(fmt::format("[paradnn] unknown engine '{}' (expected one of {})", engine, fmt::join(names, ", ")));
  if (engine.ends_with("-int8")) return "int8";
  if (engine.ends_with("-bf16")) return "bf16";
  return "fp32";
}

std::string engine_unsupported(const std::string& engine, const std::string& family, const std::string& mode,
                               bool cpu_bf16) {
  engine_precision(engine);  // validates the name
  if (engine.starts_with("onnxruntime") && mode == "train") return "unsupported: onnxruntime-node runs inference only";
  if (engine == "onnxruntime-int8" && family == "rnn")
    return "unsupported: lowbit-int8 runs rnn inference on fqt's integer layers, not a QDQ model ONNX Runtime could share";
  if (engine == "lowbit-bf16") {
    if (mode == "train") return "unsupported: lowbit's training engine has no bf16 arithmetic (fqt trains in int8 or fp32)";
    if (family == "rnn") return "unsupported: the ONNX engine's RNN/LSTM/GRU cells have no bf16 kernels";
    if (!cpu_bf16) return "unsupported: this CPU has no AVX512-BF16 instructions (oneDNN would emulate bf16, slower than fp32)";
  }
  return "";
}

}  // namespace lowbit::paradnn
