// Reference integer GEMM: the accumulator models of igemm.h in plain loops, int64 arithmetic so
// that nothing here can overflow. Slow on purpose; the fast paths are tested against it.
#include <algorithm>
#include <vector>

#include "lowbit/kernels/igemm_ref.h"

namespace lowbit::kernels::ref {
namespace {

int8_t element(const IntOperand& op, int64_t r, int64_t k) {
  const int64_t i = r * op.ld + k;
  if (!op.int4) return static_cast<const int8_t*>(op.data)[i];
  const uint8_t byte = static_cast<const uint8_t*>(op.data)[i / 2];
  const uint8_t nib = (byte >> (4 * (i % 2))) & 0x0F;
  return static_cast<int8_t>(static_cast<int8_t>(nib << 4) >> 4);
}

int64_t wrap(int64_t v, int bits) {
  const uint64_t mask = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  uint64_t u = static_cast<uint64_t>(v) & mask;
  if (u >> (bits - 1)) u |= ~mask;  // sign-extend bit A-1
  return static_cast<int64_t>(u);
}

template <typename Store>
void gemm(int64_t M, int64_t N, int64_t K, const IntOperand& A, const IntOperand& B, const AccSpec& acc,
          Store store) {
  std::vector<int8_t> a(static_cast<size_t>(K)), b(static_cast<size_t>(K));
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t k = 0; k < K; ++k) a[k] = element(A, m, k);
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t k = 0; k < K; ++k) b[k] = element(B, n, k);
      store(m, n, dot(K, a.data(), b.data(), acc));
    }
  }
}

}  // namespace

int32_t dot(int64_t K, const int8_t* a, const int8_t* b, const AccSpec& acc) {
  const int64_t T = acc.tile > 0 ? acc.tile : K;
  const int64_t q = acc_qmax(acc.bits);
  int64_t total = 0;
  for (int64_t k0 = 0; k0 < K; k0 += T) {
    int64_t t = 0;
    for (int64_t k = k0; k < std::min(K, k0 + T); ++k) {
      t += static_cast<int64_t>(a[k]) * b[k];
      if (acc.model == AccModel::saturating) t = std::clamp(t, -q, q);
      if (acc.model == AccModel::wrap) t = wrap(t, acc.bits);
    }
    if (acc.model == AccModel::tile_clamp) t = std::clamp(t, -q, q);
    total += t;
  }
  return static_cast<int32_t>(total);
}

void igemm_s32(int64_t M, int64_t N, int64_t K, IntOperand A, IntOperand B, const AccSpec& acc, int32_t* C,
               int64_t ldc) {
  gemm(M, N, K, A, B, acc, [&](int64_t m, int64_t n, int32_t v) { C[m * ldc + n] = v; });
}

void igemm_f32(int64_t M, int64_t N, int64_t K, IntOperand A, IntOperand B, const AccSpec& acc,
               const IgemmEpilogue& ep, float* C, int64_t ldc) {
  gemm(M, N, K, A, B, acc, [&](int64_t m, int64_t n, int32_t v) {
    float y = static_cast<float>(v) * ep.alpha;
    if (ep.col_scale) y = y * ep.col_scale[n];
    if (ep.bias) y = y + ep.bias[n];
    C[m * ldc + n] = y;
  });
}

std::vector<int8_t> shifted_rows(int64_t N, int64_t K, const ShiftedRows& Bt) {
  std::vector<int8_t> rows(static_cast<size_t>(N * K), 0);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n)
      if ((Bt.mask[k][n / 64] >> (n % 64)) & 1) rows[static_cast<size_t>(k * N + n)] = Bt.x[Bt.offset[k] + n];
  return rows;
}

void igemm_f32_shifted(int64_t M, int64_t N, int64_t K, IntOperand A, const ShiftedRows& Bt, const AccSpec& acc,
                       const IgemmEpilogue& ep, float* C, int64_t ldc) {
  const std::vector<int8_t> rows = shifted_rows(N, K, Bt);
  ref::igemm_f32_bt(M, N, K, A, rows.data(), N, acc, ep, C, ldc);
}

void igemm_f32_bt(int64_t M, int64_t N, int64_t K, IntOperand A, const int8_t* Bt, int64_t ldbt, const AccSpec& acc,
                  const IgemmEpilogue& ep, float* C, int64_t ldc) {
  std::vector<int8_t> b(static_cast<size_t>(N * K));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) b[static_cast<size_t>(n * K + k)] = Bt[k * ldbt + n];
  ref::igemm_f32(M, N, K, A, IntOperand{b.data(), K, false}, acc, ep, C, ldc);
}

void igemm_scatter_add(int64_t M, int64_t N, int64_t K, IntOperand A, IntOperand B, const AccSpec& acc,
                       const IgemmScatter& scatter, float* out) {
  std::vector<float> c(static_cast<size_t>(M * N));
  ref::igemm_f32(M, N, K, A, B, acc, IgemmEpilogue{scatter.alpha}, c.data(), N);
  for (int64_t n0 = 0; n0 < N; n0 += kIgemmScatterCols)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = n0; n < std::min(N, n0 + kIgemmScatterCols); ++n) {
        const uint64_t* mask = scatter.mask[m];
        if (mask != nullptr && ((mask[n / 64] >> (n % 64)) & 1) == 0) continue;
        float& o = out[scatter.offset[m] + n];
        o = o + c[static_cast<size_t>(m * N + n)];
      }
}

}  // namespace lowbit::kernels::ref
