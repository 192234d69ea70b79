// Optional binding to the fqt layer (compiled in when CMake finds the lowbit_fqt target).
#include "lowbit/cil/quantize.h"

#include <algorithm>

#include "lowbit/core/error.h"
#if defined(LOWBIT_CIL_HAVE_FQT)
#include "lowbit/fqt/quant_config.h"
#endif

namespace lowbit::cil {

#if defined(LOWBIT_CIL_HAVE_FQT)

bool quantization_available() { return true; }
std::vector<std::string> quant_preset_names() { return fqt::preset_names(); }

void check_quant_spec(const QuantSpec& spec) {
  const auto names = quant_preset_names();
  LOWBIT_REQUIRE(std::find(names.begin(), names.end(), spec.preset) != names.end(), "cil", "unknown preset '{}' (expected one of: {})",
                 spec.preset, fmt::join(names, ", "));
  (void)fqt::preset(spec.preset, spec.bits, spec.acc_bits);  // validates the bit overrides
}

void apply_quantization(nn::Module& model, const QuantSpec& spec, uint64_t seed) {
  const fqt::QuantConfig cfg = fqt::preset(spec.preset, spec.bits, spec.acc_bits);
  if (cfg.enabled) fqt::quantize_model(model, cfg, seed);
}

#else

bool quantization_available() { return false; }
std::vector<std::string> quant_preset_names() { return {"fp32"}; }

void check_quant_spec(const QuantSpec& spec) {
  LOWBIT_REQUIRE(spec.preset == "fp32", "cil",
                 "preset '{}' needs the fqt layer (quantized training), which this build of lowbit lacks; only fp32 runs",
                 spec.preset);
}

void apply_quantization(nn::Module& model, const QuantSpec& spec, uint64_t seed) {
  (void)model;
  (void)seed;
  check_quant_spec(spec);
}

#endif

}  // namespace lowbit::cil
