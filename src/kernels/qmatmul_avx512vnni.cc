// Packing of a product's B operand per call for the VNNI u8×s8 GEMM (qmatmul_impl.h): the panel
// layout is qgemm_pack's (qgemm_avx512vnni.cc: panels of 16 columns × groups of four k, 64 bytes
// per group, column j's four k at bytes 4j..4j+3, zero-padded to 64 columns and to K % 4), built
// here from four rows of B (K×N) at a time by byte/word interleaves instead of from a transposed
// copy; the column sums come from the same registers (vpdpbusd with ones).
// GCC 12 reports the _mm512_undefined_* vectors inside its own intrinsics as maybe-uninitialized
// (as in the other AVX-512 kernel files).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include <cstring>

#include "qlinear_impl.h"
#include "qmatmul_impl.h"

namespace lowbit::kernels::avx512vnni {

void qmatmul_pack_b(int64_t N, int64_t K, const int8_t* b, int64_t ldb, bool flip, void* panels, int32_t* colsum) {
  const int64_t K4 = (K + 3) / 4, panel = K4 * 64, NP = (N + 63) / 64 * 4;  // panels, incl. padding ones
  auto* dst = static_cast<int8_t*>(panels);
  const __m128i x = _mm_set1_epi8(static_cast<char>(flip ? 0x80 : 0));
  const __m512i ones = _mm512_set1_epi8(1);
  for (int64_t p = 0; p < NP; ++p) {
    const int64_t n0 = p * 16;
    int8_t* out = dst + p * panel;
    if (n0 >= N) {  // a padding panel of the last 64-column group
      std::memset(out, 0, static_cast<size_t>(panel));
      continue;
    }
    const int64_t cols = N - n0 < 16 ? N - n0 : 16;
    const __mmask16 m = static_cast<__mmask16>((1u << cols) - 1);
    __m512i sum = _mm512_setzero_si512();
    for (int64_t g = 0; g < K4; ++g) {
      __m128i r[4];
      for (int i = 0; i < 4; ++i) {
        const int64_t k = g * 4 + i;
        r[i] = k < K ? _mm_maskz_mov_epi8(m, _mm_xor_si128(_mm_maskz_loadu_epi8(m, b + k * ldb + n0), x)) : _mm_setzero_si128();
      }
      const __m128i lo01 = _mm_unpacklo_epi8(r[0], r[1]), hi01 = _mm_unpackhi_epi8(r[0], r[1]);
      const __m128i lo23 = _mm_unpacklo_epi8(r[2], r[3]), hi23 = _mm_unpackhi_epi8(r[2], r[3]);
      const __m512i v = _mm512_inserti64x4(
          _mm512_castsi256_si512(_mm256_set_m128i(_mm_unpackhi_epi16(lo01, lo23), _mm_unpacklo_epi16(lo01, lo23))),
          _mm256_set_m128i(_mm_unpackhi_epi16(hi01, hi23), _mm_unpacklo_epi16(hi01, hi23)), 1);
      _mm512_storeu_si512(out + g * 64, v);
      sum = _mm512_dpbusd_epi32(sum, ones, v);  // Σ of each column's four k (ones unsigned, codes signed)
    }
    _mm512_mask_storeu_epi32(colsum + n0, m, sum);
  }
}

}  // namespace lowbit::kernels::avx512vnni
