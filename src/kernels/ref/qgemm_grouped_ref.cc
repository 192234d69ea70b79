// Reference of the group-wise W4A8 GEMM (qgemm_grouped.h): the specification of its fast path.
// Compiled with -ffp-contract=off (src/kernels/CMakeLists.txt): no multiply-add is fused.
#include "lowbit/kernels/qlinear_ref.h"

namespace lowbit::kernels::ref {

void qgemm_u8s4_grouped_f32(int64_t M, int64_t N, int64_t K, int64_t group, const uint8_t* a, int64_t lda, const int8_t* w,
                            int64_t ldw, const GroupedEpilogue& ep, float* y, int64_t ldy) {
  const int64_t groups = qgemm_groups(K, group);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      float sum = 0.0f;
      for (int64_t g = 0; g < groups; ++g) {
        int32_t acc = 0;
        for (int64_t k = g * group; k < K && k < (g + 1) * group; ++k)
          acc += static_cast<int32_t>(a[m * lda + k]) * w[n * ldw + k];
        const float part = static_cast<float>(acc + ep.corr[g * N + n]) * ep.scale[g * N + n];
        sum = sum + part;
      }
      if (ep.bias) sum = sum + ep.bias[n];
      y[m * ldy + n] = sum;
    }
}

}  // namespace lowbit::kernels::ref
