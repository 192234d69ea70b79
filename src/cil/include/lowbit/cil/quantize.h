// The quantization presets as class-incremental runs see them: a thin, optional binding to the
// fqt layer (fqt::preset / fqt::quantize_model). When lowbit is built without fqt only "fp32"
// exists and any other preset is a ValueError that says so.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lowbit/nn/module.h"

namespace lowbit::cil {

struct QuantSpec {
  std::string preset = "fp32";
  int bits = 0;      // > 0 overrides the preset's operand bits
  int acc_bits = 0;  // > 0 overrides the preset's accumulator bits
};

bool quantization_available();
std::vector<std::string> quant_preset_names();
// Throws ValueError for an unknown preset or one this build cannot run.
void check_quant_spec(const QuantSpec& spec);
// Swaps the model's Linear/Conv2d layers for quantized ones (no-op for fp32); idempotent, so it
// is applied again after every head expansion. `seed` keys stochastic rounding.
void apply_quantization(nn::Module& model, const QuantSpec& spec, uint64_t seed);

}  // namespace lowbit::cil
