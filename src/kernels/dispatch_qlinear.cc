// The quantized-inference half of the one dispatch point (dispatch.cc has the rest): the
// per-ISA paths of qlinear.h (requantization, u8 x s8 GEMMs, depthwise convs, Add) and the
// bf16 capability query. With dispatch.cc, the only file that calls active_isa()
// (scripts/check-layers enforces it).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "int_impl.h"
#include "qlinear_impl.h"
#include "lowbit/core/threads.h"
#include "lowbit/kernels/bf16.h"
#include "lowbit/kernels/isa.h"
#include "lowbit/kernels/qlinear_ref.h"

namespace lowbit::kernels {

using detail::as_int8;

// ---- quantized inference (qlinear.h): requantization, u8 x s8 GEMMs, depthwise, Add ----

void requantize_u8(int64_t M, int64_t N, const int32_t* acc, int64_t lda, const Requant& p, uint8_t* y, int64_t ldy) {
  if (active_isa() >= Isa::avx512) return avx512::requantize_u8(M, N, acc, lda, p, y, ldy);
  ref::requantize_u8(M, N, acc, lda, p, y, ldy);
}

void requantize_s8(int64_t M, int64_t N, const int32_t* acc, int64_t lda, const Requant& p, int8_t* y, int64_t ldy) {
  if (active_isa() >= Isa::avx512) return avx512::requantize_s8(M, N, acc, lda, p, y, ldy);
  ref::requantize_s8(M, N, acc, lda, p, y, ldy);
}

namespace {

std::shared_ptr<void> aligned_panels(int64_t bytes) {
  return std::shared_ptr<void>(std::aligned_alloc(64, static_cast<size_t>((bytes + 63) / 64 * 64)), [](void* q) { std::free(q); });
}

std::shared_ptr<const int32_t> column_sums(int64_t N, int64_t K, const int8_t* w) {
  std::shared_ptr<int32_t> colsum(new int32_t[static_cast<size_t>(std::max<int64_t>(N, 1))], std::default_delete<int32_t[]>());
  for (int64_t n = 0; n < N; ++n) {
    int32_t s = 0;
    for (int64_t k = 0; k < K; ++k) s += w[n * K + k];
    colsum.get()[n] = s;
  }
  return colsum;
}

// From this many rows on, int4 weights run on their int8 panels when packed with them, else are
// widened once per column group and task, instead of in registers on every row block
// (qlinear_impl.h): measured on the Zen 5 of docs/BENCHMARKS.md (W4A8 section).
// set_qgemm_w4_unpack_rows changes it (tests, benchmarks).
std::atomic<int64_t> g_w4_unpack_rows{16};
bool w4_unpack(int64_t M) { return M >= g_w4_unpack_rows.load(std::memory_order_relaxed); }

// The N×K int8 codes of w (int4 ones unpacked into a per-thread buffer): the plain paths.
const int8_t* plain_codes(const QgemmPackedW& w) {
  if (w.bits == 8) return w.plain.get();
  thread_local std::vector<int8_t> buf;
  int64_t ld = 0;
  return as_int8(IntOperand{w.plain.get(), (w.k + 1) / 2 * 2, true}, w.n, w.k, buf, &ld);
}

// Products of at most 16 columns run on the kernel with K in the lanes (qgemm_n16_avx512vnni.cc)
// when K is whole groups of 16 (implicit GEMM: C is) and long enough to repay its reduction at
// the end of each row (9 operations per row; below K = 128 the panel kernel is as fast:
// MobileNetV2's 1x1 projection with K = 32 ran 3 % slower on it).
bool narrow_fits(int64_t N, int64_t K) { return N <= 16 && K % 16 == 0 && K >= 128; }

}  // namespace

QgemmPackedW qgemm_pack_w(int64_t N, int64_t K, const int8_t* w) {
  QgemmPackedW p;
  p.n = N;
  p.k = K;
  std::shared_ptr<int8_t> plain(new int8_t[static_cast<size_t>(std::max<int64_t>(N * K, 1))], std::default_delete<int8_t[]>());
  std::memcpy(plain.get(), w, static_cast<size_t>(N * K));
  p.plain = plain;
  p.colsum = column_sums(N, K, w);
  if (active_isa() == Isa::avx512vnni && N > 0) {
    std::shared_ptr<void> panels = aligned_panels(avx512vnni::qgemm_panel_bytes(N, K));
    avx512vnni::qgemm_pack(N, K, w, panels.get());
    p.panels = panels;
    if (narrow_fits(N, K)) {
      std::shared_ptr<void> p16 = aligned_panels(avx512vnni::qgemm_n16_panel_bytes(K));
      avx512vnni::qgemm_n16_pack(N, K, w, p16.get());
      p.panels16 = p16;
    }
  }
  return p;
}

void set_qgemm_w4_unpack_rows(int64_t rows) { g_w4_unpack_rows.store(std::max<int64_t>(rows, 1)); }
int64_t qgemm_w4_unpack_rows() { return g_w4_unpack_rows.load(); }

bool qgemm_fits_int4(int64_t n, const int8_t* w) {
  for (int64_t i = 0; i < n; ++i)
    if (w[i] < -8 || w[i] > 7) return false;
  return true;
}

QgemmPackedW qgemm_pack_w4(int64_t N, int64_t K, const int8_t* w, bool int8_panels) {
  QgemmPackedW p;
  p.n = N;
  p.k = K;
  p.bits = 4;
  const int64_t row = (K + 1) / 2;
  std::shared_ptr<int8_t> plain(new int8_t[static_cast<size_t>(std::max<int64_t>(N * row, 1))](), std::default_delete<int8_t[]>());
  auto* nib = reinterpret_cast<uint8_t*>(plain.get());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      nib[n * row + k / 2] |= static_cast<uint8_t>((static_cast<uint8_t>(w[n * K + k]) & 0x0F) << (4 * (k % 2)));
  p.plain = plain;
  p.colsum = column_sums(N, K, w);
  if (active_isa() == Isa::avx512vnni && N > 0) {
    std::shared_ptr<void> panels = aligned_panels(avx512vnni::qgemm_w4_panel_bytes(N, K));
    avx512vnni::qgemm_w4_pack(N, K, w, panels.get());
    p.panels = panels;
    if (int8_panels) {
      std::shared_ptr<void> p8 = aligned_panels(avx512vnni::qgemm_panel_bytes(N, K));
      avx512vnni::qgemm_pack(N, K, w, p8.get());
      p.panels8 = p8;
    }
  }
  return p;
}

const char* qgemm_kernel_name(int64_t M, const QgemmPackedW& w) {
  const Isa isa = active_isa();
  const bool w4 = w.bits == 4;
  if (isa == Isa::ref) return w4 ? "ref u8s4" : "ref u8s8";
  if (isa == Isa::avx512vnni && w.panels) {
    if (!w4) return w.panels16 ? "avx512vnni u8s8 (N <= 16, K in lanes)" : "avx512vnni u8s8";
    if (!w4_unpack(M)) return "avx512vnni u8s4";
    return w.panels8 ? "avx512vnni u8s8 (int4 codes, int8 panels)" : "avx512vnni u8s4 (widened per column group)";
  }
  return w4 ? "igemm s8s8 (int4 unpacked)" : "igemm s8s8";
}

void qgemm_u8s8(int64_t M, const uint8_t* a, int64_t lda, const QgemmPackedW& w, int32_t* c, int64_t ldc) {
  const int64_t N = w.n, K = w.k;
  if (M <= 0 || N <= 0) return;
  const Isa isa = active_isa();
  const bool w4 = w.bits == 4;
  if (isa == Isa::ref) {
    if (w4) return ref::qgemm_u8s4(M, N, K, a, lda, reinterpret_cast<const uint8_t*>(w.plain.get()), (K + 1) / 2, c, ldc);
    return ref::qgemm_u8s8(M, N, K, a, lda, w.plain.get(), K, c, ldc);
  }
  if (isa == Isa::avx512vnni && w.panels) {
    if (!w4 && w.panels16) return avx512vnni::qgemm_n16_u8s8(M, N, K, a, lda, w.panels16.get(), c, ldc);
    if (!w4) return avx512vnni::qgemm_u8s8(M, N, K, a, lda, w.panels.get(), c, ldc);
    if (w4_unpack(M) && w.panels8) return avx512vnni::qgemm_u8s8(M, N, K, a, lda, w.panels8.get(), c, ldc);
    return avx512vnni::qgemm_u8s4(M, N, K, a, lda, w.panels.get(), c, ldc, w4_unpack(M));
  }
  // a − 128 as int8 through the igemm, then + 128·Σ_k w[n, k]: the same exact sums.
  thread_local std::vector<int8_t> shifted;
  shifted.resize(static_cast<size_t>(M * K));
  for (int64_t m = 0; m < M; ++m) shift_u8_to_s8(K, a + m * lda, shifted.data() + m * K);
  igemm_s32(M, N, K, IntOperand{shifted.data(), K, false}, IntOperand{plain_codes(w), K, false}, AccSpec{}, c, ldc);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) c[m * ldc + n] += 128 * w.colsum.get()[n];
}

namespace {

template <typename T>
void qgemm_requant(int64_t M, const uint8_t* a, int64_t lda, const QgemmPackedW& w, const Requant& p, T* y, int64_t ldy) {
  const int64_t N = w.n;
  if (M <= 0 || N <= 0) return;
  constexpr bool kSigned = std::is_same_v<T, int8_t>;
  if (active_isa() == Isa::avx512vnni && w.panels) {
    if (w.bits == 8 && w.panels16) return avx512vnni::qgemm_n16_requant(M, N, w.k, a, lda, w.panels16.get(), p, y, ldy, kSigned);
    if (w.bits == 8) return avx512vnni::qgemm_u8s8_requant(M, N, w.k, a, lda, w.panels.get(), p, y, ldy, kSigned);
    if (w4_unpack(M) && w.panels8) return avx512vnni::qgemm_u8s8_requant(M, N, w.k, a, lda, w.panels8.get(), p, y, ldy, kSigned);
    return avx512vnni::qgemm_u8s4_requant(M, N, w.k, a, lda, w.panels.get(), p, y, ldy, kSigned, w4_unpack(M));
  }
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

// Row blocks of about kBlockBytes of output: the block's codes are still in L2 when its Add
// reads them. Many blocks: threads take whole blocks (each product single-threaded inside, as
// parallel_for nests inline); few: one block at a time, the product and the Add each parallel.
void qgemm_u8s8_requant_add_u8(int64_t M, const uint8_t* a, int64_t lda, const QgemmPackedW& w, const Requant& p,
                               const QAddResidual& add, uint8_t* y, int64_t ldy) {
  const int64_t N = w.n;
  if (M <= 0 || N <= 0) return;
  constexpr int64_t kBlockBytes = 256 << 10;
  const int64_t rows = std::max<int64_t>(48, kBlockBytes / N / 48 * 48), blocks = (M + rows - 1) / rows;
  auto add_rows = [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      uint8_t* yr = y + m * ldy;
      const uint8_t* rr = add.r + m * add.ldr;
      if (add.residual_first) qadd_u8(N, rr, yr, add.p, yr);
      else qadd_u8(N, yr, rr, add.p, yr);
    }
  };
  auto block = [&](int64_t b, bool inner_parallel) {
    const int64_t m0 = b * rows, m1 = std::min(M, m0 + rows);
    qgemm_requant(m1 - m0, a + m0 * lda, lda, w, p, y + m0 * ldy, ldy);
    if (!inner_parallel) return add_rows(m0, m1);
    parallel_for(m1 - m0, std::max<int64_t>(1, (int64_t{1} << 15) / N),
                 [&](int64_t r0, int64_t r1) { add_rows(m0 + r0, m0 + r1); });
  };
  if (blocks >= 2 * num_threads()) {
    parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) block(b, false);
    });
  } else {
    for (int64_t b = 0; b < blocks; ++b) block(b, true);
  }
}

void qgemm_taps_requant_u8(int64_t M, int64_t C, const int64_t* off, int64_t taps, const uint8_t* a, int64_t lda,
                           const QgemmPackedW& w, const Requant& p, uint8_t* y, int64_t ldy, const TapsImages& images) {
  if (M <= 0 || w.n <= 0 || images.count <= 0) return;
  if (images.count > 1) {
    // The VNNI int8 panel kernel takes the images in one call; the other paths one at a time.
    const bool vnni8 = active_isa() == Isa::avx512vnni && C % 4 == 0 && !(w.bits == 8 && w.panels16 && C % 16 == 0) &&
                       ((w.bits == 8 && w.panels) || (w.bits == 4 && w4_unpack(M) && w.panels8));
    if (vnni8)
      return avx512vnni::qgemm_taps_requant(M, w.n, C, off, taps, a, lda, (w.bits == 8 ? w.panels : w.panels8).get(), p, y, ldy,
                                            false, images.count, images.a_stride, images.y_stride);
    for (int64_t i = 0; i < images.count; ++i)
      qgemm_taps_requant_u8(M, C, off, taps, a + i * images.a_stride, lda, w, p, y + i * images.y_stride, ldy);
    return;
  }
  if (active_isa() == Isa::avx512vnni && w.panels) {
    if (w.bits == 8 && w.panels16 && C % 16 == 0)
      return avx512vnni::qgemm_n16_taps_requant(M, w.n, C, off, taps, a, lda, w.panels16.get(), p, y, ldy, false);
    if (w.bits == 8 && C % 4 == 0)
      return avx512vnni::qgemm_taps_requant(M, w.n, C, off, taps, a, lda, w.panels.get(), p, y, ldy, false);
    if (w.bits == 4 && w4_unpack(M) && w.panels8 && C % 4 == 0)
      return avx512vnni::qgemm_taps_requant(M, w.n, C, off, taps, a, lda, w.panels8.get(), p, y, ldy, false);
    if (w.bits == 4 && (w4_unpack(M) ? C % 4 == 0 : C % 8 == 0))
      return avx512vnni::qgemm_u8s4_taps_requant(M, w.n, C, off, taps, a, lda, w.panels.get(), p, y, ldy, false, w4_unpack(M));
  }
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

void depthwise_nhwc_u8(const ConvGeom& g, const uint8_t* x, uint8_t pad, const int8_t* w, const Requant& p, uint8_t* y,
                       int64_t oh0, int64_t oh1) {
  const bool vnni_3x3 = g.R() == 3 && g.S() == 3 && g.stride_h() == g.stride_w() && (g.stride_h() == 1 || g.stride_h() == 2) &&
                        g.dil_h() == 1 && g.dil_w() == 1;
  if (active_isa() == Isa::avx512vnni && vnni_3x3) return avx512vnni::depthwise3x3_nhwc_u8(g, x, pad, w, p, y, oh0, oh1);
  if (active_isa() >= Isa::avx512) return avx512::depthwise_nhwc_u8(g, x, pad, w, p, y, oh0, oh1);
  ref::depthwise_nhwc_u8(g, x, pad, w, p, y, oh0, oh1);
}

void depthwise_nhwc_s32(const ConvGeom& g, const uint8_t* x, uint8_t pad, const int16_t* w, const int32_t* corr, int32_t* y,
                        int64_t oh0, int64_t oh1) {
  if (active_isa() >= Isa::avx512 && g.R() * g.S() <= 64) return avx512::depthwise_nhwc_s32(g, x, pad, w, corr, y, oh0, oh1);
  ref::depthwise_nhwc_s32(g, x, pad, w, corr, y, oh0, oh1);
}

void qadd_u8(int64_t n, const uint8_t* a, const uint8_t* b, const QAddParams& p, uint8_t* y) {
  if (active_isa() >= Isa::avx512) return avx512::qadd_u8(n, a, b, p, y);
  ref::qadd_u8(n, a, b, p, y);
}

// bf16.h: native bf16 dot products (AVX512-BF16); the bf16 plans are offered as a speed option
// only then.
bool bf16_native() { return cpu_features().avx512bf16; }

}  // namespace lowbit::kernels
