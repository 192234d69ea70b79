// The training state a quantized model carries from one step to the next, beyond its parameters
// and buffers: per quantized layer, the step index that keys its stochastic-rounding streams and
// the forward ranges kept between updates (QuantContext). A checkpoint that must resume training
// bit for bit (cil task checkpoints) saves it; the layers' config, seed and layer id are rebuilt
// by quantize_model and are not part of it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lowbit/nn/module.h"

namespace lowbit::fqt {

struct LayerQuantState {
  std::string layer;  // module path, e.g. "fc" or "backbone.0"
  int64_t step = 0;
  float range_x = 0, range_w = 0;
  int64_t range_x_at = -1, range_w_at = -1;
};

// One entry per QLinear/QConv2d of `model`, in module order (empty for an fp32 model).
std::vector<LayerQuantState> quant_state(nn::Module& model);
// Sets every quantized layer's state. IoError naming `origin` unless `state` lists exactly the
// model's quantized layers, in order, with steps >= 0, update indices >= -1 and finite ranges >= 0.
void restore_quant_state(nn::Module& model, const std::vector<LayerQuantState>& state, const std::string& origin);

}  // namespace lowbit::fqt
