// AVX-512 depthwise convolution on channels-last activations, read in place (no slab copy): 16
// channels per vector, the output row split into a left border, an interior of tiles of up to
// 8 pixels whose taps are all inside the row (each tap's weight vector loaded once per tile,
// one input load per multiply-add), and a right border done pixel by pixel with the taps
// clipped to the image. Memory-bound at these sizes (MobileNet/EfficientNet/ShuffleNet: 1-9 MACs
// per byte), so it reads each input once per kernel row instead of copying it into a slab
// first, the cost that made the slab version lose to oneDNN (docs/BENCHMARKS.md). Bias,
// residual sum and the activation are fused in the store. Reference: ref::conv2d_forward.
#include <algorithm>
#include <array>
#include <utility>

#include "fp32_conv_avx512_impl.h"
#include "fp32_conv_direct.h"
#include "lowbit/core/threads.h"

namespace lowbit::kernels::avx512 {
namespace {

constexpr int64_t kL = detail::kDirectBlock;
constexpr int kT = 8;  // interior pixels per tile

// What one output row of one channel block reads: x at its first valid kernel row, channel
// block cb; w at the same kernel row of that block ([R][S][16] per block).
struct DwRow {
  const float* x;
  int64_t rs, cs;  // between input rows (W·C) and input columns (C)
  int64_t rows, S, sw, pl, W;
  const float* w;
  __m512 bias;
  __mmask16 m;
  float* y;  // output row, this block
  int64_t ys;  // between output pixels (C)
  const Epilogue* ep;
};

// T interior pixels from output column ow: every tap column ow·sw − pl + s is inside the row.
template <int T>
void dw_tile(const DwRow& a, int64_t ow) {
  __m512 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = a.bias;
  const int64_t ps = a.sw * a.cs;  // between the pixels of the tile
  const float* x0 = a.x + (ow * a.sw - a.pl) * a.cs;
  for (int64_t r = 0; r < a.rows; ++r) {
    const float* xr = x0 + r * a.rs;
    const float* wr = a.w + r * a.S * kL;
    for (int64_t s = 0; s < a.S; ++s) {
      const __m512 wv = _mm512_loadu_ps(wr + s * kL);
      const float* xs = xr + s * a.cs;
      for (int t = 0; t < T; ++t) acc[t] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(a.m, xs + t * ps), wv, acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) a.ep->store(a.y + (ow + t) * a.ys, a.m, acc[t]);
}

using DwTileFn = void (*)(const DwRow&, int64_t);
template <int... T>
constexpr std::array<DwTileFn, sizeof...(T) + 1> tile_table(std::integer_sequence<int, T...>) {
  return {nullptr, &dw_tile<T + 1>...};
}
constexpr auto kTiles = tile_table(std::make_integer_sequence<int, kT>{});

// One border pixel: the tap columns clipped to [0, W).
void dw_pixel(const DwRow& a, int64_t ow) {
  const int64_t iw0 = ow * a.sw - a.pl;
  const int64_t s0 = std::max<int64_t>(0, -iw0), s1 = std::min(a.S, a.W - iw0);
  __m512 acc = a.bias;
  for (int64_t r = 0; r < a.rows; ++r)
    for (int64_t s = s0; s < s1; ++s)
      acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(a.m, a.x + r * a.rs + (iw0 + s) * a.cs),
                            _mm512_loadu_ps(a.w + (r * a.S + s) * kL), acc);
  a.ep->store(a.y + ow * a.ys, a.m, acc);
}

void dw_rows(const ConvGeom& s, const float* w, const float* bias, const Epilogue& ep, const float* x, float* y,
             int64_t n, int64_t oh0, int64_t oh1) {
  const int64_t C = s.C, H = s.H(), W = s.W(), R = s.R(), S = s.S(), OW = s.OW(), OH = s.OH();
  const int64_t sh = s.stride_h(), sw = s.stride_w(), pt = s.pad_t(), pl = s.pad_l();
  const int64_t CB = (C + kL - 1) / kL;
  // Interior columns [lo, hi): the first with ow·sw ≥ pl, up to the last whose taps end by W.
  const int64_t lo = std::min(OW, (pl + sw - 1) / sw);
  const int64_t hi = std::max(lo, std::min(OW, W - S + pl >= 0 ? (W - S + pl) / sw + 1 : 0));
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    const int64_t ih0 = oh * sh - pt;
    const int64_t r0 = std::max<int64_t>(0, -ih0), r1 = std::min(R, H - ih0);
    const int64_t rows = std::max<int64_t>(0, r1 - r0);
    const float* xrow = x + (n * H + (rows > 0 ? ih0 + r0 : 0)) * W * C;
    for (int64_t cb = 0; cb < CB; ++cb) {
      const DwRow a{xrow + cb * kL, W * C, C, rows, S, sw, pl, W, w + (cb * R + r0) * S * kL,
                    _mm512_loadu_ps(bias + cb * kL), tail_mask(C - cb * kL), y + ((n * OH + oh) * OW) * C + cb * kL, C,
                    &ep};
      for (int64_t ow = 0; ow < lo; ++ow) dw_pixel(a, ow);
      for (int64_t ow = lo; ow < hi; ow += kT) kTiles[static_cast<size_t>(std::min<int64_t>(kT, hi - ow))](a, ow);
      for (int64_t ow = hi; ow < OW; ++ow) dw_pixel(a, ow);
    }
  }
}

}  // namespace

void conv_dw_nhwc(const ConvGeom& s, const float* w, const float* bias, const ConvEpilogue& ep_in, const float* x,
                  float* y) {
  const Epilogue ep(ep_in);
  const int64_t OH = s.OH();
  // About 64k multiply-adds per task at least, so short rows are grouped.
  const int64_t row_macs = s.OW() * s.C * s.R() * s.S();
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(row_macs, 1));
  parallel_for(s.N * OH, grain, [&](int64_t r0, int64_t r1) {
    while (r0 < r1) {  // split at image boundaries
      const int64_t n = r0 / OH, oh0 = r0 % OH, oh1 = std::min(OH, oh0 + (r1 - r0));
      dw_rows(s, w, bias, ep, x, y, n, oh0, oh1);
      r0 += oh1 - oh0;
    }
  });
}

}  // namespace lowbit::kernels::avx512
