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
constexpr int kNB = 4;  // channel blocks per tile: independent accumulator chains even for one pixel
constexpr int kT = 6;   // interior pixels per tile (kNB · kT accumulators + kNB weights < 32 zmm)

// What one output row of a group of channel blocks reads: x at its first valid kernel row and
// first block; w at the same kernel row of the first block ([R][S][16] per block, wbs apart).
struct DwRow {
  const float* x;
  int64_t rs, cs;  // between input rows (W·C) and input columns (C)
  int64_t rows, S, sw, pl;
  const float* w;
  int64_t wbs;
  const float* bias;
  __mmask16 last;  // mask of the group's last block (the channel tail, or all 16)
  float* y;        // output row, first block
  int64_t ys;      // between output pixels (C)
  const Epilogue* ep;
};

// NB blocks × T pixels from output column ow, tap columns [s0, s1) (the whole kernel in the
// interior, clipped to the image for a border pixel).
template <int NB, int T>
void dw_tile(const DwRow& a, int64_t ow, int64_t s0, int64_t s1) {
  __m512 acc[NB][T];
  __mmask16 m[NB];
#pragma GCC unroll 4
  for (int j = 0; j < NB; ++j) {
    m[j] = j == NB - 1 ? a.last : __mmask16(0xFFFF);
    const __m512 b = _mm512_loadu_ps(a.bias + j * kL);
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) acc[j][t] = b;
  }
  const int64_t cs = a.cs, rs = a.rs, S = a.S, rows = a.rows, ps = a.sw * cs, wbs = a.wbs;  // ps: between pixels
  const float* x0 = a.x + (ow * a.sw - a.pl) * cs;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t s = s0; s < s1; ++s) {
      const float* xs = x0 + r * rs + s * cs;
      const float* ws = a.w + (r * S + s) * kL;
#pragma GCC unroll 4
      for (int j = 0; j < NB; ++j) {
        const __m512 wv = _mm512_loadu_ps(ws + j * wbs);
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t)
          acc[j][t] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m[j], xs + t * ps + j * kL), wv, acc[j][t]);
      }
    }
  }
#pragma GCC unroll 4
  for (int j = 0; j < NB; ++j)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) a.ep->store(a.y + (ow + t) * a.ys + j * kL, m[j], acc[j][t]);
}

using DwTileFn = void (*)(const DwRow&, int64_t, int64_t, int64_t);
template <int NB, int... T>
constexpr std::array<DwTileFn, sizeof...(T) + 1> tile_row(std::integer_sequence<int, T...>) {
  return {nullptr, &dw_tile<NB, T + 1>...};
}
template <int NB>
constexpr auto kTiles = tile_row<NB>(std::make_integer_sequence<int, kT>{});

DwTileFn tile_fn(int64_t nb, int64_t t) {
  switch (nb) {
    case 1: return kTiles<1>[static_cast<size_t>(t)];
    case 2: return kTiles<2>[static_cast<size_t>(t)];
    case 3: return kTiles<3>[static_cast<size_t>(t)];
    default: return kTiles<4>[static_cast<size_t>(t)];
  }
}

void dw_rows(const ConvGeom& s, const float* w, const float* bias, const Epilogue& ep, const float* x, float* y,
             int64_t n, int64_t oh0, int64_t oh1) {
  const int64_t C = s.C, H = s.H(), W = s.W(), R = s.R(), S = s.S(), OW = s.OW(), OH = s.OH();
  const int64_t sh = s.stride_h(), sw = s.stride_w(), pt = s.pad_t(), pl = s.pad_l();
  const int64_t CB = (C + kL - 1) / kL;
  // Interior columns [lo, hi): the first with ow·sw ≥ pl, up to the last whose taps end by W.
  const int64_t lo = std::min(OW, (pl + sw - 1) / sw);
  const int64_t hi = std::max(lo, std::min(OW, W - S + pl >= 0 ? (W - S + pl) / sw + 1 : 0));
  const int64_t tiles = (hi - lo + kT - 1) / kT, T = tiles > 0 ? (hi - lo + tiles - 1) / tiles : 0;  // even tiles
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    const int64_t ih0 = oh * sh - pt;
    const int64_t r0 = std::max<int64_t>(0, -ih0), r1 = std::min(R, H - ih0);
    const int64_t rows = std::max<int64_t>(0, r1 - r0);
    const float* xrow = x + (n * H + (rows > 0 ? ih0 + r0 : 0)) * W * C;
    for (int64_t cb = 0; cb < CB; cb += kNB) {
      const int64_t nb = std::min<int64_t>(kNB, CB - cb);
      const DwRow a{xrow + cb * kL, W * C, C, rows, S, sw, pl, w + (cb * R + r0) * S * kL, R * S * kL,
                    bias + cb * kL, tail_mask(C - (cb + nb - 1) * kL), y + ((n * OH + oh) * OW) * C + cb * kL, C,
                    &ep};
      const DwTileFn border = tile_fn(nb, 1);
      auto pixel = [&](int64_t ow) {  // tap columns clipped to [0, W)
        const int64_t iw0 = ow * sw - pl;
        border(a, ow, std::max<int64_t>(0, -iw0), std::min(S, W - iw0));
      };
      for (int64_t ow = 0; ow < lo; ++ow) pixel(ow);
      for (int64_t ow = lo; ow < hi; ow += T) tile_fn(nb, std::min(T, hi - ow))(a, ow, 0, S);
      for (int64_t ow = hi; ow < OW; ++ow) pixel(ow);
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
