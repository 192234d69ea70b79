// AVX-512 depthwise convolution to int32 sums (qlinear.h depthwise_nhwc_s32: ConvInteger with
// one filter per channel), any kernel size up to 64 taps, stride, dilation, channels-last.
//
// Two taps per `vpmaddwd`: the codes of taps 2j and 2j + 1 at 16 channels are widened to int32
// lanes and packed as int16 pairs (codes 0..255 fit), the weights arrive packed the same way
// (depthwise_pack_s16, |w| <= 255), and one multiply-add gives both products, each at most
// 255·255, their sum well inside int32. The sums are the reference's (wrapping int32 adds).
// Output columns whose window lies inside the image skip the bounds tests. GCC 12 reports the
// _mm512_undefined_* vectors inside its own widening intrinsics as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>

#include "qlinear_impl.h"

namespace lowbit::kernels::avx512 {

void depthwise_nhwc_s32(const ConvGeom& g, const uint8_t* x, uint8_t pad, const int16_t* w, const int32_t* corr, int32_t* y,
                        int64_t oh0, int64_t oh1) {
  constexpr int64_t kMaxTaps = 64;  // the dispatcher sends larger kernels to the reference
  const int64_t C = g.C, S = g.S(), T = std::min(g.R() * S, kMaxTaps), J = (T + 1) / 2, W = g.W();
  const int64_t sw = g.stride_w(), dw = g.dil_w();
  // Interior columns: ow with iw0 = ow·sw − pad_l >= 0 and iw0 + (S − 1)·dw < W.
  int64_t ow_lo = (g.pad_l() + sw - 1) / sw, ow_hi = W - 1 - (S - 1) * dw + g.pad_l();
  ow_hi = ow_hi < 0 ? 0 : std::min<int64_t>(g.OW(), ow_hi / sw + 1);
  ow_lo = std::min(ow_lo, ow_hi);
  const __m512i padv = _mm512_set1_epi32(pad);
  int64_t kw_of[kMaxTaps];
  const uint8_t* row_of[kMaxTaps];  // image row of each tap, or null (padding)
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    for (int64_t t = 0; t < J * 2; ++t) {
      const int64_t ih = oh * g.stride_h() - g.pad_t() + (t / S) * g.dil_h();
      kw_of[t] = (t % S) * dw;
      row_of[t] = t < T && ih >= 0 && ih < g.H() ? x + ih * W * C : nullptr;  // the odd tap's partner: pad × weight 0
    }
    for (int64_t c = 0; c < C; c += 16) {
      const __mmask16 k = C - c >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (C - c)) - 1);
      const __m512i corrv = _mm512_maskz_loadu_epi32(k, corr + c);
      auto column = [&](int64_t ow, bool interior) {
        const int64_t iw0 = ow * sw - g.pad_l();
        auto load = [&](int64_t t) {
          const int64_t iw = iw0 + kw_of[t];
          if (!row_of[t] || (!interior && (iw < 0 || iw >= W))) return padv;
          return _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, row_of[t] + iw * C + c));
        };
        __m512i acc = corrv;
        for (int64_t j = 0; j < J; ++j) {
          const __m512i pairs = _mm512_or_si512(load(2 * j), _mm512_slli_epi32(load(2 * j + 1), 16));
          const __m512i wj = _mm512_maskz_loadu_epi32(k, w + (j * C + c) * 2);
          acc = _mm512_add_epi32(acc, _mm512_madd_epi16(pairs, wj));
        }
        _mm512_mask_storeu_epi32(y + (oh * g.OW() + ow) * C + c, k, acc);
      };
      for (int64_t ow = 0; ow < ow_lo; ++ow) column(ow, false);
      for (int64_t ow = ow_lo; ow < ow_hi; ++ow) column(ow, true);
      for (int64_t ow = ow_hi; ow < g.OW(); ++ow) column(ow, false);
    }
  }
}

}  // namespace lowbit::kernels::avx512
