// Integer GEMM with B packed once (igemm_pack_b): every packed product must equal the scalar
// reference on the unpacked B, bit for bit, for every accumulator model, every path the CPU
// supports at packing time × at product time (panels made for another path or spec fall back to
// the plain codes), odd and power-of-two-±1 shapes, int4 operands and the fp32 epilogue.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
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

std::vector<int8_t> random_codes(int64_t n, int lo, int hi, std::mt19937& rng) {
  std::vector<int8_t> v(static_cast<size_t>(n));
  std::uniform_int_distribution<int> d(lo, hi);
  for (auto& x : v) x = static_cast<int8_t>(d(rng));
  return v;
}

const std::vector<AccSpec>& specs() {
  static const std::vector<AccSpec> s = {
      {AccModel::exact, 32, 0},      {AccModel::tile_clamp, 8, 32}, {AccModel::tile_clamp, 8, 0},
      {AccModel::tile_clamp, 12, 16}, {AccModel::tile_clamp, 8, 6},  {AccModel::saturating, 8, 0},
      {AccModel::saturating, 16, 0}, {AccModel::saturating, 20, 8}, {AccModel::wrap, 8, 32},
      {AccModel::wrap, 12, 6},
  };
  return s;
}

std::string describe(const AccSpec& a, int64_t M, int64_t N, int64_t K, Isa packed_on, Isa run_on) {
  return "model=" + std::to_string(static_cast<int>(a.model)) + " A=" + std::to_string(a.bits) + " T=" +
         std::to_string(a.tile) + " M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K) +
         " packed on " + std::string(isa_name(packed_on)) + ", run on " + std::string(isa_name(run_on));
}

// Packs B under every path (with the spec of the product, and with exact: the panels of another
// model family) and runs the product on the best path, and B packed on the best path under
// every path; returns the failure count.
int check_shape(int64_t M, int64_t N, int64_t K, std::mt19937& rng) {
  const auto A = random_codes(M * K, -128, 127, rng), B = random_codes(N * K, -128, 127, rng);
  std::vector<int32_t> want(static_cast<size_t>(M * N)), got(want.size());
  const Isa saved = active_isa();
  int failures = 0;
  for (const AccSpec& a : specs()) {
    ref::igemm_s32(M, N, K, {A.data(), K}, {B.data(), K}, a, want.data(), N);
    for (Isa pack_isa : isa_paths())
      for (const AccSpec& packed_for : {a, AccSpec{}}) {
        set_active_isa(pack_isa);
        const IgemmPackedB pb = igemm_pack_b(N, K, {B.data(), K}, packed_for);
        for (Isa run_isa : isa_paths()) {
          // Panels made on the best path run on every path; the others only on the best one.
          if (pack_isa != isa_paths().back() && run_isa != isa_paths().back()) continue;
          set_active_isa(run_isa);
          std::fill(got.begin(), got.end(), 0x5A5A5A5A);
          igemm_s32_packed(M, {A.data(), K}, pb, a, got.data(), N);
          if (got != want && ++failures <= 3) ADD_FAILURE() << describe(a, M, N, K, pack_isa, run_isa);
        }
      }
  }
  set_active_isa(saved);
  return failures;
}

TEST(IgemmPacked, ShapeSweepEveryModelEveryPath) {
  std::mt19937 rng(11);
  int failures = 0;
  for (int64_t M : {1, 13, 49})
    for (int64_t N : {1, 17, 33})
      for (int64_t K : {1, 13, 97}) failures += check_shape(M, N, K, rng);
  failures += check_shape(65, 63, 1027, rng);  // several K blocks, partial last group of four
  failures += check_shape(7, 129, 600, rng);
  EXPECT_EQ(failures, 0);
}

TEST(IgemmPacked, Int4OperandsStridedBAndFp32Epilogue) {
  std::mt19937 rng(12);
  const int64_t M = 13, N = 35, K = 77, ldb = 80;  // odd K: int4 rows start mid-byte
  const auto A = random_codes(M * K, -8, 7, rng), B = random_codes(N * K, -8, 7, rng);
  std::vector<uint8_t> pa((M * K + 1) / 2), pb((N * K + 1) / 2);
  pack_int4(M * K, A.data(), pa.data());
  pack_int4(N * K, B.data(), pb.data());
  std::vector<int8_t> bs(static_cast<size_t>(N * ldb), 99);  // B with a row stride > K
  for (int64_t n = 0; n < N; ++n) std::copy(B.begin() + n * K, B.begin() + (n + 1) * K, bs.begin() + n * ldb);
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
      const IgemmPackedB b4 = igemm_pack_b(N, K, {pb.data(), K, true}, a), b8 = igemm_pack_b(N, K, {bs.data(), ldb}, a);
      EXPECT_EQ(b4.n, N);
      EXPECT_EQ(b4.k, K);
      igemm_s32_packed(M, {pa.data(), K, true}, b4, a, got.data(), N);
      EXPECT_EQ(got, want) << describe(a, M, N, K, isa, isa);
      igemm_f32_packed(M, {A.data(), K}, b8, a, ep, gotf.data(), N);
      EXPECT_EQ(gotf, wantf) << describe(a, M, N, K, isa, isa);  // same fp32 steps: bit-identical
    }
  }
  set_active_isa(saved);
}

// The scatter-add epilogue (col2im fused into the GEMM) against its reference: rows whose
// targets overlap (so that the order of the fp32 adds shows), masks with holes and a null one,
// negative offsets, several column blocks and row chunks, every model and path. Products of
// well over 2^24 in magnitude make the fp32 sums order-sensitive.
TEST(IgemmPacked, ScatterAddMatchesReferenceEveryModelEveryPath) {
  std::mt19937 rng(13);
  const Isa saved = active_isa();
  int failures = 0;
  for (const auto& [M, N, K] : std::vector<std::array<int64_t, 3>>{{1, 1, 1}, {9, 70, 16}, {61, 97, 40}, {150, 33, 13}, {149, 200, 16}}) {
    const auto A = random_codes(M * K, -128, 127, rng), B = random_codes(N * K, -128, 127, rng);
    const int64_t words = (N + 63) / 64, span = 3 * N;
    std::vector<int64_t> offset(M);
    std::vector<std::vector<uint64_t>> masks(M, std::vector<uint64_t>(words));
    std::vector<const uint64_t*> mask(M);
    std::uniform_int_distribution<int64_t> off(-N / 2, span - N);
    for (int64_t m = 0; m < M; ++m) {
      offset[m] = std::max<int64_t>(off(rng), 0) - (m % 5 == 1 ? std::min<int64_t>(N / 2, 3) : 0);
      for (auto& w : masks[m]) w = (static_cast<uint64_t>(rng()) << 32) | rng();
      for (int64_t n = 0; n < N; ++n)  // a negative offset: its first columns must not be live
        if (offset[m] + n < 0) masks[m][n / 64] &= ~(uint64_t{1} << (n % 64));
      if (offset[m] + N > span) offset[m] = span - N;
      mask[m] = m % 7 == 3 && offset[m] >= 0 ? nullptr : masks[m].data();
    }
    std::vector<float> start(span);
    for (auto& v : start) v = std::uniform_real_distribution<float>(-1e6f, 1e6f)(rng);
    const IgemmScatter sc{0.731f, offset.data(), mask.data()};
    for (const AccSpec& a : specs()) {
      std::vector<float> want = start;
      ref::igemm_scatter_add(M, N, K, {A.data(), K}, {B.data(), K}, a, sc, want.data());
      for (Isa isa : isa_paths()) {
        set_active_isa(isa);
        const IgemmPackedB pb = igemm_pack_b(N, K, {B.data(), K}, a);
        std::vector<float> got = start;
        igemm_scatter_add_packed(M, {A.data(), K}, pb, a, sc, got.data());
        if (got != want && ++failures <= 3) ADD_FAILURE() << "scatter " << describe(a, M, N, K, isa, isa);
      }
    }
  }
  set_active_isa(saved);
  EXPECT_EQ(failures, 0);
}

// B given K-major (im2col's rows): equal to the reference on Btᵀ for every model and path, at
// widths around the 16-column panels and 64-column loads, K with a partial group of four, and
// a row stride wider than N.
TEST(IgemmPacked, KMajorBMatchesReferenceEveryModelEveryPath) {
  std::mt19937 rng(14);
  const Isa saved = active_isa();
  int failures = 0;
  for (const auto& [M, N, K] : std::vector<std::array<int64_t, 3>>{
           {1, 1, 1}, {5, 15, 7}, {16, 64, 144}, {13, 65, 30}, {32, 196, 288}, {7, 130, 1030}}) {
    const int64_t ldbt = N + 3;
    const auto A = random_codes(M * K, -128, 127, rng), Bt = random_codes(K * ldbt, -128, 127, rng);
    std::vector<int8_t> B(static_cast<size_t>(N * K));
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) B[n * K + k] = Bt[k * ldbt + n];
    const IgemmEpilogue ep{0.37f};
    for (const AccSpec& a : specs()) {
      std::vector<float> want(M * N), got(M * N);
      ref::igemm_f32(M, N, K, {A.data(), K}, {B.data(), K}, a, ep, want.data(), N);
      for (Isa isa : isa_paths()) {
        set_active_isa(isa);
        std::fill(got.begin(), got.end(), -1.0f);
        igemm_f32_bt(M, N, K, {A.data(), K}, Bt.data(), ldbt, a, ep, got.data(), N);
        if (got != want && ++failures <= 3) ADD_FAILURE() << "k-major B " << describe(a, M, N, K, isa, isa);
      }
      std::fill(got.begin(), got.end(), -1.0f);
      ref::igemm_f32_bt(M, N, K, {A.data(), K}, Bt.data(), ldbt, a, ep, got.data(), N);
      EXPECT_EQ(got, want) << "reference";
    }
  }
  set_active_isa(saved);
  EXPECT_EQ(failures, 0);
}

// B as shifted rows of one buffer (a same-size conv's im2col, never written): every path equal
// to the reference, which writes the rows out. Offsets may be negative and rows overlap; masked
// positions lie outside the buffer (only set bits may be read, so ASan checks that too).
TEST(IgemmPacked, ShiftedRowsMatchReferenceEveryModelEveryPath) {
  std::mt19937 rng(15);
  const Isa saved = active_isa();
  int failures = 0;
  for (const auto& [M, N, K] : std::vector<std::array<int64_t, 3>>{
           {1, 1, 1}, {5, 15, 7}, {16, 784, 144}, {13, 65, 30}, {32, 196, 288}, {7, 130, 1030}}) {
    const int64_t span = N + 40, words = (N + 63) / 64;
    const auto x = random_codes(span, -128, 127, rng);
    std::vector<int64_t> offset(K);
    std::vector<std::vector<uint64_t>> masks(K, std::vector<uint64_t>(words));
    std::vector<const uint64_t*> mask(K);
    for (int64_t k = 0; k < K; ++k) {
      offset[k] = std::uniform_int_distribution<int64_t>(-20, 40)(rng);
      for (auto& w : masks[k]) w = (static_cast<uint64_t>(rng()) << 32) | rng();
      for (int64_t n = 0; n < words * 64; ++n)  // positions outside x (or beyond N) stay masked
        if (n >= N || offset[k] + n < 0 || offset[k] + n >= span) masks[k][n / 64] &= ~(uint64_t{1} << (n % 64));
      mask[k] = masks[k].data();
    }
    const ShiftedRows rows{x.data(), offset.data(), mask.data()};
    const auto A = random_codes(M * K, -128, 127, rng);
    const IgemmEpilogue ep{0.37f};
    for (const AccSpec& a : specs()) {
      std::vector<float> want(M * N), got(M * N);
      ref::igemm_f32_shifted(M, N, K, {A.data(), K}, rows, a, ep, want.data(), N);
      for (Isa isa : isa_paths()) {
        set_active_isa(isa);
        std::fill(got.begin(), got.end(), -1.0f);
        igemm_f32_shifted(M, N, K, {A.data(), K}, rows, a, ep, got.data(), N);
        if (got != want && ++failures <= 3) ADD_FAILURE() << "shifted rows " << describe(a, M, N, K, isa, isa);
      }
    }
  }
  set_active_isa(saved);
  EXPECT_EQ(failures, 0);
}

TEST(IgemmPacked, EmptyOperandsWriteNothing) {
  const int8_t b[4] = {1, 2, 3, 4};
  const IgemmPackedB pb = igemm_pack_b(1, 4, {b, 4}, AccSpec{});
  int32_t c = 7;
  igemm_s32_packed(0, {b, 4}, pb, AccSpec{}, &c, 1);
  EXPECT_EQ(c, 7);
  const IgemmPackedB none = igemm_pack_b(0, 4, {b, 4}, AccSpec{});
  igemm_s32_packed(1, {b, 4}, none, AccSpec{}, &c, 1);
  EXPECT_EQ(c, 7);
}

}  // namespace
}  // namespace lowbit::kernels
