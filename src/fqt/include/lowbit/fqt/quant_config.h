// QuantConfig: how each GEMM of a quantized layer is carried out (spec hdqt.md §1), and the
// named presets. quantize_model() swaps every Linear/Conv2d of a model, by name, for its
// integer-arithmetic counterpart sharing the same fp32 master weights. Rounding and accumulator
// models are quant's (lowbit/quant), the one quantization vocabulary of the project.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lowbit/nn/module.h"
#include "lowbit/quant/int_gemm.h"

namespace lowbit::fqt {

using quant::AccModel;
using quant::AccumulatorSpec;
using quant::Rounding;

// One operand of a quantized GEMM.
struct OperandConfig {
  int bits = 4;
  Rounding rounding = Rounding::nearest;
  float clip = 1.0f;  // m = clip * max|x|
  // Ablations and range options (qlinear_ext.h; Linear layers only, defaults = the spec):
  bool quantize = true;   // false: the operand stays fp32 and its GEMM runs in fp32 (no accumulator)
  bool per_row = false;   // forward operands: one scale per row (sample of X, output channel of W)
  float quantile = 0.0f;  // forward operands, > 0: m = clip * (this quantile of |x|) instead of clip * max|x|
  int scale_period = 1;   // forward operands, per tensor: m recomputed every this many training steps
};

// One quantized GEMM: operands, accumulator and (backward only) the Hadamard transform.
struct GemmConfig {
  OperandConfig a, b;
  AccumulatorSpec acc;  // model, width and reduction tile (0 = one tile); default tile-clamp(8, 32)
  bool hadamard = false;
  int64_t hadamard_block = 0;  // > 0 (a power of two): cap on the block size h(n)
};

struct QuantConfig {
  std::string name = "fp32";
  bool enabled = false;  // false: plain fp32 layers
  GemmConfig forward;     // Y = X Wᵀ
  GemmConfig grad_input;  // dX = G W   (reduction over N)
  GemmConfig grad_weight; // dW = Gᵀ X  (reduction over batch / positions)
  // false: the model's first / last Conv or Linear stays an fp32 layer, in training
  // (quantize_model; --quant-set first.layer=fp32, last.layer=fp32: ablations outside the
  // method's all-integer constraint) and in export.
  bool quantize_first_layer = true;
  // The input encoding of the first quantized Linear's X in training: "auto" (unsigned codes
  // when non-negative, the spec), "signed" (always the signed grid), "fp32" (X kept fp32, W
  // still quantized: an ablation), "unsigned" (X clamped below at 0, unsigned codes: inputs
  // scaled to [0, 1] on the training data that fall below 0 elsewhere do not switch the whole
  // batch to the signed grid), "digits2" (X clamped at 0 as 7-bit codes split into two 4-bit
  // digits, hi·16 + lo: two b-bit GEMMs with the forward accumulator, summed in fp32).
  std::string first_layer_input = "auto";
  bool quantize_last_layer = true;
};

// Presets: fp32 | hdqt (4-bit inputs, 8-bit accumulators, Hadamard backward, paper defaults)
// | naive-int (same bits and accumulators, no Hadamard) | int8 (8-bit inputs, 32-bit exact).
// bits/acc_bits override the preset's widths where given (> 0).
QuantConfig preset(const std::string& name, int bits = 0, int acc_bits = 0);
std::vector<std::string> preset_names();

// Changes a quantized config by a comma-separated list of key=value settings (ablations and
// the knobs the spec leaves open), applied left to right; quant_overrides.cc lists the keys.
// ValueError naming the setting for an unknown key or a bad value. Leaves fp32 configs alone.
void apply_overrides(QuantConfig& cfg, const std::string& spec);

// A preset as the CLI, CIL runs and checkpoint metadata record it: name and width overrides.
struct PresetSpec {
  std::string preset = "fp32";
  int bits = 0;      // > 0 overrides the preset's operand bits
  int acc_bits = 0;  // > 0 overrides the preset's accumulator bits
  std::string overrides;  // apply_overrides() settings; empty: none
};
// ValueError for an unknown preset, widths out of range or a bad override.
inline QuantConfig preset(const PresetSpec& s) {
  QuantConfig c = preset(s.preset, s.bits, s.acc_bits);
  apply_overrides(c, s.overrides);
  return c;
}

// Replaces each Linear and Conv2d (found by path) with a quantized layer using `cfg`, keeping
// the same parameter Vars. Idempotent: already-quantized layers get the new config. A config
// with enabled == false leaves the model unchanged. `seed` keys the stochastic rounding streams.
void quantize_model(nn::Module& model, const QuantConfig& cfg, uint64_t seed);
// quantize_model(model, preset(spec), seed): what a run or a restored checkpoint applies after
// building (and, in class-incremental learning, after each head expansion).
inline void apply_preset(nn::Module& model, const PresetSpec& spec, uint64_t seed) {
  quantize_model(model, preset(spec), seed);
}

}  // namespace lowbit::fqt
