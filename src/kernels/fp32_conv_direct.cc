// The ISA-independent half of the direct convolution (fp32_conv_direct.h): which geometries it
// takes, the weight packing done once per ConvPlan, and the measured rule for choosing it.
#include "fp32_conv_direct.h"

namespace lowbit::kernels::detail {

bool direct_conv_supports(const ConvGeom& s) {
  // Tiles are compiled for column strides 1 and 2.
  if (s.rank != 2 || s.dil_h() != 1 || s.dil_w() != 1 || s.stride_w() > 2) return false;
  return s.groups == 1 || (s.groups == s.C && s.K == s.C);
}

std::vector<float> direct_conv_pack_weights(const ConvGeom& s, const float* w) {
  const int64_t RS = s.R() * s.S();
  if (direct_is_depthwise(s)) {  // w is (C, 1, R, S)
    const int64_t CB = (s.C + kDirectBlock - 1) / kDirectBlock;
    std::vector<float> p(static_cast<size_t>(CB * RS * kDirectBlock), 0.0f);
    for (int64_t c = 0; c < s.C; ++c)
      for (int64_t rs = 0; rs < RS; ++rs)
        p[static_cast<size_t>(((c / kDirectBlock) * RS + rs) * kDirectBlock + c % kDirectBlock)] = w[c * RS + rs];
    return p;
  }
  const int64_t KB = (s.K + kDirectBlock - 1) / kDirectBlock, C = s.C, CB = (C + kDirectBlock - 1) / kDirectBlock;
  const int64_t R = s.R(), S = s.S(), L = kDirectBlock;
  std::vector<float> p(static_cast<size_t>(KB * R * CB * S * L * L), 0.0f);
  for (int64_t k = 0; k < s.K; ++k)  // w is (K, C, R, S)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t r = 0; r < R; ++r)
        for (int64_t q = 0; q < S; ++q)
          p[static_cast<size_t>(((((k / L * R + r) * CB + c / L) * S + q) * L + c % L) * L + k % L)] =
              w[((k * C + c) * R + r) * S + q];
  return p;
}

std::vector<float> direct_conv_pack_bias(const ConvGeom& s, const float* bias) {
  const int64_t KB = (s.K + kDirectBlock - 1) / kDirectBlock;
  std::vector<float> p(static_cast<size_t>(KB * kDirectBlock), 0.0f);
  if (bias)
    for (int64_t k = 0; k < s.K; ++k) p[static_cast<size_t>(k)] = bias[k];
  return p;
}

// Measured per layer shape (bench/conv_plan_bench.cc, table in docs/BENCHMARKS.md), 1 thread,
// channels-last: the direct kernel wins only at batch 1 on dense k×k convs (k > 1) with at most
// 64 input and output channels on planes up to 32×32 (0.73-0.98× oneDNN's CPU time; ResNet-20,
// GoogLeNet-style 5×5 branches), where oneDNN's per-call cost is a large share. At batch 8 the
// same shapes are at parity (0.93-1.09×); 1×1 convs (1.1-2.6×), 224-pixel stems and depthwise
// convs stay on oneDNN. The depthwise kernel now reads x in place (conv_dw_nhwc) but
// still measures 0.84-1.74× oneDNN's brdgmm_dw at batch 1 and 1.15-2.4× at batch 8 (BENCHMARKS.md,
// "Fused SiLU/HardSwish epilogues"), so it is used only when LOWBIT_CONV=direct forces it.
bool direct_conv_preferred(const ConvGeom& s) {
  if (!direct_conv_supports(s) || direct_is_depthwise(s)) return false;
  return s.N == 1 && s.R() * s.S() > 1 && s.C <= 64 && s.K <= 64 && s.H() * s.W() <= 32 * 32;
}

}  // namespace lowbit::kernels::detail
