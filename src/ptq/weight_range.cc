// Weight range selection (weight_range.h): minmax, or a grid search of the clip ratio that
// minimizes the channel's quantization error. Error sums run in double.
#include "lowbit/ptq/weight_range.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "lowbit/core/error.h"

namespace lowbit::ptq {

WeightRange parse_weight_range(const std::string& name) {
  for (WeightRange r : {WeightRange::minmax, WeightRange::mse, WeightRange::act_mse})
    if (name == weight_range_name(r)) return r;
  throw ValueError(fmt::format("[quantize] unknown weight range '{}' (expected minmax, mse or act-mse)", name));
}

const char* weight_range_name(WeightRange r) {
  switch (r) {
    case WeightRange::minmax: return "minmax";
    case WeightRange::mse: return "mse";
    case WeightRange::act_mse: return "act-mse";
  }
  return "?";
}

double weight_quant_sse(const std::vector<float>& w, float scale, float qmax, const std::vector<double>* importance) {
  double sse = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    const float q = std::clamp(std::nearbyint(w[i] / scale), -qmax, qmax);
    const double d = static_cast<double>(w[i]) - static_cast<double>(q) * scale;
    sse += importance ? (*importance)[i] * d * d : d * d;
  }
  return sse;
}

float weight_scale(const std::vector<float>& w, float qmax, WeightRange r, const std::vector<double>* importance) {
  float amax = 0;
  for (float v : w) amax = std::max(amax, std::fabs(v));
  if (!(amax > 0) || !std::isfinite(amax)) return 1.0f;
  const float full = amax / qmax;
  if (r == WeightRange::minmax) return full;
  LOWBIT_REQUIRE(!importance || importance->size() == w.size(), "quantize", "{} importances for {} weights",
                 importance ? importance->size() : 0, w.size());
  if (r == WeightRange::mse) importance = nullptr;
  float best = full;
  double best_sse = weight_quant_sse(w, full, qmax, importance);
  for (int k = 1; k <= 70; ++k) {  // alpha = 0.99 .. 0.30
    const float s = full * (1.0f - 0.01f * static_cast<float>(k));
    const double sse = weight_quant_sse(w, s, qmax, importance);
    if (sse < best_sse) {
      best_sse = sse;
      best = s;
    }
  }
  return best;
}

}  // namespace lowbit::ptq
