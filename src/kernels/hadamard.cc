// Portable fast Walsh–Hadamard transform: radix-2 butterflies v[i], v[i+len] -> a+b, a-b for
// len = 1, 2, ..., h/2, on one block at a time so that all log2 h stages run in cache. Along
// columns the butterflies combine whole row segments (vectorizable over columns); the matrix
// is cut into column strips so that an h-row strip stays in L2.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "int_impl.h"
#include "lowbit/core/threads.h"

namespace lowbit::kernels::portable {
namespace {

constexpr int64_t kStripBytes = 256 * 1024;

// In-place transform of one contiguous block of h values.
template <typename T>
void block_rows(T* v, int64_t h) {
  for (int64_t len = 1; len < h; len *= 2)
    for (int64_t i = 0; i < h; i += 2 * len)
      for (int64_t j = 0; j < len; ++j) {
        const T a = v[i + j], b = v[i + j + len];
        v[i + j] = static_cast<T>(a + b);
        v[i + j + len] = static_cast<T>(a - b);
      }
}

// In-place transform along columns of an h-row block (row stride ld), columns [c0, c1).
template <typename T>
void block_cols(T* y, int64_t ld, int64_t h, int64_t c0, int64_t c1) {
  for (int64_t len = 1; len < h; len *= 2)
    for (int64_t i = 0; i < h; i += 2 * len)
      for (int64_t j = 0; j < len; ++j) {
        T* p = y + (i + j) * ld;
        T* q = p + len * ld;
        for (int64_t c = c0; c < c1; ++c) {
          const T a = p[c], b = q[c];
          p[c] = static_cast<T>(a + b);
          q[c] = static_cast<T>(a - b);
        }
      }
}

// Copies (and widens) rows [r0, r1) x columns [c0, c1) of x into y unless they are the same memory.
template <typename In, typename Out>
void load(const In* x, int64_t ldx, Out* y, int64_t ldy, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  if constexpr (std::is_same_v<In, Out>)
    if (static_cast<const void*>(x) == static_cast<const void*>(y) && ldx == ldy) return;
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t c = c0; c < c1; ++c) y[r * ldy + c] = static_cast<Out>(x[r * ldx + c]);
}

template <typename In, typename Out>
void fwht(const HadamardShape& s, const In* x, int64_t ldx, Out* y, int64_t ldy) {
  const int64_t h = s.h;
  if (s.axis == 1) {
    const int64_t per_row = s.cols / h;
    parallel_for(s.rows * per_row, std::max<int64_t>(1, 8192 / h), [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t r = t / per_row, c0 = (t % per_row) * h;
        load(x, ldx, y, ldy, r, r + 1, c0, c0 + h);
        block_rows(y + r * ldy + c0, h);
      }
    });
  } else {
    const int64_t width = std::clamp<int64_t>(kStripBytes / (h * static_cast<int64_t>(sizeof(Out))), 64, s.cols);
    const int64_t strips = (s.cols + width - 1) / width, blocks = s.rows / h;
    parallel_for(blocks * strips, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t r0 = (t / strips) * h, c0 = (t % strips) * width, c1 = std::min(s.cols, c0 + width);
        load(x, ldx, y, ldy, r0, r0 + h, c0, c1);
        block_cols(y + r0 * ldy, ldy, h, c0, c1);
      }
    });
  }
}

}  // namespace

void fwht_f32(const HadamardShape& s, const float* x, int64_t ldx, float* y, int64_t ldy) { fwht(s, x, ldx, y, ldy); }
void fwht_i8_i16(const HadamardShape& s, const int8_t* x, int64_t ldx, int16_t* y, int64_t ldy) {
  fwht(s, x, ldx, y, ldy);
}
void fwht_i8_i32(const HadamardShape& s, const int8_t* x, int64_t ldx, int32_t* y, int64_t ldy) {
  fwht(s, x, ldx, y, ldy);
}
void fwht_i32(const HadamardShape& s, const int32_t* x, int64_t ldx, int32_t* y, int64_t ldy) {
  fwht(s, x, ldx, y, ldy);
}

}  // namespace lowbit::kernels::portable
