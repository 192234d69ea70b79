// Walsh–Hadamard transform: the Sylvester matrix itself (H·H = h·I), every fast path equal to
// the dense ±1 product exactly for integers and within a derived bound for fp32, along rows and
// columns, in place and out of place.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "isa_paths.h"
#include "lowbit/core/threads.h"
#include "lowbit/kernels/hadamard.h"
#include "lowbit/kernels/hadamard_ref.h"
#include "lowbit/kernels/isa.h"
#include "lowbit/kernels/quant.h"

namespace lowbit::kernels {
namespace {

struct Case {
  int64_t rows, cols, h;
  int axis;
};

std::vector<Case> cases() {
  std::vector<Case> c;
  for (int64_t h : {1, 2, 4, 8, 16, 32, 64, 256})
    for (int axis : {0, 1}) {
      const int64_t line = h * (h <= 16 ? 3 : 2);  // several blocks per line
      for (int64_t other : {1, 5, 16, 33})
        c.push_back(axis == 1 ? Case{other, line, h, 1} : Case{line, other, h, 0});
    }
  // Rows that end in a partial vector after full ones (conv positions 14x14 and 7x7), and one
  // longer than a work segment so that a segment ends mid-vector.
  for (Case extra : {Case{5, 196, 4, 1}, Case{3, 49, 1, 1}, Case{2, 4100, 4, 1}}) c.push_back(extra);
  // Blocks needing radix-8 passes plus a radix-4 or radix-2 remainder; column strips ending in a
  // partial vector (40, 20 columns).
  for (Case extra : {Case{2, 1024, 512, 1}, Case{1, 2048, 1024, 1}, Case{3, 4096, 2048, 1}, Case{1024, 3, 1024, 0},
                     Case{512, 40, 512, 0}, Case{256, 20, 128, 0}, Case{2048, 2, 2048, 0}})
    c.push_back(extra);
  return c;
}

TEST(Hadamard, SylvesterSquaresToHTimesIdentity) {
  for (int64_t h : {1, 2, 4, 8, 16, 64}) {
    for (int64_t i = 0; i < h; ++i)
      for (int64_t j = 0; j < h; ++j) {
        int64_t s = 0;
        for (int64_t k = 0; k < h; ++k) s += ref::hadamard_entry(i, k) * ref::hadamard_entry(k, j);
        ASSERT_EQ(s, i == j ? h : 0) << "h=" << h << " i=" << i << " j=" << j;
        ASSERT_EQ(ref::hadamard_entry(i, j), ref::hadamard_entry(j, i));
      }
  }
  // The fast transform applied twice multiplies by h (integers: exactly).
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> d(-100, 100);
  const HadamardShape s{3, 64, 1, 32};
  std::vector<int32_t> x(3 * 64), y(x.size());
  for (auto& v : x) v = d(rng);
  fwht_i32(s, x.data(), 64, y.data(), 64);
  fwht_i32(s, y.data(), 64, y.data(), 64);
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(y[i], 32 * x[i]);
}

TEST(Hadamard, BlockSizeIsLargestPowerOfTwoDivisor) {
  EXPECT_EQ(hadamard_block(1), 1);
  EXPECT_EQ(hadamard_block(784), 16);
  EXPECT_EQ(hadamard_block(512), 512);
  EXPECT_EQ(hadamard_block(405), 1);
  EXPECT_EQ(hadamard_block(128 * 3), 128);
}

TEST(Hadamard, IntegerPathsEqualDenseProduct) {
  std::mt19937 rng(2);
  std::uniform_int_distribution<int> d(-128, 127);
  const Isa saved = active_isa();
  for (const Case& c : cases()) {
    const HadamardShape s{c.rows, c.cols, c.axis, c.h};
    const int64_t ld = c.cols + 3;  // strided rows
    std::vector<int8_t> x(c.rows * ld);
    for (auto& v : x) v = static_cast<int8_t>(d(rng));
    std::vector<int32_t> want(c.rows * ld, 0), got(want.size()), inplace(want.size());
    std::vector<int16_t> want16(want.size(), 0), got16(want.size());
    ref::fwht_i8_i32(s, x.data(), ld, want.data(), ld);
    if (c.h <= 128) ref::fwht_i8_i16(s, x.data(), ld, want16.data(), ld);
    for (Isa isa : isa_paths()) {
      set_active_isa(isa);
      std::fill(got.begin(), got.end(), 0);
      fwht_i8_i32(s, x.data(), ld, got.data(), ld);
      EXPECT_EQ(got, want) << "i8->i32 h=" << c.h << " axis=" << c.axis << " " << c.rows << "x" << c.cols << " " << isa_name(isa);
      for (size_t i = 0; i < x.size(); ++i) inplace[i] = x[i];
      if (c.axis == 1) {  // the transform with its max |y|: the same y, the max of max_abs_i32
        std::fill(got.begin(), got.end(), 0);
        const int32_t m = fwht_i8_i32_max_abs(s, x.data(), ld, got.data(), ld);
        EXPECT_EQ(got, want) << "i8->i32 with max, h=" << c.h << " " << c.rows << "x" << c.cols << " " << isa_name(isa);
        int32_t want_m = 0;
        for (int64_t r = 0; r < c.rows; ++r) want_m = std::max(want_m, max_abs_i32(c.cols, want.data() + r * ld));
        EXPECT_EQ(m, want_m) << "max |H x| h=" << c.h << " " << c.rows << "x" << c.cols << " " << isa_name(isa);
      }
      fwht_i32(s, inplace.data(), ld, inplace.data(), ld);
      for (int64_t r = 0; r < c.rows; ++r)
        for (int64_t k = 0; k < c.cols; ++k) ASSERT_EQ(inplace[r * ld + k], want[r * ld + k]) << isa_name(isa);
      if (c.h <= 128) {
        std::fill(got16.begin(), got16.end(), 0);
        fwht_i8_i16(s, x.data(), ld, got16.data(), ld);
        EXPECT_EQ(got16, want16) << "i8->i16 h=" << c.h << " " << isa_name(isa);
      }
    }
  }
  set_active_isa(saved);
}

// Rows given as shifted views of one buffer (an im2col never written): every path equal to the
// reference transform of the rows written out, and to its max |y|. Rows overlap, offsets may
// be negative; masked positions outside the buffer are never read (ASan checks that).
TEST(Hadamard, ShiftedRowsEqualRowsWrittenOut) {
  std::mt19937 rng(4);
  std::uniform_int_distribution<int> d(-128, 127);
  const Isa saved = active_isa();
  for (const Case& c : {Case{9, 784, 16, 1}, Case{18, 196, 4, 1}, Case{36, 49, 1, 1}, Case{5, 48, 8, 1},
                        Case{3, 10, 2, 1}, Case{2, 96, 32, 1},
                        Case{40, 512, 16, 1}}) {  // last: more rows than the first (a scratch grows)
    const HadamardShape s{c.rows, c.cols, 1, c.h};
    const int64_t span = c.cols + 64, words = (c.cols + 63) / 64;
    std::vector<int8_t> x(span);
    for (auto& v : x) v = static_cast<int8_t>(d(rng));
    std::vector<int64_t> offset(c.rows);
    std::vector<std::vector<uint64_t>> masks(c.rows, std::vector<uint64_t>(words));
    std::vector<const uint64_t*> mask(c.rows);
    std::vector<int8_t> rows(c.rows * c.cols, 0);
    for (int64_t r = 0; r < c.rows; ++r) {
      offset[r] = std::uniform_int_distribution<int64_t>(-30, 60)(rng);
      for (auto& w : masks[r]) w = (static_cast<uint64_t>(rng()) << 32) | rng();
      for (int64_t n = 0; n < words * 64; ++n) {
        const bool inside = n < c.cols && offset[r] + n >= 0 && offset[r] + n < span;
        if (!inside) masks[r][n / 64] &= ~(uint64_t{1} << (n % 64));
        else if ((masks[r][n / 64] >> (n % 64)) & 1) rows[r * c.cols + n] = x[offset[r] + n];
      }
      mask[r] = masks[r].data();
    }
    std::vector<int32_t> want(c.rows * c.cols), got(want.size());
    ref::fwht_i8_i32(s, rows.data(), c.cols, want.data(), c.cols);
    const int32_t want_m = max_abs_i32(static_cast<int64_t>(want.size()), want.data());
    for (Isa isa : isa_paths()) {
      set_active_isa(isa);
      std::fill(got.begin(), got.end(), -7);
      const int32_t m = fwht_shifted_i8_i32_max_abs(s, {x.data(), offset.data(), mask.data()}, got.data(), c.cols);
      EXPECT_EQ(got, want) << "shifted rows h=" << c.h << " " << c.rows << "x" << c.cols << " " << isa_name(isa);
      EXPECT_EQ(m, want_m) << "shifted rows max, h=" << c.h << " " << isa_name(isa);
    }
  }
  set_active_isa(saved);
}

// fp32: the dense reference sums in double (one rounding); the fast transform rounds once per
// stage, and each stage's values are bounded by Σ|x| over the block, so
// |fast - exact| <= log2(h)·u·Σ|x_block| with u = 2^-24, plus u·|exact| for the reference.
TEST(Hadamard, Fp32PathsWithinDerivedBoundAndAgreeWithEachOther) {
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.0f, 3.0f);
  const Isa saved = active_isa();
  for (const Case& c : cases()) {
    const HadamardShape s{c.rows, c.cols, c.axis, c.h};
    std::vector<float> x(c.rows * c.cols), want(x.size());
    for (auto& v : x) v = d(rng);
    ref::fwht_f32(s, x.data(), c.cols, want.data(), c.cols);
    std::vector<float> first;
    for (Isa isa : isa_paths()) {
      set_active_isa(isa);
      std::vector<float> got = x;
      fwht_f32(s, got.data(), c.cols, got.data(), c.cols);  // in place
      const double stages = std::log2(static_cast<double>(c.h));
      for (int64_t r = 0; r < c.rows; ++r)
        for (int64_t k = 0; k < c.cols; ++k) {
          const int64_t line0 = c.axis == 1 ? (k / c.h) * c.h : (r / c.h) * c.h;
          double block_abs = 0;
          for (int64_t j = 0; j < c.h; ++j)
            block_abs += std::fabs(c.axis == 1 ? x[r * c.cols + line0 + j] : x[(line0 + j) * c.cols + k]);
          const double tol = (stages + 1) * 0x1p-24 * block_abs;
          ASSERT_LE(std::fabs(got[r * c.cols + k] - want[r * c.cols + k]), tol) << isa_name(isa) << " h=" << c.h;
        }
      if (isa != Isa::ref) {  // same butterfly network: fast paths agree bit for bit
        if (first.empty()) first = got;
        EXPECT_EQ(got, first) << isa_name(isa) << " h=" << c.h << " axis=" << c.axis;
      }
      if (c.axis == 1) {  // with its max |y|: the same y as fwht_f32 on this path, max_abs_f32's max
        std::vector<float> y(x.size(), 0.0f);
        const float m = fwht_f32_max_abs(s, x.data(), c.cols, y.data(), c.cols);
        EXPECT_EQ(y, got) << "with max, " << isa_name(isa) << " h=" << c.h << " " << c.rows << "x" << c.cols;
        EXPECT_EQ(m, max_abs_f32(static_cast<int64_t>(got.size()), got.data())) << isa_name(isa) << " h=" << c.h;
      }
    }
  }
  set_active_isa(saved);
}

}  // namespace
}  // namespace lowbit::kernels

namespace lowbit::kernels {
namespace {

// Transforms long enough to be split over 2-3 threads (a thread takes at least 64 Ki values):
// the same outputs and maxima as the reference (integers) or the one-thread run (fp32).
TEST(Hadamard, LongTransformsEqualReferenceAtAnyThreadCount) {
  std::mt19937 rng(8);
  std::uniform_int_distribution<int> d(-128, 127);
  const Isa saved = active_isa();
  const int saved_threads = num_threads();
  const HadamardShape s{101, 3136, 1, 16};  // 316 736 values
  const int64_t n = s.rows * s.cols;
  std::vector<int8_t> x(n);
  std::vector<float> xf(n);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<int8_t>(d(rng)), xf[i] = static_cast<float>(d(rng)) / 7.0f;
  std::vector<int32_t> want(n), got(n);
  ref::fwht_i8_i32(s, x.data(), s.cols, want.data(), s.cols);
  const int32_t want_m = max_abs_i32(n, want.data());
  // The same rows through shifted views (offset r·cols, every mask bit set).
  std::vector<int64_t> offset(s.rows);
  std::vector<uint64_t> ones((s.cols + 63) / 64, ~uint64_t{0});
  std::vector<const uint64_t*> mask(s.rows, ones.data());
  for (int64_t r = 0; r < s.rows; ++r) offset[r] = r * s.cols;
  for (Isa isa : isa_paths()) {
    set_active_isa(isa);
    set_num_threads(1);
    std::vector<float> want_f(n), got_f(n);
    const float want_fm = fwht_f32_max_abs(s, xf.data(), s.cols, want_f.data(), s.cols);
    for (int threads : {1, 2, 3}) {
      set_num_threads(threads);
      EXPECT_EQ(fwht_i8_i32_max_abs(s, x.data(), s.cols, got.data(), s.cols), want_m) << isa_name(isa) << " " << threads;
      EXPECT_EQ(got, want) << isa_name(isa) << " threads " << threads;
      std::fill(got.begin(), got.end(), -7);
      EXPECT_EQ(fwht_shifted_i8_i32_max_abs(s, {x.data(), offset.data(), mask.data()}, got.data(), s.cols), want_m);
      EXPECT_EQ(got, want) << "shifted, " << isa_name(isa) << " threads " << threads;
      EXPECT_EQ(fwht_f32_max_abs(s, xf.data(), s.cols, got_f.data(), s.cols), want_fm);
      EXPECT_EQ(got_f, want_f) << "fp32, " << isa_name(isa) << " threads " << threads;
    }
  }
  set_num_threads(saved_threads);
  set_active_isa(saved);
}

}  // namespace
}  // namespace lowbit::kernels
