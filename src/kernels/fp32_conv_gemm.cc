// Convolutions as one GEMM (fp32_conv_gemm.h): the geometry tests, the measured rules and the
// unrolled weight matrix. Only data movement here; the arithmetic is MatmulPlan's.
#include "fp32_conv_gemm.h"

#include <vector>

namespace lowbit::kernels::detail {
namespace {

// Calls f(p, q, r, t) for every output pixel p = oh·OW + ow and each of its taps (r, t) that
// lands inside the input, on input pixel q = ih·W + iw.
template <typename F>
void for_each_valid_tap(const ConvGeom& s, F f) {
  for (int64_t oh = 0; oh < s.OH(); ++oh)
    for (int64_t ow = 0; ow < s.OW(); ++ow)
      for (int64_t r = 0; r < s.R(); ++r)
        for (int64_t t = 0; t < s.S(); ++t) {
          const int64_t ih = oh * s.stride_h() - s.pad_t() + r * s.dil_h();
          const int64_t iw = ow * s.stride_w() - s.pad_l() + t * s.dil_w();
          if (ih >= 0 && ih < s.H() && iw >= 0 && iw < s.W()) f(oh * s.OW() + ow, ih * s.W() + iw, r, t);
        }
}

// Each output pixel's taps hit distinct input pixels, so the windows cover the whole plane
// exactly when the count of (output pixel, valid tap) pairs is H·W per output pixel.
bool windows_cover_plane(const ConvGeom& s) {
  int64_t pairs = 0;
  for_each_valid_tap(s, [&](int64_t, int64_t, int64_t, int64_t) { ++pairs; });
  return pairs == s.H() * s.W() * s.OH() * s.OW();
}

}  // namespace

ConvGemm conv_gemm_form(const ConvGeom& s, ConvLayout x_layout, ConvLayout y_layout, PlanMath math) {
  if (s.rank != 2 || s.groups != 1 || x_layout != ConvLayout::nhwc || y_layout != ConvLayout::nhwc ||
      math != PlanMath::f32)
    return ConvGemm::none;
  if (s.R() == 1 && s.S() == 1 && s.stride_h() == 1 && s.stride_w() == 1 && s.OH() == s.H() && s.OW() == s.W() &&
      s.pad_t() == 0 && s.pad_l() == 0)
    return ConvGemm::pixels;
  const double unrolled = double(s.H()) * double(s.W()) * double(s.C) * double(s.OH()) * double(s.OW()) * double(s.K);
  if (unrolled <= double(kMaxUnrolledWeights) && windows_cover_plane(s)) return ConvGemm::images;
  return ConvGemm::none;
}

// Measured per shape, 1 thread, CPU time, interleaved (docs/BENCHMARKS.md, "Convolutions as one
// GEMM"). pixels: oneDNN 2.6's brgconv_1x1 tiles each image's plane separately, so on planes of
// at most 4×4 its micro-kernel runs short rows and the matmul over all N·H·W rows is faster
// (matmul / conv 0.60-0.85 on 2×2, 0.77-0.93 on 3×3 at batch 8-16, 0.84-1.02 on 4×4); from 5×5
// up both run the same brgemm kernels at parity (0.96-1.05), so the conv stays. images: 3×3
// pad-1 convs on 2×2 planes and 5×5 on 3×3 take 0.20-0.58 of brgconv's time from batch 4 on,
// where the unrolled weights are reused by 4+ rows; at batch 2 0.47-1.20, at batch 1 1.2-2.1
// (every weight read once per call), so the conv stays below 4.
bool conv_gemm_preferred(const ConvGeom& s, ConvGemm form) {
  if (form == ConvGemm::pixels) return s.OH() * s.OW() <= 16;
  if (form == ConvGemm::images) return s.N >= 4;
  return false;
}

MatmulPlan conv_gemm_plan(const ConvGeom& s, ConvGemm form, const float* w, const float* bias, const ConvEpilogue& ep) {
  if (form == ConvGemm::pixels) return MatmulPlan(s.N * s.H() * s.W(), s.K, s.C, w, bias, ep);
  const int64_t in = s.H() * s.W() * s.C, P = s.OH() * s.OW(), C = s.C, K = s.K;
  std::vector<float> u(static_cast<size_t>(P * K * in), 0.0f), b;
  for_each_valid_tap(s, [&](int64_t p, int64_t q, int64_t r, int64_t t) {
    for (int64_t k = 0; k < K; ++k)
      for (int64_t c = 0; c < C; ++c)
        u[static_cast<size_t>((p * K + k) * in + q * C + c)] = w[((k * C + c) * s.R() + r) * s.S() + t];
  });
  if (bias) {
    b.resize(static_cast<size_t>(P * K));
    for (int64_t p = 0; p < P; ++p)
      for (int64_t k = 0; k < K; ++k) b[static_cast<size_t>(p * K + k)] = bias[k];
  }
  return MatmulPlan(s.N, P * K, in, u.data(), bias ? b.data() : nullptr, ep);
}

}  // namespace lowbit::kernels::detail
