// Weight ranges for symmetric per-channel (or per-tensor) weight quantization: the plain
// absolute maximum, the clipped range that minimizes the weights' quantization MSE, or the one
// that minimizes it weighted by each weight's input power E[x_k^2] from calibration (the
// diagonal of the layer's output-error Hessian: sum_k E[x_k^2] dw_k^2 approximates E|dW x|^2).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lowbit::ptq {

enum class WeightRange {
  minmax,     // scale = amax / q
  mse,        // scale = alpha * amax / q, alpha in {1, 0.99, ..., 0.30} minimizing sum (w - dq(q(w)))^2
  act_mse,    // the same search, each squared error weighted by its input channel's E[x^2]
};
WeightRange parse_weight_range(const std::string& name);  // ValueError listing the names
const char* weight_range_name(WeightRange r);
// Sum of squared errors of w quantized symmetrically to [-qmax, qmax] with `scale` by
// quantize_weight_codes (round half to even, as ONNX QuantizeLinear), each weighted by importance[i] when given;
// scale > 0.
double weight_quant_sse(const std::vector<float>& w, float scale, float qmax, const std::vector<double>* importance = nullptr);

// Symmetric weight codes: w (numel values) viewed as (outer, channels, inner) around the channel
// axis, codes = clamp(round_half_even(w / scales[c]), -qmax, qmax) computed by
// kernels::quantize_f32_i8, the quantizer that training and inference use, so `lowbit quantize`
// and `lowbit export` write the codes the kernels would. channels = 1, inner = numel is per
// tensor. Requires every scale > 0 and finite, 1 <= qmax <= 127 (ValueError otherwise).
void quantize_weight_codes(int64_t numel, const float* w, int64_t channels, int64_t inner, const float* scales, int32_t qmax,
                           int8_t* codes);

// The scale of one channel's values: amax / qmax (minmax), or the clipped scale with the least
// (importance-weighted, for act_mse) quantization error; ties keep the wider range. 1 for an
// all-zero channel. act_mse without importances is mse.
float weight_scale(const std::vector<float>& w, float qmax, WeightRange r, const std::vector<double>* importance = nullptr);

}  // namespace lowbit::ptq
