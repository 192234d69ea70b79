// Transposes: every path moves exactly the bytes of the plain double loop, for shapes around the
// 16×16 (int8) and 8×8 (fp32) blocks, with row strides wider than the rows, and writes nothing
// outside the destination matrix.
#include <gtest/gtest.h>

#include <vector>

#include "lowbit/kernels/isa.h"
#include "lowbit/kernels/transpose.h"

namespace lowbit::kernels {
namespace {

template <typename T, typename Fn>
void check_all_shapes(Fn fn, T sentinel) {
  const Isa saved = active_isa();
  for (Isa isa : {Isa::ref, Isa::avx2, Isa::avx512, Isa::avx512vnni}) {
    if (!isa_supported(isa)) continue;
    set_active_isa(isa);
    for (int64_t rows : {1, 7, 8, 9, 15, 16, 17, 31, 33, 64})
      for (int64_t cols : {1, 5, 8, 16, 17, 40, 49}) {
        const int64_t ldx = cols + 3, ldy = rows + 5;
        std::vector<T> x(rows * ldx), y(cols * ldy, sentinel);
        for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<T>(static_cast<int>(i * 37 % 251) - 125);
        fn(rows, cols, x.data(), ldx, y.data(), ldy);
        for (int64_t j = 0; j < cols; ++j)
          for (int64_t i = 0; i < ldy; ++i) {
            const T want = i < rows ? x[i * ldx + j] : sentinel;
            ASSERT_EQ(y[j * ldy + i], want) << isa_name(isa) << " " << rows << "x" << cols << " at " << j << "," << i;
          }
      }
  }
  set_active_isa(saved);
}

TEST(Transpose, Int8EveryPathEqualsPlainLoop) {
  check_all_shapes<int8_t>(
      [](int64_t r, int64_t c, const int8_t* x, int64_t ldx, int8_t* y, int64_t ldy) { transpose_i8(r, c, x, ldx, y, ldy); },
      int8_t{99});
}

TEST(Transpose, Fp32EveryPathEqualsPlainLoop) {
  check_all_shapes<float>(
      [](int64_t r, int64_t c, const float* x, int64_t ldx, float* y, int64_t ldy) { transpose_f32(r, c, x, ldx, y, ldy); },
      -7.5f);
}

}  // namespace
}  // namespace lowbit::kernels
