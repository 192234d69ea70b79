// Inference ConvPlan per layer shape, oneDNN's conv against the direct kernel and, for the
// layers that are one GEMM (1×1 stride 1, or windows covering the plane), the GEMM (LOWBIT_CONV's
// forced paths), channels-last in and out, ReLU epilogue, 1 thread: the tables behind
// direct_conv_preferred and conv_gemm_preferred (docs/BENCHMARKS.md). Read the CPU column
// (process CPU time); run with --benchmark_enable_random_interleaving=true
// --benchmark_repetitions=3 so the paths of a shape are measured side by side.
#include <benchmark/benchmark.h>

#include <string>
#include <utility>
#include <vector>

#include "lowbit/core/rng.h"
#include "lowbit/core/threads.h"
#include "lowbit/kernels/fp32_conv_plan.h"

namespace lowbit::kernels {
namespace {

struct Layer {
  const char* name;
  int64_t C, HW, K, RS, stride, groups;
  int64_t batch = 0;  // 0: batch 1 and 8
};

// ResNet-20 CIFAR, then the zoo models' typical shapes (EfficientNet-B0, MobileNetV3,
// ShuffleNetV2, GoogLeNet, DenseNet-121 at 224×224 input).
const Layer kLayers[] = {
    {"r20_stem_c3_32_k16", 3, 32, 16, 3, 1, 1},   {"r20_c16_32_k16", 16, 32, 16, 3, 1, 1},
    {"r20_c16_32_k32_s2", 16, 32, 32, 3, 2, 1},   {"r20_c32_16_k32", 32, 16, 32, 3, 1, 1},
    {"r20_c32_16_k64_s2", 32, 16, 64, 3, 2, 1},   {"r20_c64_8_k64", 64, 8, 64, 3, 1, 1},
    {"stem_c3_224_k16_s2", 3, 224, 16, 3, 2, 1},  {"stem_c3_224_k64_7x7_s2", 3, 224, 64, 7, 2, 1},
    {"pw_c16_112_k16", 16, 112, 16, 1, 1, 1},     {"pw_c16_112_k64", 16, 112, 64, 1, 1, 1},
    {"pw_c24_56_k72", 24, 56, 72, 1, 1, 1},       {"pw_c72_56_k24", 72, 56, 24, 1, 1, 1},
    {"pw_c40_28_k240", 40, 28, 240, 1, 1, 1},     {"pw_c240_28_k40", 240, 28, 40, 1, 1, 1},
    {"pw_c80_14_k480", 80, 14, 480, 1, 1, 1},     {"pw_c480_14_k112", 480, 14, 112, 1, 1, 1},
    {"pw_c192_7_k1152", 192, 7, 1152, 1, 1, 1},   {"pw_c1152_7_k320", 1152, 7, 320, 1, 1, 1},
    {"pw_c58_28_k58", 58, 28, 58, 1, 1, 1},       {"pw_c116_14_k116", 116, 14, 116, 1, 1, 1},
    {"pw_c128_56_k32_dn", 128, 56, 32, 1, 1, 1},  {"pw_c256_28_k128_dn", 256, 28, 128, 1, 1, 1},
    {"c128_56_k32_3x3_dn", 128, 56, 32, 3, 1, 1}, {"c128_14_k32_3x3_dn", 128, 14, 32, 3, 1, 1},
    {"c96_28_k128_3x3_gn", 96, 28, 128, 3, 1, 1}, {"c16_28_k32_5x5_gn", 16, 28, 32, 5, 1, 1},
    {"c64_56_k192_3x3_gn", 64, 56, 192, 3, 1, 1}, {"c48_14_k64_3x3", 48, 14, 64, 3, 1, 1},
    {"dw_c32_112_3x3", 32, 112, 32, 3, 1, 32},    {"dw_c96_112_3x3_s2", 96, 112, 96, 3, 2, 96},
    {"dw_c144_56_3x3", 144, 56, 144, 3, 1, 144},  {"dw_c144_56_5x5_s2", 144, 56, 144, 5, 2, 144},
    {"dw_c240_28_5x5", 240, 28, 240, 5, 1, 240},  {"dw_c480_14_3x3", 480, 14, 480, 3, 1, 480},
    {"dw_c672_14_5x5", 672, 14, 672, 5, 1, 672},  {"dw_c1152_7_5x5", 1152, 7, 1152, 5, 1, 1152},
    {"dw_c116_28_3x3_s2", 116, 28, 116, 3, 2, 116}, {"dw_c232_7_3x3", 232, 7, 232, 3, 1, 232},
    {"tiny_c16_4_k16_1x1", 16, 4, 16, 1, 1, 1},  // almost no work: the per-call cost of each path
    // MobileNetV2's largest-plane 1×1 convs (expand, and the projections to 16/24 channels).
    {"mnv2_c32_112_k16", 32, 112, 16, 1, 1, 1},   {"mnv2_c16_112_k96", 16, 112, 96, 1, 1, 1},
    {"mnv2_c96_56_k24", 96, 56, 24, 1, 1, 1},     {"mnv2_c144_56_k24", 144, 56, 24, 1, 1, 1},
    {"mnv2_c24_56_k144", 24, 56, 144, 1, 1, 1},   {"mnv2_stem_c3_224_k32_s2", 3, 224, 32, 3, 2, 1},
    // ResNet-50's stride-1 1×1 convs (torchvision, 224×224 input).
    {"r50_c64_56_k64", 64, 56, 64, 1, 1, 1},       {"r50_c64_56_k256", 64, 56, 256, 1, 1, 1},
    {"r50_c256_56_k64", 256, 56, 64, 1, 1, 1},     {"r50_c256_56_k128", 256, 56, 128, 1, 1, 1},
    {"r50_c128_28_k512", 128, 28, 512, 1, 1, 1},   {"r50_c512_28_k128", 512, 28, 128, 1, 1, 1},
    {"r50_c512_28_k256", 512, 28, 256, 1, 1, 1},   {"r50_c256_14_k1024", 256, 14, 1024, 1, 1, 1},
    {"r50_c1024_14_k256", 1024, 14, 256, 1, 1, 1}, {"r50_c1024_14_k512", 1024, 14, 512, 1, 1, 1},
    {"r50_c512_7_k2048", 512, 7, 2048, 1, 1, 1},   {"r50_c2048_7_k512", 2048, 7, 512, 1, 1, 1},
    // ... and its stride-2 1×1 downsampling projections.
    {"r50_c256_56_k512_s2", 256, 56, 512, 1, 2, 1}, {"r50_c512_28_k1024_s2", 512, 28, 1024, 1, 2, 1},
    {"r50_c1024_14_k2048_s2", 1024, 14, 2048, 1, 2, 1},
    // The ParaDnn cnn `small` bottleneck blocks' stride-1 1×1 convs at the sweep's batch 16
    // (filters 16/32; image 64 ends on 2×2 planes, image 112 on 4×4).
    {"pd_c32_16_k128", 32, 16, 128, 1, 1, 1, 16},  {"pd_c128_16_k32", 128, 16, 32, 1, 1, 1, 16},
    {"pd_c64_8_k256", 64, 8, 256, 1, 1, 1, 16},    {"pd_c256_8_k64", 256, 8, 64, 1, 1, 1, 16},
    {"pd_c128_4_k512", 128, 4, 512, 1, 1, 1, 16},  {"pd_c512_4_k128", 512, 4, 128, 1, 1, 1, 16},
    {"pd_c256_4_k1024", 256, 4, 1024, 1, 1, 1, 16}, {"pd_c1024_4_k256", 1024, 4, 256, 1, 1, 1, 16},
    {"pd_c128_2_k512", 128, 2, 512, 1, 1, 1, 16},  {"pd_c512_2_k128", 512, 2, 128, 1, 1, 1, 16},
    {"pd_c256_2_k1024", 256, 2, 1024, 1, 1, 1, 16}, {"pd_c1024_2_k256", 1024, 2, 256, 1, 1, 1, 16},
    // ... and their 3×3 convs on 2×2 planes (every window covers the plane: one unrolled GEMM).
    {"pd_c128_2_k128_3x3", 128, 2, 128, 3, 1, 1, 16}, {"pd_c256_2_k256_3x3", 256, 2, 256, 3, 1, 1, 16},
    // ... their stride-2 1×1 convs at 112 px (filters 32: bottleneck reduce and projection, then
    // basic projection; filters 16) and the 7×7 stem.
    {"pd_c128_28_k64_s2", 128, 28, 64, 1, 2, 1, 16},   {"pd_c128_28_k256_s2", 128, 28, 256, 1, 2, 1, 16},
    {"pd_c256_14_k128_s2", 256, 14, 128, 1, 2, 1, 16}, {"pd_c256_14_k512_s2", 256, 14, 512, 1, 2, 1, 16},
    {"pd_c512_7_k256_s2", 512, 7, 256, 1, 2, 1, 16},   {"pd_c512_7_k1024_s2", 512, 7, 1024, 1, 2, 1, 16},
    {"pd_c32_28_k64_s2", 32, 28, 64, 1, 2, 1, 16},     {"pd_c64_14_k128_s2", 64, 14, 128, 1, 2, 1, 16},
    {"pd_c128_7_k256_s2", 128, 7, 256, 1, 2, 1, 16},   {"pd_c64_28_k128_s2", 64, 28, 128, 1, 2, 1, 16},
    {"pd_c16_16_k32_s2", 16, 16, 32, 1, 2, 1, 16},     {"pd_c32_8_k64_s2", 32, 8, 64, 1, 2, 1, 16},
    {"pd_c64_4_k128_s2", 64, 4, 128, 1, 2, 1, 16},     {"pd_c16_28_k32_s2", 16, 28, 32, 1, 2, 1, 16},
    {"pd_c32_16_k64_s2", 32, 16, 64, 1, 2, 1, 16},     {"pd_c64_8_k128_s2", 64, 8, 128, 1, 2, 1, 16},
    {"pd_c128_4_k256_s2", 128, 4, 256, 1, 2, 1, 16},
    {"pd_stem_c3_112_k32_7x7_s2", 3, 112, 32, 7, 2, 1, 16},
};

void run_layer(benchmark::State& state, Layer l, int64_t N, ConvPlanPath path) {
  set_num_threads(1);
  const ConvGeom s = ConvGeom::conv2d(N, l.C, l.HW, l.HW, l.K, l.RS, l.RS)
                         .strides(l.stride, l.stride)
                         .pads(l.RS / 2, l.RS / 2)
                         .grouped(l.groups);
  std::vector<float> x(static_cast<size_t>(N * l.C * l.HW * l.HW));
  std::vector<float> w(static_cast<size_t>(l.K * l.C / l.groups * l.RS * l.RS));
  std::vector<float> b(static_cast<size_t>(l.K)), y(static_cast<size_t>(N * l.K * s.OH() * s.OW()));
  uniform_fill(1, 1, 0, static_cast<int64_t>(x.size()), x.data());
  uniform_fill(2, 1, 0, static_cast<int64_t>(w.size()), w.data());
  uniform_fill(3, 1, 0, l.K, b.data());
  set_conv_plan_path(path);
  ConvPlan plan(s, w.data(), b.data(), {false, ConvEpilogue::Act::relu}, ConvLayout::nhwc, ConvLayout::nhwc);
  reset_conv_plan_path();
  if (path == ConvPlanPath::direct && !plan.uses_direct()) {
    state.SkipWithError("no direct kernel on this CPU");
    return;
  }
  if (path == ConvPlanPath::gemm && !plan.uses_gemm()) {
    state.SkipWithError("no oneDNN matmul for this shape");
    return;
  }
  for (auto _ : state) {
    plan.run(x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  const double flops = 2.0 * N * l.K * (l.C / l.groups) * l.RS * l.RS * s.OH() * s.OW();
  state.counters["GFLOPs"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

const int kRegistered = [] {
  using P = std::pair<ConvPlanPath, const char*>;
  for (const Layer& l : kLayers) {
    std::vector<P> paths{{ConvPlanPath::onednn, "onednn"}, {ConvPlanPath::direct, "direct"}};
    // stride 1, pad RS/2: each window spans the plane; strided 1×1: gather + GEMM (fp32_conv_strided.h)
    const bool covering = l.stride == 1 && l.HW - 1 <= l.RS / 2;
    if (l.groups == 1 && (l.RS == 1 || covering)) paths.push_back({ConvPlanPath::gemm, "gemm"});
    for (int64_t N : l.batch ? std::vector<int64_t>{l.batch} : std::vector<int64_t>{1, 8})
      for (auto [path, tag] : paths)
        benchmark::RegisterBenchmark((std::string("convplan/") + l.name + "/b" + std::to_string(N) + "/" + tag).c_str(),
                                     [l, N, path = path](benchmark::State& st) { run_layer(st, l, N, path); })
            ->MeasureProcessCPUTime()
            ->Unit(benchmark::kMicrosecond);
  }
  return 0;
}();

}  // namespace
}  // namespace lowbit::kernels
