// Path choice for the qlinear.h kernels (LOWBIT_ISA as for the igemm), and the kernels that
// have one portable implementation (im2col, the uint8 shift, dequantize_acc: plain loops the
// compiler vectorizes; they are their own reference).
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

#include "lowbit/kernels/igemm.h"

#include "lowbit/kernels/isa.h"
#include "lowbit/kernels/qlinear_ref.h"
#include "qlinear_impl.h"

namespace lowbit::kernels {

void requantize_u8(int64_t M, int64_t N, const int32_t* acc, int64_t lda, const Requant& p, uint8_t* y, int64_t ldy) {
  if (active_isa() >= Isa::avx512) return avx512::requantize_u8(M, N, acc, lda, p, y, ldy);
  ref::requantize_u8(M, N, acc, lda, p, y, ldy);
}

void requantize_s8(int64_t M, int64_t N, const int32_t* acc, int64_t lda, const Requant& p, int8_t* y, int64_t ldy) {
  if (active_isa() >= Isa::avx512) return avx512::requantize_s8(M, N, acc, lda, p, y, ldy);
  ref::requantize_s8(M, N, acc, lda, p, y, ldy);
}

QgemmPackedW qgemm_pack_w(int64_t N, int64_t K, const int8_t* w) {
  QgemmPackedW p;
  p.n = N;
  p.k = K;
  std::shared_ptr<int8_t> plain(new int8_t[static_cast<size_t>(std::max<int64_t>(N * K, 1))], std::default_delete<int8_t[]>());
  std::shared_ptr<int32_t> colsum(new int32_t[static_cast<size_t>(std::max<int64_t>(N, 1))], std::default_delete<int32_t[]>());
  std::memcpy(plain.get(), w, static_cast<size_t>(N * K));
  for (int64_t n = 0; n < N; ++n) {
    int32_t s = 0;
    for (int64_t k = 0; k < K; ++k) s += w[n * K + k];
    colsum.get()[n] = s;
  }
  p.plain = plain;
  p.colsum = colsum;
  if (active_isa() == Isa::avx512vnni && N > 0) {
    const auto bytes = static_cast<size_t>((avx512vnni::qgemm_panel_bytes(N, K) + 63) / 64 * 64);
    std::shared_ptr<void> panels(std::aligned_alloc(64, bytes), [](void* q) { std::free(q); });
    avx512vnni::qgemm_pack(N, K, w, panels.get());
    p.panels = panels;
  }
  return p;
}

void qgemm_u8s8(int64_t M, const uint8_t* a, int64_t lda, const QgemmPackedW& w, int32_t* c, int64_t ldc) {
  const int64_t N = w.n, K = w.k;
  if (M <= 0 || N <= 0) return;
  const Isa isa = active_isa();
  if (isa == Isa::ref) return ref::qgemm_u8s8(M, N, K, a, lda, w.plain.get(), K, c, ldc);
  if (isa == Isa::avx512vnni && w.panels) return avx512vnni::qgemm_u8s8(M, N, K, a, lda, w.panels.get(), c, ldc);
  // a − 128 as int8 through the igemm, then + 128·Σ_k w[n, k]: the same exact sums.
  thread_local std::vector<int8_t> shifted;
  shifted.resize(static_cast<size_t>(M * K));
  for (int64_t m = 0; m < M; ++m) shift_u8_to_s8(K, a + m * lda, shifted.data() + m * K);
  igemm_s32(M, N, K, IntOperand{shifted.data(), K, false}, IntOperand{w.plain.get(), K, false}, AccSpec{}, c, ldc);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) c[m * ldc + n] += 128 * w.colsum.get()[n];
}

namespace {

template <typename T>
void qgemm_requant(int64_t M, const uint8_t* a, int64_t lda, const QgemmPackedW& w, const Requant& p, T* y, int64_t ldy) {
  const int64_t N = w.n;
  if (M <= 0 || N <= 0) return;
  constexpr bool kSigned = std::is_same_v<T, int8_t>;
  if (active_isa() == Isa::avx512vnni && w.panels)
    return avx512vnni::qgemm_u8s8_requant(M, N, w.k, a, lda, w.panels.get(), p, y, ldy, kSigned);
  // Row blocks through an int32 buffer: qgemm_u8s8 then requantize, as specified.
  constexpr int64_t kRows = 64;
  thread_local std::vector<int32_t> acc;
  acc.resize(static_cast<size_t>(kRows * N));
  for (int64_t m0 = 0; m0 < M; m0 += kRows) {
    const int64_t rows = std::min(kRows, M - m0);
    qgemm_u8s8(rows, a + m0 * lda, lda, w, acc.data(), N);
    if constexpr (kSigned) requantize_s8(rows, N, acc.data(), N, p, y + m0 * ldy, ldy);
    else requantize_u8(rows, N, acc.data(), N, p, y + m0 * ldy, ldy);
  }
}

}  // namespace

void qgemm_u8s8_requant_u8(int64_t M, const uint8_t* a, int64_t lda, const QgemmPackedW& w, const Requant& p, uint8_t* y,
                           int64_t ldy) {
  qgemm_requant(M, a, lda, w, p, y, ldy);
}
void qgemm_u8s8_requant_s8(int64_t M, const uint8_t* a, int64_t lda, const QgemmPackedW& w, const Requant& p, int8_t* y,
                           int64_t ldy) {
  qgemm_requant(M, a, lda, w, p, y, ldy);
}

void qgemm_taps_requant_u8(int64_t M, int64_t C, const int64_t* off, int64_t taps, const uint8_t* a, int64_t lda,
                           const QgemmPackedW& w, const Requant& p, uint8_t* y, int64_t ldy) {
  if (M <= 0 || w.n <= 0) return;
  if (active_isa() == Isa::avx512vnni && w.panels && C % 4 == 0)
    return avx512vnni::qgemm_taps_requant(M, w.n, C, off, taps, a, lda, w.panels.get(), p, y, ldy, false);
  // The rows built explicitly, in blocks, then the plain product.
  constexpr int64_t kRows = 64;
  const int64_t K = taps * C, ld = (K + 3) / 4 * 4;
  thread_local std::vector<uint8_t> rows;
  rows.resize(static_cast<size_t>(kRows * ld));
  for (int64_t m0 = 0; m0 < M; m0 += kRows) {
    const int64_t n = std::min(kRows, M - m0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t t = 0; t < taps; ++t) std::memcpy(rows.data() + i * ld + t * C, a + (m0 + i) * lda + off[t], static_cast<size_t>(C));
    qgemm_u8s8_requant_u8(n, rows.data(), ld, w, p, y + m0 * ldy, ldy);
  }
}

void depthwise_nhwc_u8(const Conv2dGeom& g, const uint8_t* x, uint8_t pad, const int8_t* w, const Requant& p, uint8_t* y,
                       int64_t oh0, int64_t oh1) {
  if (active_isa() >= Isa::avx512) return avx512::depthwise_nhwc_u8(g, x, pad, w, p, y, oh0, oh1);
  ref::depthwise_nhwc_u8(g, x, pad, w, p, y, oh0, oh1);
}

void qadd_u8(int64_t n, const uint8_t* a, const uint8_t* b, const QAddParams& p, uint8_t* y) {
  if (active_isa() >= Isa::avx512) return avx512::qadd_u8(n, a, b, p, y);
  ref::qadd_u8(n, a, b, p, y);
}

void dequantize_acc(int64_t M, int64_t N, const int32_t* acc, int64_t lda, const int32_t* corr, const float* scale,
                    const float* bias, float* y, int64_t ldy) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      const float v = static_cast<float>(acc[m * lda + n] + corr[n]) * scale[n];
      y[m * ldy + n] = bias ? v + bias[n] : v;
    }
}

void shift_u8_to_s8(int64_t n, const uint8_t* x, int8_t* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<int8_t>(x[i] ^ 0x80u);
}

namespace {

// n bytes, n usually a multiple of 16 (channel counts): whole 16-byte moves the compiler inlines.
inline void copy_bytes(uint8_t* dst, const uint8_t* src, int64_t n) {
  if (n % 16 != 0) return static_cast<void>(std::memcpy(dst, src, static_cast<size_t>(n)));
  for (int64_t i = 0; i < n; i += 16) __builtin_memcpy(dst + i, src + i, 16);
}

}  // namespace

void im2col_nhwc_u8(const Conv2dGeom& g, const uint8_t* x, uint8_t pad, uint8_t* a, int64_t lda, int64_t p0, int64_t p1) {
  const int64_t C = g.C;
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t oh = p / g.OW, ow = p % g.OW;
    uint8_t* row = a + p * lda;
    const int64_t iw0 = ow * g.stride_w - g.pad_l;
    const bool w_inside = iw0 >= 0 && iw0 + (g.KW - 1) * g.dil_w < g.W;
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      const int64_t ih = oh * g.stride_h - g.pad_t + kh * g.dil_h;
      uint8_t* dst = row + kh * g.KW * C;
      if (ih < 0 || ih >= g.H) {
        std::memset(dst, pad, static_cast<size_t>(g.KW * C));
        continue;
      }
      if (w_inside && g.dil_w == 1) {  // KW adjacent pixels: one contiguous run
        copy_bytes(dst, x + (ih * g.W + iw0) * C, g.KW * C);
        continue;
      }
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const int64_t iw = iw0 + kw * g.dil_w;
        if (iw < 0 || iw >= g.W) std::memset(dst + kw * C, pad, static_cast<size_t>(C));
        else copy_bytes(dst + kw * C, x + (ih * g.W + iw) * C, C);
      }
    }
  }
}

}  // namespace lowbit::kernels
