// fp32 GEMM and convolution at the shapes training uses (batch 128): the reference, each
// library path (fp32_tuning.h) and the automatic choice, on 1 and 2 threads. The numbers behind
// docs/BENCHMARKS.md "fp32 kernels: library choice". Names: gemm/<shape>/<path>/threads:<n>.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_ref.h"
#include "lowbit/kernels/fp32_tuning.h"

namespace lowbit::kernels {
namespace {

struct GemmCase {
  const char* name;
  bool ta, tb;
  int64_t M, N, K;
};

// MLP 784-512-512-10 at batch 128: forward (x * W^T), backward data (dy * W), backward weight
// (dy^T * x), and the classifier head.
const GemmCase kGemms[] = {
    {"fc784x512_fwd", false, true, 128, 512, 784},  {"fc784x512_bwd_data", false, false, 128, 784, 512},
    {"fc784x512_bwd_w", true, false, 512, 784, 128}, {"fc512x512_fwd", false, true, 128, 512, 512},
    {"fc512x512_bwd_w", true, false, 512, 512, 128}, {"fc512x10_fwd", false, true, 128, 10, 512},
};

struct ConvCase {
  const char* name;
  ConvGeom s;
};

ConvGeom conv(int64_t C, int64_t HW, int64_t K, int64_t RS, int64_t stride, int64_t pad) {
  return ConvGeom::conv2d(128, C, HW, HW, K, RS, RS).strides(stride, stride).pads(pad, pad);
}

// A CIFAR-style ResNet on 28x28 (or 32x32 RGB) input: stem, 3x3 blocks at 16/32/64 channels,
// stride-2 3x3 and 1x1 downsampling shortcuts.
const ConvCase kConvs[] = {
    {"stem_c1_28_k16", conv(1, 28, 16, 3, 1, 1)},   {"stem_c3_32_k16", conv(3, 32, 16, 3, 1, 1)},
    {"c16_28_k16", conv(16, 28, 16, 3, 1, 1)},      {"c16_28_k32_s2", conv(16, 28, 32, 3, 2, 1)},
    {"c32_14_k32", conv(32, 14, 32, 3, 1, 1)},      {"c32_14_k64_s2", conv(32, 14, 64, 3, 2, 1)},
    {"c64_7_k64", conv(64, 7, 64, 3, 1, 1)},        {"1x1_c16_28_k32_s2", conv(16, 28, 32, 1, 2, 0)},
    {"1x1_c32_14_k64_s2", conv(32, 14, 64, 1, 2, 0)},
};

std::vector<float> filled(int64_t n, float v) {
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[i] = v * static_cast<float>((i * 7919) % 17 - 8);
  return out;
}

void run_gemm(benchmark::State& state, GemmCase g, int lib) {
  const int64_t lda = g.ta ? g.M : g.K, ldb = g.tb ? g.K : g.N;
  auto A = filled(g.M * g.K, 0.1f), B = filled(g.K * g.N, 0.05f), C = filled(g.M * g.N, 0.0f);
  set_gemm_lib(lib == 2 ? GemmLib::openblas : GemmLib::onednn);
  for (auto _ : state) {
    if (lib == 0) ref::gemm_f32(g.ta, g.tb, g.M, g.N, g.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), g.N);
    else gemm_f32(g.ta, g.tb, g.M, g.N, g.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), g.N);
    benchmark::ClobberMemory();
  }
  set_gemm_lib(GemmLib::automatic);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * g.M * g.N * g.K, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

// pass: 0 forward, 1 backward data, 2 backward weight. algo: -1 reference, else a ConvAlgo.
void run_conv(benchmark::State& state, ConvCase c, int pass, int algo) {
  const ConvGeom& s = c.s;
  auto x = filled(s.N * s.C * s.H() * s.W(), 0.1f), w = filled(s.K * s.C / s.groups * s.R() * s.S(), 0.05f);
  auto y = filled(s.N * s.K * s.OH() * s.OW(), 0.02f), b = filled(s.K, 0.01f);
  if (algo >= 0) set_conv_algo(static_cast<ConvAlgo>(algo));
  for (auto _ : state) {
    if (algo < 0) {
      if (pass == 0) ref::conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
      if (pass == 1) ref::conv2d_backward_data(s, y.data(), w.data(), x.data());
      if (pass == 2) ref::conv2d_backward_weight(s, x.data(), y.data(), w.data(), b.data());
    } else {
      if (pass == 0) conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
      if (pass == 1) conv2d_backward_data(s, y.data(), w.data(), x.data());
      if (pass == 2) conv2d_backward_weight(s, x.data(), y.data(), w.data(), b.data());
    }
    benchmark::ClobberMemory();
  }
  set_conv_algo(ConvAlgo::automatic);
  const double flops = 2.0 * s.N * s.K * s.OH() * s.OW() * (s.C / s.groups) * s.R() * s.S();
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

// Thread count is set inside the benchmark so each run is independent of registration order.
template <typename F>
void add(const std::string& name, int threads, bool slow, F f) {
  auto* b = benchmark::RegisterBenchmark(name.c_str(), [threads, f](benchmark::State& st) {
    set_num_threads(threads);
    f(st);
  });
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
  if (slow) b->Iterations(1);  // references take up to seconds per call
}

const bool kRegistered = [] {
  const char* gemm_libs[] = {"ref", "onednn", "openblas"};
  const char* conv_algos[] = {"auto", "onednn_plain", "onednn_blocked", "im2col"};
  const char* passes[] = {"fwd", "bwd_data", "bwd_w"};
  for (int threads : {1, 2}) {
    const std::string t = "/threads:" + std::to_string(threads);
    for (const GemmCase& g : kGemms)
      for (int lib = 0; lib < 3; ++lib) {
        if (lib == 0 && threads > 1) continue;  // the reference is single-threaded
        add(std::string("gemm/") + g.name + "/" + gemm_libs[lib] + t, threads, lib == 0,
            [g, lib](benchmark::State& st) { run_gemm(st, g, lib); });
      }
    for (const ConvCase& c : kConvs)
      for (int pass = 0; pass < 3; ++pass)
        for (int algo = -1; algo < 4; ++algo) {
          if (algo < 0 && threads > 1) continue;
          const std::string a = algo < 0 ? "ref" : conv_algos[algo];
          add(std::string("conv/") + c.name + "/" + passes[pass] + "/" + a + t, threads, algo < 0,
              [c, pass, algo](benchmark::State& st) { run_conv(st, c, pass, algo); });
        }
  }
  return true;
}();

}  // namespace
}  // namespace lowbit::kernels
