// Measured machine peaks, the denominators of utilization: fp32 FMA, int8 dot products (VNNI
// where present, else AVX2 multiply-add pairs), bf16 dot products where present, and memory
// bandwidth by a STREAM triad. Register-only loops with enough independent accumulators to
// cover FMA latency; CPU features detected at run time.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lowbit::paradnn {

struct Peak {
  std::string cpu_model;               // /proc/cpuinfo "model name"
  std::vector<std::string> features;   // the ISA paths used, e.g. "avx512f", "avx512_vnni"
  int threads = 1;                     // threads of the *_all numbers
  // *_per_core: ops per second of a thread's own CPU time (a core's peak while it runs);
  // *_all: ops per wall-clock second of all threads together (what the machine gives now).
  double fp32_flops_per_core = 0, fp32_flops_all = 0;
  double int8_ops_per_core = 0, int8_ops_all = 0;   // a multiply-add counts as 2 ops
  double bf16_flops_per_core = 0, bf16_flops_all = 0;  // 0 when the CPU has no bf16 dot product
  double triad_bytes_per_second = 0;   // all threads, 24 bytes per element (STREAM convention)

  nlohmann::json to_json() const;
  static Peak from_json(const nlohmann::json& j);
  // Peak of `threads` cores for an engine's arithmetic ("fp32" or "int8"): per-core peak x
  // threads (the all-thread measurement on a shared machine reads what others leave free).
  double compute_peak(const std::string& precision, int threads) const;
};

// `seconds` per measurement (about 7 measurements in all).
Peak measure_peak(int threads, double seconds = 0.2);

}  // namespace lowbit::paradnn
