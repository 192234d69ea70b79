// Private to QConv2d: per-sample im2col of integer codes (k-major rows, the layout both its
// GEMMs read), col2im of a column gradient, and the tap masks of same-size convs. Plain loops (and the kernels' transpose) shaped for the compiler
// (contiguous row copies, no per-element bounds checks); one sample at a time, no threads.
#pragma once

#include <cstdint>
#include <vector>

#include "lowbit/kernels/conv_geom.h"

namespace lowbit::fqt {

// A conv's geometry is the kernels' one type: input (N, C, H, W), weight (K, C, R, S), output
// (N, K, OH, OW), read through its named views. These lowerings take only rank 2, one group,
// dilation 1 and one stride and one pad for both axes at both ends (require_lowerable).
using kernels::ConvGeom;

// Throws (naming quantized_conv2d) unless the lowerings below support g.
void require_lowerable(const ConvGeom& g);

// The one stride and pad of a lowerable geometry.
inline int64_t conv_stride(const ConvGeom& g) { return g.stride_h(); }
inline int64_t conv_pad(const ConvGeom& g) { return g.pad_t(); }
inline int64_t positions(const ConvGeom& g) { return g.OH() * g.OW(); }   // L: output positions of one sample
inline int64_t patch_rows(const ConvGeom& g) { return g.C * g.R() * g.S(); }  // CRS: reduction length of the forward GEMM
inline int64_t sample_size(const ConvGeom& g) { return g.C * g.H() * g.W(); }  // CHW

// Scratch im2col needs: the zero-padded sample plus kIm2colSlack bytes it may over-read.
inline constexpr int64_t kIm2colSlack = 32;
inline int64_t padded_bytes(const ConvGeom& g) {
  return g.C * (g.H() + 2 * conv_pad(g)) * (g.W() + 2 * conv_pad(g)) + kIm2colSlack;
}

// Codes of one sample x (C, H, W) as columns: out (CRS, L), row k = (c·R + r)·S + s holding
// that tap at every output position. Padding is code 0 (value 0, signed or unsigned).
// `padded` is scratch of padded_bytes(g).
void im2col_rows_i8(const ConvGeom& g, const int8_t* x, int8_t* padded, int8_t* out);

// dx (C, H, W) += col2im(dcol) for a column gradient dcol (CRS, L). Each dx element receives
// its terms in increasing output position order (r and s descending), the order of the
// position-major loop this replaces, so the fp32 sums are the same. dx must not hold -0 (it
// starts from zeros); dcol is scratch: entries that fall off the image may be zeroed.
void col2im_rows_add(const ConvGeom& g, float* dcol, float* dx);

// Convs whose output is as large as the input (stride 1, R = S = 2·pad + 1): position l of tap
// t = r·S + s reads input cell l + delta[t] of its channel where bit l % 64 of mask[t][l / 64]
// is set, and padding elsewhere (the same for every channel).
bool col2im_fusable(const ConvGeom& g);
struct TapMasks {
  std::vector<int64_t> delta;               // [R·S]
  std::vector<std::vector<uint64_t>> mask;  // [R·S][⌈L/64⌉]
};
TapMasks tap_masks(const ConvGeom& g);  // g: col2im_fusable

// im2col_rows_i8 of such a conv from its precomputed taps: one masked shifted copy per row.
void im2col_rows_i8(const ConvGeom& g, const TapMasks& taps, const int8_t* x, int8_t* out);

// col2im fused into the input-gradient GEMM (kernels::igemm_scatter_add_packed) for such convs:
// position l of tap (c, t) adds to dx element c·H·W + l + delta[t]. The GEMM's rows are dcol's
// rows in descending tap order (all channels of a tap together): its scatter order (column
// blocks, then rows) then gives every dx element its terms in increasing l, the order of
// col2im_rows_add, so dx is the same fp32 sum.
struct Col2imScatter {
  TapMasks taps;
  std::vector<int64_t> row;           // [CRS]: GEMM row m computes dcol row row[m]
  std::vector<int64_t> offset;        // [CRS]: dx index of GEMM row m's column 0
  std::vector<const uint64_t*> mask;  // [CRS]: GEMM row m's tap mask
};
Col2imScatter col2im_scatter(const ConvGeom& g);  // g: col2im_fusable

}  // namespace lowbit::fqt
