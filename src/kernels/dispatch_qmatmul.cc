// The dispatch of qmatmul.h (products of two quantized activations): B is mapped to int8,
// transposed and packed per call into per-thread buffers, A mapped to uint8 by row blocks, the
// product run on qgemm_u8s8 (VNNI panels when that path is active, else the s8×s8 igemm of
// AVX2/portable), and the zero points corrected from row and column sums.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "qlinear_impl.h"
#include "qmatmul_impl.h"
#include "lowbit/kernels/isa.h"
#include "lowbit/kernels/qlinear.h"
#include "lowbit/kernels/qmatmul.h"
#include "lowbit/kernels/qmatmul_ref.h"
#include "lowbit/kernels/transpose.h"

namespace lowbit::kernels {
namespace {

constexpr int64_t kMaxK = 65536;  // 255·128·K stays below 2^31: the u8×s8 sums are exact
constexpr int64_t kRows = 64;     // rows of A per block (Scratch::rowterm's size): the int32 block stays in L2 before requantizing

// Grow-only buffers of one thread (a product runs on the calling thread only).
struct Scratch {
  std::vector<int8_t> bt;          // N×K: B' = B transposed, uint8 codes shifted to int8
  std::vector<int32_t> colsum;     // Σ_k B'[n, k]
  std::vector<uint32_t> colterm;   // K·za'·zb' − za'·colsum[n], modulo 2^32
  uint32_t rowterm[64];            // −zb'·Σ_k A'[m, k] of the block's rows, modulo 2^32
  std::vector<uint8_t> a;          // kRows rows of A' (uint8), K rounded up to 4
  std::vector<int32_t> acc, zero;  // kRows×N block; N zeros (Requant::corr)
  std::vector<float> scale;        // N copies of the requantization scale
  std::unique_ptr<void, decltype(&std::free)> panels{nullptr, &std::free};
  int64_t panel_bytes = 0;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

template <typename T>
std::shared_ptr<const T> view(const T* p) {
  return std::shared_ptr<const T>(std::shared_ptr<const T>(), p);  // aliasing, non-owning
}

// Packs B' = (b − 128 for uint8 codes)ᵀ, N×K, as qgemm_pack_w would, into the thread's buffers
// (VNNI: the panels only, built from B directly; other paths: the plain N×K copy); *zb gets B's
// zero point in B' codes.
QgemmPackedW pack_b(Scratch& s, int64_t N, int64_t K, const QOperand& b, int32_t* zb) {
  *zb = b.is_signed ? b.zp : b.zp - 128;
  QgemmPackedW w;
  w.n = N;
  w.k = K;
  s.colsum.resize(static_cast<size_t>(N));
  w.colsum = view(s.colsum.data());
  if (active_isa() == Isa::avx512vnni) {  // panels straight from B; qgemm_u8s8 reads only them here
    const int64_t bytes = (avx512vnni::qgemm_panel_bytes(N, K) + 63) / 64 * 64;
    if (bytes > s.panel_bytes) {
      s.panels.reset(std::aligned_alloc(64, static_cast<size_t>(bytes)));
      s.panel_bytes = bytes;
    }
    avx512vnni::qmatmul_pack_b(N, K, static_cast<const int8_t*>(b.codes), b.ld, !b.is_signed, s.panels.get(), s.colsum.data());
    w.panels = view(static_cast<const void*>(s.panels.get()));
    return w;
  }
  s.bt.resize(static_cast<size_t>(N * K));
  transpose_i8(K, N, static_cast<const int8_t*>(b.codes), b.ld, s.bt.data(), K);
  if (!b.is_signed) shift_u8_to_s8(N * K, reinterpret_cast<const uint8_t*>(s.bt.data()), s.bt.data());  // x ^ 0x80 = x − 128
  for (int64_t n = 0; n < N; ++n) {
    int32_t sum = 0;
    for (int64_t k = 0; k < K; ++k) sum += s.bt[static_cast<size_t>(n * K + k)];
    s.colsum[static_cast<size_t>(n)] = sum;
  }
  w.plain = view(s.bt.data());
  return w;
}

// Runs the product by row blocks; `emit(m0, rows, acc)` receives each block of exact (wrapped)
// sums, kRows×N with row stride N — or, with `raw`, the sums before the zero-point terms, which
// emit adds itself (s.rowterm[i] + s.colterm[n], uint32) in the pass that reads them anyway.
template <bool raw = false, typename Emit>
void run_blocks(int64_t M, int64_t N, int64_t K, const QOperand& a, const QOperand& b, Emit emit) {
  Scratch& s = scratch();
  int32_t zb = 0;
  const QgemmPackedW w = pack_b(s, N, K, b, &zb);
  const int32_t za = a.is_signed ? a.zp + 128 : a.zp;  // A' = a + 128 for int8 codes
  s.colterm.resize(static_cast<size_t>(N));
  const uint32_t kzz = static_cast<uint32_t>(K) * static_cast<uint32_t>(za) * static_cast<uint32_t>(zb);
  for (int64_t n = 0; n < N; ++n)
    s.colterm[static_cast<size_t>(n)] = kzz - static_cast<uint32_t>(za) * static_cast<uint32_t>(s.colsum[static_cast<size_t>(n)]);
  // A' rows must be readable to a multiple of 4 bytes: copied when K % 4 != 0 or codes are int8.
  const bool copy = a.is_signed || K % 4 != 0;
  const int64_t lda = copy ? (K + 3) / 4 * 4 : a.ld;
  if (copy) s.a.assign(static_cast<size_t>(kRows * lda), 0);
  s.acc.resize(static_cast<size_t>(kRows * N));
  const auto* codes = static_cast<const uint8_t*>(a.codes);
  for (int64_t m0 = 0; m0 < M; m0 += kRows) {
    const int64_t rows = std::min(kRows, M - m0);
    const uint8_t* ab = codes + m0 * a.ld;
    if (copy) {
      for (int64_t i = 0; i < rows; ++i) {
        uint8_t* dst = s.a.data() + i * lda;
        std::memcpy(dst, codes + (m0 + i) * a.ld, static_cast<size_t>(K));
        if (a.is_signed) shift_u8_to_s8(K, dst, reinterpret_cast<int8_t*>(dst));  // x ^ 0x80 = x + 128 as uint8
      }
      ab = s.a.data();
    }
    qgemm_u8s8(rows, ab, lda, w, s.acc.data(), N);
    for (int64_t i = 0; i < rows; ++i) {
      uint32_t rowsum = 0;
      for (int64_t k = 0; k < K; ++k) rowsum += ab[i * lda + k];
      s.rowterm[static_cast<size_t>(i)] = 0u - static_cast<uint32_t>(zb) * rowsum;
      if constexpr (raw) continue;
      int32_t* r = s.acc.data() + i * N;
      const uint32_t rowterm = s.rowterm[static_cast<size_t>(i)];
      for (int64_t n = 0; n < N; ++n)
        r[n] = static_cast<int32_t>(static_cast<uint32_t>(r[n]) + rowterm + s.colterm[static_cast<size_t>(n)]);
    }
    emit(m0, rows, s.acc.data());
  }
}

bool reference_only(int64_t K) { return active_isa() == Isa::ref || K <= 0 || K > kMaxK; }  // K = 0: all sums 0

template <typename T>
void requant(int64_t M, int64_t N, int64_t K, const QOperand& a, const QOperand& b, const QMatmulRequant& p, T* y, int64_t ldy) {
  Scratch& s = scratch();
  s.zero.assign(static_cast<size_t>(N), 0);
  s.scale.assign(static_cast<size_t>(N), p.scale);
  const Requant r{s.zero.data(), s.scale.data(), p.zp, p.lo, p.hi};
  run_blocks(M, N, K, a, b, [&](int64_t m0, int64_t rows, const int32_t* acc) {
    if constexpr (std::is_same_v<T, int8_t>) requantize_s8(rows, N, acc, N, r, y + m0 * ldy, ldy);
    else requantize_u8(rows, N, acc, N, r, y + m0 * ldy, ldy);
  });
}

}  // namespace

void qmatmul_s32(int64_t M, int64_t N, int64_t K, const QOperand& a, const QOperand& b, int32_t* c, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (reference_only(K)) return ref::qmatmul_s32(M, N, K, a, b, c, ldc);
  run_blocks(M, N, K, a, b, [&](int64_t m0, int64_t rows, const int32_t* acc) {
    for (int64_t i = 0; i < rows; ++i) std::memcpy(c + (m0 + i) * ldc, acc + i * N, static_cast<size_t>(N) * sizeof(int32_t));
  });
}

void qmatmul_requant_u8(int64_t M, int64_t N, int64_t K, const QOperand& a, const QOperand& b, const QMatmulRequant& p,
                        uint8_t* y, int64_t ldy) {
  if (M <= 0 || N <= 0) return;
  if (reference_only(K)) return ref::qmatmul_requant_u8(M, N, K, a, b, p, y, ldy);
  requant(M, N, K, a, b, p, y, ldy);
}

void qmatmul_requant_s8(int64_t M, int64_t N, int64_t K, const QOperand& a, const QOperand& b, const QMatmulRequant& p,
                        int8_t* y, int64_t ldy) {
  if (M <= 0 || N <= 0) return;
  if (reference_only(K)) return ref::qmatmul_requant_s8(M, N, K, a, b, p, y, ldy);
  requant(M, N, K, a, b, p, y, ldy);
}

void qmatmul_f32(int64_t M, int64_t N, int64_t K, const QOperand& a, const QOperand& b, float scale, float* y, int64_t ldy) {
  if (M <= 0 || N <= 0) return;
  if (reference_only(K)) return ref::qmatmul_f32(M, N, K, a, b, scale, y, ldy);
  // One pass: the zero-point terms and the scaling, float(acc)·scale as dequantize_acc computes it.
  Scratch& s = scratch();
  run_blocks<true>(M, N, K, a, b, [&](int64_t m0, int64_t rows, const int32_t* acc) {
    const uint32_t* col = s.colterm.data();
    for (int64_t i = 0; i < rows; ++i) {
      const uint32_t rt = s.rowterm[i];
      const int32_t* r = acc + i * N;
      float* out = y + (m0 + i) * ldy;
      for (int64_t n = 0; n < N; ++n) out[n] = static_cast<float>(static_cast<int32_t>(static_cast<uint32_t>(r[n]) + rt + col[n])) * scale;
    }
  });
}

const char* qmatmul_kernel_name(int64_t K) {
  if (active_isa() == Isa::ref) return "ref";
  if (K > kMaxK) return "ref (K > 65536)";
  return active_isa() == Isa::avx512vnni ? "avx512vnni u8s8 (B packed per call)" : "igemm s8s8 (B packed per call)";
}

}  // namespace lowbit::kernels
