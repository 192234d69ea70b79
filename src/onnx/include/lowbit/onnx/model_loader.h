// Reads ONNX files (protobuf, via Debian's libonnx) into the engine's Graph IR and validates
// them: supported opset (7-21, each op from its own minimum) and ops/attributes, every input defined, no cycles, initializer
// sizes consistent with their data. Corrupt or hostile files raise IoError/ValueError naming
// the file and node; no allocation exceeds what the file's own bytes back.
#pragma once

#include <string>
#include <string_view>

#include "lowbit/onnx/ir.h"

namespace lowbit::onnx {

inline constexpr int kMinOpset = 7;  // per-op minimums (OpDef::since) are checked too
inline constexpr int kMaxOpset = 21;
// Files above this are refused before parsing (protobuf's own limit is 2 GiB).
inline constexpr size_t kMaxModelBytes = size_t{2} << 30;

Graph load_model(const std::string& path);
// `what` names the source in errors; base_dir resolves external-data tensors ("" disables them).
Graph load_model_from_bytes(std::string_view bytes, const std::string& what, const std::string& base_dir = "");

// A serialized onnx.TensorProto (the backend tests' input_*.pb / output_*.pb files).
Array load_tensor_pb(const std::string& path);
Array parse_tensor_pb(std::string_view bytes, const std::string& what);

}  // namespace lowbit::onnx
