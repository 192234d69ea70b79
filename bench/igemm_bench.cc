// Google Benchmark for the integer kernels: lowbit's integer GEMM per accumulator model and per
// ISA path next to oneDNN's u8×s8→s32 and fp32 matmuls (items = multiply-adds, so GOPS = 2 ×
// items/s), and the Walsh–Hadamard transform next to a memcpy of the same bytes.
// Run: bench_igemm --benchmark_filter=Gemm/1024 (single thread; LOWBIT_NUM_THREADS for more).
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

#include "lowbit/kernels/hadamard.h"
#include "lowbit/kernels/igemm.h"
#include "lowbit/kernels/isa.h"
#include "lowbit/kernels/qlinear.h"
#include "lowbit/bench/onednn_matmul.h"

namespace {

using namespace lowbit;

std::vector<int8_t> random_codes(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(-127, 127);
  std::vector<int8_t> v(n);
  for (auto& x : v) x = static_cast<int8_t>(d(rng));
  return v;
}

// Args: M, N, K, model (0 exact, 1 tile-clamp A=8 T=32, 2 saturating A=8, 3 wrap A=8), ISA.
void BM_LowbitGemm(benchmark::State& st) {
  const int64_t M = st.range(0), N = st.range(1), K = st.range(2);
  const auto isa = static_cast<kernels::Isa>(st.range(4));
  if (!kernels::isa_supported(isa)) return st.SkipWithError("ISA not supported on this CPU");
  const kernels::AccSpec specs[] = {{kernels::AccModel::exact, 32, 0},
                                    {kernels::AccModel::tile_clamp, 8, 32},
                                    {kernels::AccModel::saturating, 8, 0},
                                    {kernels::AccModel::wrap, 8, 0}};
  const auto A = random_codes(M * K, 1), B = random_codes(N * K, 2);
  std::vector<int32_t> C(M * N);
  kernels::set_active_isa(isa);
  for (auto _ : st) {
    kernels::igemm_s32(M, N, K, {A.data(), K}, {B.data(), K}, specs[st.range(3)], C.data(), N);
    benchmark::DoNotOptimize(C.data());
  }
  kernels::set_active_isa(kernels::best_supported_isa());
  st.SetItemsProcessed(st.iterations() * M * N * K);
  st.SetLabel(std::string(kernels::isa_name(isa)));
}

// Args: M, N, K, kind (0 u8s8s32, 1 f32).
void BM_OnednnGemm(benchmark::State& st) {
  const int64_t M = st.range(0), N = st.range(1), K = st.range(2);
  const bool i8 = st.range(3) == 0;
  const auto B = random_codes(N * K, 2);
  std::vector<float> Bf(B.begin(), B.end()), Af(M * K, 1.0f), Cf(M * N);
  std::vector<uint8_t> Au(M * K, 130);
  std::vector<int32_t> C(M * N);
  bench::OnednnMatmul mm(i8 ? bench::OnednnMatmul::Kind::u8s8s32 : bench::OnednnMatmul::Kind::f32, M, N, K,
                         i8 ? static_cast<const void*>(B.data()) : Bf.data());
  for (auto _ : st) {
    if (i8) mm.run(Au.data(), C.data());
    else mm.run(Af.data(), Cf.data());
  }
  st.SetItemsProcessed(st.iterations() * M * N * K);
  st.SetLabel(i8 ? "onednn u8s8s32" : "onednn f32");
}

void gemm_shapes(benchmark::internal::Benchmark* b, bool lowbit) {
  const std::vector<std::vector<int64_t>> shapes = {{1024, 1024, 1024}, {128, 512, 784}, {128, 784, 512}, {17, 33, 4096}};
  for (const auto& s : shapes) {
    if (!lowbit) {
      for (int64_t kind : {0, 1}) b->Args({s[0], s[1], s[2], kind});
      continue;
    }
    for (int64_t model : {0, 1, 2, 3})
      for (auto isa : {kernels::Isa::avx2, kernels::Isa::avx512vnni})
        b->Args({s[0], s[1], s[2], model, static_cast<int64_t>(isa)});
  }
}

BENCHMARK(BM_LowbitGemm)->Apply([](auto* b) { gemm_shapes(b, true); })->Unit(benchmark::kMillisecond);
BENCHMARK(BM_OnednnGemm)->Apply([](auto* b) { gemm_shapes(b, false); })->Unit(benchmark::kMillisecond);

// The u8×s8 product with requantization fused (the integer conv/linear layers of a QDQ model)
// over many rows: ResNet-50's 1×1 layers at batch 1 (M = 3136 … 49) and batch 8 (8× the rows),
// so items/s per row shows whether large products keep their rate. Args: M, N, K.
void BM_QgemmRequant(benchmark::State& st) {
  const int64_t M = st.range(0), N = st.range(1), K = st.range(2);
  const auto w = random_codes(N * K, 3);
  const auto pw = kernels::qgemm_pack_w(N, K, w.data());
  std::vector<uint8_t> a(static_cast<size_t>(M * K + 64));
  std::mt19937 rng(4);
  for (auto& x : a) x = static_cast<uint8_t>(rng() & 0xFF);
  std::vector<int32_t> corr(N, 0);
  std::vector<float> scale(N, 1e-4f);
  kernels::Requant rq{corr.data(), scale.data(), 0, 0, 255};
  std::vector<uint8_t> y(static_cast<size_t>(M * N));
  for (auto _ : st) {
    kernels::qgemm_u8s8_requant_u8(M, a.data(), K, pw, rq, y.data(), N);
    benchmark::DoNotOptimize(y.data());
  }
  st.SetItemsProcessed(st.iterations() * M * N * K);
  st.SetLabel(kernels::qgemm_kernel_name(M, pw));
}
BENCHMARK(BM_QgemmRequant)
    ->ArgsProduct({{3136, 25088}, {64, 256}, {64, 256}})
    ->ArgsProduct({{784, 6272}, {128, 512}, {128, 512}})
    ->ArgsProduct({{196, 1568}, {256, 1024}, {256, 1024}})
    ->Unit(benchmark::kMillisecond);

// In-place fp32 FWHT of a rows×cols matrix along rows (axis 1) or columns (axis 0), block h.
// Bytes = read + write of the matrix, the same traffic as the memcpy below.
void BM_Hadamard(benchmark::State& st) {
  const int64_t rows = st.range(0), cols = st.range(1), h = st.range(3);
  const int axis = static_cast<int>(st.range(2));
  std::vector<float> x(rows * cols, 1.0f);
  for (auto _ : st) {
    kernels::fwht_f32({rows, cols, axis, h}, x.data(), cols, x.data(), cols);
    benchmark::DoNotOptimize(x.data());
  }
  st.SetBytesProcessed(st.iterations() * rows * cols * 4 * 2);
}
// int8 codes -> int32 (out of place), bytes = 1 read + 4 written per element.
void BM_HadamardI8(benchmark::State& st) {
  const int64_t rows = st.range(0), cols = st.range(1), h = st.range(3);
  const int axis = static_cast<int>(st.range(2));
  std::vector<int8_t> x(rows * cols, 3);
  std::vector<int32_t> y(rows * cols);
  for (auto _ : st) {
    kernels::fwht_i8_i32({rows, cols, axis, h}, x.data(), cols, y.data(), cols);
    benchmark::DoNotOptimize(y.data());
  }
  st.SetBytesProcessed(st.iterations() * rows * cols * 5);
}
void BM_Memcpy(benchmark::State& st) {
  const int64_t n = st.range(0) * st.range(1);
  std::vector<float> x(n, 1.0f), y(n);
  for (auto _ : st) {
    std::memcpy(y.data(), x.data(), n * 4);
    benchmark::DoNotOptimize(y.data());
  }
  st.SetBytesProcessed(st.iterations() * n * 4 * 2);
}
// 128×512 (a gradient, L2-resident), 4096×4096 (64 MiB, DRAM).
BENCHMARK(BM_Hadamard)->Args({128, 512, 1, 512})->Args({128, 784, 1, 16})->Args({128, 512, 0, 128})
    ->Args({4096, 4096, 1, 4096})->Args({4096, 4096, 0, 4096})->Args({4096, 4096, 1, 64});
BENCHMARK(BM_HadamardI8)->Args({128, 512, 1, 512})->Args({128, 512, 0, 128})->Args({4096, 4096, 1, 4096})
    ->Args({4096, 4096, 0, 4096});
BENCHMARK(BM_Memcpy)->Args({128, 512})->Args({128, 784})->Args({4096, 4096});

}  // namespace
