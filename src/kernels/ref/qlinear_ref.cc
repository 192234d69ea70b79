// Plain-loop requantization and quantized Add (the spec of qlinear.h).
#include <algorithm>
#include <cmath>

#include "lowbit/kernels/qlinear.h"
#include "lowbit/kernels/qlinear_ref.h"

namespace lowbit::kernels::ref {
namespace {

constexpr float kLimit = 1e9f;

int32_t requant_one(int32_t acc, int32_t corr, float scale, const Requant& p) {
  float x = static_cast<float>(acc + corr) * scale;
  x = std::min(std::max(x, -kLimit), kLimit);
  const int32_t r = static_cast<int32_t>(std::nearbyint(x)) + p.zp;
  return std::min(std::max(r, p.lo), p.hi);
}

template <typename T>
void requantize(int64_t M, int64_t N, const int32_t* acc, int64_t lda, const Requant& p, T* y, int64_t ldy) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n)
      y[m * ldy + n] = static_cast<T>(requant_one(acc[m * lda + n], p.corr[n], p.scale[n], p));
}

}  // namespace

void requantize_u8(int64_t M, int64_t N, const int32_t* acc, int64_t lda, const Requant& p, uint8_t* y, int64_t ldy) {
  requantize(M, N, acc, lda, p, y, ldy);
}
void requantize_s8(int64_t M, int64_t N, const int32_t* acc, int64_t lda, const Requant& p, int8_t* y, int64_t ldy) {
  requantize(M, N, acc, lda, p, y, ldy);
}

void qgemm_u8s8(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, const int8_t* w, int64_t ldw, int32_t* c,
                int64_t ldc) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      int32_t s = 0;
      for (int64_t k = 0; k < K; ++k) s += int32_t{a[m * lda + k]} * int32_t{w[n * ldw + k]};
      c[m * ldc + n] = s;
    }
}

void qgemm_u8s4(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, const uint8_t* w, int64_t ldw_bytes,
                int32_t* c, int64_t ldc) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      int32_t s = 0;
      for (int64_t k = 0; k < K; ++k) {
        const auto nib = static_cast<uint8_t>((w[n * ldw_bytes + k / 2] >> (4 * (k % 2))) & 0x0F);
        s += int32_t{a[m * lda + k]} * ((nib ^ 8) - 8);
      }
      c[m * ldc + n] = s;
    }
}

void depthwise_nhwc_u8(const ConvGeom& g, const uint8_t* x, uint8_t pad, const int8_t* w, const Requant& p, uint8_t* y,
                       int64_t oh0, int64_t oh1) {
  const int64_t C = g.C;
  for (int64_t oh = oh0; oh < oh1; ++oh)
    for (int64_t ow = 0; ow < g.OW(); ++ow)
      for (int64_t c = 0; c < C; ++c) {
        int32_t acc = 0;
        for (int64_t kh = 0; kh < g.R(); ++kh)
          for (int64_t kw = 0; kw < g.S(); ++kw) {
            const int64_t ih = oh * g.stride_h() - g.pad_t() + kh * g.dil_h(), iw = ow * g.stride_w() - g.pad_l() + kw * g.dil_w();
            const bool in = ih >= 0 && ih < g.H() && iw >= 0 && iw < g.W();
            acc += int32_t{in ? x[(ih * g.W() + iw) * C + c] : pad} * int32_t{w[(kh * g.S() + kw) * C + c]};
          }
        y[(oh * g.OW() + ow) * C + c] = static_cast<uint8_t>(requant_one(acc, p.corr[c], p.scale[c], p));
      }
}

void depthwise_nhwc_s32(const ConvGeom& g, const uint8_t* x, uint8_t pad, const int16_t* w, const int32_t* corr, int32_t* y,
                        int64_t oh0, int64_t oh1) {
  const int64_t C = g.C;
  for (int64_t oh = oh0; oh < oh1; ++oh)
    for (int64_t ow = 0; ow < g.OW(); ++ow)
      for (int64_t c = 0; c < C; ++c) {
        auto acc = static_cast<uint32_t>(corr[c]);  // unsigned: int32 sums wrap
        for (int64_t kh = 0; kh < g.R(); ++kh)
          for (int64_t kw = 0; kw < g.S(); ++kw) {
            const int64_t ih = oh * g.stride_h() - g.pad_t() + kh * g.dil_h(), iw = ow * g.stride_w() - g.pad_l() + kw * g.dil_w();
            const bool in = ih >= 0 && ih < g.H() && iw >= 0 && iw < g.W();
            const int64_t t = kh * g.S() + kw;
            const int32_t wt = w[((t / 2) * C + c) * 2 + t % 2];
            acc += static_cast<uint32_t>(int32_t{in ? x[(ih * g.W() + iw) * C + c] : pad} * wt);
          }
        y[(oh * g.OW() + ow) * C + c] = static_cast<int32_t>(acc);
      }
}

void qadd_u8(int64_t n, const uint8_t* a, const uint8_t* b, const QAddParams& p, uint8_t* y) {
  for (int64_t i = 0; i < n; ++i) {
    const float fa = static_cast<float>(int32_t{a[i]} - p.za) * p.ra;
    const float sum = std::fma(static_cast<float>(int32_t{b[i]} - p.zb), p.rb, fa);
    const float x = std::min(std::max(sum, -kLimit), kLimit);
    const int32_t r = static_cast<int32_t>(std::nearbyint(x)) + p.zy;
    y[i] = static_cast<uint8_t>(std::min(std::max(r, p.lo), p.hi));
  }
}

}  // namespace lowbit::kernels::ref
