// AVX-512 requantization: sixteen columns per vector, the tail under a mask. cvtps_epi32 rounds
// half to even under the default MXCSR, as std::nearbyint does in the reference; one multiply
// and no add after it, so no FMA contraction can make the paths differ.
#include <immintrin.h>

#include <algorithm>

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "qlinear_impl.h"

namespace lowbit::kernels::avx512 {
namespace {

// 16 int32 lanes (already in the output type's range) stored as bytes under mask k, through a
// register: `vpmovdb` with a memory destination is slow on Zen 4 (the stall sat on it in perf).
inline void store_bytes(void* out, __mmask16 k, __m512i r) {
  const __m128i b = _mm512_cvtepi32_epi8(r);
  if (k == 0xFFFF) _mm_storeu_si128(static_cast<__m128i*>(out), b);
  else _mm_mask_storeu_epi8(out, k, b);
}


template <bool kSigned, typename T>
void requantize(int64_t M, int64_t N, const int32_t* acc, int64_t lda, const Requant& p, T* y, int64_t ldy) {
  const __m512 lim = _mm512_set1_ps(1e9f), nlim = _mm512_set1_ps(-1e9f);
  const __m512i zp = _mm512_set1_epi32(p.zp), lo = _mm512_set1_epi32(p.lo), hi = _mm512_set1_epi32(p.hi);
  for (int64_t m = 0; m < M; ++m) {
    const int32_t* a = acc + m * lda;
    T* out = y + m * ldy;
    for (int64_t n = 0; n < N; n += 16) {
      const __mmask16 k = N - n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (N - n)) - 1);
      const __m512i v = _mm512_add_epi32(_mm512_maskz_loadu_epi32(k, a + n), _mm512_maskz_loadu_epi32(k, p.corr + n));
      __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(v), _mm512_maskz_loadu_ps(k, p.scale + n));
      x = _mm512_min_ps(_mm512_max_ps(x, nlim), lim);
      __m512i r = _mm512_add_epi32(_mm512_cvtps_epi32(x), zp);
      r = _mm512_max_epi32(_mm512_min_epi32(r, hi), lo);
      store_bytes(out + n, k, r);
    }
  }
}

}  // namespace

// Sixteen codes per step (the tail under a mask): the reference's fp32 product, fma and
// rounding, lane for lane.
void qadd_u8(int64_t n, const uint8_t* a, const uint8_t* b, const QAddParams& p, uint8_t* y) {
  const __m512 ra = _mm512_set1_ps(p.ra), rb = _mm512_set1_ps(p.rb), lim = _mm512_set1_ps(1e9f), nlim = _mm512_set1_ps(-1e9f);
  const __m512i za = _mm512_set1_epi32(p.za), zb = _mm512_set1_epi32(p.zb), zy = _mm512_set1_epi32(p.zy);
  const __m512i lo = _mm512_set1_epi32(p.lo), hi = _mm512_set1_epi32(p.hi);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    const __m512i va = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, a + i));
    const __m512i vb = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, b + i));
    const __m512 fa = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(va, za)), ra);
    __m512 x = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(vb, zb)), rb, fa);
    x = _mm512_min_ps(_mm512_max_ps(x, nlim), lim);
    const __m512i r = _mm512_max_epi32(_mm512_min_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(x), zy), hi), lo);
    store_bytes(y + i, k, r);
  }
}

namespace {

// The reference's requantization of 16 int32 sums (already holding corr), stored under mask k.
inline void store_requant(__m512i acc, __m512 scale, __m512i zp, __m512i lo, __m512i hi, __mmask16 k, uint8_t* out) {
  const __m512 lim = _mm512_set1_ps(1e9f), nlim = _mm512_set1_ps(-1e9f);
  __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), scale);
  f = _mm512_min_ps(_mm512_max_ps(f, nlim), lim);
  const __m512i r = _mm512_max_epi32(_mm512_min_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(f), zp), hi), lo);
  store_bytes(out, k, r);
}

// Fixed KH×KW: the block's KH·KW widened weights stay in registers; per output row, each kernel
// row is either an image row (a pointer) or entirely padding, and the columns whose window lies
// inside the image (interior) run without any bounds test. Border columns test each tap.
template <int KH, int KW>
void depthwise_fixed(const ConvGeom& g, const uint8_t* x, uint8_t pad, const int8_t* w, const Requant& p, uint8_t* y,
                     int64_t oh0, int64_t oh1) {
  const int64_t C = g.C;
  const __m512i zp = _mm512_set1_epi32(p.zp), lo = _mm512_set1_epi32(p.lo), hi = _mm512_set1_epi32(p.hi);
  const __m512i padv = _mm512_set1_epi32(pad);
  // Interior columns: ow with iw0 = ow·s − pad_l >= 0 and iw0 + (KW−1)·dil < W.
  const int64_t sw = g.stride_w(), dw = g.dil_w();
  int64_t ow_lo = (g.pad_l() + sw - 1) / sw, ow_hi = g.W() - 1 - (KW - 1) * dw + g.pad_l();
  ow_hi = ow_hi < 0 ? 0 : std::min<int64_t>(g.OW(), ow_hi / sw + 1);
  ow_lo = std::min<int64_t>(ow_lo, ow_hi);
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    const uint8_t* rows[KH];  // image row of each kernel row, or null (padding)
    for (int kh = 0; kh < KH; ++kh) {
      const int64_t ih = oh * g.stride_h() - g.pad_t() + kh * g.dil_h();
      rows[kh] = ih >= 0 && ih < g.H() ? x + ih * g.W() * C : nullptr;
    }
    for (int64_t c = 0; c < C; c += 16) {
      const __mmask16 k = C - c >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (C - c)) - 1);
      __m512i wv[KH * KW];
      for (int t = 0; t < KH * KW; ++t) wv[t] = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, w + t * C + c));
      const __m512i corr = _mm512_maskz_loadu_epi32(k, p.corr + c);
      const __m512 scale = _mm512_maskz_loadu_ps(k, p.scale + c);
      auto column = [&](int64_t ow, bool interior) {
        __m512i acc = corr;
        const int64_t iw0 = ow * sw - g.pad_l();
        for (int kh = 0; kh < KH; ++kh)
          for (int kw = 0; kw < KW; ++kw) {
            const int64_t iw = iw0 + kw * dw;
            const bool in = rows[kh] && (interior || (iw >= 0 && iw < g.W()));
            const __m512i xv = in ? _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, rows[kh] + iw * C + c)) : padv;
            acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(xv, wv[kh * KW + kw]));
          }
        store_requant(acc, scale, zp, lo, hi, k, y + (oh * g.OW() + ow) * C + c);
      };
      for (int64_t ow = 0; ow < ow_lo; ++ow) column(ow, false);
      for (int64_t ow = ow_lo; ow < ow_hi; ++ow) column(ow, true);
      for (int64_t ow = ow_hi; ow < g.OW(); ++ow) column(ow, false);
    }
  }
}

}  // namespace

// Sixteen channels per vector: widened codes times widened weights in int32 lanes (exact), then
// the reference's requantization. 3×3 and 5×5 windows take the fixed-size path above; other
// sizes widen a channel block's weights once per output row and reuse them along it (up to
// kMaxTaps taps in registers/stack).
void depthwise_nhwc_u8(const ConvGeom& g, const uint8_t* x, uint8_t pad, const int8_t* w, const Requant& p, uint8_t* y,
                       int64_t oh0, int64_t oh1) {
  if (g.R() == 3 && g.S() == 3) return depthwise_fixed<3, 3>(g, x, pad, w, p, y, oh0, oh1);
  if (g.R() == 5 && g.S() == 5) return depthwise_fixed<5, 5>(g, x, pad, w, p, y, oh0, oh1);
  constexpr int64_t kMaxTaps = 49;
  const int64_t C = g.C, T = g.R() * g.S();
  const __m512i zp = _mm512_set1_epi32(p.zp), lo = _mm512_set1_epi32(p.lo), hi = _mm512_set1_epi32(p.hi);
  const __m512i padv = _mm512_set1_epi32(pad);
  __m512i wv[kMaxTaps];
  for (int64_t oh = oh0; oh < oh1; ++oh)
    for (int64_t c = 0; c < C; c += 16) {
      const __mmask16 k = C - c >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (C - c)) - 1);
      const bool cached = T <= kMaxTaps;
      if (cached)
        for (int64_t t = 0; t < T; ++t) wv[t] = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, w + t * C + c));
      const __m512i corr = _mm512_maskz_loadu_epi32(k, p.corr + c);
      const __m512 scale = _mm512_maskz_loadu_ps(k, p.scale + c);
      for (int64_t ow = 0; ow < g.OW(); ++ow) {
        __m512i acc = corr;
        for (int64_t kh = 0; kh < g.R(); ++kh) {
          const int64_t ih = oh * g.stride_h() - g.pad_t() + kh * g.dil_h();
          for (int64_t kw = 0; kw < g.S(); ++kw) {
            const int64_t iw = ow * g.stride_w() - g.pad_l() + kw * g.dil_w(), t = kh * g.S() + kw;
            const __m512i wt = cached ? wv[t] : _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, w + t * C + c));
            const bool in = ih >= 0 && ih < g.H() && iw >= 0 && iw < g.W();
            const __m512i xv = in ? _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, x + (ih * g.W() + iw) * C + c)) : padv;
            acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(xv, wt));
          }
        }
        // acc already holds Σ + corr (int32 addition is associative: the reference's value)
        store_requant(acc, scale, zp, lo, hi, k, y + (oh * g.OW() + ow) * C + c);
      }
    }
}

void requantize_u8(int64_t M, int64_t N, const int32_t* acc, int64_t lda, const Requant& p, uint8_t* y, int64_t ldy) {
  requantize<false>(M, N, acc, lda, p, y, ldy);
}
void requantize_s8(int64_t M, int64_t N, const int32_t* acc, int64_t lda, const Requant& p, int8_t* y, int64_t ldy) {
  requantize<true>(M, N, acc, lda, p, y, ldy);
}

}  // namespace lowbit::kernels::avx512
