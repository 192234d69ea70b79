// PTQ of activation × activation MatMuls (attention's Q·Kᵀ and P·V): `quantize_model` makes them
// layers of their own with both inputs quantized per tensor (report "a8a8"), lowbit lowers them to
// lowbit.QMatMul, a config can keep each in fp32, QuantizeOptions::act_matmul = false leaves them
// float, and ONNX Runtime runs the written file and agrees with lowbit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>

#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/passes.h"
#include "lowbit/ptq/quantize_model.h"
#include "ort_util.h"
#include "qdq_test_models.h"
#include "require_peer.h"

namespace lowbit::ptq {
namespace {

using onnx::Array;
using onnx::ElemType;
using onnx::Graph;

// One attention head over x [B, 6, 8]: q, k, v projections, softmax(q·kᵀ / √8)·v, then a
// Gemm to 4 logits from the flattened result. Five weight layers, two activation products.
Graph tiny_attention() {
  onnx::GraphBuilder b;
  const int x = b.input("x", ElemType::f32, {-1, 6, 8});
  auto proj = [&](const std::string& n, uint64_t seed) {
    return b.op("MatMul", {x, b.constant(n + "_w", onnx::test::random_f32({8, 8}, seed, 0.35f))}, {}, 1, n);
  };
  const int q = proj("q", 61), k = proj("k", 62), v = proj("v", 63);
  const int kt = b.op("Transpose", {k}, {{"perm", onnx::Attribute::from_ints({0, 2, 1})}}, 1, "kt");
  const int s = b.op("Mul", {b.op("MatMul", {q, kt}, {}, 1, "qk"), b.constant("inv_sqrt_d", Array::scalar<float>(0.35355339f))}, {}, 1, "scale");
  const int p = b.op("Softmax", {s}, {{"axis", onnx::Attribute::from_int(-1)}}, 1, "softmax");
  const int pv = b.op("MatMul", {p, v}, {}, 1, "pv");
  const int o = b.op("MatMul", {pv, b.constant("o_w", onnx::test::random_f32({8, 8}, 64, 0.35f))}, {}, 1, "o");
  const int flat = b.op("Flatten", {o}, {}, 1, "flat");
  b.output(b.op("Gemm", {flat, b.constant("fc_w", onnx::test::random_f32({4, 48}, 65, 0.15f))}, {{"transB", onnx::Attribute::from_int(1)}}, 1, "fc"),
           "logits");
  return b.finish();
}

std::map<std::string, int> lowered_ops(Graph g) {
  onnx::optimize_graph(g);
  std::map<std::string, int> ops;
  for (const auto& n : g.nodes)
    if (!n.dead) ++ops[n.op_type];
  return ops;
}

double max_abs_diff(const Array& a, const Array& b, double* mag) {
  double d = 0;
  *mag = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    d = std::max(d, std::fabs(a.get_f64(i) - b.get_f64(i)));
    *mag = std::max(*mag, std::fabs(b.get_f64(i)));
  }
  return d;
}

// ‖got − want‖ / ‖want‖.
double rel_error(const Array& got, const Array& want) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double d = got.get_f64(i) - want.get_f64(i);
    num += d * d;
    den += want.get_f64(i) * want.get_f64(i);
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

TEST(QuantizeActMatmul, ProductsAreLayersAndRunOnQMatMul) {
  const Array calib = onnx::test::random_f32({32, 6, 8}, 70);
  QuantizeReport rep;
  const Graph q = quantize_model(tiny_attention(), calib, QuantizeOptions{}, &rep);
  std::map<std::string, std::string> prec;
  for (const auto& l : rep.layers) prec[l.node] = l.precision;
  EXPECT_EQ(prec["qk"], "a8a8");
  EXPECT_EQ(prec["pv"], "a8a8");
  EXPECT_EQ(prec["q"], "w8a8");
  // Both inputs of each product come from a DequantizeLinear of activation codes.
  for (const auto& n : q.nodes) {
    if (n.dead || (n.name != "qk" && n.name != "pv")) continue;
    for (int in : n.inputs) {
      const int p = q.values[static_cast<size_t>(in)].producer;
      ASSERT_GE(p, 0);
      EXPECT_EQ(q.nodes[static_cast<size_t>(p)].op_type, "DequantizeLinear") << n.name;
    }
  }
  const auto ops = lowered_ops(q);
  EXPECT_EQ(ops.count("QMatMul") ? ops.at("QMatMul") : 0, 2);
  EXPECT_EQ(ops.count("MatMul") ? ops.at("MatMul") : 0, 0);
  EXPECT_GT(rep.output_sqnr_db, 20.0);
  // The integer model stays about as close to the float one as with the products left float:
  // their two extra quantizations add noise of the order of one layer's.
  const Array x = onnx::test::random_f32({64, 6, 8}, 71);
  QuantizeOptions off;
  off.act_matmul = false;
  const Graph q_off = quantize_model(tiny_attention(), calib, off, nullptr);
  const Array want = onnx::Session(tiny_attention(), onnx::SessionOptions{1, 1, true}).run(std::vector<Array>{x})[0];
  const double err_on = rel_error(onnx::Session(q, onnx::SessionOptions{1, 1, true}).run(std::vector<Array>{x})[0], want);
  const double err_off = rel_error(onnx::Session(q_off, onnx::SessionOptions{1, 1, true}).run(std::vector<Array>{x})[0], want);
  std::printf("relative L2 error vs fp32: products int8 %.4f, products float %.4f\n", err_on, err_off);
  EXPECT_LE(err_on, 0.15);
  EXPECT_LE(err_on, 1.6 * err_off);
}

TEST(QuantizeActMatmul, ConfigAndOptionKeepThemFloat) {
  const Array calib = onnx::test::random_f32({16, 6, 8}, 72);
  QuantizeOptions off;
  off.act_matmul = false;
  QuantizeReport rep;
  const Graph q = quantize_model(tiny_attention(), calib, off, &rep);
  for (const auto& l : rep.layers) EXPECT_TRUE(l.node != "qk" && l.node != "pv") << l.node;
  auto ops = lowered_ops(q);
  EXPECT_EQ(ops.count("QMatMul"), 0u);
  EXPECT_EQ(ops.at("MatMul"), 2);
  QuantizeOptions cfg;
  cfg.config_json = R"({"default": "int8", "layers": {"qk": "fp32"}})";
  ops = lowered_ops(quantize_model(tiny_attention(), calib, cfg, nullptr));
  EXPECT_EQ(ops.at("QMatMul"), 1);
  EXPECT_EQ(ops.at("MatMul"), 1);
  // int4 weights: the products stay int8 (they have no weights).
  QuantizeOptions w4;
  w4.weight_bits = 4;
  QuantizeReport r4;
  quantize_model(tiny_attention(), calib, w4, &r4);
  for (const auto& l : r4.layers) EXPECT_EQ(l.precision, l.node == "qk" || l.node == "pv" ? "a8a8" : "w4a8") << l.node;
}

TEST(QuantizeActMatmul, OnnxRuntimeRunsTheFileAndAgrees) {
  if (const std::string why = onnx::test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  const Graph q = quantize_model(tiny_attention(), onnx::test::random_f32({32, 6, 8}, 73), QuantizeOptions{}, nullptr);
  const std::string path = onnx::test::temp_dir() + "/ptq_tiny_attention_q.onnx";
  onnx::save_model(q, path);
  const Array x = onnx::test::random_f32({8, 6, 8}, 74);
  const auto ref = onnx::test::run_ort(path, {x}, "ptq_tiny_attention");
  const Array got = onnx::Session(q, onnx::SessionOptions{1, 1, true}).run(std::vector<Array>{x})[0];
  ASSERT_EQ(ref.size(), 1u);
  // Same codes up to rare rounding ties, each moving a logit by a few output steps at most.
  double mag = 0;
  const double diff = max_abs_diff(got, ref[0], &mag);
  EXPECT_LE(diff, 0.02 * mag);
  EXPECT_GT(mag, 0.0);
}

}  // namespace
}  // namespace lowbit::ptq
