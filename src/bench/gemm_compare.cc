// The GEMM comparison of `lowbit bench gemm` (see gemm_compare.h): kernels interleaved round by
// round so that machine noise hits all of them alike; medians over rounds.
#include "lowbit/bench/gemm_compare.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "lowbit/bench/onednn_matmul.h"
#include "lowbit/core/error.h"
#include "lowbit/core/threads.h"
#include "lowbit/kernels/igemm.h"
#include "lowbit/kernels/isa.h"

namespace lowbit::bench {
namespace {

struct Kernel {
  std::string name;
  std::function<void()> run;
  std::vector<double> seconds;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace

nlohmann::json compare_gemms(const GemmCompareOptions& a) {
  const int64_t M = a.m, N = a.n, K = a.k;
  LOWBIT_REQUIRE(K <= kernels::kIgemmMaxK, "bench::compare_gemms", "k must be at most {}", kernels::kIgemmMaxK);
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> d(-127, 127);
  std::vector<int8_t> A(M * K), B(N * K);
  for (auto& v : A) v = static_cast<int8_t>(d(rng));
  for (auto& v : B) v = static_cast<int8_t>(d(rng));
  std::vector<uint8_t> Au(M * K);  // oneDNN's u8 source: a + 128
  std::vector<float> Af(M * K), Bf(N * K);
  for (int64_t i = 0; i < M * K; ++i) Au[i] = static_cast<uint8_t>(A[i] + 128), Af[i] = A[i];
  for (int64_t i = 0; i < N * K; ++i) Bf[i] = B[i];
  std::vector<int32_t> C(M * N), Cd(M * N);
  std::vector<float> Cf(M * N);

  OnednnMatmul dnnl_i8(OnednnMatmul::Kind::u8s8s32, M, N, K, B.data());
  OnednnMatmul dnnl_f32(OnednnMatmul::Kind::f32, M, N, K, Bf.data());
  const kernels::IntOperand opa{A.data(), K}, opb{B.data(), K};
  const kernels::AccSpec exact{kernels::AccModel::exact, 32, 0},
      clamp{kernels::AccModel::tile_clamp, a.acc_bits, a.tile}, sat{kernels::AccModel::saturating, a.acc_bits, 0};
  // B packed once, like oneDNN's reordered weights (the side-by-side comparison) ...
  const kernels::IgemmPackedB pb_exact = kernels::igemm_pack_b(N, K, opb, exact),
                              pb_clamp = kernels::igemm_pack_b(N, K, opb, clamp),
                              pb_sat = kernels::igemm_pack_b(N, K, opb, sat);
  auto packed = [&](const kernels::IgemmPackedB& pb, kernels::AccSpec spec) {
    return [&, spec] { kernels::igemm_s32_packed(M, opa, pb, spec, C.data(), N); };
  };
  // ... and packed on every call (training, where W and G change every step).
  auto per_call = [&](kernels::AccSpec spec) {
    return [&, spec] { kernels::igemm_s32(M, N, K, opa, opb, spec, C.data(), N); };
  };
  std::vector<Kernel> ks = {
      {"exact", packed(pb_exact, exact), {}},
      {"tile-clamp", packed(pb_clamp, clamp), {}},
      {"saturating", packed(pb_sat, sat), {}},
      {"onednn-int8", [&] { dnnl_i8.run(Au.data(), Cd.data()); }, {}},
      {"fp32", [&] { dnnl_f32.run(Af.data(), Cf.data()); }, {}},
      {"exact+pack", per_call(exact), {}},
      {"tile-clamp+pack", per_call(clamp), {}},
      {"saturating+pack", per_call(sat), {}},
  };

  // Cross-check: oneDNN's Σ (a+128)·b equals lowbit's exact Σ a·b plus 128·Σ_k b[n,k].
  // Also: B packed once and B packed per call give the same C.
  ks[5].run();
  const std::vector<int32_t> per_call_c = C;
  ks[0].run();
  if (C != per_call_c) throw InternalError("[bench::compare_gemms] lowbit exact with packed and unpacked B differ");
  ks[3].run();
  for (int64_t n = 0; n < N; ++n) {
    int64_t colsum = 0;
    for (int64_t k = 0; k < K; ++k) colsum += B[n * K + k];
    for (int64_t m = 0; m < M; ++m)
      if (int64_t{C[m * N + n]} + 128 * colsum != Cd[m * N + n])
        throw InternalError(fmt::format("[bench::compare_gemms] lowbit exact and oneDNN int8 differ at ({}, {})", m, n));
  }

  using clock = std::chrono::steady_clock;
  auto time_once = [](Kernel& k) {
    const auto t0 = clock::now();
    k.run();
    k.seconds.push_back(std::chrono::duration<double>(clock::now() - t0).count());
  };
  for (Kernel& k : ks) {  // warm-up, also sizes the repetition count
    time_once(k);
    k.seconds.clear();
    time_once(k);
  }
  double per_round = 0;
  for (Kernel& k : ks) per_round += k.seconds.back();
  const int rounds = std::max(3, static_cast<int>(a.min_time * static_cast<double>(ks.size()) / per_round));
  for (int r = 1; r < rounds; ++r)
    for (Kernel& k : ks) time_once(k);

  const double ops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  nlohmann::json out = {{"m", M}, {"n", N}, {"k", K}, {"threads", num_threads()}, {"rounds", rounds},
                        {"isa", std::string(kernels::isa_name(kernels::active_isa()))},
                        {"acc_bits", a.acc_bits}, {"tile", a.tile}, {"checked_against_onednn", true}};
  std::printf("gemm %lldx%lldx%lld, %d thread(s), lowbit path %s, %d rounds (median)\n", static_cast<long long>(M),
              static_cast<long long>(N), static_cast<long long>(K), num_threads(),
              std::string(kernels::isa_name(kernels::active_isa())).c_str(), rounds);
  std::printf("%-16s %10s %10s %10s %10s\n", "kernel", "ms", "GOPS", "vs int8", "vs fp32");
  const double dnnl_gops = ops / median(ks[3].seconds) * 1e-9, fp32_gops = ops / median(ks[4].seconds) * 1e-9;
  for (const Kernel& k : ks) {
    const double t = median(k.seconds), gops = ops / t * 1e-9;
    // Kernels packing B on every call go under their own keys; the keys hold the
    // side-by-side variant (B packed once, as oneDNN's weights are reordered once).
    const bool pack = k.name.ends_with("+pack");
    const std::string name = pack ? k.name.substr(0, k.name.size() - 5) : k.name, sfx = pack ? "_pack_per_call" : "";
    out["gops" + sfx][name] = gops;
    out["ms" + sfx][name] = t * 1e3;
    out["gops_best" + sfx][name] = ops / *std::min_element(k.seconds.begin(), k.seconds.end()) * 1e-9;
    if (k.name != "onednn-int8" && k.name != "fp32") {
      out["ratio_vs_onednn_int8" + sfx][name] = gops / dnnl_gops;
      out["ratio_vs_fp32" + sfx][name] = gops / fp32_gops;
    }
    std::printf("%-16s %10.3f %10.1f %10.2f %10.2f\n", k.name.c_str(), t * 1e3, gops, gops / dnnl_gops, gops / fp32_gops);
  }
  return out;
}

}  // namespace lowbit::bench
