// bf16 layers in ONNX files: Cast(BFLOAT16) -> Cast(FLOAT) on the input and a bfloat16 weight
// behind a Cast lower to Conv/Gemm/MatMul with lowbit_bf16 (passes_bf16.cc); results agree
// with the float simulation of the same file (LOWBIT_ONNX_BF16=0) up to fp32 summation order,
// and with ONNX Runtime; not-bf16 weights or a non-float input stay as they are; the exporter
// writes the Casts back.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/passes.h"
#include "ort_util.h"
#include "qdq_test_models.h"
#include "require_peer.h"

namespace lowbit::onnx {
namespace {

Array bf16_of(const Array& f) {
  Array b = Array::empty(ElemType::bf16, f.shape());
  for (int64_t i = 0; i < f.numel(); ++i) b.data<uint16_t>()[i] = float_to_bf16(f.data<float>()[i]);
  return b;
}

int cast(GraphBuilder& b, int v, ElemType to, const std::string& name) {
  return b.op("Cast", {v}, {{"to", Attribute::from_int(static_cast<int64_t>(to))}}, 1, name);
}

// x -> [bf16 casts] Conv(3x3) -> Relu -> GAP -> Flatten -> [bf16 casts] Gemm, and the flattened
// features also through a bf16 MatMul. bf16_weights = false stores the weights as float
// (rounded or not, per `exact`).
Graph bf16_net(bool bf16_weights, bool exact = true) {
  GraphBuilder b(13);
  const int x = b.input("x", ElemType::f32, {2, 8, 10, 10});
  auto weight = [&](const std::string& name, const Shape& s, uint64_t seed) {
    Array w = test::random_f32(s, seed, 0.3f);
    if (bf16_weights) return cast(b, b.constant(name, bf16_of(w)), ElemType::f32, name + "_cast");
    if (exact)
      for (int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] = bf16_to_float(float_to_bf16(w.data<float>()[i]));
    return b.constant(name, std::move(w));
  };
  auto in16 = [&](int v, const std::string& name) { return cast(b, cast(b, v, ElemType::bf16, name + "_down"), ElemType::f32, name + "_up"); };
  const int c = b.op("Conv", {in16(x, "x"), weight("w1", {16, 8, 3, 3}, 1), b.constant("b1", test::random_f32({16}, 2, 0.1f))},
                     {{"pads", Attribute::from_ints({1, 1, 1, 1})}}, 1, "conv");
  const int f = b.op("Flatten", {b.op("GlobalAveragePool", {b.op("Relu", {c})})});
  b.output(b.op("Gemm", {in16(f, "f"), weight("w2", {10, 16}, 3), b.constant("b2", test::random_f32({10}, 4, 0.1f))},
                {{"transB", Attribute::from_int(1)}}, 1, "fc"), "logits");
  b.output(b.op("MatMul", {in16(f, "g"), weight("w3", {16, 5}, 5)}, {}, 1, "mm"), "proj");
  return b.finish();
}

int bf16_nodes(Graph g) {
  optimize_graph(g);
  int n = 0;
  for (const Node& node : g.nodes) n += !node.dead && node.attr_i("lowbit_bf16", 0) != 0;
  return n;
}

std::vector<Array> run(Graph g, const Array& x, bool lower) {
  if (!lower) setenv("LOWBIT_ONNX_BF16", "0", 1);
  Session s(std::move(g), SessionOptions{1, 1, true});
  unsetenv("LOWBIT_ONNX_BF16");
  return s.run({x});
}

// Same values up to fp32 summation order: products of bf16 values are exact in fp32.
void expect_close(const Array& got, const Array& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  for (int64_t i = 0; i < want.numel(); ++i)
    EXPECT_NEAR(got.get_f64(i), want.get_f64(i), 1e-5 * (1 + std::fabs(want.get_f64(i)))) << what << " element " << i;
}

TEST(Bf16Lowering, CastPairsAndBf16WeightsLower) {
  EXPECT_EQ(bf16_nodes(bf16_net(true)), 3);
  EXPECT_EQ(bf16_nodes(bf16_net(false, true)), 3);   // float weights that are bfloat16 values
  EXPECT_EQ(bf16_nodes(bf16_net(false, false)), 0);  // weights with more bits: not bf16 layers
  Graph g = bf16_net(true);
  optimize_graph(g);
  for (const Node& n : g.nodes) EXPECT_TRUE(n.dead || n.op_type != "Cast") << n.name << " left";
}

TEST(Bf16Lowering, AgreesWithFloatSimulation) {
  const Array x = test::random_f32({2, 8, 10, 10}, 7);
  const auto want = run(bf16_net(true), x, false), got = run(bf16_net(true), x, true);
  for (size_t i = 0; i < want.size(); ++i) expect_close(got[i], want[i], "output " + std::to_string(i));
  // The rounding is real: without the Casts the float model gives other numbers.
  const auto plain = run(bf16_net(false, false), x, true);
  double diff = 0;
  for (int64_t i = 0; i < plain[0].numel(); ++i) diff = std::max(diff, std::fabs(plain[0].get_f64(i) - got[0].get_f64(i)));
  EXPECT_GT(diff, 1e-4);
}

TEST(Bf16Lowering, NonFloatInputIsNotLowered) {
  GraphBuilder b(13);
  const int x = b.input("x", ElemType::f64, {2, 4});
  Array w = Array::empty(ElemType::bf16, {4, 3});
  for (int64_t i = 0; i < w.numel(); ++i) w.data<uint16_t>()[i] = float_to_bf16(0.25f * static_cast<float>(i % 5));
  const int xf = cast(b, cast(b, x, ElemType::bf16, "down"), ElemType::f32, "up");
  b.output(b.op("MatMul", {xf, cast(b, b.constant("w", std::move(w)), ElemType::f32, "wc")}, {}, 1, "mm"), "y");
  EXPECT_EQ(bf16_nodes(b.finish()), 0);  // lowering would feed the MatMul a double
}

TEST(Bf16Lowering, ExportWritesTheCastsBack) {
  Graph g = bf16_net(true);
  optimize_graph(g);
  const Graph back = load_model_from_bytes(export_model_bytes(g), "exported");
  int casts = 0;
  for (const Node& n : back.nodes) casts += n.op_type == "Cast";
  EXPECT_EQ(casts, 6);  // two per bf16 layer
  const Array x = test::random_f32({2, 8, 10, 10}, 8);
  const auto want = run(bf16_net(true), x, false), got = run(back, x, true);
  for (size_t i = 0; i < want.size(); ++i) expect_close(got[i], want[i], "round trip output " + std::to_string(i));
}

TEST(Bf16Lowering, AgreesWithOnnxRuntime) {
  if (const std::string why = test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  const std::string path = test::temp_dir() + "/bf16_net.onnx";
  save_model(bf16_net(true), path);
  const Array x = test::random_f32({2, 8, 10, 10}, 9);
  const auto ref = test::run_ort(path, {x}, "bf16_net");
  const auto got = run(bf16_net(true), x, true);
  ASSERT_EQ(ref.size(), got.size());
  for (size_t i = 0; i < ref.size(); ++i) expect_close(got[i], ref[i], "vs ORT output " + std::to_string(i));
}

}  // namespace
}  // namespace lowbit::onnx
