// Peak loops for AVX-512: fp32 FMA, VNNI int8 and BF16 dot products (lowbit/kernels/peak.h).
#include <immintrin.h>

#include <cstdint>

#include "lowbit/kernels/peak.h"

namespace lowbit::kernels::detail {
namespace {
constexpr int64_t kInner = 1 << 14;  // loop trips per repetition
}  // namespace

[[gnu::target("avx512f")]] double peak_fp32_avx512(int64_t reps, float* sink) {
  __m512 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(static_cast<float>(i) * 1e-3f);
  const __m512 m = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(1e-3f);
  for (int64_t r = 0; r < reps * kInner; ++r)
    for (int i = 0; i < 12; ++i) a[i] = _mm512_fmadd_ps(a[i], m, c);
  for (int i = 1; i < 12; ++i) a[0] = _mm512_add_ps(a[0], a[i]);
  alignas(64) float out[16];
  _mm512_store_ps(out, a[0]);
  *sink += out[0];
  return static_cast<double>(reps) * kInner * 12 * 16 * 2;
}

[[gnu::target("avx512f,avx512vnni")]] double peak_int8_avx512vnni(int64_t reps, float* sink) {
  __m512i a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_epi32(i);
  const __m512i u = _mm512_set1_epi8(3), s = _mm512_set1_epi8(-2);
  for (int64_t r = 0; r < reps * kInner; ++r)
    for (int i = 0; i < 12; ++i) a[i] = _mm512_dpbusd_epi32(a[i], u, s);
  for (int i = 1; i < 12; ++i) a[0] = _mm512_add_epi32(a[0], a[i]);
  alignas(64) int32_t out[16];
  _mm512_store_si512(out, a[0]);
  *sink += static_cast<float>(out[0]);
  return static_cast<double>(reps) * kInner * 12 * 64 * 2;
}

[[gnu::target("avx512f,avx512bf16")]] double peak_bf16_avx512(int64_t reps, float* sink) {
  __m512 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(static_cast<float>(i) * 1e-3f);
  const __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80), y = (__m512bh)_mm512_set1_epi16(0x3a83);  // 1.0, ~1e-3
  for (int64_t r = 0; r < reps * kInner; ++r)
    for (int i = 0; i < 12; ++i) a[i] = _mm512_dpbf16_ps(a[i], x, y);
  for (int i = 1; i < 12; ++i) a[0] = _mm512_add_ps(a[0], a[i]);
  alignas(64) float out[16];
  _mm512_store_ps(out, a[0]);
  *sink += out[0];
  return static_cast<double>(reps) * kInner * 12 * 32 * 2;
}

}  // namespace lowbit::kernels::detail
