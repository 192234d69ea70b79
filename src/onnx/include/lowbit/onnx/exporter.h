// Graph -> ONNX ModelProto. The writer the nn layer feeds (build a Graph with GraphBuilder:
// inputs, constants for the weights, ops; then save_model). Fused nodes are written back as
// standard ONNX (Conv + activation node), so ONNX Runtime runs the file unchanged.
#pragma once

#include <string>

#include "lowbit/onnx/ir.h"

namespace lowbit::onnx {

struct ExportOptions {
  std::string producer = "lowbit";
  int64_t ir_version = 8;  // ONNX 1.10+; ORT accepts 3..9
};

std::string export_model_bytes(const Graph& g, const ExportOptions& options = {});
void save_model(const Graph& g, const std::string& path, const ExportOptions& options = {});

}  // namespace lowbit::onnx
