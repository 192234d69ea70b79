// Elementwise kernels (kernels/elementwise.h): the coalesced, threaded broadcast loops give
// bitwise the odometer references' results on random broadcast shapes, and the element rules
// hold at their edges (integer division and Mod by 0 and -1, shifts past the width, NaN in
// Max/Min, Pow on integers), plus Where, Expand and CumSum against plain loops.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "lowbit/kernels/elementwise.h"

namespace lowbit::kernels {
namespace {

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// Two shapes that broadcast to a third: each axis of the output is kept, or 1 in one operand;
// operands may have fewer axes.
struct Triple {
  Shape a, b, y;
};
Triple random_shapes(std::mt19937& rng) {
  Triple t;
  const size_t rank = 1 + rng() % 4;
  for (size_t d = 0; d < rank; ++d) t.y.push_back(1 + static_cast<int64_t>(rng() % 5));
  for (Shape* s : {&t.a, &t.b}) {
    const size_t dropped = rng() % 2 ? rng() % rank : 0;  // leading axes the operand lacks
    for (size_t d = dropped; d < rank; ++d) s->push_back(rng() % 3 == 0 ? 1 : t.y[d]);
  }
  return t;
}

template <typename T>
std::vector<T> random_values(std::mt19937& rng, int64_t n) {
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) {
    if constexpr (std::is_floating_point_v<T>) x = static_cast<T>(std::uniform_real_distribution<double>(-3, 3)(rng));
    else x = static_cast<T>(static_cast<int>(rng() % 11) - (std::is_signed_v<T> ? 5 : 0));
  }
  return v;
}

template <typename T>
void binary_matches_reference(uint32_t seed) {
  std::mt19937 rng(seed);
  for (int trial = 0; trial < 200; ++trial) {
    const Triple s = random_shapes(rng);
    const auto a = random_values<T>(rng, numel(s.a)), b = random_values<T>(rng, numel(s.b));
    for (Binary op : {Binary::add, Binary::sub, Binary::mul, Binary::div, Binary::max, Binary::min, Binary::prelu,
                      Binary::mod_fmod, Binary::mod_floor, Binary::shift_left, Binary::shift_right, Binary::bit_and,
                      Binary::bit_or, Binary::bit_xor}) {
      if (!binary_defined<T>(op)) continue;
      if (std::is_floating_point_v<T> && op == Binary::mod_floor) continue;  // ONNX: floats need fmod
      std::vector<T> fast(static_cast<size_t>(numel(s.y)), T{7}), want(fast);
      binary<T>(op, a.data(), s.a, b.data(), s.b, fast.data(), s.y);
      ref::binary<T>(op, a.data(), s.a, b.data(), s.b, want.data(), s.y);
      ASSERT_EQ(fast.empty() ? 0 : std::memcmp(fast.data(), want.data(), fast.size() * sizeof(T)), 0) << "op " << static_cast<int>(op);
    }
    for (Compare op : {Compare::eq, Compare::lt, Compare::gt, Compare::le, Compare::ge, Compare::logical_xor}) {
      const auto n = static_cast<size_t>(numel(s.y));
      auto fast = std::make_unique<bool[]>(n), want = std::make_unique<bool[]>(n);
      compare<T>(op, a.data(), s.a, b.data(), s.b, fast.get(), s.y);
      ref::compare<T>(op, a.data(), s.a, b.data(), s.b, want.get(), s.y);
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(fast[i], want[i]) << "compare " << static_cast<int>(op);
    }
    std::vector<T> fast(static_cast<size_t>(numel(s.y))), want(fast.size());
    pow<T, T>(a.data(), s.a, b.data(), s.b, fast.data(), s.y);
    ref::pow<T, T>(a.data(), s.a, b.data(), s.b, want.data(), s.y);
    ASSERT_EQ(fast.empty() ? 0 : std::memcmp(fast.data(), want.data(), fast.size() * sizeof(T)), 0) << "pow";
  }
}

TEST(Elementwise, BroadcastLoopsMatchReferenceBitwise) {
  binary_matches_reference<float>(1);
  binary_matches_reference<double>(2);
  binary_matches_reference<int8_t>(3);
  binary_matches_reference<uint8_t>(4);
  binary_matches_reference<int32_t>(5);
  binary_matches_reference<uint32_t>(6);
  binary_matches_reference<int64_t>(7);
  binary_matches_reference<uint64_t>(8);
}

TEST(Elementwise, ElementRulesAtTheEdges) {
  constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
  EXPECT_EQ(elem::divide<int32_t>(7, 0), 0);
  EXPECT_EQ(elem::divide<int32_t>(kMin, -1), kMin);  // wraps instead of trapping
  EXPECT_EQ(elem::divide<int32_t>(-7, 2), -3);       // truncation
  EXPECT_EQ(elem::mod<int32_t>(-7, 3, false), 2);    // Python: the divisor's sign
  EXPECT_EQ(elem::mod<int32_t>(-7, 3, true), -1);    // C fmod: the dividend's sign
  EXPECT_EQ(elem::mod<int32_t>(7, -3, false), -2);
  EXPECT_EQ(elem::mod<int32_t>(kMin, -1, false), 0);
  EXPECT_EQ(elem::mod<int32_t>(5, 0, true), 0);
  EXPECT_EQ(elem::shift<uint8_t>(1, 7, true), 128);
  EXPECT_EQ(elem::shift<uint8_t>(1, 8, true), 0);
  EXPECT_EQ(elem::shift<uint64_t>(1, 64, false), 0u);
  EXPECT_EQ(elem::int_pow<int32_t>(3, 4), 81);
  EXPECT_EQ(elem::int_pow<int32_t>(-1, -3), -1);
  EXPECT_EQ(elem::int_pow<int32_t>(2, -1), 0);
  EXPECT_EQ(elem::int_pow<int8_t>(2, 7), -128);  // wraps like repeated int8 multiplication
  EXPECT_EQ((elem::pow<int32_t, float>(10, 20.0f)), std::numeric_limits<int32_t>::max());  // saturates
  EXPECT_EQ((elem::pow<int32_t, float>(-1, 0.5f)), 0);  // NaN -> 0
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(elem::max(1.0f, nan)));
  EXPECT_TRUE(std::isnan(elem::min(nan, 1.0f)));
  EXPECT_EQ(elem::unary(Unary::round, 2.5f), 2.0f);  // half to even
  EXPECT_EQ(elem::unary(Unary::sign, int8_t{-5}), -1);
  EXPECT_EQ(elem::unary(Unary::bit_not, uint8_t{0x0f}), 0xf0);
}

TEST(Elementwise, WhereExpandAndCumSum) {
  // Where with all three operands broadcast: cond (2, 1), x (1, 3), z scalar.
  const bool cond[2] = {true, false};
  const float x[3] = {1, 2, 3}, z = -1;
  float y[6];
  select(cond, {2, 1}, x, {1, 3}, &z, {}, sizeof(float), y, {2, 3});
  EXPECT_EQ(std::vector<float>(y, y + 6), (std::vector<float>{1, 2, 3, -1, -1, -1}));

  const int16_t row[3] = {4, 5, 6};
  int16_t e[6];
  broadcast_copy(row, {3}, sizeof(int16_t), e, {2, 3});
  EXPECT_EQ(std::vector<int16_t>(e, e + 6), (std::vector<int16_t>{4, 5, 6, 4, 5, 6}));

  // (outer 2, n 3, inner 2) against a plain loop, every mode.
  std::vector<int32_t> in(12);
  for (int i = 0; i < 12; ++i) in[static_cast<size_t>(i)] = i * i - 5;
  for (bool exclusive : {false, true})
    for (bool reverse : {false, true}) {
      std::vector<int32_t> out(12, 99);
      cumsum<int32_t>(2, 3, 2, exclusive, reverse, in.data(), out.data());
      for (int o = 0; o < 2; ++o)
        for (int k = 0; k < 2; ++k)
          for (int i = 0; i < 3; ++i) {
            int32_t want = 0;
            for (int j = 0; j < 3; ++j) {
              const bool counted = reverse ? (exclusive ? j > i : j >= i) : (exclusive ? j < i : j <= i);
              if (counted) want += in[static_cast<size_t>((o * 3 + j) * 2 + k)];
            }
            ASSERT_EQ(out[static_cast<size_t>((o * 3 + i) * 2 + k)], want) << exclusive << reverse << o << i << k;
          }
    }
}

}  // namespace
}  // namespace lowbit::kernels
