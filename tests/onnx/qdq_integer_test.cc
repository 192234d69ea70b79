// Integer execution of quantized models: the QDQ patterns must be lowered to the fused integer
// ops, agree with the float simulation (LOWBIT_ONNX_INT8=0) and with ONNX Runtime within one
// quantization step of each output, give the same bytes on every ISA path, and reject
// inconsistent quantization parameters with an error naming the node.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <filesystem>

#include "lowbit/core/rng.h"
#include "lowbit/kernels/isa.h"
#include "lowbit/kernels/qlinear.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/passes.h"
#include "ort_util.h"
#include "qdq_test_models.h"
#include "require_peer.h"

namespace lowbit::onnx {
namespace {

std::vector<Array> run(Graph g, const std::vector<Array>& x, bool integer, bool int4 = true) {
  if (!integer) setenv("LOWBIT_ONNX_INT8", "0", 1);
  if (!int4) setenv("LOWBIT_ONNX_INT4", "0", 1);
  Session s(std::move(g), SessionOptions{1, 1, true});
  unsetenv("LOWBIT_ONNX_INT8");
  unsetenv("LOWBIT_ONNX_INT4");
  return s.run(x);
}

// Fused nodes by op type, with "[w4]" for those marked for int4 weights.
std::map<std::string, int> fused_ops(Graph g, bool int4 = true) {
  if (!int4) setenv("LOWBIT_ONNX_INT4", "0", 1);
  optimize_graph(g);
  unsetenv("LOWBIT_ONNX_INT4");
  std::map<std::string, int> ops;
  for (const Node& n : g.nodes)
    if (!n.dead && n.domain == "lowbit") ++ops[n.op_type + (n.attr_i("lowbit_wbits", 8) == 4 ? "[w4]" : "")];
  return ops;
}

Array random_codes(const Shape& s, uint64_t seed) {
  Array a = Array::empty(ElemType::u8, s);
  Rng rng(seed, 0);
  for (int64_t i = 0; i < a.numel(); ++i) a.data<uint8_t>()[i] = static_cast<uint8_t>(rng.below(256));
  return a;
}

// Codes within `steps` everywhere; float results within `steps` times their quantization step.
void expect_within(const Array& got, const Array& want, double step, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  ASSERT_EQ(got.type(), want.type()) << what;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double d = std::fabs(got.get_f64(i) - want.get_f64(i));
    EXPECT_LE(d, step * 1.0001) << what << " element " << i << ": " << got.get_f64(i) << " vs " << want.get_f64(i);
  }
}

TEST(QdqInteger, PatternsLowerToFusedOps) {
  Graph g = test::qdq_test_net(2);
  optimize_graph(g);
  std::map<std::string, int> ops;
  for (const Node& n : g.nodes)
    if (!n.dead) ++ops[n.domain + "." + n.op_type];
  EXPECT_EQ(ops["lowbit.QConv"], 3);
  EXPECT_EQ(ops["lowbit.QAdd"], 0);  // the residual Add runs in c2's epilogue (qdq_residual_test.cc)
  EXPECT_EQ(ops["lowbit.QGemm"], 2);
  EXPECT_EQ(ops[".Conv"] + ops[".Gemm"] + ops[".MatMul"] + ops[".Add"], 0);
}

// One layer from the same codes: the fused integer op and the float simulation differ only
// where fp32 rounding of the two computations falls on different sides of a rounding tie.
TEST(QdqInteger, EachLayerAgreesWithFloatSimulation) {
  for (const std::string kind : {"conv3x3", "conv1x1s2", "dwconv", "gemm", "matmul", "add"})
    for (bool relu : {false, true})
      for (bool qout : {true, false}) {
        if ((kind == "add" || kind == "dwconv") && !qout) continue;  // without a trailing Q these stay float
        const bool dense = kind == "gemm" || kind == "matmul";
        std::vector<Array> in{random_codes(dense ? Shape{3, 24} : Shape{3, 8, 7, 6}, 5)};
        if (kind == "add") in.push_back(random_codes({3, 8, 7, 6}, 6));
        Graph lowered = test::qdq_layer(kind, 3, relu, qout);
        optimize_graph(lowered);
        int fused = 0;
        for (const Node& n : lowered.nodes) fused += !n.dead && n.domain == "lowbit";
        EXPECT_EQ(fused, 1) << kind;
        const auto want = run(test::qdq_layer(kind, 3, relu, qout), in, false);
        const auto got = run(test::qdq_layer(kind, 3, relu, qout), in, true);
        const std::string what = kind + (relu ? "+relu" : "") + (qout ? "+q" : "");
        // float results: |acc|·eps relative error of each side, scaled by x_s·w_s (< 1e-4 here)
        expect_within(got[0], want[0], qout ? 1 : 2e-5, what);
        int64_t exact = 0;
        for (int64_t i = 0; i < want[0].numel(); ++i) exact += got[0].get_f64(i) == want[0].get_f64(i);
        if (qout) {
          EXPECT_GE(exact, want[0].numel() * 99 / 100) << what;
        }
      }
}

// "mm" of qdq_test_net is float: its inputs' codes may differ by one step (cascaded from the
// layers before), which moves it by at most x_s·Σ_k |w[k, n]|.
double mm_step(bool int4 = false) {  // int4: the weights of test::to_int4
  const test::QWeight w = test::random_qweight({16, 4}, 1, 7);
  double worst = 0;
  for (int64_t n = 0; n < 4; ++n) {
    double sum = 0;
    for (int64_t k = 0; k < 16; ++k) {
      const double c = w.codes.data<int8_t>()[k * 4 + n];
      sum += int4 ? std::fabs((k + n == 0 ? -8 : std::clamp(std::nearbyint(c / 18), -7.0, 7.0)) * 18 * w.scale.data<float>()[n])
                  : std::fabs(c * w.scale.data<float>()[n]);
    }
    worst = std::max(worst, sum);
  }
  return 2.0 / 255 * worst;
}

TEST(QdqInteger, AgreesWithFloatSimulation) {
  const Array x = test::random_f32({3, 3, 8, 8}, 9);
  const auto want = run(test::qdq_test_net(3), {x}, false);
  const auto got = run(test::qdq_test_net(3), {x}, true);
  expect_within(got[0], want[0], 1, "codes");
  // mm is x_s·w_s[n]·acc: one step of its input codes moves it by at most K·x_s·max w.
  expect_within(got[1], want[1], mm_step(), "mm");
}

TEST(QdqInteger, SameBytesOnEveryIsa) {
  const Array x = test::random_f32({2, 3, 8, 8}, 10);
  const kernels::Isa saved = kernels::active_isa();
  kernels::set_active_isa(kernels::Isa::ref);
  const auto want = run(test::qdq_test_net(2), {x}, true);
  for (kernels::Isa isa : {kernels::Isa::avx2, kernels::Isa::avx512, kernels::Isa::avx512vnni}) {
    if (!kernels::isa_supported(isa)) continue;
    kernels::set_active_isa(isa);
    const auto got = run(test::qdq_test_net(2), {x}, true);
    EXPECT_TRUE(test::arrays_close(got[0], want[0], 0, 0)) << kernels::isa_name(isa);
    EXPECT_TRUE(test::arrays_close(got[1], want[1], 0, 0)) << kernels::isa_name(isa);
  }
  kernels::set_active_isa(saved);
}

TEST(QdqInteger, AgreesWithOnnxRuntime) {
  if (const std::string why = test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  const std::string path = test::temp_dir() + "/qdq_test_net.onnx";
  save_model(test::qdq_test_net(4), path);
  const Array x = test::random_f32({4, 3, 8, 8}, 11);
  const auto ref = test::run_ort(path, {x}, "qdq_test_net");
  const auto got = run(test::qdq_test_net(4), {x}, true);
  ASSERT_EQ(ref.size(), 2u);
  expect_within(got[0], ref[0], 1, "codes vs ORT");
  expect_within(got[1], ref[1], mm_step(), "mm vs ORT");
}

// W4A8: int4-range weight codes are packed as int4 (every QConv but depthwise, every QGemm);
// int8 codes, even with a single one outside [-8, 7], are not.
TEST(QdqW4A8, Int4RangeWeightsLowerToInt4) {
  const auto w4 = fused_ops(test::to_int4(test::qdq_test_net(2)));
  EXPECT_EQ(w4.at("QConv[w4]"), 3);
  EXPECT_EQ(w4.at("QGemm[w4]"), 2);
  EXPECT_EQ(w4.count("QConv") + w4.count("QGemm"), 0u);
  const auto w8 = fused_ops(test::qdq_test_net(2));
  EXPECT_EQ(w8.count("QConv[w4]") + w8.count("QGemm[w4]"), 0u);
  const auto off = fused_ops(test::to_int4(test::qdq_test_net(2)), false);
  EXPECT_EQ(off.count("QConv[w4]") + off.count("QGemm[w4]"), 0u);
  EXPECT_EQ(fused_ops(test::to_int4(test::qdq_layer("dwconv", 2, true, true))).count("QConv"), 1u);  // depthwise: int8 kernel
}

// Lossless: the int4 path gives the bytes of the int8 path on the same codes, layer by layer
// and on the whole net, on every ISA path, with the int4 weights widened in registers (few
// rows) and per column group (many rows); each layer within one step of the float simulation.
TEST(QdqW4A8, SameBytesAsInt8PathOnEveryIsa) {
  const kernels::Isa saved = kernels::active_isa();
  const int64_t unpack_saved = kernels::qgemm_w4_unpack_rows();
  for (kernels::Isa isa : {kernels::Isa::ref, kernels::Isa::avx2, kernels::Isa::avx512, kernels::Isa::avx512vnni}) {
    if (!kernels::isa_supported(isa)) continue;
    kernels::set_active_isa(isa);
    for (int64_t unpack_rows : {int64_t{1}, int64_t{1} << 30}) {
      kernels::set_qgemm_w4_unpack_rows(unpack_rows);
      const std::string where = std::string(kernels::isa_name(isa)) + (unpack_rows == 1 ? ", widened per group" : ", in registers");
      for (const std::string kind : {"conv3x3", "conv1x1s2", "gemm", "matmul"})
        for (bool qout : {true, false}) {
          const bool dense = kind == "gemm" || kind == "matmul";
          for (int64_t batch : {int64_t{1}, int64_t{3}}) {
            const std::vector<Array> in{random_codes(dense ? Shape{batch, 24} : Shape{batch, 8, 7, 6}, 5)};
            const auto w8 = run(test::to_int4(test::qdq_layer(kind, batch, true, qout)), in, true, false);
            const auto w4 = run(test::to_int4(test::qdq_layer(kind, batch, true, qout)), in, true, true);
            EXPECT_TRUE(test::arrays_close(w4[0], w8[0], 0, 0)) << kind << (qout ? "+q" : "") << " batch " << batch << " on " << where;
            if (qout) {  // one layer: within one step of the float simulation (a whole net cascades)
              const auto sim = run(test::to_int4(test::qdq_layer(kind, batch, true, qout)), in, false);
              expect_within(w4[0], sim[0], 1, "W4A8 " + kind + " vs float simulation");
            }
          }
        }
      const Array x = test::random_f32({2, 3, 8, 8}, 10);
      const auto w8 = run(test::to_int4(test::qdq_test_net(2)), {x}, true, false);
      const auto w4 = run(test::to_int4(test::qdq_test_net(2)), {x}, true, true);
      EXPECT_TRUE(test::arrays_close(w4[0], w8[0], 0, 0)) << "net codes on " << where;
      EXPECT_TRUE(test::arrays_close(w4[1], w8[1], 0, 0)) << "net mm on " << where;
    }
  }
  kernels::set_active_isa(saved);
  kernels::set_qgemm_w4_unpack_rows(unpack_saved);
}

// int4-range weights with inconsistent parameters fail as int8 ones do, naming the weight's DQ.
TEST(QdqW4A8, InconsistentWeightScalesNameTheNode) {
  for (const auto& [bad, what] : std::vector<std::pair<Array, std::string>>{
           {Array::from<float>({11}, std::vector<float>(11, 0.0f)), "positive"},
           {Array::from<float>({5}, std::vector<float>(5, 0.1f)), "zero point"}}) {
    Graph g = test::to_int4(test::qdq_layer("gemm", 2, false, true));
    for (const Node& n : g.nodes)
      if (n.name == "w_wdq") g.constants[n.inputs[1]] = bad;
    try {
      optimize_graph(g);
      FAIL() << "no error for " << what;
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find("w_wdq"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  }
}

// Randomized: an int4 net with one weight code set anywhere in int8 (in or out of [-8, 7]: the
// layer then runs int4 or int8) and, one time in four, one weight scale set to 0, -1, NaN or
// inf. Bad scales must fail with a ValueError naming a node; everything else must give the bytes
// of the same model with int4 packing off.
TEST(QdqW4A8, RandomizedWeightsAndScales) {
  Rng rng(77, 0);
  const Array x = test::random_f32({2, 3, 8, 8}, 13);
  int errors = 0, int4_layers = 0;
  for (int trial = 0; trial < 40; ++trial) {
    Graph g = test::to_int4(test::qdq_test_net(2));
    std::vector<const Node*> wdq;
    for (const Node& n : g.nodes)
      if (n.op_type == "DequantizeLinear" && g.constant(n.inputs[0]) && g.constant(n.inputs[0])->numel() > 1) wdq.push_back(&n);
    const Node& pick = *wdq[rng.below(static_cast<uint64_t>(wdq.size()))];
    Array codes = *g.constant(pick.inputs[0]);
    codes.data<int8_t>()[rng.below(static_cast<uint64_t>(codes.numel()))] = static_cast<int8_t>(static_cast<int>(rng.below(256)) - 128);
    g.constants[pick.inputs[0]] = std::move(codes);
    const bool bad = rng.below(4) == 0;
    if (bad) {
      Array sc = *g.constant(pick.inputs[1]);
      const float vals[4] = {0.0f, -1.0f, std::nanf(""), INFINITY};
      sc.data<float>()[rng.below(static_cast<uint64_t>(sc.numel()))] = vals[rng.below(4)];
      g.constants[pick.inputs[1]] = std::move(sc);
    }
    try {
      const auto ops = fused_ops(g);
      int4_layers += ops.count("QConv[w4]") ? ops.at("QConv[w4]") : 0;
      const auto w4 = run(g, {x}, true, true);
      const auto w8 = run(g, {x}, true, false);
      EXPECT_FALSE(bad) << "trial " << trial << ": no error for a bad scale";
      EXPECT_TRUE(test::arrays_close(w4[0], w8[0], 0, 0)) << "trial " << trial;
      EXPECT_TRUE(test::arrays_close(w4[1], w8[1], 0, 0)) << "trial " << trial;
    } catch (const ValueError& e) {
      ++errors;
      EXPECT_TRUE(bad) << "trial " << trial << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(pick.name), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(errors, 0);
  EXPECT_GT(int4_layers, 0);
}

// ONNX Runtime runs the same file (int8 codes in the int4 range): within one step per output.
TEST(QdqW4A8, AgreesWithOnnxRuntime) {
  if (const std::string why = test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  const std::string path = test::temp_dir() + "/qdq_test_net_w4.onnx";
  save_model(test::to_int4(test::qdq_test_net(4)), path);
  const Array x = test::random_f32({4, 3, 8, 8}, 11);
  const auto ref = test::run_ort(path, {x}, "qdq_test_net_w4");
  const auto got = run(test::to_int4(test::qdq_test_net(4)), {x}, true);
  ASSERT_EQ(ref.size(), 2u);
  expect_within(got[0], ref[0], 1, "W4A8 codes vs ORT");
  expect_within(got[1], ref[1], mm_step(true), "W4A8 mm vs ORT");
}

// DQ → Slice (every other pixel) → [Pad (channels, zeros)] → Q with the same parameters: the
// CIFAR ResNets' shortcut runs on the codes, exactly; Slice + Pad become one SubsamplePad (Pad
// filling with the zero point), a lone Slice stays a Slice on codes.
TEST(QdqInteger, ShortcutMovesCodes) {
  auto build = [](bool with_pad) {
    test::QdqBuilder q;
    auto& b = q.b;
    const int x = b.input("x", ElemType::u8, {2, 4, 6, 7});
    auto ints = [&](const std::string& name, std::vector<int64_t> v) {
      return b.constant(name, Array::from<int64_t>({static_cast<int64_t>(v.size())}, v));
    };
    // H and W cut by two Slices, as PyTorch exports x[:, :, ::2, 1::2]
    int y = b.op("Slice", {q.dq(x, 0.05f, 17, "x"), ints("st", {0}), ints("en", {6}), ints("ax", {2}), ints("sp", {2})}, {}, 1, "slice_h");
    y = b.op("Slice", {y, ints("st2", {1}), ints("en2", {1000}), ints("ax2", {-1}), ints("sp2", {2})}, {}, 1, "slice_w");
    if (with_pad) y = b.op("Pad", {y, ints("pads", {0, 2, 0, 0, 0, 3, 0, 0})}, {}, 1, "pad");
    b.output(q.q(y, 0.05f, 17, "y"), "y");
    return b.finish();
  };
  for (bool with_pad : {true, false}) {
    Graph g = build(with_pad);
    optimize_graph(g);
    std::vector<std::string> live;
    for (const Node& n : g.nodes)
      if (!n.dead) live.push_back(n.domain + "." + n.op_type);
    const std::vector<std::string> expected =
        with_pad ? std::vector<std::string>{"lowbit.SubsamplePad"} : std::vector<std::string>{".Slice", ".Slice"};
    EXPECT_EQ(live, expected);
    const Array x = random_codes({2, 4, 6, 7}, 12);
    const auto want = run(build(with_pad), {x}, false);
    const auto got = run(build(with_pad), {x}, true);
    EXPECT_TRUE(test::arrays_close(got[0], want[0], 0, 0)) << (with_pad ? "with pad" : "slice only");
    if (with_pad) {
      EXPECT_EQ(got[0].shape(), (Shape{2, 9, 3, 3}));
      EXPECT_EQ(got[0].data<uint8_t>()[0], 17);  // a padded channel holds the zero point
    }
  }
}

// A ResNet stem: QConv → DQ → MaxPool → Q (same parameters) → QConv and the residual QAdd. The
// MaxPool runs on the uint8 codes (exact: max commutes with dequantization of positive scale),
// channels-last between the convs; with its Indices output asked for it stays in float.
Graph pooled_stem(bool want_indices) {
  test::QdqBuilder q;
  auto& b = q.b;
  const int x = b.input("x", ElemType::f32, {2, 3, 12, 11});
  const Attributes pad1{{"pads", Attribute::from_ints({1, 1, 1, 1})}};
  const int x0 = q.qdq(x, 8.0f / 255, 128, "in");
  int c1 = b.op("Conv", {x0, q.weight(test::random_qweight({16, 3, 3, 3}, 0, 31), 0, "c1")}, pad1, 1, "c1");
  const int a1 = q.qdq(b.op("Relu", {c1}, {}, 1, "c1_relu"), 4.0f / 255, 0, "a1");
  const Attributes pool{{"kernel_shape", Attribute::from_ints({3, 3})},
                        {"strides", Attribute::from_ints({2, 2})},
                        {"pads", Attribute::from_ints({1, 1, 1, 1})}};
  const std::vector<int> pool_out = b.op_multi("MaxPool", {a1}, pool, want_indices ? 2 : 1, "pool");
  const int pooled = pool_out[0];
  if (want_indices) b.output(pool_out[1], "indices");
  const int p = q.qdq(pooled, 4.0f / 255, 0, "p");
  const int c2 = b.op("Conv", {p, q.weight(test::random_qweight({16, 16, 3, 3}, 0, 32), 0, "c2")}, pad1, 1, "c2");
  const int a2 = q.qdq(c2, 8.0f / 255, 128, "a2");
  b.output(q.q(b.op("Relu", {b.op("Add", {a2, p}, {}, 1, "add")}, {}, 1, "add_relu"), 6.0f / 255, 0, "out"), "codes");
  return b.finish();
}

TEST(QdqInteger, MaxPoolRunsOnCodes) {
  for (bool want_indices : {false, true}) {
    Graph g = pooled_stem(want_indices);
    optimize_graph(g);
    int float_pools = 0, code_pools = 0;
    for (const Node& n : g.nodes) {
      if (n.dead || n.op_type != "MaxPool") continue;
      bool on_codes = false;  // read from a fused integer op, not from a dequantization
      for (const Node& m : g.nodes)
        if (!m.dead && !m.outputs.empty() && m.outputs[0] == n.inputs[0]) on_codes = m.op_type == "QConv";
      (on_codes ? code_pools : float_pools) += 1;
    }
    EXPECT_EQ(code_pools, want_indices ? 0 : 1) << "indices " << want_indices;
    EXPECT_EQ(float_pools, want_indices ? 1 : 0) << "indices " << want_indices;
    const Array x = test::random_f32({2, 3, 12, 11}, 33);
    const auto want = run(pooled_stem(want_indices), {x}, false);
    const auto got = run(pooled_stem(want_indices), {x}, true);
    expect_within(got[want_indices ? 1 : 0], want[want_indices ? 1 : 0], 1, "stem codes vs float simulation");
  }
}

TEST(QdqInteger, MaxPoolOnCodesAgreesWithOnnxRuntime) {
  if (const std::string why = test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  const std::string path = test::temp_dir() + "/qdq_pooled_stem.onnx";
  save_model(pooled_stem(false), path);
  const Array x = test::random_f32({2, 3, 12, 11}, 34);
  const auto ref = test::run_ort(path, {x}, "qdq_pooled_stem");
  const auto got = run(pooled_stem(false), {x}, true);
  expect_within(got[0], ref[0], 1, "stem codes vs ORT");
}

// One DequantizeLinear with the given parameters in front of a Relu.
Graph dq_graph(Array scale, Array zp, int64_t axis) {
  GraphBuilder b;
  const int x = b.input("x", ElemType::u8, {1, 4, 2, 2});
  const int s = b.constant("s", std::move(scale));
  const int z = b.constant("z", std::move(zp));
  b.output(b.op("Relu", {b.op("DequantizeLinear", {x, s, z}, {{"axis", Attribute::from_int(axis)}}, 1, "bad_dq")}));
  return b.finish();
}

void expect_node_error(Graph g, const std::string& what) {
  try {
    optimize_graph(g);
    FAIL() << "no error for " << what;
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("bad_dq"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(QdqInteger, InconsistentParametersNameTheNode) {
  const Array z4 = Array::zeros(ElemType::u8, {4});
  expect_node_error(dq_graph(Array::scalar<float>(0.0f), Array::scalar<uint8_t>(0), 1), "positive");
  expect_node_error(dq_graph(Array::scalar<float>(-1.0f), Array::scalar<uint8_t>(0), 1), "positive");
  expect_node_error(dq_graph(Array::from<float>({4}, std::vector<float>{1, 1, 1, 1}), Array::zeros(ElemType::u8, {3}), 1),
                    "zero point");
  expect_node_error(dq_graph(Array::from<float>({3}, std::vector<float>{1, 1, 1}), Array::zeros(ElemType::u8, {3}), 1),
                    "axis 1");
  expect_node_error(dq_graph(Array::from<float>({4}, std::vector<float>{1, 1, 1, 1}), z4, 7), "out of range");
}

}  // namespace
}  // namespace lowbit::onnx
