// Interleaved A/B of a same-size 3×3 conv's lowering for one sample (ResNet-20's stages:
// channels × H·W = 16 × 28², 32 × 14², 64 × 7²): the im2col rows written out (shifted_copy_i8)
// and then transformed (dW's H·X) or packed by the GEMM (forward), against reading them as
// shifted views of the sample (fwht_shifted_i8_i32_max_abs, igemm_f32_shifted). Each
// iteration runs both variants back to back; counters are process CPU µs per call and B/A.
// Run: bench_lowering_ab (one thread: LOWBIT_NUM_THREADS=1).
#include <benchmark/benchmark.h>

#include <time.h>

#include <random>
#include <vector>

#include "lowbit/kernels/hadamard.h"
#include "lowbit/kernels/igemm.h"
#include "lowbit/kernels/transpose.h"

namespace {

using namespace lowbit::kernels;

double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// One sample of C channels H×H (codes 0..15 after a ReLU), its 3×3 pad-1 taps as shifted rows.
struct Sample {
  int64_t C, H, L, CRS;
  std::vector<int8_t> x;
  std::vector<std::vector<uint64_t>> tap_mask;
  std::vector<int64_t> offset;
  std::vector<const uint64_t*> mask;
  Sample(int64_t c, int64_t h) : C(c), H(h), L(h * h), CRS(c * 9), x(static_cast<size_t>(c * h * h + 128)) {
    std::mt19937 rng(1);
    for (auto& v : x) v = static_cast<int8_t>(rng() % 16);
    tap_mask.assign(9, std::vector<uint64_t>(static_cast<size_t>((L + 63) / 64)));
    for (int64_t t = 0; t < 9; ++t)
      for (int64_t l = 0; l < L; ++l) {
        const int64_t ih = l / H + t / 3 - 1, iw = l % H + t % 3 - 1;
        if (ih >= 0 && ih < H && iw >= 0 && iw < H) tap_mask[t][l / 64] |= uint64_t{1} << (l % 64);
      }
    for (int64_t k = 0; k < CRS; ++k) {
      offset.push_back(k / 9 * L + (k % 9 / 3 - 1) * H + (k % 3 - 1));
      mask.push_back(tap_mask[k % 9].data());
    }
  }
  ShiftedRows rows() const { return {x.data() + 64, offset.data(), mask.data()}; }
  void write_rows(int8_t* out) const {
    for (int64_t k = 0; k < CRS; ++k) shifted_copy_i8(L, x.data() + 64 + offset[k], 0, mask[k], out + k * L);
  }
};

void report(benchmark::State& state, double a, double b, int64_t calls) {
  state.counters["A_us"] = 1e6 * a / static_cast<double>(calls);
  state.counters["B_us"] = 1e6 * b / static_cast<double>(calls);
  state.counters["B/A"] = b / a;
}

void TransformHX(benchmark::State& state) {
  const Sample s(state.range(0), state.range(1));
  std::vector<int8_t> rows(static_cast<size_t>(s.CRS * s.L));
  std::vector<int32_t> y(rows.size());
  const HadamardShape hs{s.CRS, s.L, 1, hadamard_block(s.L)};
  double a = 0, b = 0;
  int64_t calls = 0;
  for (auto _ : state) {
    const double t0 = cpu_seconds();
    s.write_rows(rows.data());
    benchmark::DoNotOptimize(fwht_i8_i32_max_abs(hs, rows.data(), s.L, y.data(), s.L));
    const double t1 = cpu_seconds();
    benchmark::DoNotOptimize(fwht_shifted_i8_i32_max_abs(hs, s.rows(), y.data(), s.L));
    b += cpu_seconds() - t1;
    a += t1 - t0;
    ++calls;
  }
  report(state, a, b, calls);
}

void ForwardGemm(benchmark::State& state) {
  const Sample s(state.range(0), state.range(1));
  const int64_t K = s.C;  // output channels
  std::vector<int8_t> rows(static_cast<size_t>(s.CRS * s.L)), w(static_cast<size_t>(K * s.CRS));
  std::mt19937 rng(2);
  for (auto& v : w) v = static_cast<int8_t>(static_cast<int>(rng() % 15) - 7);
  std::vector<float> y(static_cast<size_t>(K * s.L));
  const AccSpec acc{AccModel::tile_clamp, 8, 32};
  double a = 0, b = 0;
  int64_t calls = 0;
  for (auto _ : state) {
    const double t0 = cpu_seconds();
    s.write_rows(rows.data());
    igemm_f32_bt(K, s.L, s.CRS, {w.data(), s.CRS}, rows.data(), s.L, acc, {0.5f}, y.data(), s.L);
    const double t1 = cpu_seconds();
    igemm_f32_shifted(K, s.L, s.CRS, {w.data(), s.CRS}, s.rows(), acc, {0.5f}, y.data(), s.L);
    b += cpu_seconds() - t1;
    a += t1 - t0;
    ++calls;
    benchmark::DoNotOptimize(y.data());
  }
  report(state, a, b, calls);
}

BENCHMARK(TransformHX)->Args({16, 28})->Args({32, 14})->Args({64, 7});
BENCHMARK(ForwardGemm)->Args({16, 28})->Args({32, 14})->Args({64, 7});

}  // namespace
