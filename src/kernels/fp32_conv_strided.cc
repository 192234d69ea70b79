// Stride-2 1×1 convs as gather + GEMM (fp32_conv_strided.h): the geometry test, the measured rule
// and the gather. oneDNN 2.6 runs such a conv as brgconv_1x1 through its own strided copy per
// tile; a matmul on a strided source falls back to gemm:jit (1.1-2.3× the conv).
#include "fp32_conv_strided.h"

#include <algorithm>
#include <cstring>

#include "lowbit/core/threads.h"

namespace lowbit::kernels::detail {

bool strided_1x1_applies(const ConvGeom& s, ConvLayout x_layout, ConvLayout y_layout, PlanMath math) {
  if (s.rank != 2 || s.groups != 1 || x_layout != ConvLayout::nhwc || y_layout != ConvLayout::nhwc ||
      math != PlanMath::f32)
    return false;
  if (s.R() != 1 || s.S() != 1 || (s.stride_h() == 1 && s.stride_w() == 1)) return false;
  return s.pad_t() == 0 && s.pad_l() == 0 && s.pad_b() == 0 && s.pad_r() == 0;
}

// Measured per layer, 1 thread, CPU time (bench/conv_plan_bench.cc): 0.46-1.04× oneDNN's
// brgconv from 32 input channels up (the ParaDnn shapes at batch 16, ResNet-50's projections at
// batch 1 and 8); at 16 channels oneDNN's conv is as good (0.89× on 16×16, 1.16× on 28×28).
bool strided_1x1_preferred(const ConvGeom& s) { return s.C >= 32; }

void gather_strided_pixels(const ConvGeom& s, const float* x, float* xs) {
  const int64_t OH = s.OH(), OW = s.OW(), C = s.C, W = s.W();
  const int64_t row_in = W * C, step = s.stride_w() * C;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, OW * C));
  parallel_for(s.N * OH, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / OH, oh = r % OH;
      const float* src = x + (n * s.H() + oh * s.stride_h()) * row_in;
      float* dst = xs + r * OW * C;
      for (int64_t ow = 0; ow < OW; ++ow) std::memcpy(dst + ow * C, src + ow * step, static_cast<size_t>(C) * sizeof(float));
    }
  });
}

}  // namespace lowbit::kernels::detail
