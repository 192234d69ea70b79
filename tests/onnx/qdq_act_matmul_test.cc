// Products of two quantized activations (attention's Q·Kᵀ, P·V): DQ(a)·DQ(b) → MatMul → [Q] and
// MatMulInteger / QLinearMatMul with a non-constant B lower to lowbit.QMatMul; results agree
// with the float simulation and with ONNX Runtime within one quantization step, give the same
// bytes on every ISA path, equal the reference loops exactly for MatMulInteger/QLinearMatMul,
// and forms that do not lower (per-channel scales) keep running as written.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "lowbit/core/rng.h"
#include "lowbit/kernels/isa.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/passes.h"
#include "ort_util.h"
#include "qdq_test_models.h"
#include "require_peer.h"

namespace lowbit::onnx {
namespace {

std::vector<Array> run(Graph g, const std::vector<Array>& x, bool integer) {
  if (!integer) setenv("LOWBIT_ONNX_INT8", "0", 1);
  Session s(std::move(g), SessionOptions{1, 1, true});
  unsetenv("LOWBIT_ONNX_INT8");
  return s.run(x);
}

int count_op(Graph g, const std::string& op) {
  optimize_graph(g);
  int n = 0;
  for (const Node& node : g.nodes) n += !node.dead && node.op_type == op;
  return n;
}

// One side of the product: uint8 or int8 codes with a zero point.
struct Side {
  bool int8;
  float scale;
  int zp;
};
Array zp_array(const Side& s) {
  return s.int8 ? Array::scalar<int8_t>(static_cast<int8_t>(s.zp)) : Array::scalar<uint8_t>(static_cast<uint8_t>(s.zp));
}
int qdq(GraphBuilder& b, int x, const Side& s, const std::string& name) {
  const int sc = b.constant(name + "_s", Array::scalar<float>(s.scale));
  const int z = b.constant(name + "_z", zp_array(s));
  const int q = b.op("QuantizeLinear", {x, sc, z}, {}, 1, name + "_q");
  return b.op("DequantizeLinear", {q, sc, z}, {}, 1, name + "_dq");
}

// x [a_shape], y [b_shape] → Q/DQ each → MatMul "mm" → Q/DQ (codes "codes") and the float
// result of a second MatMul of the same inputs ("mm_f"): both fused forms.
Graph act_matmul(const Shape& as, const Shape& bs, const Side& a, const Side& b, const Side& y, bool relu = false) {
  GraphBuilder g;
  const int x0 = g.input("a", ElemType::f32, as), x1 = g.input("b", ElemType::f32, bs);
  const int qa = qdq(g, x0, a, "qa"), qb = qdq(g, x1, b, "qb");
  int mm = g.op("MatMul", {qa, qb}, {}, 1, "mm");
  if (relu) mm = g.op("Relu", {mm}, {}, 1, "mm_relu");
  const int sc = g.constant("y_s", Array::scalar<float>(y.scale)), z = g.constant("y_z", zp_array(y));
  g.output(g.op("QuantizeLinear", {mm, sc, z}, {}, 1, "y_q"), "codes");
  g.output(g.op("MatMul", {qa, qb}, {}, 1, "mm_f"), "mm_f");
  return g.finish();
}

const Side kU8{false, 0.02f, 128}, kU8b{false, 0.03f, 3}, kS8{true, 0.025f, 0}, kS8b{true, 0.015f, -5};

struct Case {
  Shape as, bs;
  Side a, b, y;
  bool relu = false;
};
std::vector<Case> cases() {
  return {{{7, 9}, {9, 5}, kU8, kU8b, {false, 0.05f, 120}},                    // 2-d, uint8 × uint8
          {{2, 3, 6, 8}, {2, 3, 8, 6}, kU8, kS8, {false, 0.04f, 128}},         // attention Q·Kᵀ
          {{2, 3, 6, 6}, {3, 6, 8}, kS8, kU8b, {true, 0.05f, 0}},              // broadcast B, int8 out
          {{1, 4, 5, 17}, {4, 17, 3}, kS8b, kS8, {false, 0.03f, 100}, true},   // int8 × int8, Relu
          {{3, 1, 5, 20}, {1, 2, 20, 33}, kU8b, kS8b, {true, 0.06f, -10}}};   // both batch dims broadcast
}

std::vector<Array> inputs(const Case& c, uint64_t seed) {
  return {test::random_f32(c.as, seed, 1.2f), test::random_f32(c.bs, seed + 1, 0.8f)};
}

// |float result − simulation|: both sum K products of the same dequantized values in fp32.
double float_bound(const Case& c, const std::vector<Array>& x) {
  double amax = 0, bmax = 0;
  for (int64_t i = 0; i < x[0].numel(); ++i) amax = std::max(amax, std::fabs(x[0].get_f64(i)) + c.a.scale);
  for (int64_t i = 0; i < x[1].numel(); ++i) bmax = std::max(bmax, std::fabs(x[1].get_f64(i)) + c.b.scale);
  const double K = static_cast<double>(c.as.back());
  return 2.0 * K * amax * bmax * std::ldexp(1.0, -23) * (K + 2);
}

void expect_within(const Array& got, const Array& want, double tol, const std::string& what, double exact_share) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  ASSERT_EQ(got.type(), want.type()) << what;
  int64_t exact = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    EXPECT_LE(std::fabs(got.get_f64(i) - want.get_f64(i)), tol) << what << " element " << i;
    exact += got.get_f64(i) == want.get_f64(i);
  }
  EXPECT_GE(exact, static_cast<int64_t>(static_cast<double>(want.numel()) * exact_share)) << what;
}

TEST(QdqActMatmul, LowersToQMatMul) {
  for (const Case& c : cases()) {
    EXPECT_EQ(count_op(act_matmul(c.as, c.bs, c.a, c.b, c.y, c.relu), "QMatMul"), 2);
    EXPECT_EQ(count_op(act_matmul(c.as, c.bs, c.a, c.b, c.y, c.relu), "MatMul"), 0);
  }
}

TEST(QdqActMatmul, AgreesWithFloatSimulation) {
  uint64_t seed = 20;
  for (const Case& c : cases()) {
    const auto x = inputs(c, seed += 2);
    const auto want = run(act_matmul(c.as, c.bs, c.a, c.b, c.y, c.relu), x, false);
    const auto got = run(act_matmul(c.as, c.bs, c.a, c.b, c.y, c.relu), x, true);
    const std::string what = "case " + std::to_string(seed);
    expect_within(got[0], want[0], 1, what + " codes", 0.98);
    expect_within(got[1], want[1], float_bound(c, x), what + " float", 0.0);
  }
}

TEST(QdqActMatmul, SameBytesOnEveryIsa) {
  const kernels::Isa saved = kernels::active_isa();
  int compared = 0;
  uint64_t seed = 40;
  for (const Case& c : cases()) {
    const auto x = inputs(c, seed += 2);
    kernels::set_active_isa(kernels::Isa::ref);
    const auto want = run(act_matmul(c.as, c.bs, c.a, c.b, c.y, c.relu), x, true);
    for (kernels::Isa isa : {kernels::Isa::avx2, kernels::Isa::avx512, kernels::Isa::avx512vnni}) {
      if (!kernels::isa_supported(isa)) continue;
      kernels::set_active_isa(isa);
      const auto got = run(act_matmul(c.as, c.bs, c.a, c.b, c.y, c.relu), x, true);
      ++compared;
      EXPECT_TRUE(test::arrays_close(got[0], want[0], 0, 0)) << kernels::isa_name(isa);
      EXPECT_TRUE(test::arrays_close(got[1], want[1], 0, 0)) << kernels::isa_name(isa);
    }
  }
  kernels::set_active_isa(saved);
  EXPECT_GT(compared, 5);
}

TEST(QdqActMatmul, AgreesWithOnnxRuntime) {
  if (const std::string why = test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  uint64_t seed = 60;
  int i = 0;
  for (const Case& c : cases()) {
    const std::string path = test::temp_dir() + "/qdq_act_matmul_" + std::to_string(i) + ".onnx";
    save_model(act_matmul(c.as, c.bs, c.a, c.b, c.y, c.relu), path);
    const auto x = inputs(c, seed += 2);
    const auto ref = test::run_ort(path, x, "qdq_act_matmul_" + std::to_string(i++));
    const auto got = run(act_matmul(c.as, c.bs, c.a, c.b, c.y, c.relu), x, true);
    ASSERT_EQ(ref.size(), 2u);
    expect_within(got[0], ref[0], 1, "codes vs ORT, case " + std::to_string(i), 0.98);
    expect_within(got[1], ref[1], float_bound(c, x), "float vs ORT, case " + std::to_string(i), 0.0);
  }
}

// Codes in, MatMulInteger / QLinearMatMul with a non-constant B: the fused op equals the
// reference loops (LOWBIT_ONNX_INT8=0) exactly, int32 sums and requantized codes alike.
Array codes(const Shape& s, bool int8, uint64_t seed) {
  Array a = Array::empty(int8 ? ElemType::i8 : ElemType::u8, s);
  Rng rng(seed, 0);
  auto* p = reinterpret_cast<uint8_t*>(a.raw());
  for (int64_t i = 0; i < a.numel(); ++i) p[i] = static_cast<uint8_t>(rng.below(256));
  return a;
}

Graph integer_ops(const Shape& as, const Shape& bs, bool a8, bool b8) {
  GraphBuilder g(13);
  const int a = g.input("a", a8 ? ElemType::i8 : ElemType::u8, as), b = g.input("b", b8 ? ElemType::i8 : ElemType::u8, bs);
  const Side sa{a8, 0.02f, a8 ? -3 : 130}, sb{b8, 0.01f, b8 ? 7 : 120};
  const int za = g.constant("za", zp_array(sa)), zb = g.constant("zb", zp_array(sb));
  g.output(g.op("MatMulInteger", {a, b, za, zb}, {}, 1, "mmi"), "acc");
  const int s1 = g.constant("as", Array::scalar<float>(sa.scale)), s2 = g.constant("bs", Array::scalar<float>(sb.scale));
  const int ys = g.constant("ys", Array::scalar<float>(0.3f)), yz = g.constant("yz", Array::scalar<uint8_t>(127));
  g.output(g.op("QLinearMatMul", {a, s1, za, b, s2, zb, ys, yz}, {}, 1, "qlmm"), "y");
  return g.finish();
}

TEST(QdqActMatmul, IntegerOpsEqualReferenceLoops) {
  uint64_t seed = 80;
  for (auto [as, bs] : {std::pair{Shape{6, 13}, Shape{13, 7}}, std::pair{Shape{2, 3, 5, 16}, Shape{3, 16, 9}}})
    for (int t = 0; t < 4; ++t) {
      const bool a8 = t & 1, b8 = t & 2;
      EXPECT_EQ(count_op(integer_ops(as, bs, a8, b8), "QMatMul"), 2);
      const std::vector<Array> x{codes(as, a8, ++seed), codes(bs, b8, ++seed)};
      const auto want = run(integer_ops(as, bs, a8, b8), x, false);
      const auto got = run(integer_ops(as, bs, a8, b8), x, true);
      EXPECT_TRUE(test::arrays_close(got[0], want[0], 0, 0)) << t;
      EXPECT_TRUE(test::arrays_close(got[1], want[1], 0, 0)) << t;
    }
}

// Per-channel scales on an activation do not lower (the node keeps running as written), and
// operands that do not broadcast are an error naming the node.
TEST(QdqActMatmul, UnsupportedFormsFallBackOrNameTheNode) {
  {
    GraphBuilder g;
    const int x0 = g.input("a", ElemType::f32, {4, 6}), x1 = g.input("b", ElemType::f32, {6, 3});
    const int qa = qdq(g, x0, kU8, "qa");
    const int sc = g.constant("qb_s", Array::from<float>({3}, std::vector<float>{0.01f, 0.02f, 0.03f}));
    const int z = g.constant("qb_z", Array::zeros(ElemType::u8, {3}));
    const Attributes axis{{"axis", Attribute::from_int(1)}};
    const int qb = g.op("DequantizeLinear", {g.op("QuantizeLinear", {x1, sc, z}, axis, 1, "qb_q"), sc, z}, axis, 1, "qb_dq");
    g.output(g.op("MatMul", {qa, qb}, {}, 1, "mm"), "y");
    Graph graph = g.finish();
    EXPECT_EQ(count_op(graph, "QMatMul"), 0);
    const std::vector<Array> x{test::random_f32({4, 6}, 1), test::random_f32({6, 3}, 2)};
    EXPECT_TRUE(test::arrays_close(run(graph, x, true)[0], run(graph, x, false)[0], 0, 0));
  }
  try {
    Graph g = act_matmul({2, 3, 4, 5}, {4, 5, 6}, kU8, kS8, kU8);
    Session s(std::move(g), SessionOptions{1, 1, true});
    s.run(std::vector<Array>{test::random_f32({2, 3, 4, 5}, 3), test::random_f32({4, 5, 6}, 4)});
    FAIL() << "batch dims 3 and 4 do not broadcast";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("mm"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lowbit::onnx
