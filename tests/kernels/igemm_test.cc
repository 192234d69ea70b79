// Integer GEMM: the scalar reference checked on hand-worked sums, then one harness that runs
// every path this CPU supports against it, bit for bit, for every accumulator model, on odd and
// power-of-two-±1 shapes, deep K, random codes and all-extreme codes (saturating every tile).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "isa_paths.h"
#include "lowbit/kernels/igemm.h"
#include "lowbit/kernels/igemm_ref.h"
#include "lowbit/kernels/isa.h"
#include "lowbit/kernels/quant.h"

namespace lowbit::kernels {
namespace {

AccSpec spec(AccModel m, int bits, int64_t tile) { return AccSpec{m, bits, tile}; }

TEST(IgemmRef, HandWorkedAccumulators) {
  const int8_t a[3] = {100, 100, -100}, b[3] = {1, 1, 1};
  EXPECT_EQ(ref::dot(3, a, b, spec(AccModel::exact, 32, 0)), 100);
  EXPECT_EQ(ref::dot(3, a, b, spec(AccModel::tile_clamp, 8, 0)), 100);      // one tile: 100
  EXPECT_EQ(ref::dot(3, a, b, spec(AccModel::tile_clamp, 8, 2)), 27);       // 127 + (-100)
  EXPECT_EQ(ref::dot(3, a, b, spec(AccModel::saturating, 8, 0)), 27);       // 100, 127, 27
  EXPECT_EQ(ref::dot(3, a, b, spec(AccModel::wrap, 8, 0)), 100);            // 100, -56, 100
  EXPECT_EQ(ref::dot(2, a, b, spec(AccModel::wrap, 8, 0)), -56);            // 200 - 256
  const int8_t c[4] = {-128, -128, 127, 127}, d[4] = {-128, 127, 127, -128};
  // 16384, -16256, 16129, -16256: exact 1, an 8-bit saturating adder ends at -127.
  EXPECT_EQ(ref::dot(4, c, d, spec(AccModel::exact, 32, 0)), 1);
  EXPECT_EQ(ref::dot(4, c, d, spec(AccModel::saturating, 8, 0)), -127);
  EXPECT_EQ(ref::dot(4, c, d, spec(AccModel::tile_clamp, 8, 1)), 0);      // 127 - 127 + 127 - 127
}

// Random codes in [lo, hi]; pattern 1 = all-extreme ±hi with random signs, 2 = all +hi (A) and
// all +hi or -hi (B), so that every tile of a narrow accumulator saturates.
std::vector<int8_t> codes(int64_t n, int lo, int hi, int pattern, std::mt19937& rng) {
  std::vector<int8_t> v(static_cast<size_t>(n));
  std::uniform_int_distribution<int> d(lo, hi), coin(0, 1);
  for (auto& x : v) x = static_cast<int8_t>(pattern == 0 ? d(rng) : pattern == 1 ? (coin(rng) ? hi : -hi) : hi);
  return v;
}

const std::vector<AccSpec>& specs() {
  static const std::vector<AccSpec> s = {
      spec(AccModel::exact, 32, 0),       spec(AccModel::tile_clamp, 8, 32), spec(AccModel::tile_clamp, 8, 0),
      spec(AccModel::tile_clamp, 12, 16), spec(AccModel::tile_clamp, 8, 6),  spec(AccModel::tile_clamp, 8, 5),
      spec(AccModel::saturating, 8, 0),   spec(AccModel::saturating, 8, 32), spec(AccModel::saturating, 16, 0),
      spec(AccModel::saturating, 20, 8),  spec(AccModel::wrap, 8, 0),        spec(AccModel::wrap, 8, 32),
      spec(AccModel::wrap, 12, 6),
  };
  return s;
}

std::string describe(const AccSpec& a, int64_t M, int64_t N, int64_t K, Isa isa, int pattern) {
  static const char* names[] = {"exact", "tile_clamp", "saturating", "wrap"};
  return std::string(names[static_cast<int>(a.model)]) + " A=" + std::to_string(a.bits) + " T=" + std::to_string(a.tile) +
         " M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K) + " path=" +
         std::string(isa_name(isa)) + " pattern=" + std::to_string(pattern);
}

// Runs all specs on all paths for one shape and one value pattern; returns the failure count.
int check_shape(int64_t M, int64_t N, int64_t K, int lo, int hi, int pattern, std::mt19937& rng) {
  const auto A = codes(M * K, lo, hi, pattern, rng);
  auto B = codes(N * K, lo, hi, pattern, rng);
  if (pattern == 2 && rng() % 2)
    for (auto& x : B) x = static_cast<int8_t>(-x);
  std::vector<int32_t> want(static_cast<size_t>(M * N)), got(want.size());
  const Isa saved = active_isa();
  int failures = 0;
  for (const AccSpec& a : specs()) {
    ref::igemm_s32(M, N, K, {A.data(), K}, {B.data(), K}, a, want.data(), N);
    for (Isa isa : isa_paths()) {
      set_active_isa(isa);
      std::fill(got.begin(), got.end(), 0x5A5A5A5A);
      igemm_s32(M, N, K, {A.data(), K}, {B.data(), K}, a, got.data(), N);
      if (got != want && ++failures <= 3) ADD_FAILURE() << describe(a, M, N, K, isa, pattern);
    }
  }
  set_active_isa(saved);
  return failures;
}

TEST(Igemm, SmallShapesAllPathsAllModels) {
  std::mt19937 rng(1);
  int failures = 0;
  for (int64_t M = 1; M <= 17; ++M)
    for (int64_t N : {int64_t{1}, int64_t{7}, int64_t{16}, int64_t{17}, M})
      for (int64_t K : {1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 33})
        failures += check_shape(M, N, K, -128, 127, 0, rng);
  EXPECT_EQ(failures, 0);
}

TEST(Igemm, PowerOfTwoNeighbourShapes) {
  std::mt19937 rng(2);
  int failures = 0;
  const int64_t sizes[] = {31, 33, 63, 65, 127, 129};
  for (int64_t M : sizes)
    for (int64_t N : sizes)
      if ((M + N) % 3 == 0 || M == N) failures += check_shape(M, N, (M * 7 + N) % 97 + 31, -7, 7, 0, rng);
  EXPECT_EQ(failures, 0);
}

TEST(Igemm, DeepKRandomAndExtremeValues) {
  std::mt19937 rng(3);
  int failures = 0;
  for (int64_t K : {255, 1000, 1027, 4096}) {
    failures += check_shape(9, 37, K, -128, 127, 0, rng);
    failures += check_shape(17, 33, K, -7, 7, 1, rng);     // ±7: 4-bit codes, extreme
    failures += check_shape(5, 65, K, -127, 127, 1, rng);  // ±127 random signs
    failures += check_shape(3, 17, K, -127, 127, 2, rng);  // all same sign: every tile saturates
  }
  EXPECT_EQ(failures, 0);
}

TEST(Igemm, Int4OperandsAndFp32Epilogue) {
  std::mt19937 rng(4);
  const int64_t M = 13, N = 35, K = 77;  // odd K: int4 rows start mid-byte
  const auto A = codes(M * K, -8, 7, 0, rng), B = codes(N * K, -8, 7, 0, rng);
  std::vector<uint8_t> pa((M * K + 1) / 2), pb((N * K + 1) / 2);
  pack_int4(M * K, A.data(), pa.data());
  pack_int4(N * K, B.data(), pb.data());
  std::vector<float> scale(N), bias(N);
  for (int64_t n = 0; n < N; ++n) scale[n] = 0.01f * static_cast<float>(n + 1), bias[n] = 0.5f - static_cast<float>(n);
  const IgemmEpilogue ep{0.37f, scale.data(), bias.data()};
  const Isa saved = active_isa();
  for (const AccSpec& a : specs()) {
    std::vector<int32_t> want(M * N), got(M * N);
    std::vector<float> wantf(M * N), gotf(M * N);
    ref::igemm_s32(M, N, K, {A.data(), K}, {B.data(), K}, a, want.data(), N);
    ref::igemm_f32(M, N, K, {A.data(), K}, {B.data(), K}, a, ep, wantf.data(), N);
    for (Isa isa : isa_paths()) {
      set_active_isa(isa);
      igemm_s32(M, N, K, {pa.data(), K, true}, {pb.data(), K, true}, a, got.data(), N);
      igemm_f32(M, N, K, {pa.data(), K, true}, {B.data(), K}, a, ep, gotf.data(), N);
      EXPECT_EQ(got, want) << describe(a, M, N, K, isa, 0);
      EXPECT_EQ(gotf, wantf) << describe(a, M, N, K, isa, 0);  // same fp32 steps: bit-identical
    }
  }
  set_active_isa(saved);
}

TEST(Igemm, StridedOutputLeavesPaddingAlone) {
  std::mt19937 rng(5);
  const int64_t M = 10, N = 19, K = 40, ldc = 23;
  const auto A = codes(M * K, -128, 127, 0, rng), B = codes(N * K, -128, 127, 0, rng);
  std::vector<int32_t> want(M * ldc, -1), got(M * ldc, -1);
  const AccSpec a = spec(AccModel::tile_clamp, 8, 32);
  ref::igemm_s32(M, N, K, {A.data(), K}, {B.data(), K}, a, want.data(), ldc);
  igemm_s32(M, N, K, {A.data(), K}, {B.data(), K}, a, got.data(), ldc);
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace lowbit::kernels
