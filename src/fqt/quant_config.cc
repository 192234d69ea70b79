// Presets and the model-wide layer swap.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "lowbit/fqt/qlayers.h"
#include "lowbit/fqt/quant_config.h"
#include "qlinear_ext.h"

namespace lowbit::fqt {
namespace {

// The paper's configuration (spec §1): forward operands nearest, tiled saturating T=32;
// backward GEMMs one tile, transformed weight nearest, the rest stochastic.
QuantConfig hdqt_like(int bits, int acc_bits, bool hadamard) {
  QuantConfig c;
  c.enabled = true;
  c.forward.a = {bits, Rounding::nearest, 0.975f};
  c.forward.b = {bits, Rounding::nearest, 0.975f};
  c.forward.acc = AccumulatorSpec::tile_clamp(acc_bits, 32);
  c.grad_input.a = {bits, Rounding::stochastic, 1.0f};  // Q_sr(G H_N)
  c.grad_input.b = {bits, Rounding::nearest, 1.0f};     // Q_near(H_N W_q)
  c.grad_input.acc = AccumulatorSpec::tile_clamp(acc_bits, 0);
  c.grad_input.hadamard = hadamard;
  c.grad_weight = c.grad_input;
  c.grad_weight.b.rounding = Rounding::stochastic;  // Q_sr(H_B X_q)
  return c;
}

}  // namespace

std::vector<std::string> preset_names() { return {"fp32", "hdqt", "naive-int", "int8"}; }

QuantConfig preset(const std::string& name, int bits, int acc_bits) {
  LOWBIT_REQUIRE(bits == 0 || (bits >= 2 && bits <= 8), "quant preset", "bits must be in [2, 8], got {}", bits);
  LOWBIT_REQUIRE(acc_bits == 0 || (acc_bits >= 2 && acc_bits <= 32), "quant preset",
                 "accumulator bits must be in [2, 32], got {}", acc_bits);
  QuantConfig c;
  if (name == "fp32") {
    c = QuantConfig{};
  } else if (name == "hdqt" || name == "naive-int") {
    c = hdqt_like(bits ? bits : 4, acc_bits ? acc_bits : 8, name == "hdqt");
  } else if (name == "int8") {
    c = hdqt_like(bits ? bits : 8, acc_bits ? acc_bits : 32, false);
    for (GemmConfig* g : {&c.forward, &c.grad_input, &c.grad_weight}) g->acc.model = AccModel::exact;
  } else {
    throw ValueError(fmt::format("[quant preset] unknown preset '{}' (expected fp32, hdqt, naive-int or int8)", name));
  }
  c.name = name;
  return c;
}

void quantize_model(nn::Module& model, const QuantConfig& cfg, uint64_t seed) {
  if (!cfg.enabled) return;
  validate_linear_options(cfg);
  // The layers to quantize, in module order; quantize_first_layer / quantize_last_layer = false
  // leave the first / last of them as fp32 layers (an ablation for training, and what export
  // writes), and then no quantized layer sees the model's input (first_layer_input).
  std::vector<std::string> layers;
  for (auto& [path, m] : model.named_modules()) {
    const bool conv = dynamic_cast<QConv2d*>(m.get()) || dynamic_cast<nn::Conv2d*>(m.get());
    LOWBIT_REQUIRE(!conv || !has_linear_only_options(cfg), "quantize_model",
                   "layer '{}' is a convolution: the ablation and range options are for Linear layers only", path);
    if (conv || dynamic_cast<QLinear*>(m.get()) || dynamic_cast<nn::Linear*>(m.get())) layers.push_back(path);
  }
  const size_t begin = cfg.quantize_first_layer ? 0 : 1;
  const size_t end = cfg.quantize_last_layer || layers.empty() ? layers.size() : layers.size() - 1;
  for (size_t i = begin; i < end; ++i) {
    const std::string& path = layers[i];
    const bool first = i == 0;
    nn::Module* m = model.find(path).get();
    if (auto* q = dynamic_cast<QLinear*>(m)) {
      q->set_config(cfg);
      q->set_first_layer(first);
    } else if (auto* q2 = dynamic_cast<QConv2d*>(m)) {
      q2->set_config(cfg);
    } else if (auto* lin = dynamic_cast<nn::Linear*>(m)) {
      auto q3 = std::make_shared<QLinear>(*lin, cfg, seed, path);
      q3->set_first_layer(first);
      model.replace(path, q3);
    } else {
      model.replace(path, std::make_shared<QConv2d>(*dynamic_cast<nn::Conv2d*>(m), cfg, seed, path));
    }
  }
}

}  // namespace lowbit::fqt
