// Peak loops for AVX2 + FMA (lowbit/kernels/peak.h).
#include <immintrin.h>

#include <cstdint>

#include "lowbit/kernels/peak.h"

namespace lowbit::kernels::detail {
namespace {
constexpr int64_t kInner = 1 << 14;  // loop trips per repetition
}  // namespace

[[gnu::target("avx2,fma")]] double peak_fp32_avx2(int64_t reps, float* sink) {
  __m256 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps(static_cast<float>(i) * 1e-3f);
  const __m256 m = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(1e-3f);
  for (int64_t r = 0; r < reps * kInner; ++r)
    for (int i = 0; i < 12; ++i) a[i] = _mm256_fmadd_ps(a[i], m, c);
  for (int i = 1; i < 12; ++i) a[0] = _mm256_add_ps(a[0], a[i]);
  float out[8];
  _mm256_storeu_ps(out, a[0]);
  *sink += out[0];
  return static_cast<double>(reps) * kInner * 12 * 8 * 2;
}

[[gnu::target("avx2")]] double peak_int8_avx2(int64_t reps, float* sink) {
  // u8 x s8 -> i16 pairs (vpmaddubsw) -> i32 (vpmaddwd) -> accumulate: 32 multiply-adds per 3 ops.
  __m256i a[8];
  for (int i = 0; i < 8; ++i) a[i] = _mm256_set1_epi32(i);
  const __m256i u = _mm256_set1_epi8(3), s = _mm256_set1_epi8(-2), one = _mm256_set1_epi16(1);
  for (int64_t r = 0; r < reps * kInner; ++r)
    for (int i = 0; i < 8; ++i)
      a[i] = _mm256_add_epi32(a[i], _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), one));
  for (int i = 1; i < 8; ++i) a[0] = _mm256_add_epi32(a[0], a[i]);
  *sink += static_cast<float>(_mm256_extract_epi32(a[0], 0));
  return static_cast<double>(reps) * kInner * 8 * 32 * 2;
}

}  // namespace lowbit::kernels::detail
