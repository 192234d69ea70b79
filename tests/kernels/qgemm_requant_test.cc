// The fused requantization of the u8×s8 GEMMs at its limits: the VNNI kernels skip the ±1e9
// clamp only when no sum can reach it and start requantized sums from corr; products whose
// scaled sums pass ±1e9 (and the ±2^31 of the float-to-int conversion) must still give the
// reference's saturated codes, on every path, panel kernel and N <= 16 kernel, plain and taps.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "lowbit/kernels/isa.h"
#include "lowbit/kernels/qlinear.h"
#include "lowbit/kernels/qlinear_ref.h"

namespace lowbit::kernels {
namespace {

TEST(QgemmRequant, HugeScaledSumsSaturateLikeReference) {
  std::mt19937 rng(31);
  std::uniform_int_distribution<int> ud(0, 255), sd(-128, 127);
  const Isa saved = active_isa();
  std::vector<Isa> paths;
  for (Isa i : {Isa::ref, Isa::avx2, Isa::avx512, Isa::avx512vnni})
    if (isa_supported(i)) paths.push_back(i);
  for (int64_t N : {5, 16, 40, 64})
    for (float s : {1e-4f, 3e4f, 1e7f}) {
      const int64_t M = 23, C = 16, taps = 9, K = C * taps;
      std::vector<uint8_t> a(static_cast<size_t>(M * K));
      std::vector<int8_t> w(static_cast<size_t>(N * K));
      for (auto& v : a) v = static_cast<uint8_t>(ud(rng));
      for (auto& v : w) v = static_cast<int8_t>(sd(rng));
      std::vector<int32_t> acc(static_cast<size_t>(M * N)), corr(static_cast<size_t>(N));
      std::vector<float> scale(static_cast<size_t>(N));
      for (int64_t n = 0; n < N; ++n) corr[static_cast<size_t>(n)] = static_cast<int32_t>(n % 3) * 40000 - 40000, scale[static_cast<size_t>(n)] = s * static_cast<float>(n % 4 + 1);
      ref::qgemm_u8s8(M, N, K, a.data(), K, w.data(), K, acc.data(), N);
      const Requant ru{corr.data(), scale.data(), 100, 3, 250};
      const Requant rs{corr.data(), scale.data(), -1, -100, 120};
      std::vector<uint8_t> uwant(acc.size()), ugot(acc.size());
      std::vector<int8_t> swant(acc.size()), sgot(acc.size());
      ref::requantize_u8(M, N, acc.data(), N, ru, uwant.data(), N);
      ref::requantize_s8(M, N, acc.data(), N, rs, swant.data(), N);
      if (s > 1e6f) {  // the limit is reached: codes at both ends
        EXPECT_NE(std::count(uwant.begin(), uwant.end(), 250), 0);
        EXPECT_NE(std::count(uwant.begin(), uwant.end(), 3), 0);
      }
      // The same rows as taps over an "image" whose row m starts at m·K: one tap per C codes.
      std::vector<int64_t> off;
      for (int64_t t = 0; t < taps; ++t) off.push_back(t * C);
      for (Isa isa : paths) {
        set_active_isa(isa);
        const QgemmPackedW pw = qgemm_pack_w(N, K, w.data());
        const std::string where = "N=" + std::to_string(N) + " scale " + std::to_string(s) + " on " + std::string(isa_name(isa)) + " (" +
                                  qgemm_kernel_name(M, pw) + ")";
        qgemm_u8s8_requant_u8(M, a.data(), K, pw, ru, ugot.data(), N);
        EXPECT_EQ(ugot, uwant) << where;
        qgemm_u8s8_requant_s8(M, a.data(), K, pw, rs, sgot.data(), N);
        EXPECT_EQ(sgot, swant) << where;
        std::fill(ugot.begin(), ugot.end(), 0);
        qgemm_taps_requant_u8(M, C, off.data(), taps, a.data(), K, pw, ru, ugot.data(), N);
        EXPECT_EQ(ugot, uwant) << "taps " << where;
      }
      set_active_isa(saved);
    }
}

}  // namespace
}  // namespace lowbit::kernels
