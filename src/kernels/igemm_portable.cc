// Portable integer GEMM: the fallback when no SIMD path handles a model (odd tiles, more than
// 16-bit saturating accumulators, non-x86 CPUs). Rows spread over threads; per output element
// tile sums in int32 (vectorizable), the saturating model one step at a time like the reference.
#include <algorithm>
#include <vector>

#include "int_impl.h"
#include "lowbit/core/threads.h"

namespace lowbit::kernels::portable {
namespace {

int32_t wrap_to(int32_t v, int bits) {
  const int s = 32 - bits;
  return static_cast<int32_t>(static_cast<uint32_t>(v) << s) >> s;
}

int32_t dot(int64_t K, const int8_t* a, const int8_t* b, const AccSpec& acc) {
  const int64_t T = acc.tile > 0 ? acc.tile : K;
  const int32_t q = static_cast<int32_t>(std::min<int64_t>(acc_qmax(acc.bits), INT32_MAX));
  int32_t total = 0;
  for (int64_t k0 = 0; k0 < K; k0 += T) {
    const int64_t k1 = std::min(K, k0 + T);
    int32_t t = 0;
    if (acc.model == AccModel::saturating) {
      for (int64_t k = k0; k < k1; ++k) t = std::clamp(t + a[k] * b[k], -q, q);  // |t + ab| < 2^31
    } else {
      for (int64_t k = k0; k < k1; ++k) t += a[k] * b[k];
      if (acc.model == AccModel::tile_clamp) t = std::clamp(t, -q, q);
      if (acc.model == AccModel::wrap) t = wrap_to(t, acc.bits);
    }
    total += t;
  }
  return total;
}

}  // namespace

void igemm(int64_t M, int64_t N, int64_t K, const int8_t* A, int64_t lda, const int8_t* B, int64_t ldb,
           const AccSpec& acc, const detail::IgemmOut& out) {
  parallel_for(M, 1, [&](int64_t m0, int64_t m1) {
    std::vector<int32_t> row(static_cast<size_t>(N));
    for (int64_t m = m0; m < m1; ++m) {
      for (int64_t n = 0; n < N; ++n) row[n] = dot(K, A + m * lda, B + n * ldb, acc);
      detail::igemm_store(out, m, 0, 1, N, row.data(), N);
    }
  });
}

}  // namespace lowbit::kernels::portable
