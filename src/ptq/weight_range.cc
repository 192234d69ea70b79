// Weight range selection (weight_range.h): minmax, or a grid search of the clip ratio that
// minimizes the channel's quantization error. Error sums run in double.
#include "lowbit/ptq/weight_range.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "lowbit/core/error.h"
#include "lowbit/kernels/quant.h"

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

void quantize_weight_codes(int64_t numel, const float* w, int64_t channels, int64_t inner, const float* scales, int32_t qmax,
                           int8_t* codes) {
  LOWBIT_REQUIRE(qmax >= 1 && qmax <= 127, "quantize", "weight code range ±{} is not within int8", qmax);
  if (numel == 0) return;
  LOWBIT_REQUIRE(channels >= 1 && inner >= 1 && numel % (channels * inner) == 0, "quantize",
                 "{} weights do not split into {} channels of {} values", numel, channels, inner);
  for (int64_t c = 0; c < channels; ++c)
    LOWBIT_REQUIRE(scales[c] > 0 && std::isfinite(scales[c]), "quantize", "weight scale {} of channel {} is not positive and finite",
                   scales[c], c);
  kernels::QuantGrid g;
  g.outer = numel / (channels * inner);
  g.channels = channels;
  g.inner = inner;
  g.scale = scales;
  g.qmin = -qmax;
  g.qmax = qmax;
  kernels::quantize_f32_i8(g, w, codes, kernels::Rounding::nearest, {});
}

double weight_quant_sse(const std::vector<float>& w, float scale, float qmax, const std::vector<double>* importance) {
  std::vector<int8_t> q(w.size());
  const auto n = static_cast<int64_t>(w.size());
  quantize_weight_codes(n, w.data(), 1, n, &scale, static_cast<int32_t>(qmax), q.data());
  double sse = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    const double d = static_cast<double>(w[i]) - static_cast<double>(q[i]) * scale;
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
