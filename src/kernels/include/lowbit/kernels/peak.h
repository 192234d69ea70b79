// Register-only loops that measure a core's arithmetic peak (lowbit bench peak, paradnn
// utilization): fp32 FMA, int8 dot products (VNNI where present, else AVX2 multiply-add pairs),
// bf16 dot products where present. Enough independent accumulators to cover FMA latency. The
// per-ISA bodies live in peak_avx2.cc / peak_avx512.cc; dispatch.cc picks the best per kind.
#pragma once

#include <cstdint>
#include <vector>

namespace lowbit::kernels {

enum class PeakKind { fp32, int8, bf16 };

struct PeakLoop {
  PeakKind kind;
  const char* path;  // "avx512f", "avx2+fma", "avx512_vnni", "avx2 (vpmaddubsw)", "avx512_bf16"
  // Runs `reps` blocks of the loop; returns the ops done (a multiply-add counts 2) and folds the
  // accumulators into *sink so the work cannot be removed.
  double (*run)(int64_t reps, float* sink);
};

// The best loop of each kind this CPU runs (bf16 only where it has a bf16 dot product); empty
// kinds are absent. Under LOWBIT_ISA=ref still the hardware's loops: a peak is a property of
// the machine, not of the path being bisected.
std::vector<PeakLoop> peak_loops();

namespace detail {
double peak_fp32_avx2(int64_t reps, float* sink);
double peak_int8_avx2(int64_t reps, float* sink);
double peak_fp32_avx512(int64_t reps, float* sink);
double peak_int8_avx512vnni(int64_t reps, float* sink);
double peak_bf16_avx512(int64_t reps, float* sink);
}  // namespace detail

}  // namespace lowbit::kernels
