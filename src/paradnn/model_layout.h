// Layer-by-layer layout of a generated ResNet-v1, shared by the nn module builder, the ONNX
// builder and the analytic counts so the three cannot disagree.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lowbit/paradnn/config.h"

namespace lowbit::paradnn {

struct ConvSpec {
  std::string name;  // path below the block ("a", "b", "c", "proj") or "stem"
  int64_t in = 0, out = 0, kernel = 1, stride = 1;  // padding = kernel / 2
  int64_t out_hw = 0;                                // output height = width
  bool relu = true;
};

struct BlockSpec {
  std::string name;  // "g<group>b<block>"
  std::vector<ConvSpec> convs;
  std::optional<ConvSpec> proj;
};

struct ResNetLayout {
  ConvSpec stem;
  int64_t pooled_hw = 0;  // after the 3x3/2 max pool
  std::vector<BlockSpec> blocks;
  int64_t feature_dim = 0, classes = 0;
};

ResNetLayout resnet_layout(const ModelConfig& c);

}  // namespace lowbit::paradnn
