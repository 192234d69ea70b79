// bf16 as a per-layer precision of the mixed-precision PTQ: build_qdq writes Cast pairs and
// bfloat16 weights that ONNX Runtime and lowbit both run, lowbit lowers them to bf16 kernels,
// results stay close to fp32, and availability follows the CPU (detected, not assumed).
#include <gtest/gtest.h>

#include <cmath>

#include "lowbit/kernels/bf16.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/passes.h"
#include "lowbit/ptq/quantize_model.h"
#include "ptq_test_models.h"
#include "qdq_test_models.h"

namespace lowbit::ptq {
namespace {

TEST(Bf16Precision, AvailabilityFollowsTheCpu) {
  EXPECT_EQ(precision_unavailable(Precision::bf16).empty(), kernels::bf16_native()) << precision_unavailable(Precision::bf16);
  EXPECT_EQ(weight_bytes_per_value(Precision::bf16), 2.0);
}

TEST(Bf16Precision, LayersRunInBf16CloseToFp32) {
  if (!kernels::bf16_native()) GTEST_SKIP() << precision_unavailable(Precision::bf16);
  const onnx::Array calib = onnx::test::random_f32({16, 3, 8, 8}, 51);
  const QdqPlan plan = plan_qdq(test::small_cnn(), calib, QuantizeOptions{});
  LayerConfig config(plan.layers.size(), Precision::bf16);
  config.back() = Precision::int8;  // mixed: bf16 convs, an int8 head
  std::vector<LayerReport> rep;
  onnx::Graph g = build_qdq(plan, config, nullptr, &rep);
  int casts = 0, bf16_weights = 0;
  for (const auto& n : g.nodes) casts += !n.dead && n.op_type == "Cast";
  for (const auto& [v, a] : g.constants) bf16_weights += a.type() == onnx::ElemType::bf16;
  EXPECT_EQ(casts, 3 * static_cast<int>(plan.layers.size() - 1));  // input down, input up, weight up
  EXPECT_EQ(bf16_weights, static_cast<int>(plan.layers.size() - 1));
  for (const auto& l : rep)
    if (l.op == "Conv") {
      EXPECT_EQ(l.precision, "bf16") << l.node;
    }
  onnx::Graph lowered = g;
  onnx::optimize_graph(lowered);
  int bf16_nodes = 0;
  for (const auto& n : lowered.nodes) bf16_nodes += !n.dead && n.attr_i("lowbit_bf16", 0) != 0;
  EXPECT_EQ(bf16_nodes, static_cast<int>(plan.layers.size() - 1));
  const auto ref = onnx::Session(test::small_cnn(), onnx::SessionOptions{1, 1, true}).run({calib});
  const auto got = onnx::Session(std::move(g), onnx::SessionOptions{1, 1, true}).run({calib});
  double err = 0, mag = 0;
  for (int64_t i = 0; i < ref[0].numel(); ++i) {
    err = std::max(err, std::fabs(got[0].get_f64(i) - ref[0].get_f64(i)));
    mag = std::max(mag, std::fabs(ref[0].get_f64(i)));
  }
  EXPECT_LT(err, 0.05 * mag) << "bf16 convs + int8 head vs fp32";
  EXPECT_GT(err, 0.0);
  // The bf16 weight the sensitivity metrics see is the rounded one.
  const onnx::Array w = quantized_weight(plan, 0, Precision::bf16);
  for (int64_t i = 0; i < w.numel(); ++i) ASSERT_TRUE(kernels::is_bf16_exact(w.data<float>()[i]));
}

}  // namespace
}  // namespace lowbit::ptq
