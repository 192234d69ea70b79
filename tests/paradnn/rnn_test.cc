// Generated RNN/LSTM/GRU networks: gradients of the cells against finite differences, sizes,
// the unrolled ONNX graph against the module, and ONNX Runtime and PyTorch against lowbit.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "lowbit/core/rng.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/npy.h"
#include "lowbit/ops/ops.h"
#include "lowbit/paradnn/model.h"
#include "lowbit/paradnn/runner.h"
#include "paradnn_test_util.h"

namespace lowbit::paradnn {
namespace {

Tensor tokens(const ModelConfig& c, uint64_t seed) {
  Tensor t = Tensor::empty({c.get("batch"), c.get("length")}, DType::i32);
  Rng rng(seed);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<int32_t>()[i] = static_cast<int32_t>(rng.below(static_cast<uint64_t>(c.get("vocab"))));
  return t;
}

TEST(ParadnnRnn, ParameterCountAndFlops) {
  for (int64_t cell : {0, 1, 2}) {
    const ModelConfig c = test::rnn(cell);
    EXPECT_EQ(analyze(c).params, build_module(c, 1)->num_parameters()) << c.key();
    // Per example: length x (layers x 2 GEMMs of gates*H x H + projection H x vocab), 2 per multiply-add.
    const double gates = cell == 0 ? 1 : cell == 1 ? 4 : 3;
    EXPECT_DOUBLE_EQ(flops_per_example(c, false), 3 * (2 * 2 * 2 * gates * 6 * 6 + 2.0 * 6 * 11));
  }
}

// Central differences in float32 with h = 1e-2: truncation h^2/6 |f'''| ~ 2e-5 and rounding
// ~ eps32 * |loss| * (ops on the path ~ 100) / h ~ 2e-3 bound the error; 3e-3 + 1 % of |g|.
TEST(ParadnnRnn, CellGradientsMatchFiniteDifferences) {
  for (int64_t cell : {0, 1, 2}) {
    const ModelConfig c = test::rnn(cell);
    auto m = build_module(c, 4);
    const Tensor x = tokens(c, 9);
    Tensor y = Tensor::empty({c.get("batch") * c.get("length")}, DType::i32);
    Rng rng(3);
    for (int64_t i = 0; i < y.numel(); ++i) y.data<int32_t>()[i] = static_cast<int32_t>(rng.below(11));
    auto loss = [&] { return cross_entropy((*m)(Var(x)), y); };
    loss().backward();
    for (auto& [name, p] : m->named_parameters()) {
      const Tensor g = p.grad().contiguous();
      ASSERT_TRUE(g.defined()) << name;
      float* w = p.mutable_value().data<float>();
      for (int64_t i : {int64_t{0}, p.numel() / 2, p.numel() - 1}) {
        const float saved = w[i], h = 1e-2f;
        w[i] = saved + h;
        const double up = loss().value().data<float>()[0];
        w[i] = saved - h;
        const double down = loss().value().data<float>()[0];
        w[i] = saved;
        const double fd = (up - down) / (2 * h), an = g.data<float>()[i];
        EXPECT_NEAR(an, fd, 3e-3 + 1e-2 * std::fabs(fd)) << c.key() << " " << name << "[" << i << "]";
      }
    }
  }
}

onnx::Array as_i64(const Tensor& t) {
  std::vector<int64_t> v(t.data<int32_t>(), t.data<int32_t>() + t.numel());
  return onnx::Array::from<int64_t>(t.shape(), std::span<const int64_t>(v));
}

// Outputs are sums of <= max(H, 4H) products of O(1) terms per step: 64 * K * eps32 of scale.
double tolerance(const onnx::Array& ref, int64_t k) {
  double scale = 1;
  for (int64_t i = 0; i < ref.numel(); ++i) scale = std::max(scale, std::fabs(ref.get_f64(i)));
  return 64.0 * static_cast<double>(k) * std::ldexp(1.0, -24) * scale;
}

TEST(ParadnnRnn, UnrolledAndFusedOnnxComputeWhatTheModuleComputes) {
  for (int64_t cell : {0, 1, 2})
    for (bool fused : {false, true}) {
      const ModelConfig c = test::rnn(cell, 2, 8, 4, 13, 3);
      auto m = build_module(c, 5);
      const Tensor x = tokens(c, 2);
      Tensor want;
      {
        NoGradGuard g;
        want = (*m)(Var(x)).value().contiguous();
      }
      onnx::Session s(build_onnx(c, *m, fused));
      const onnx::Array got = s.run(std::vector<onnx::Array>{as_i64(x)}).at(0);
      const onnx::Array ref = onnx::Array::from<float>(want.shape(), std::span<const float>(want.data<float>(), want.numel()));
      ASSERT_EQ(got.shape(), ref.shape());
      const double tol = tolerance(ref, 4 * 8);
      for (int64_t i = 0; i < ref.numel(); ++i)
        ASSERT_NEAR(got.get_f64(i), ref.get_f64(i), tol) << c.key() << (fused ? " fused" : " unrolled") << " element " << i;
    }
}

TEST(ParadnnRnn, OnnxRuntimeAgreesWithLowbit) {
  if (const std::string why = test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  for (int64_t cell : {0, 1, 2}) {
    const ModelConfig c = test::rnn(cell, 2, 8, 4, 13, 3);
    const std::string dir = test::scratch("ort_rnn");
    export_bundle(c, dir, 5);
    const std::string cmd = "node '" + std::string(LOWBIT_SOURCE_DIR) + "/bench/peers/ort_run.js' --model '" + dir +
                            "/model.onnx' --input '" + dir + "/input_0.npy' --out-dir '" + dir + "/out'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    onnx::Session s(onnx::load_model(dir + "/model.onnx"));
    const onnx::Array got = s.run(std::vector<onnx::Array>{onnx::load_npy(dir + "/input_0.npy")}).at(0);
    const onnx::Array want = onnx::load_npy(dir + "/out/output_0.npy");
    ASSERT_EQ(got.shape(), want.shape()) << c.key();
    const double tol = tolerance(want, 4 * 8);
    for (int64_t i = 0; i < want.numel(); ++i) ASSERT_NEAR(got.get_f64(i), want.get_f64(i), tol) << c.key() << " element " << i;
  }
}

TEST(ParadnnRnn, PyTorchPeerBuildsTheSameNetwork) {
  if (const std::string why = test::torch_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  for (int64_t cell : {0, 1, 2}) {
    const ModelConfig c = test::rnn(cell);
    const std::string out = test::scratch("torch_rnn") + "/out.json";
    const std::string cmd = "/usr/bin/python3 '" + std::string(LOWBIT_SOURCE_DIR) + "/bench/peers/paradnn_torch.py' --config '" +
                            c.to_json().dump() + "' --mode train --warmup 0 --min-steps 1 --min-time 0 > '" + out + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    EXPECT_EQ(nlohmann::json::parse(std::ifstream(out)).at("params").get<int64_t>(), analyze(c).params) << c.key();
  }
}

TEST(ParadnnRnn, LowbitEnginesRunEveryCell) {
  for (int64_t cell : {0, 1, 2})
    for (const char* engine : {"lowbit", "lowbit-int8"})
      for (const char* mode : {"train", "infer"}) {
        RunOptions o;
        o.engine = engine;
        o.mode = mode;
        o.warmup = 0;
        o.min_steps = 1;
        o.min_time = 0;
        const RunResult r = run_lowbit(test::rnn(cell), o);
        EXPECT_EQ(r.step_ms.size(), 1u) << engine << " " << mode;
      }
}

}  // namespace
}  // namespace lowbit::paradnn
