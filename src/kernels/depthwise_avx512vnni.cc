// AVX-512 VNNI depthwise 3×3 convolution, stride 1 or 2, dilation 1, on channels-last uint8
// codes (qlinear.h depthwise_nhwc_u8; MobileNetV2's 13 stride-1 and 4 stride-2 depthwise layers).
//
// Why: the AVX-512 kernel (qlinear_avx512.cc) spends a widening, a `vpmulld` and an add on each
// tap of each output. Here the codes of kernel rows 0 and 1 at one input column are packed as
// 16-bit pairs in each int32 lane (row 2 alone, its pair partner zero) and `vpdpwssd`
// multiplies a pair with the matching pair of weights and adds both products: two taps per
// instruction. Input columns are widened and packed once and kept in registers while the window
// slides along the row: at stride 1 a column serves three outputs (per output one column built:
// three loads, three widenings, a shift, an or), at stride 2 the window's last column is the
// next window's first (two columns built per output); six `vpdpwssd` per output either way.
// Codes 0..255 and weights −128..127 fit int16, products and sums are exact integers, so the
// int32 sums and the requantization (the reference's, lane for lane) give the reference's bytes.
// GCC 12 reports the _mm512_undefined_* vectors inside its own widening intrinsics as
// maybe-uninitialized (as in the other AVX-512 kernel files).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include <algorithm>

#include "qlinear_impl.h"

namespace lowbit::kernels::avx512vnni {
namespace {

// 16 int32 lanes (already in the output type's range) stored as bytes under mask k, through a
// register: `vpmovdb` with a memory destination is slow on Zen 4 (the stall sat on it in perf).
inline void store_bytes(void* out, __mmask16 k, __m512i r) {
  const __m128i b = _mm512_cvtepi32_epi8(r);
  if (k == 0xFFFF) _mm_storeu_si128(static_cast<__m128i*>(out), b);
  else _mm_mask_storeu_epi8(out, k, b);
}


// The reference's requantization of 16 int32 sums (already holding corr), stored under mask k.
inline void store_requant(__m512i acc, __m512 scale, __m512i zp, __m512i lo, __m512i hi, __mmask16 k, uint8_t* out) {
  const __m512 lim = _mm512_set1_ps(1e9f), nlim = _mm512_set1_ps(-1e9f);
  __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), scale);
  f = _mm512_min_ps(_mm512_max_ps(f, nlim), lim);
  const __m512i r = _mm512_max_epi32(_mm512_min_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(f), zp), hi), lo);
  store_bytes(out, k, r);
}

inline __m512i widen_u8(const uint8_t* p, __mmask16 k) { return _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, p)); }
inline __m512i widen_s8(const int8_t* p, __mmask16 k) { return _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, p)); }
// Two int16 values per int32 lane: lo in the low half, hi in the high half (lo, hi in int16).
inline __m512i pair(__m512i lo, __m512i hi) {
  return _mm512_or_si512(_mm512_and_si512(lo, _mm512_set1_epi32(0xFFFF)), _mm512_slli_epi32(hi, 16));
}

template <int kStride>
void depthwise3x3(const ConvGeom& g, const uint8_t* x, uint8_t pad, const int8_t* w, const Requant& p, uint8_t* y, int64_t oh0,
                  int64_t oh1) {
  const int64_t C = g.C, W = g.W();
  const __m512i zp = _mm512_set1_epi32(p.zp), lo = _mm512_set1_epi32(p.lo), hi = _mm512_set1_epi32(p.hi);
  const __m512i padv = _mm512_set1_epi32(pad);
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    const uint8_t* rows[3];  // image row of each kernel row, or null (padding)
    for (int kh = 0; kh < 3; ++kh) {
      const int64_t ih = oh * kStride - g.pad_t() + kh;
      rows[kh] = ih >= 0 && ih < g.H() ? x + ih * W * C : nullptr;
    }
    // The rows the next output row adds (kStride of them below row 2), fetched while this one runs.
    const int64_t ih_next = oh * kStride - g.pad_t() + 3;
    const uint8_t* ahead = ih_next >= 0 && ih_next + kStride <= g.H() ? x + ih_next * W * C : nullptr;
    for (int64_t c = 0; c < C; c += 16) {
      const __mmask16 k = C - c >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (C - c)) - 1);
      __m512i w01[3], w2[3];
      for (int kw = 0; kw < 3; ++kw) {
        w01[kw] = pair(widen_s8(w + kw * C + c, k), widen_s8(w + (3 + kw) * C + c, k));
        w2[kw] = _mm512_and_si512(widen_s8(w + (6 + kw) * C + c, k), _mm512_set1_epi32(0xFFFF));
      }
      const __m512i corr = _mm512_maskz_loadu_epi32(k, p.corr + c);
      const __m512 scale = _mm512_maskz_loadu_ps(k, p.scale + c);
      const __m512i pad01 = pair(padv, padv);
      // Input column iw of kernel rows 0 and 1 (paired) and of row 2, padding outside the image.
      auto column = [&](int64_t iw, __m512i& p01, __m512i& p2) {
        if (iw < 0 || iw >= W) {
          p01 = pad01;
          p2 = padv;
          return;
        }
        const __m512i r0 = rows[0] ? widen_u8(rows[0] + iw * C + c, k) : padv;
        const __m512i r1 = rows[1] ? widen_u8(rows[1] + iw * C + c, k) : padv;
        p01 = _mm512_or_si512(r0, _mm512_slli_epi32(r1, 16));
        p2 = rows[2] ? widen_u8(rows[2] + iw * C + c, k) : padv;
        if (ahead)
          for (int r = 0; r < kStride; ++r) _mm_prefetch(reinterpret_cast<const char*>(ahead + (r * W + iw) * C + c), _MM_HINT_T0);
      };
      __m512i a01, a2, b01, b2, c01, c2;  // columns iw0, iw0 + 1, iw0 + 2 of the window
      column(-g.pad_l(), a01, a2);
      if constexpr (kStride == 1) column(1 - g.pad_l(), b01, b2);
      for (int64_t ow = 0; ow < g.OW(); ++ow) {
        const int64_t iw0 = ow * kStride - g.pad_l();
        if constexpr (kStride == 2) column(iw0 + 1, b01, b2);
        column(iw0 + 2, c01, c2);
        __m512i acc = _mm512_dpwssd_epi32(corr, a01, w01[0]);
        acc = _mm512_dpwssd_epi32(acc, a2, w2[0]);
        acc = _mm512_dpwssd_epi32(acc, b01, w01[1]);
        acc = _mm512_dpwssd_epi32(acc, b2, w2[1]);
        acc = _mm512_dpwssd_epi32(acc, c01, w01[2]);
        acc = _mm512_dpwssd_epi32(acc, c2, w2[2]);
        store_requant(acc, scale, zp, lo, hi, k, y + (oh * g.OW() + ow) * C + c);
        if constexpr (kStride == 1) a01 = b01, a2 = b2, b01 = c01, b2 = c2;
        else a01 = c01, a2 = c2;
      }
    }
  }
}

}  // namespace

void depthwise3x3_nhwc_u8(const ConvGeom& g, const uint8_t* x, uint8_t pad, const int8_t* w, const Requant& p, uint8_t* y,
                          int64_t oh0, int64_t oh1) {
  if (g.stride_h() == 2) return depthwise3x3<2>(g, x, pad, w, p, y, oh0, oh1);
  depthwise3x3<1>(g, x, pad, w, p, y, oh0, oh1);
}

}  // namespace lowbit::kernels::avx512vnni
