// ResNet-v1 layout from a cnn configuration (see model.h for the shape of the network).
#include "model_layout.h"

#include <fmt/format.h>

namespace lowbit::paradnn {
namespace {

int64_t conv_out(int64_t hw, int64_t kernel, int64_t stride) { return (hw + 2 * (kernel / 2) - kernel) / stride + 1; }

}  // namespace

ResNetLayout resnet_layout(const ModelConfig& c) {
  ResNetLayout l;
  const int64_t f = c.get("filters"), image = c.get("image");
  const bool bottleneck = c.get("bottleneck") != 0;
  l.stem = {"stem", 3, f, 7, 2, conv_out(image, 7, 2), true};
  l.pooled_hw = conv_out(l.stem.out_hw, 3, 2);
  int64_t in = f, hw = l.pooled_hw;
  for (int64_t g = 0; g < 4; ++g) {
    const int64_t width = f << g, out = bottleneck ? 4 * width : width;
    for (int64_t b = 0; b < c.get("blocks"); ++b) {
      const int64_t stride = (g > 0 && b == 0) ? 2 : 1;
      const int64_t ohw = conv_out(hw, 1, stride);  // same for 3x3 pad 1 and 1x1 pad 0
      BlockSpec blk;
      blk.name = fmt::format("g{}b{}", g, b);  // not "g" + to_string(...): GCC 12 -Wrestrict false positive
      if (bottleneck) {
        blk.convs = {{"a", in, width, 1, stride, ohw, true}, {"b", width, width, 3, 1, ohw, true},
                     {"c", width, out, 1, 1, ohw, false}};
      } else {
        blk.convs = {{"a", in, width, 3, stride, ohw, true}, {"b", width, width, 3, 1, ohw, false}};
      }
      if (stride != 1 || in != out) blk.proj = ConvSpec{"proj", in, out, 1, stride, ohw, false};
      l.blocks.push_back(std::move(blk));
      in = out;
      hw = ohw;
    }
  }
  l.feature_dim = in;
  l.classes = c.get("classes");
  return l;
}

}  // namespace lowbit::paradnn
