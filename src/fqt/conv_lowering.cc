// im2col / col2im for QConv2d, one sample at a time. For a tap (r, s) the valid output columns
// form one range [ow_lo, ow_hi) (those whose input column lies inside the image), so rows are
// copied with memcpy (stride 1) or a strided loop, and the border is filled separately.
#include "conv_lowering.h"

#include <algorithm>
#include <cstring>

namespace lowbit::fqt {
namespace {

struct ColRange {
  int64_t lo, hi;  // output columns ow in [lo, hi) read input column ow·stride - pad + s
};

ColRange valid_cols(const ConvGeometry& g, int64_t s) {
  const int64_t before = g.pad - s;  // ow·stride >= pad - s
  const int64_t lo = before > 0 ? (before + g.stride - 1) / g.stride : 0;
  const int64_t last = g.W - 1 + g.pad - s;  // ow·stride <= W - 1 + pad - s
  const int64_t hi = last < 0 ? 0 : std::min(g.OW, last / g.stride + 1);
  return {std::min(lo, hi), hi};
}

// Positions-major im2col from a zero-padded copy: no bounds checks in the inner loop. kS is
// the kernel width when known at compile time (0: use g.S).
template <int kS>
void positions_from_padded(const ConvGeometry& g, const int8_t* xp, int8_t* out) {
  const int64_t S = kS > 0 ? kS : g.S, Hp = g.H + 2 * g.pad, Wp = g.W + 2 * g.pad, CRS = g.CRS();
  for (int64_t oh = 0; oh < g.OH; ++oh)
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      int8_t* d = out + (oh * g.OW + ow) * CRS;
      const int8_t* base = xp + (oh * g.stride) * Wp + ow * g.stride;
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t r = 0; r < g.R; ++r) {
          const int8_t* src = base + (c * Hp + r) * Wp;
          for (int64_t s = 0; s < S; ++s) d[s] = src[s];
          d += S;
        }
    }
}

}  // namespace

void im2col_rows_i8(const ConvGeometry& g, const int8_t* x, int8_t* out) {
  const int64_t L = g.L(), OW = g.OW;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t s = 0; s < g.S; ++s) {
        int8_t* row = out + ((c * g.R + r) * g.S + s) * L;
        const ColRange cr = valid_cols(g, s);
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          int8_t* d = row + oh * OW;
          const int64_t ih = oh * g.stride - g.pad + r;
          if (ih < 0 || ih >= g.H || cr.hi == 0) {
            std::memset(d, 0, static_cast<size_t>(OW));
            continue;
          }
          std::memset(d, 0, static_cast<size_t>(cr.lo));
          std::memset(d + cr.hi, 0, static_cast<size_t>(OW - cr.hi));
          const int8_t* src = x + (c * g.H + ih) * g.W + (cr.lo * g.stride - g.pad + s);
          if (g.stride == 1) {
            std::memcpy(d + cr.lo, src, static_cast<size_t>(cr.hi - cr.lo));
          } else {
            for (int64_t ow = cr.lo; ow < cr.hi; ++ow) d[ow] = src[(ow - cr.lo) * g.stride];
          }
        }
      }
}

void im2col_positions_i8(const ConvGeometry& g, const int8_t* x, int8_t* padded, int8_t* out) {
  const int64_t Hp = g.H + 2 * g.pad, Wp = g.W + 2 * g.pad;
  std::memset(padded, 0, static_cast<size_t>(g.C * Hp * Wp));
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t h = 0; h < g.H; ++h)
      std::memcpy(padded + (c * Hp + h + g.pad) * Wp + g.pad, x + (c * g.H + h) * g.W, static_cast<size_t>(g.W));
  if (g.S == 3) return positions_from_padded<3>(g, padded, out);
  if (g.S == 1) return positions_from_padded<1>(g, padded, out);
  positions_from_padded<0>(g, padded, out);
}

void col2im_rows_add(const ConvGeometry& g, const float* dcol, float* dx) {
  const int64_t L = g.L();
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t r = g.R - 1; r >= 0; --r)
      for (int64_t s = g.S - 1; s >= 0; --s) {
        const float* row = dcol + ((c * g.R + r) * g.S + s) * L;
        const ColRange cr = valid_cols(g, s);
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t ih = oh * g.stride - g.pad + r;
          if (ih < 0 || ih >= g.H) continue;
          float* d = dx + (c * g.H + ih) * g.W + (cr.lo * g.stride - g.pad + s);
          const float* src = row + oh * g.OW;
          if (g.stride == 1) {
            for (int64_t ow = cr.lo; ow < cr.hi; ++ow) d[ow - cr.lo] += src[ow];
          } else {
            for (int64_t ow = cr.lo; ow < cr.hi; ++ow) d[(ow - cr.lo) * g.stride] += src[ow];
          }
        }
      }
}

}  // namespace lowbit::fqt
