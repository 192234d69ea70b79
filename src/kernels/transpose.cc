// Portable transposes: square tiles so that both the strided reads and the writes stay in L1.
// Also the reference (LOWBIT_ISA=ref) — a tiled loop moves the same bytes as the plain one —
// and the plain loop of the masked shifted copy.
#include <algorithm>

#include "int_impl.h"

namespace lowbit::kernels::portable {
namespace {

template <typename T>
void transpose(int64_t rows, int64_t cols, const T* x, int64_t ldx, T* y, int64_t ldy) {
  constexpr int64_t kB = 16;
  for (int64_t i0 = 0; i0 < rows; i0 += kB)
    for (int64_t j0 = 0; j0 < cols; j0 += kB) {
      const int64_t i1 = std::min(rows, i0 + kB), j1 = std::min(cols, j0 + kB);
      for (int64_t j = j0; j < j1; ++j)
        for (int64_t i = i0; i < i1; ++i) y[j * ldy + i] = x[i * ldx + j];
    }
}

}  // namespace

void transpose_i8(int64_t rows, int64_t cols, const int8_t* x, int64_t ldx, int8_t* y, int64_t ldy) {
  transpose(rows, cols, x, ldx, y, ldy);
}
void transpose_f32(int64_t rows, int64_t cols, const float* x, int64_t ldx, float* y, int64_t ldy) {
  transpose(rows, cols, x, ldx, y, ldy);
}

void shifted_copy_i8(int64_t n, const int8_t* x, int64_t delta, const uint64_t* mask, int8_t* out) {
  for (int64_t l = 0; l < n; ++l) out[l] = (mask[l / 64] >> (l % 64)) & 1 ? x[l + delta] : int8_t{0};
}

}  // namespace lowbit::kernels::portable
