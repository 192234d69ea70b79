// Peak measurement: kernels' per-ISA register loops (kernels/peak.h) run on 1 and N std::threads
// (per-thread CPU time and wall clock), and a STREAM triad.
#include "lowbit/paradnn/peak.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <thread>

#include <time.h>

#include "lowbit/core/error.h"
#include "lowbit/kernels/peak.h"

namespace lowbit::paradnn {
namespace {

volatile float g_sink = 0;           // keeps the measured loops observable

using Kernel = double (*)(int64_t, float*);  // kernels::PeakLoop::run

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Rate {
  double per_core = 0;  // ops per second of CPU time on one thread (what a core does while it runs)
  double wall = 0;      // ops per wall-clock second of all threads together
};

// `k` on `threads` threads, each running about `seconds`. On a shared machine wall-clock rates
// read whatever the other processes leave; per-thread CPU time gives the core's own peak.
Rate rate(Kernel k, int threads, double seconds) {
  float sink = 0;
  int64_t reps = 1;  // calibrated on one thread
  for (;;) {
    const double t0 = thread_cpu_seconds();
    k(reps, &sink);
    const double s = thread_cpu_seconds() - t0;
    if (s > 0.02 || reps > (1 << 20)) {
      reps = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(reps) * seconds / std::max(s, 1e-6)));
      break;
    }
    reps *= 4;
  }
  std::vector<double> ops(static_cast<size_t>(threads)), cpu(static_cast<size_t>(threads));
  std::vector<float> sinks(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  const auto t0 = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      const auto i = static_cast<size_t>(t);
      const double c0 = thread_cpu_seconds();
      ops[i] = k(reps, &sinks[i]);
      cpu[i] = thread_cpu_seconds() - c0;
    });
  for (auto& th : pool) th.join();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Rate r;
  double total = 0;
  for (size_t i = 0; i < ops.size(); ++i) {
    total += ops[i];
    r.per_core = std::max(r.per_core, ops[i] / std::max(cpu[i], 1e-9));
  }
  r.wall = total / s;
  g_sink = sink + sinks[0];
  return r;
}

double triad(int threads, double seconds) {
  const size_t n = size_t{1} << 23;  // 3 x 64 MiB of doubles: far beyond any L3 here
  std::unique_ptr<double[]> a(new double[n]), b(new double[n]), c(new double[n]);
  auto run = [&](int reps) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        const size_t lo = n * static_cast<size_t>(t) / static_cast<size_t>(threads);
        const size_t hi = n * static_cast<size_t>(t + 1) / static_cast<size_t>(threads);
        for (size_t i = lo; i < hi; ++i) b[i] = 1.0, c[i] = 2.0, a[i] = 0.0;  // first touch by the owner
        for (int r = 0; r < reps; ++r)
          for (size_t i = lo; i < hi; ++i) a[i] = b[i] + 3.0 * c[i];
      });
    for (auto& th : pool) th.join();
  };
  run(1);
  int reps = 2;
  double best = 0;
  const auto start = std::chrono::steady_clock::now();
  do {
    const auto t0 = std::chrono::steady_clock::now();
    run(reps);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 24.0 * static_cast<double>(n) * reps / s);  // includes the init pass: conservative
  } while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < seconds);
  g_sink = static_cast<float>(a[n / 2]);
  return best;
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

}  // namespace

Peak measure_peak(int threads, double seconds) {
  LOWBIT_REQUIRE(threads >= 1 && threads <= 4096, "measure_peak", "threads must be in [1, 4096], got {}", threads);
  LOWBIT_REQUIRE(seconds > 0 && seconds <= 60, "measure_peak", "seconds must be in (0, 60], got {}", seconds);
  Peak p;
  p.cpu_model = cpu_model();
  p.threads = threads;
  for (const kernels::PeakLoop& loop : kernels::peak_loops()) {
    p.features.push_back(loop.path);
    const Rate single = rate(loop.run, 1, seconds), multi = rate(loop.run, threads, seconds);
    const double one = std::max(single.per_core, multi.per_core);
    if (loop.kind == kernels::PeakKind::fp32) p.fp32_flops_per_core = one, p.fp32_flops_all = multi.wall;
    if (loop.kind == kernels::PeakKind::int8) p.int8_ops_per_core = one, p.int8_ops_all = multi.wall;
    if (loop.kind == kernels::PeakKind::bf16) p.bf16_flops_per_core = one, p.bf16_flops_all = multi.wall;
  }
  if (p.fp32_flops_per_core == 0)
    throw ValueError("[bench peak] this CPU has neither AVX-512 nor AVX2+FMA (lowbit's builds need x86-64-v3)");
  p.triad_bytes_per_second = triad(threads, 4 * seconds);
  return p;
}

double Peak::compute_peak(const std::string& precision, int n) const {
  if (precision == "int8") return int8_ops_per_core * n;
  if (precision == "bf16") return bf16_flops_per_core * n;
  return fp32_flops_per_core * n;
}

nlohmann::json Peak::to_json() const {
  return {{"cpu_model", cpu_model}, {"features", features}, {"threads", threads},
          {"fp32_flops_per_core", fp32_flops_per_core}, {"fp32_flops_all", fp32_flops_all},
          {"int8_ops_per_core", int8_ops_per_core}, {"int8_ops_all", int8_ops_all},
          {"bf16_flops_per_core", bf16_flops_per_core}, {"bf16_flops_all", bf16_flops_all},
          {"triad_bytes_per_second", triad_bytes_per_second}};
}

Peak Peak::from_json(const nlohmann::json& j) {
  Peak p;
  try {
    p.cpu_model = j.at("cpu_model").get<std::string>();
    p.features = j.at("features").get<std::vector<std::string>>();
    p.threads = j.at("threads").get<int>();
    p.fp32_flops_per_core = j.at("fp32_flops_per_core").get<double>();
    p.fp32_flops_all = j.at("fp32_flops_all").get<double>();
    p.int8_ops_per_core = j.at("int8_ops_per_core").get<double>();
    p.int8_ops_all = j.at("int8_ops_all").get<double>();
    p.bf16_flops_per_core = j.at("bf16_flops_per_core").get<double>();
    p.bf16_flops_all = j.at("bf16_flops_all").get<double>();
    p.triad_bytes_per_second = j.at("triad_bytes_per_second").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw ValueError(fmt::format("[bench peak] peak JSON is missing a field or has a wrong type: {}", e.what()));
  }
  return p;
}

}  // namespace lowbit::paradnn
