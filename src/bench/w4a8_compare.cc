// W4A8 vs W8A8 (w4a8_compare.h): the same int4-range codes packed both ways, checked equal,
// then timed alternately (median of rounds) over `copies` distinct weight sets.
#include "lowbit/bench/w4a8_compare.h"

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <random>

#include "lowbit/core/error.h"
#include "lowbit/core/threads.h"
#include "lowbit/kernels/isa.h"
#include "lowbit/kernels/qgemm_grouped.h"
#include "lowbit/kernels/qlinear.h"
#include "lowbit/kernels/qlinear_ref.h"
#include "lowbit/kernels/quant.h"

namespace lowbit::bench {
namespace {

namespace k = lowbit::kernels;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

nlohmann::json compare_w4a8(const W4A8CompareOptions& opt) {
  nlohmann::json out = {{"threads", num_threads()}, {"isa", std::string(kernels::isa_name(kernels::active_isa()))},
                        {"timer", num_threads() == 1 ? "thread cpu time" : "wall"}, {"w4_unpack_rows", k::qgemm_w4_unpack_rows()},
                        {"rows", nlohmann::json::array()}};
  std::printf("W4A8 vs W8A8: u8 activations × int4-range weights, requantized to u8; %d thread(s) (%s), path %s, int4 widened per group from M = %lld\n",
              num_threads(), num_threads() == 1 ? "thread CPU time" : "wall time", std::string(kernels::isa_name(kernels::active_isa())).c_str(),
              static_cast<long long>(k::qgemm_w4_unpack_rows()));
  const int64_t G = opt.group_size;
  LOWBIT_REQUIRE(G == 0 || (G >= 8 && G % 8 == 0), "bench w4a8", "--group-size {} must be a positive multiple of 8", G);
  std::printf("%-11s %5s %7s %10s %10s %8s %10s %8s", "N×K", "M", "copies", "W8A8 us", "W4A8 us", "speedup", "widened us", "speedup");
  if (G) std::printf(" %9s %8s %8s", ("g" + std::to_string(G) + " us").c_str(), "vs W8A8", "vs W4A8");
  std::printf("  %s / %s / %s%s\n", "W8A8 kernel", "W4A8 kernel", "W4A8 without int8 panels", G ? " / grouped kernel" : "");
  std::mt19937 rng(42);
  for (const auto& [N, K] : opt.shapes) {
    const int64_t copies = opt.copies > 0 ? opt.copies : std::max<int64_t>(1, (int64_t{96} << 20) / (N * K));
    std::vector<k::QgemmPackedW> w8, w4, w4w;  // w4: with int8 panels (as the ONNX lowering packs), w4w: without
    std::vector<k::QgemmGroupedW> wg;          // group-wise (G > 0)
    std::vector<int8_t> w(static_cast<size_t>(N * K));
    std::uniform_int_distribution<int> wd(-8, 7), ad(0, 255);
    for (int64_t c = 0; c < copies; ++c) {
      for (auto& v : w) v = static_cast<int8_t>(wd(rng));
      w8.push_back(k::qgemm_pack_w(N, K, w.data()));
      w4.push_back(k::qgemm_pack_w4(N, K, w.data(), true));
      w4w.push_back(k::qgemm_pack_w4(N, K, w.data(), false));
      if (G) wg.push_back(k::qgemm_pack_w4_grouped(N, K, G, w.data()));
    }
    std::vector<int32_t> corr(static_cast<size_t>(N));
    std::vector<float> scale(static_cast<size_t>(N));
    for (int64_t n = 0; n < N; ++n) corr[static_cast<size_t>(n)] = -1000 + static_cast<int32_t>(n % 97), scale[static_cast<size_t>(n)] = 4e-4f;
    const k::Requant rq{corr.data(), scale.data(), 3, 3, 255};
    // Grouped: the per-channel correction split over groups, scales varying by group.
    const int64_t groups = G ? k::qgemm_groups(K, G) : 0;
    std::vector<int32_t> gcorr(static_cast<size_t>(groups * N));
    std::vector<float> gscale(static_cast<size_t>(groups * N));
    for (int64_t i = 0; i < groups * N; ++i)
      gcorr[static_cast<size_t>(i)] = -3 * wg[0].gsum.get()[i], gscale[static_cast<size_t>(i)] = 4e-4f * (1.0f + 0.01f * static_cast<float>(i % 13));
    const k::GroupedEpilogue gep{gcorr.data(), gscale.data(), nullptr};
    const float y_scale = 0.05f;
    const int32_t y_zp = 3;
    k::QuantGrid yq;
    yq.scale = &y_scale;
    yq.zero_point = &y_zp;
    yq.qmin = 0, yq.qmax = 255;
    for (int64_t M : opt.ms) {
      std::vector<uint8_t> a(static_cast<size_t>(M * K)), y8(static_cast<size_t>(M * N)), y4(y8.size());
      for (auto& v : a) v = static_cast<uint8_t>(ad(rng));
      k::qgemm_u8s8_requant_u8(M, a.data(), K, w8[0], rq, y8.data(), N);
      k::qgemm_u8s8_requant_u8(M, a.data(), K, w4[0], rq, y4.data(), N);
      if (y8 != y4) throw InternalError(fmt::format("[bench::compare_w4a8] W4A8 and W8A8 differ at N={} K={} M={}", N, K, M));
      k::qgemm_u8s8_requant_u8(M, a.data(), K, w4w[0], rq, y4.data(), N);
      if (y8 != y4) throw InternalError(fmt::format("[bench::compare_w4a8] W4A8 (widened) and W8A8 differ at N={} K={} M={}", N, K, M));
      std::vector<float> yf(G ? static_cast<size_t>(M * N) : 0), yf_ref(yf.size());
      if (G) {
        std::vector<uint8_t> a4(static_cast<size_t>(M * K + 4));  // rows readable to a multiple of 4
        std::copy(a.begin(), a.end(), a4.begin());
        k::qgemm_u8s4_grouped_f32(M, a4.data(), K, wg[0], gep, yf.data(), N);
        k::ref::qgemm_u8s4_grouped_f32(M, N, K, G, a4.data(), K, wg[0].plain.get(), K, gep, yf_ref.data(), N);
        if (yf != yf_ref)
          throw InternalError(fmt::format("[bench::compare_w4a8] grouped W4A8 differs from its reference at N={} K={} M={}", N, K, M));
      }
      yq.inner = M * N;
      const bool widened = M >= k::qgemm_w4_unpack_rows();  // else w4w runs the same kernel as w4
      // One sample: one product with every copy in turn (weights leave the cache in between).
      // One thread: the thread's CPU time, which time slices lost to other processes on a
      // shared machine do not inflate; else wall time.
      auto now = [] {
        timespec ts{};
        clock_gettime(num_threads() == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
        return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
      };
      auto sample = [&](const std::vector<k::QgemmPackedW>& ws) {
        const double t0 = now();
        for (const auto& pw : ws) k::qgemm_u8s8_requant_u8(M, a.data(), K, pw, rq, y8.data(), N);
        return (now() - t0) / static_cast<double>(ws.size());
      };
      a.resize(static_cast<size_t>(M * K + 4));  // the grouped kernel reads rows to a multiple of 4
      auto sample_g = [&] {
        const double t0 = now();
        for (const auto& pw : wg) {
          k::qgemm_u8s4_grouped_f32(M, a.data(), K, pw, gep, yf.data(), N);
          k::quantize_f32_u8(yq, yf.data(), y8.data(), k::Rounding::nearest, {});
        }
        return (now() - t0) / static_cast<double>(wg.size());
      };
      sample(w8), sample(w4);
      if (G) sample_g();
      std::vector<double> t8, t4, tw, tg;
      double spent = 0;
      while (spent < opt.min_time || t8.size() < 5) {
        t8.push_back(sample(w8));
        t4.push_back(sample(w4));
        tw.push_back(widened ? sample(w4w) : t4.back());
        if (G) tg.push_back(sample_g());
        spent += (t8.back() + t4.back() + (widened ? tw.back() : 0) + (G ? tg.back() : 0)) * static_cast<double>(copies);
      }
      const double u8 = median(t8) * 1e6, u4 = median(t4) * 1e6, uw = median(tw) * 1e6;
      const std::string kn8 = k::qgemm_kernel_name(M, w8[0]), kn4 = k::qgemm_kernel_name(M, w4[0]), knw = k::qgemm_kernel_name(M, w4w[0]);
      std::printf("%5lldx%-5lld %5lld %7lld %10.2f %10.2f %8.2f %10.2f %8.2f", static_cast<long long>(N),
                  static_cast<long long>(K), static_cast<long long>(M), static_cast<long long>(copies), u8, u4, u8 / u4, uw, u8 / uw);
      const double ug = G ? median(tg) * 1e6 : 0;
      const std::string kng = G ? k::qgemm_grouped_kernel_name(wg[0]) : "";
      if (G) std::printf(" %9.2f %8.2f %8.2f", ug, u8 / ug, u4 / ug);
      std::printf("  %s / %s / %s%s\n", kn8.c_str(), kn4.c_str(), knw.c_str(), G ? (" / " + kng).c_str() : "");
      nlohmann::json row = {{"n", N}, {"k", K}, {"m", M}, {"copies", copies}, {"w8a8_us", u8}, {"w4a8_us", u4}, {"speedup", u8 / u4},
                            {"w4a8_widened_us", uw}, {"speedup_widened", u8 / uw}, {"kernel_w8a8", kn8}, {"kernel_w4a8", kn4},
                            {"kernel_w4a8_widened", knw}, {"samples", t8.size()}};
      if (G) {
        row["group_size"] = G;
        row["w4a8_group_us"] = ug;
        row["speedup_group"] = u8 / ug;
        row["group_vs_channel"] = u4 / ug;
        row["kernel_w4a8_group"] = kng;
      }
      out["rows"].push_back(row);
    }
  }
  return out;
}

}  // namespace lowbit::bench
