// Transposes: every path moves exactly the bytes of the plain double loop, for shapes around the
// 16×16 (int8) and 8×8 (fp32) blocks, with row strides wider than the rows, and writes nothing
// outside the destination matrix.
#include <gtest/gtest.h>

#include <random>
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

// The masked shifted copy (one im2col row): every path equals the plain loop for lengths around
// the 64-byte vectors, shifts either way, random masks (set only where the source lies in x, so
// that the ASan build catches any read outside it); nothing written past n.
TEST(Transpose, ShiftedCopyEveryPathEqualsPlainLoop) {
  std::mt19937_64 rng(5);
  const Isa saved = active_isa();
  for (int64_t n : {1, 30, 63, 64, 65, 196, 784}) {
    const int64_t words = (n + 63) / 64;
    for (int64_t delta : {-29, -1, 0, 2, 29}) {
      std::vector<int8_t> x(static_cast<size_t>(n));
      for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<int8_t>(static_cast<int>(i * 37 % 251) - 125);
      std::vector<uint64_t> mask(static_cast<size_t>(words));
      for (auto& w : mask) w = rng();
      for (int64_t l = 0; l < words * 64; ++l)  // only positions whose source lies in x
        if (l >= n || l + delta < 0 || l + delta >= n) mask[l / 64] &= ~(uint64_t{1} << (l % 64));
      std::vector<int8_t> want(static_cast<size_t>(n + 8), 99);
      for (int64_t l = 0; l < n; ++l) want[l] = (mask[l / 64] >> (l % 64)) & 1 ? x[l + delta] : int8_t{0};
      for (Isa isa : {Isa::ref, Isa::avx2, Isa::avx512, Isa::avx512vnni}) {
        if (!isa_supported(isa)) continue;
        set_active_isa(isa);
        std::vector<int8_t> got(static_cast<size_t>(n + 8), 99);
        shifted_copy_i8(n, x.data(), delta, mask.data(), got.data());
        EXPECT_EQ(got, want) << isa_name(isa) << " n=" << n << " delta=" << delta;
      }
    }
  }
  set_active_isa(saved);
}

}  // namespace
}  // namespace lowbit::kernels
