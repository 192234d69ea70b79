// The two ways the integer conv of a ResNet block runs fused: a requantized product with the
// residual Add in its epilogue (qgemm_u8s8_requant_add_u8) must give the bytes of the product
// followed by qadd_u8, and the implicit GEMM over several images in one call must give the
// bytes of one call per image; on every path this CPU has, with 1 and 2 threads.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "isa_paths.h"
#include "lowbit/core/threads.h"
#include "lowbit/kernels/isa.h"
#include "lowbit/kernels/qlinear.h"

namespace lowbit::kernels {
namespace {

template <typename T>
std::vector<T> random_bytes(size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(0, 255);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

TEST(QgemmRequantAdd, EqualsProductThenAdd) {
  std::mt19937 rng(21);
  const Isa saved_isa = active_isa();
  const int saved_threads = num_threads();
  // M: below one block, a few blocks with a ragged end (blocks hold >= 48 rows), many blocks
  // (N = 256: 1008-row blocks).
  for (int64_t M : {1, 47, 300, 2100})
    for (int64_t N : {5, 70, 256})
      for (int64_t K : {4, 36}) {
        const auto a = random_bytes<uint8_t>(static_cast<size_t>(M * K + 4), rng);
        const auto w = random_bytes<int8_t>(static_cast<size_t>(N * K), rng);
        const auto r = random_bytes<uint8_t>(static_cast<size_t>(M * N), rng);
        std::vector<int32_t> corr(static_cast<size_t>(N));
        std::vector<float> scale(static_cast<size_t>(N));
        for (int64_t n = 0; n < N; ++n) {
          corr[static_cast<size_t>(n)] = static_cast<int32_t>(n * 37) - 900;
          scale[static_cast<size_t>(n)] = 1.0f / static_cast<float>(40 * K + n);
        }
        const Requant rq{corr.data(), scale.data(), 7, 0, 255};
        for (bool residual_first : {false, true})
          for (int32_t lo : {0, 12}) {  // no activation, Relu (lo = the sum's zero point)
            const QAddResidual add{r.data(), N, QAddParams{7, 120, 12, lo, 255, 0.61f, 0.93f}, residual_first};
            for (Isa isa : isa_paths())
              for (int threads : {1, 2}) {
                set_active_isa(isa);
                set_num_threads(threads);
                const QgemmPackedW pw = qgemm_pack_w(N, K, w.data());
                std::vector<uint8_t> want(static_cast<size_t>(M * N)), got(want.size(), 0);
                qgemm_u8s8_requant_u8(M, a.data(), K, pw, rq, want.data(), N);
                if (residual_first) qadd_u8(M * N, r.data(), want.data(), add.p, want.data());
                else qadd_u8(M * N, want.data(), r.data(), add.p, want.data());
                qgemm_u8s8_requant_add_u8(M, a.data(), K, pw, rq, add, got.data(), N);
                ASSERT_EQ(got, want) << "M=" << M << " N=" << N << " K=" << K << " residual_first=" << residual_first
                                     << " lo=" << lo << " on " << isa_name(isa) << ", " << threads << " threads";
              }
          }
      }
  set_active_isa(saved_isa);
  set_num_threads(saved_threads);
}

TEST(QgemmTaps, ImagesInOneCallEqualOneCallPerImage) {
  std::mt19937 rng(22);
  const Isa saved_isa = active_isa();
  const int saved_threads = num_threads();
  for (int64_t C : {4, 16, 24})
    for (int64_t N : {16, 40, 130})
      for (int bits : {8, 4}) {
        const int64_t Hp = 7, Wp = 6, taps = 9, K = taps * C, images = 3, image = Hp * Wp * C;
        const int64_t M = (Hp - 2) * Wp - 2;
        const auto img = random_bytes<uint8_t>(static_cast<size_t>(images * image), rng);
        auto w = random_bytes<int8_t>(static_cast<size_t>(N * K), rng);
        if (bits == 4)
          for (auto& v : w) v = static_cast<int8_t>(v / 16);  // codes in [-8, 7]
        std::vector<int64_t> off;
        for (int64_t kh = 0; kh < 3; ++kh)
          for (int64_t kw = 0; kw < 3; ++kw) off.push_back((kh * Wp + kw) * C);
        std::vector<int32_t> corr(static_cast<size_t>(N), -500);
        std::vector<float> scale(static_cast<size_t>(N), 3e-4f);
        const Requant rq{corr.data(), scale.data(), 20, 20, 255};
        const int64_t ystride = M * N + 5;  // images' outputs need not be adjacent
        for (Isa isa : isa_paths())
          for (int threads : {1, 2}) {
            set_active_isa(isa);
            set_num_threads(threads);
            const QgemmPackedW pw = bits == 8 ? qgemm_pack_w(N, K, w.data()) : qgemm_pack_w4(N, K, w.data(), true);
            std::vector<uint8_t> want(static_cast<size_t>(images * ystride), 0), got(want.size(), 0);
            for (int64_t i = 0; i < images; ++i)
              qgemm_taps_requant_u8(M, C, off.data(), taps, img.data() + i * image, C, pw, rq, want.data() + i * ystride, N);
            qgemm_taps_requant_u8(M, C, off.data(), taps, img.data(), C, pw, rq, got.data(), N, TapsImages{images, image, ystride});
            ASSERT_EQ(got, want) << "C=" << C << " N=" << N << " bits=" << bits << " on " << isa_name(isa) << ", " << threads
                                 << " threads";
          }
      }
  set_active_isa(saved_isa);
  set_num_threads(saved_threads);
}

}  // namespace
}  // namespace lowbit::kernels
