// AVX2 transposes: 16×16 int8 blocks in four unpack stages (8-, 16-, 32-, 64-bit interleaves)
// and 8×8 fp32 blocks (unpack, shuffle, 128-bit permute); edges fall back to the portable loop.
#include <immintrin.h>

#include "int_impl.h"

namespace lowbit::kernels::avx2 {
namespace {

// Rows a[0..16) of 16 bytes -> columns, in place.
inline void transpose16x16(__m128i (&a)[16]) {
  __m128i b[16], c[16], d[16];
  for (int i = 0; i < 8; ++i) {
    b[2 * i] = _mm_unpacklo_epi8(a[2 * i], a[2 * i + 1]);      // rows 2i,2i+1 cols 0..7
    b[2 * i + 1] = _mm_unpackhi_epi8(a[2 * i], a[2 * i + 1]);  // cols 8..15
  }
  for (int g = 0; g < 4; ++g) {  // rows 4g..4g+3: c[4g + q] holds cols 4q..4q+3
    c[4 * g + 0] = _mm_unpacklo_epi16(b[4 * g], b[4 * g + 2]);
    c[4 * g + 1] = _mm_unpackhi_epi16(b[4 * g], b[4 * g + 2]);
    c[4 * g + 2] = _mm_unpacklo_epi16(b[4 * g + 1], b[4 * g + 3]);
    c[4 * g + 3] = _mm_unpackhi_epi16(b[4 * g + 1], b[4 * g + 3]);
  }
  for (int h = 0; h < 2; ++h)  // rows 8h..8h+7: d[8h + p] holds cols 2p, 2p+1
    for (int q = 0; q < 4; ++q) {
      d[8 * h + 2 * q] = _mm_unpacklo_epi32(c[8 * h + q], c[8 * h + 4 + q]);
      d[8 * h + 2 * q + 1] = _mm_unpackhi_epi32(c[8 * h + q], c[8 * h + 4 + q]);
    }
  for (int p = 0; p < 8; ++p) {
    a[2 * p] = _mm_unpacklo_epi64(d[p], d[8 + p]);
    a[2 * p + 1] = _mm_unpackhi_epi64(d[p], d[8 + p]);
  }
}

inline void transpose8x8(__m256 (&r)[8]) {
  __m256 t[8], s[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {
    s[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    s[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    s[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    s[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(s[i], s[4 + i], 0x20);
    r[4 + i] = _mm256_permute2f128_ps(s[i], s[4 + i], 0x31);
  }
}

}  // namespace

void transpose_i8(int64_t rows, int64_t cols, const int8_t* x, int64_t ldx, int8_t* y, int64_t ldy) {
  const int64_t R = rows / 16 * 16, C = cols / 16 * 16;
  for (int64_t i0 = 0; i0 < R; i0 += 16)
    for (int64_t j0 = 0; j0 < C; j0 += 16) {
      __m128i a[16];
      for (int i = 0; i < 16; ++i) a[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + (i0 + i) * ldx + j0));
      transpose16x16(a);
      for (int j = 0; j < 16; ++j) _mm_storeu_si128(reinterpret_cast<__m128i*>(y + (j0 + j) * ldy + i0), a[j]);
    }
  if (C < cols) portable::transpose_i8(R, cols - C, x + C, ldx, y + C * ldy, ldy);
  if (R < rows) portable::transpose_i8(rows - R, cols, x + R * ldx, ldx, y + R, ldy);
}

void transpose_f32(int64_t rows, int64_t cols, const float* x, int64_t ldx, float* y, int64_t ldy) {
  const int64_t R = rows / 8 * 8, C = cols / 8 * 8;
  for (int64_t i0 = 0; i0 < R; i0 += 8)
    for (int64_t j0 = 0; j0 < C; j0 += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(x + (i0 + i) * ldx + j0);
      transpose8x8(r);
      for (int j = 0; j < 8; ++j) _mm256_storeu_ps(y + (j0 + j) * ldy + i0, r[j]);
    }
  if (C < cols) portable::transpose_f32(R, cols - C, x + C, ldx, y + C * ldy, ldy);
  if (R < rows) portable::transpose_f32(rows - R, cols, x + R * ldx, ldx, y + R, ldy);
}

}  // namespace lowbit::kernels::avx2
