// The kernel layer's one convolution / pooling geometry (ConvGeom): what the fp32 and integer
// conv kernels, the pools, the training engine's conv ops and the ONNX engine (which resolves it
// from node attributes, onnx/ops/conv_geom.cc) all describe a window walk with.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace lowbit::kernels {

// x is (N, C, in_0..in_{r-1}) (or channels-last for the NHWC kernels), w is (K, C/groups,
// kernel...), y is (N, K, out...); a pool has K = C. Pads may differ at the two ends of an axis.
// out is part of the geometry: the builders below keep out = conv_out(d) (the floor rule);
// ceil-mode pools and transposed convolutions set it themselves. Axes past `rank` hold 1
// (pads 0), so two equal geometries compare equal.
// The 2-d kernels take rank 2 and read it through the named views H(), W(), R(), S(), ...; a
// 1-d convolution reaches them as rank 2 with H = 1 (as_2d).
struct ConvGeom {
  static constexpr int64_t kMaxRank = 8;
  using Axes = std::array<int64_t, kMaxRank>;
  static constexpr Axes kOnes = {1, 1, 1, 1, 1, 1, 1, 1};

  int64_t N = 1, C = 1, K = 1, groups = 1;
  int64_t rank = 2;  // number of spatial axes r
  Axes in = kOnes, kernel = kOnes, stride = kOnes, dilation = kOnes, pad_begin{}, pad_end{}, out = kOnes;

  // A 2-d convolution, stride 1, no padding, dilation 1, one group; the setters refit out.
  static ConvGeom conv2d(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t R, int64_t S);
  // A 2-d pool of kh×kw windows over (N, C, H, W) (K = C), stride 1, no padding.
  static ConvGeom pool2d(int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw);
  ConvGeom& strides(int64_t sh, int64_t sw);
  ConvGeom& pads(int64_t ph, int64_t pw);                                  // both ends
  ConvGeom& pads(int64_t top, int64_t left, int64_t bottom, int64_t right);  // asymmetric
  ConvGeom& dilations(int64_t dh, int64_t dw);
  ConvGeom& grouped(int64_t g);
  // out[d] = conv_out(d) for every axis.
  void fit_out();
  // (in + pad_begin + pad_end - dilation·(kernel - 1) - 1) / stride + 1.
  int64_t conv_out(int64_t d) const {
    return (in[d] + pad_begin[d] + pad_end[d] - dilation[d] * (kernel[d] - 1) - 1) / stride[d] + 1;
  }
  bool symmetric() const { return pad_begin == pad_end; }
  bool operator==(const ConvGeom&) const = default;

  // Named views of a rank-2 geometry (H, W the input; R, S the kernel).
  int64_t H() const { return in[0]; }
  int64_t W() const { return in[1]; }
  int64_t R() const { return kernel[0]; }
  int64_t S() const { return kernel[1]; }
  int64_t OH() const { return out[0]; }
  int64_t OW() const { return out[1]; }
  int64_t stride_h() const { return stride[0]; }
  int64_t stride_w() const { return stride[1]; }
  int64_t dil_h() const { return dilation[0]; }
  int64_t dil_w() const { return dilation[1]; }
  int64_t pad_t() const { return pad_begin[0]; }
  int64_t pad_l() const { return pad_begin[1]; }
  int64_t pad_b() const { return pad_end[0]; }
  int64_t pad_r() const { return pad_end[1]; }
  // Length of one im2col row of a group: C/groups · R · S (the GEMM's K).
  int64_t patch() const { return C / groups * R() * S(); }
};

// Product of the first `rank` dims (1 for none). The geometry is validated by its producer, so
// no overflow check.
inline int64_t dims_product(const ConvGeom::Axes& dims, int64_t rank) {
  int64_t n = 1;
  for (int64_t d = 0; d < rank; ++d) n *= dims[static_cast<std::size_t>(d)];
  return n;
}

// Odometer over a spatial index box of `rank` axes: calls fn(flat_index, idx) for every
// position, last axis fastest.
template <typename Fn>
void for_each_pos(const ConvGeom::Axes& dims, int64_t rank, Fn&& fn) {
  const int64_t total = dims_product(dims, rank);
  ConvGeom::Axes idx{};
  for (int64_t f = 0; f < total; ++f) {
    fn(f, idx);
    for (auto d = static_cast<std::size_t>(rank); d-- > 0;) {
      if (++idx[d] < dims[d]) break;
      idx[d] = 0;
    }
  }
}

// A 1-d geometry as the 2-d one with H = 1 (axis 0 of extent 1, kernel 1, no padding); a 2-d
// geometry unchanged. Requires rank 1 or 2.
ConvGeom as_2d(const ConvGeom& g);

}  // namespace lowbit::kernels
