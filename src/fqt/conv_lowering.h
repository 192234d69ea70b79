// Private to QConv2d: per-sample im2col of integer codes (k-major rows, the layout both its
// GEMMs read), col2im of a column gradient, and the tap masks of same-size convs. Plain loops (and the kernels' transpose) shaped for the compiler
// (contiguous row copies, no per-element bounds checks); one sample at a time, no threads.
#pragma once

#include <cstdint>
#include <vector>

namespace lowbit::fqt {

// One conv's geometry: input (N, C, H, W), weight (K, C, R, S), output (N, K, OH, OW).
struct ConvGeometry {
  int64_t N, C, H, W, K, R, S, stride, pad, OH, OW;
  int64_t L() const { return OH * OW; }        // output positions of one sample
  int64_t CRS() const { return C * R * S; }    // reduction length of the forward GEMM
  int64_t CHW() const { return C * H * W; }
  // Scratch im2col needs: the zero-padded sample plus kIm2colSlack bytes it may over-read.
  int64_t padded_bytes() const;
};

inline constexpr int64_t kIm2colSlack = 32;
inline int64_t ConvGeometry::padded_bytes() const { return C * (H + 2 * pad) * (W + 2 * pad) + kIm2colSlack; }

// Codes of one sample x (C, H, W) as columns: out (CRS, L), row k = (c·R + r)·S + s holding
// that tap at every output position. Padding is code 0 (value 0, signed or unsigned).
// `padded` is scratch of g.padded_bytes().
void im2col_rows_i8(const ConvGeometry& g, const int8_t* x, int8_t* padded, int8_t* out);

// dx (C, H, W) += col2im(dcol) for a column gradient dcol (CRS, L). Each dx element receives
// its terms in increasing output position order (r and s descending), the order of the
// position-major loop this replaces, so the fp32 sums are the same. dx must not hold -0 (it
// starts from zeros); dcol is scratch: entries that fall off the image may be zeroed.
void col2im_rows_add(const ConvGeometry& g, float* dcol, float* dx);

// Convs whose output is as large as the input (stride 1, R = S = 2·pad + 1): position l of tap
// t = r·S + s reads input cell l + delta[t] of its channel where bit l % 64 of mask[t][l / 64]
// is set, and padding elsewhere (the same for every channel).
bool col2im_fusable(const ConvGeometry& g);
struct TapMasks {
  std::vector<int64_t> delta;               // [R·S]
  std::vector<std::vector<uint64_t>> mask;  // [R·S][⌈L/64⌉]
};
TapMasks tap_masks(const ConvGeometry& g);  // g: col2im_fusable

// im2col_rows_i8 of such a conv from its precomputed taps: one masked shifted copy per row.
void im2col_rows_i8(const ConvGeometry& g, const TapMasks& taps, const int8_t* x, int8_t* out);

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
Col2imScatter col2im_scatter(const ConvGeometry& g);  // g: col2im_fusable

}  // namespace lowbit::fqt
