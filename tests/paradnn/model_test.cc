// Generated networks: analytic counts against the module and an independent FLOP counter, the
// ONNX form against the module's own forward, ONNX Runtime and PyTorch against lowbit.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "lowbit/core/rng.h"
#include "lowbit/onnx/analysis.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/npy.h"
#include "lowbit/onnx/shape_inference.h"
#include "lowbit/ops/ops.h"
#include "lowbit/paradnn/model.h"
#include "lowbit/paradnn/runner.h"
#include "paradnn_test_util.h"

namespace lowbit::paradnn {
namespace {

using test::cnn;
using test::fc;

std::vector<ModelConfig> samples() {
  return {fc(1, 8, 3), fc(3, 32, 4, 50, 7), cnn(1, 4, 32, 0), cnn(2, 4, 40, 1), cnn(1, 8, 33, 0)};
}

TEST(ParadnnModel, ParameterCountMatchesTheModule) {
  for (const auto& c : samples()) {
    auto m = build_module(c, 1);
    EXPECT_EQ(analyze(c).params, m->num_parameters()) << c.key();
  }
}

TEST(ParadnnModel, FcFlopsByHand) {
  // 100 -> 32 -> 32 -> 10: 2 x (100*32 + 32*32 + 32*10) per example; training 3x.
  const ModelConfig c = fc(2, 32, 4);
  EXPECT_DOUBLE_EQ(flops_per_example(c, false), 2.0 * (100 * 32 + 32 * 32 + 32 * 10));
  EXPECT_DOUBLE_EQ(flops_per_example(c, true), 3 * flops_per_example(c, false));
}

TEST(ParadnnModel, FlopsAgreeWithTheOnnxAnalyzer) {
  // onnx::summarize counts Conv/Gemm multiply-adds from inferred shapes: an independent count.
  for (const auto& c : samples()) {
    auto m = build_module(c, 1);
    const onnx::Graph g = build_onnx(c, *m);
    const double onnx_flops = onnx::summarize(g, onnx::declared_input_types(g, 1)).flops;
    EXPECT_NEAR(analyze(c).forward_flops_per_example, onnx_flops, 0.01 * onnx_flops) << c.key();
  }
}

onnx::Array to_array(const Tensor& t) {
  const Tensor c = t.contiguous();
  return onnx::Array::from<float>(c.shape(), std::span<const float>(c.data<float>(), c.numel()));
}

Tensor random_input(const ModelConfig& c) {
  Shape s = example_shape(c);
  s.insert(s.begin(), c.get("batch"));
  Tensor x = Tensor::empty(s);
  normal_fill(7, 0, 0, x.numel(), x.data<float>());
  return x;
}

// fp32 sums over K products carry up to ~K * 2^-24 relative error each; the deepest path here
// adds a few such reductions, so 64 * K_max * eps of the output scale is a safe bound that still
// catches any wiring mistake (which moves outputs by O(1) of their scale).
double tolerance(const ModelConfig& c, const onnx::Array& ref) {
  double scale = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) scale = std::max(scale, std::fabs(ref.get_f64(i)));
  const double k_max = c.family == "fc" ? std::max(c.get("input"), c.get("nodes")) : 9.0 * 8 * c.get("filters") * 4;
  return 64 * k_max * std::ldexp(1.0, -24) * std::max(scale, 1.0);
}

TEST(ParadnnModel, OnnxGraphComputesWhatTheModuleComputes) {
  for (const auto& c : samples()) {
    auto m = build_module(c, 3);
    m->eval();
    const Tensor x = random_input(c);
    Tensor want;
    {
      NoGradGuard g;
      want = (*m)(Var(x)).value();
    }
    onnx::Session s(build_onnx(c, *m));
    const onnx::Array got = s.run(std::vector<onnx::Array>{to_array(x)}).at(0);
    const onnx::Array ref = to_array(want);
    ASSERT_EQ(got.shape(), ref.shape()) << c.key();
    const double tol = tolerance(c, ref);
    for (int64_t i = 0; i < ref.numel(); ++i) ASSERT_NEAR(got.get_f64(i), ref.get_f64(i), tol) << c.key() << " element " << i;
  }
}

TEST(ParadnnModel, OnnxRuntimeAgreesWithLowbit) {
  if (const std::string why = test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  // Batch 8: the last stages' planes (4×4 … 1×1) run their convs as one GEMM (fp32_conv_gemm.h),
  // the 1×1 ones with the residual sum fused, the 3×3 ones on 2×2 and 1×1 unrolled.
  for (const auto& c : {fc(2, 16, 3), cnn(1, 4, 32, 1), cnn(1, 4, 32, 0), cnn(1, 4, 32, 1, 8), cnn(1, 4, 32, 0, 8)}) {
    const std::string dir = test::scratch("ort_" + c.family);
    export_bundle(c, dir, 5);
    const std::string cmd = "node '" + std::string(LOWBIT_SOURCE_DIR) + "/bench/peers/ort_run.js' --model '" + dir +
                            "/model.onnx' --input '" + dir + "/input_0.npy' --out-dir '" + dir + "/out'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    onnx::Session s(onnx::load_model(dir + "/model.onnx"));
    const onnx::Array got = s.run(std::vector<onnx::Array>{onnx::load_npy(dir + "/input_0.npy")}).at(0);
    const onnx::Array want = onnx::load_npy(dir + "/out/output_0.npy");
    ASSERT_EQ(got.shape(), want.shape()) << c.key();
    const double tol = tolerance(c, want);
    for (int64_t i = 0; i < want.numel(); ++i) ASSERT_NEAR(got.get_f64(i), want.get_f64(i), tol) << c.key() << " element " << i;
  }
}

TEST(ParadnnModel, PyTorchPeerBuildsTheSameNetwork) {
  if (const std::string why = test::torch_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  for (const auto& c : samples()) {
    const std::string out = test::scratch("torch_params") + "/out.json";
    const std::string cmd = "/usr/bin/python3 '" + std::string(LOWBIT_SOURCE_DIR) + "/bench/peers/paradnn_torch.py' --config '" +
                            c.to_json().dump() + "' --mode infer --warmup 0 --min-steps 1 --min-time 0 > '" + out + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    const auto j = nlohmann::json::parse(std::ifstream(out));
    EXPECT_EQ(j.at("params").get<int64_t>(), analyze(c).params) << c.key();
    EXPECT_EQ(j.at("step_ms").size(), 1u);
  }
}

}  // namespace
}  // namespace lowbit::paradnn
