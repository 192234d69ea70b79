// Conv fast paths of the engine: residual Add fused into Conv (sum post-op), channels-last
// planning between convs, prepacked weights, and the broadcasting-residual fallback; each
// against the unoptimized graph (separate Add/Relu/Clip nodes) and through the exporter; outputs
// that take over an input's buffer (fused residuals, reshapes).
#include <cmath>

#include "lowbit/core/rng.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/passes.h"
#include "test_util.h"

namespace lowbit::onnx {
namespace {

constexpr int64_t kC = 16;

Array randn(const Shape& s, uint64_t stream, float scale) { return test::randn(s, 23, stream, scale); }

// A ResNet/MobileNet-shaped block chain on (2,16,10,10): residuals from a conv, from a fused
// conv, from a graph input (NCHW) and a broadcasting one (1,16,1,1); a MaxPool between convs
// (channels-last too); a depthwise conv with Clip;
// an asymmetrically padded conv (never channels-last) and a pooled second output.
Graph residual_graph() {
  GraphBuilder b(13);
  const int x = b.input("x", ElemType::f32, {-1, kC, 10, 10});
  int id = 0;
  auto conv = [&](int in, int64_t k, int64_t group, std::vector<int64_t> pads) {
    const float scale = 1.0f / std::sqrt(static_cast<float>(kC / group * k * k));
    const int w = b.constant(fmt::format("w{}", id), randn({kC, kC / group, k, k}, 100 + id, scale));
    const int bias = b.constant(fmt::format("b{}", id), randn({kC}, 200 + id, 0.1f));
    ++id;
    Attributes a{{"pads", Attribute::from_ints(std::move(pads))}, {"group", Attribute::from_int(group)}};
    return b.op("Conv", {in, w, bias}, a);
  };
  const std::vector<int64_t> same = {1, 1, 1, 1}, none = {0, 0, 0, 0};
  const int a = b.op("MaxPool", {b.op("Relu", {conv(x, 3, 1, same)})},
                     {{"kernel_shape", Attribute::from_ints({3, 3})}, {"pads", Attribute::from_ints(same)}});
  const int d = b.op("Relu", {b.op("Add", {conv(a, 3, 1, same), conv(x, 1, 1, none)})});
  const int e = b.op("Clip", {conv(d, 3, kC, same), b.constant("lo", Array::scalar<float>(0.0f)),
                              b.constant("hi", Array::scalar<float>(1.5f))});
  const int f = b.op("Add", {d, conv(e, 1, 1, none)});  // residual first: either operand order fuses
  const int g = b.op("Add", {conv(f, 1, 1, none), b.constant("shift", randn({1, kC, 1, 1}, 300, 0.5f))});
  const int h = b.op("Relu", {b.op("Add", {conv(g, 3, 1, same), x})});
  b.output(conv(h, 2, 1, {0, 0, 1, 1}), "y");
  b.output(b.op("GlobalAveragePool", {f}), "pooled");
  return b.finish();
}

double max_abs(const Array& a) {
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(a.get_f64(i)));
  return m;
}

// Each conv sums at most L = 16*9 + 2 terms (bias, residual) of unit-scale products; over the
// 7-conv chain (with sums of up to 3 paths) the roundings add up to at most ~depth * L * u
// times the largest magnitude on the way, bounded here by 4 * max|output|.
void expect_outputs_close(const std::vector<Array>& got, const std::vector<Array>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const double tol = 7.0 * (kC * 9 + 2) * 0x1p-24 * 4 * std::max(max_abs(want[i]), 1.0);
    EXPECT_TRUE(test::arrays_close(got[i], want[i], 0, tol)) << "output " << i;
  }
}

TEST(ConvFusion, ResidualAddsFuseIntoConvs) {
  Graph g = residual_graph();
  fold_batchnorm(g);
  EXPECT_EQ(fuse_conv_add(g), 4);
  EXPECT_EQ(fuse_activations(g), 4);  // the first Relu, two after sums, the depthwise Clip
  g.remove_dead();
  EXPECT_EQ(g.live_node_count(), 10u);  // 8 convs, MaxPool, GlobalAveragePool
}

TEST(ConvFusion, FusedChannelsLastGraphMatchesUnfused) {
  const Array x = randn({2, kC, 10, 10}, 1, 1.0f);
  const std::vector<Array> want = Session(residual_graph(), SessionOptions{1, 1, false, false}).run({x});
  for (int threads : {1, 2}) {
    Session opt(residual_graph(), SessionOptions{1, threads, true});
    expect_outputs_close(opt.run({x}), want);
    expect_outputs_close(opt.run({x}), want);  // second run: the prepacked plans
  }
  // A new batch size re-plans (new shapes, new packed weights).
  const Array x3 = randn({3, kC, 10, 10}, 2, 1.0f);
  Session opt(residual_graph(), SessionOptions{1, 1, true});
  opt.run({x});
  expect_outputs_close(opt.run({x3}), Session(residual_graph(), SessionOptions{1, 1, false, false}).run({x3}));
}

// The fused conv writes its output over the residual's buffer when it is the residual's last
// reader. Three graphs where that must not happen or must still be right: the residual is the
// conv's own input (conv(r) + r), the residual is read again after the sum, and the residual is
// read by a branch that may run concurrently (inter-op 2); each against the unfused reference.
TEST(BufferTakeOver, FusedResidualKeepsEveryReaderCorrect) {
  GraphBuilder b(13);
  const int x = b.input("x", ElemType::f32, {-1, kC, 8, 8});
  int id = 0;
  auto conv = [&](int in) {
    const int w = b.constant(fmt::format("w{}", id), randn({kC, kC, 3, 3}, 400 + id, 1.0f / 12));
    const int bias = b.constant(fmt::format("b{}", id), randn({kC}, 500 + id, 0.1f));
    ++id;
    return b.op("Conv", {in, w, bias}, {{"pads", Attribute::from_ints({1, 1, 1, 1})}});
  };
  auto block = [&](int in) { return b.op("Add", {conv(b.op("Relu", {conv(in)})), in}); };
  const int r = b.op("Relu", {conv(x)});
  const int s = b.op("Relu", {b.op("Add", {conv(r), r})});  // residual == the conv's input
  const int t = block(s);                                    // s: last read here, taken over
  const int u = block(t);                                    // t is read again below
  const int side = b.op("Mul", {t, b.constant("two", Array::scalar<float>(2.0f))});
  const int v = block(u);                                    // u is also read by another branch
  b.output(b.op("Add", {v, side}), "y");
  b.output(b.op("Sigmoid", {u}), "gate");
  Graph g = b.finish();
  const Array x2 = randn({2, kC, 8, 8}, 3, 1.0f);
  const std::vector<Array> want = Session(Graph(g), SessionOptions{1, 1, false, false}).run({x2});
  for (int inter : {1, 2})
    for (bool channels_last : {true, false}) {
      SessionOptions o{inter, 1, true};
      o.channels_last = channels_last;
      Session opt(Graph(g), o);
      expect_outputs_close(opt.run({x2}), want);
      expect_outputs_close(opt.run({x2}), want);
      EXPECT_EQ(opt.memory().taken_over, 1u) << "only t may take over s's buffer";
    }
}

// Reshape-like ops (Flatten, Reshape, Squeeze, Unsqueeze, Identity) keep the bytes: their output
// takes over the input's buffer unless the input is read again, and the values stay right.
TEST(BufferTakeOver, ReshapesTakeOverTheirInputBufferOnlyAtTheLastRead) {
  GraphBuilder b(13);
  auto i64 = [](std::vector<int64_t> v) { return Array::from<int64_t>({static_cast<int64_t>(v.size())}, v); };
  const int x = b.input("x", ElemType::f32, {2, 4, 3, 3});
  const int r = b.op("Relu", {x});
  const int f = b.op("Flatten", {r});                                             // r: last read, taken over
  const int s = b.op("Reshape", {f, b.constant("shape", i64({2, 36, 1}))});  // taken over
  const int q = b.op("Squeeze", {s, b.constant("axes", i64({2}))});  // s read again below
  const int i = b.op("Identity", {b.op("Sigmoid", {q})});                          // taken over
  b.output(b.op("Add", {i, b.op("Flatten", {b.op("Mul", {s, s})})}), "y");
  Graph g = b.finish();
  const Array x2 = randn({2, 4, 3, 3}, 5, 1.0f);
  Session plain(Graph(g), SessionOptions{1, 1, false, false});
  Session opt(Graph(g), SessionOptions{1, 1, true});
  const std::vector<Array> want = plain.run({x2});
  EXPECT_TRUE(test::arrays_close(opt.run({x2})[0], want[0], 0, 0));
  EXPECT_EQ(opt.memory().taken_over, 4u);  // Flatten(r), Reshape(f), Identity, Flatten(s*s)
}

// A MaxPool between convs whose pads reach past its kernel: windows wholly in the padding have
// no element (-inf). Such pools stay off the channels-last kernels (which assume a non-empty
// window) and agree with the unoptimized reference loop.
TEST(ConvFusion, MaxPoolWithPadsBeyondKernelMatchesReference) {
  auto build = [] {
    GraphBuilder b(13);
    const int x = b.input("x", ElemType::f32, {1, 1, 4, 5});
    const int one = b.constant("one", Array::from<float>({1, 1, 1, 1}, std::vector<float>{1.0f}));
    const int c = b.op("Conv", {x, one});
    const int p = b.op("MaxPool", {c}, {{"kernel_shape", Attribute::from_ints({2, 2})}, {"pads", Attribute::from_ints({2, 2, 2, 2})}});
    b.output(b.op("Conv", {p, one}), "y");
    return b.finish();
  };
  const Array x = randn({1, 1, 4, 5}, 5, 1.0f);
  const std::vector<Array> want = Session(build(), SessionOptions{1, 1, false, false}).run({x});
  const std::vector<Array> got = Session(build(), SessionOptions{1, 1, true}).run({x});
  ASSERT_EQ(got[0].shape(), (Shape{1, 1, 7, 8}));
  EXPECT_TRUE(std::isinf(got[0].data<float>()[0]) && got[0].data<float>()[0] < 0);  // corner: only padding
  for (int64_t i = 0; i < want[0].numel(); ++i) EXPECT_EQ(got[0].data<float>()[i], want[0].data<float>()[i]) << i;
}

// The option-A shortcut in a float model: Conv -> Slice (rows) -> Slice (columns) -> Pad
// (channels) -> Add into the next stage's conv. It becomes one lowbit.SubsamplePad on the
// channels-last chain and gives the unoptimized graph's values.
TEST(ConvFusion, OptionAShortcutBecomesSubsamplePad) {
  auto build = [] {
    GraphBuilder b(13);
    const int x = b.input("x", ElemType::f32, {2, 8, 8, 8});
    const int c1 = b.op("Relu", {b.op("Conv", {x, b.constant("w1", randn({8, 8, 3, 3}, 401, 0.2f))}, {{"pads", Attribute::from_ints({1, 1, 1, 1})}})});
    auto ints = [&](const std::string& name, std::vector<int64_t> v) {
      return b.constant(name, Array::from<int64_t>({static_cast<int64_t>(v.size())}, v));
    };
    int sc = b.op("Slice", {c1, ints("s0", {0}), ints("e0", {1000}), ints("a0", {2}), ints("p0", {2})});
    sc = b.op("Slice", {sc, ints("s1", {0}), ints("e1", {1000}), ints("a1", {3}), ints("p1", {2})});
    sc = b.op("Pad", {sc, ints("pads", {0, 4, 0, 0, 0, 4, 0, 0})});
    const int c2 = b.op("Conv", {c1, b.constant("w2", randn({16, 8, 3, 3}, 402, 0.2f))},
                        {{"pads", Attribute::from_ints({1, 1, 1, 1})}, {"strides", Attribute::from_ints({2, 2})}});
    const int y = b.op("Relu", {b.op("Add", {c2, sc})});
    b.output(b.op("Conv", {y, b.constant("w3", randn({4, 16, 1, 1}, 403, 0.2f))}), "y");
    return b.finish();
  };
  Graph g = build();
  optimize_graph(g);
  int fused = 0, slices = 0;
  for (const Node& n : g.nodes) {
    fused += !n.dead && n.op_type == "SubsamplePad";
    slices += !n.dead && (n.op_type == "Slice" || n.op_type == "Pad");
  }
  EXPECT_EQ(fused, 1);
  EXPECT_EQ(slices, 0);
  const Array x = randn({2, 8, 8, 8}, 404, 1.0f);
  expect_outputs_close(Session(build(), SessionOptions{1, 1, true}).run({x}), Session(build(), SessionOptions{1, 1, false, false}).run({x}));
}

// EfficientNet's block: Conv -> SiLU (Sigmoid, Mul) -> depthwise Conv -> squeeze-excitation
// (GlobalAveragePool -> 1x1 Conv -> Relu -> 1x1 Conv -> Sigmoid -> Mul with the (N, C, 1, 1)
// gate) -> Conv, plus a residual Add. The elementwise ops and the pool read channels-last
// between the convs; values equal the unoptimized graph's (NCHW), batch 1 and 3.
TEST(ConvFusion, SqueezeExcitationBlockChannelsLastMatchesReference) {
  auto build = [] {
    GraphBuilder b(13);
    const int x = b.input("x", ElemType::f32, {-1, 8, 9, 9});
    const Attributes same{{"pads", Attribute::from_ints({1, 1, 1, 1})}};
    const int c1 = b.op("Conv", {x, b.constant("w1", randn({16, 8, 1, 1}, 501, 0.3f))});
    const int s1 = b.op("Mul", {c1, b.op("Sigmoid", {c1})});
    Attributes dw = same;
    dw["group"] = Attribute::from_int(16);
    const int d = b.op("Conv", {s1, b.constant("wd", randn({16, 1, 3, 3}, 502, 0.3f))}, dw);
    const int s2 = b.op("Mul", {d, b.op("Sigmoid", {d})});
    const int g = b.op("GlobalAveragePool", {s2});
    const int e1 = b.op("Relu", {b.op("Conv", {g, b.constant("we1", randn({4, 16, 1, 1}, 503, 0.3f)), b.constant("be1", randn({4}, 504, 0.1f))})});
    const int gate = b.op("Sigmoid", {b.op("Conv", {e1, b.constant("we2", randn({16, 4, 1, 1}, 505, 0.3f))})});
    const int scaled = b.op("Mul", {gate, s2});  // the gate first: the full-shape operand is input 1
    const int c2 = b.op("Conv", {scaled, b.constant("w2", randn({8, 16, 1, 1}, 506, 0.3f))});
    b.output(b.op("Add", {c2, x}), "y");
    b.output(b.op("GlobalMaxPool", {scaled}), "pooled");
    return b.finish();
  };
  for (int64_t batch : {1, 3}) {
    const Array x = randn({batch, 8, 9, 9}, 507, 1.0f);
    expect_outputs_close(Session(build(), SessionOptions{1, 1, true}).run({x}), Session(build(), SessionOptions{1, 1, false, false}).run({x}));
  }
}

// EfficientNet's SiLU (Sigmoid(y) · y, either operand order) and MobileNetV3's HardSwish become
// the conv's epilogue (oneDNN post-ops on channels-last activations); a SiLU whose conv output
// is also a graph output, or whose Sigmoid is read twice, stays unfused. Against the unoptimized
// graph, and the fused graph exported back to standard ONNX.
Graph silu_graph() {
  GraphBuilder b(14);  // HardSwish is opset 14
  const int x = b.input("x", ElemType::f32, {-1, kC, 9, 9});
  int id = 0;
  auto conv = [&](int in, int64_t k, int64_t group) {
    const float scale = 2.0f / std::sqrt(static_cast<float>(kC / group * k * k));
    const int w = b.constant(fmt::format("w{}", id), randn({kC, kC / group, k, k}, 600 + id, scale));
    const int bias = b.constant(fmt::format("b{}", id), randn({kC}, 700 + id, 0.5f));
    ++id;
    const int64_t p = k / 2;
    return b.op("Conv", {in, w, bias}, {{"pads", Attribute::from_ints({p, p, p, p})}, {"group", Attribute::from_int(group)}});
  };
  auto silu = [&](int y, bool y_first) {
    const int s = b.op("Sigmoid", {y});
    return y_first ? b.op("Mul", {y, s}) : b.op("Mul", {s, y});
  };
  const int a = silu(conv(x, 3, 1), true);
  const int c = silu(conv(b.op("HardSwish", {conv(a, 3, kC)}), 1, 1), false);
  const int d = conv(c, 3, kC);  // also a graph output: not fused
  const int e = silu(d, true);
  const int f = conv(e, 1, 1), fs = b.op("Sigmoid", {f});  // the Sigmoid read twice: not fused
  b.output(b.op("Add", {b.op("Mul", {f, fs}), fs}), "y");
  b.output(d, "d");
  return b.finish();
}

TEST(ConvFusion, SiluAndHardSwishBecomeConvEpilogues) {
  Graph g = silu_graph();
  EXPECT_EQ(fuse_activations(g), 3);  // two SiLUs and the HardSwish
  g.remove_dead();
  EXPECT_EQ(g.live_node_count(), 10u);  // 5 convs; Sigmoid + Mul of d and of f; the Add
}

TEST(ConvFusion, SiluGraphMatchesUnfused) {
  for (int64_t batch : {1, 2}) {
    const Array x = randn({batch, kC, 9, 9}, 8, 1.0f);
    const std::vector<Array> want = Session(silu_graph(), SessionOptions{1, 1, false, false}).run({x});
    for (bool channels_last : {true, false}) {
      SessionOptions o{1, 1, true};
      o.channels_last = channels_last;
      Session opt(silu_graph(), o);
      expect_outputs_close(opt.run({x}), want);
      expect_outputs_close(opt.run({x}), want);
    }
    Graph g = silu_graph();
    optimize_graph(g);
    expect_outputs_close(Session(load_model_from_bytes(export_model_bytes(g), "exported"), SessionOptions{1, 1, false}).run({x}),
                         want);
  }
}

TEST(ConvFusion, FusedGraphExportsAsStandardOnnx) {
  Graph g = residual_graph();
  optimize_graph(g);
  const Array x = randn({2, kC, 10, 10}, 4, 1.0f);
  expect_outputs_close(Session(load_model_from_bytes(export_model_bytes(g), "exported"), SessionOptions{1, 1, false}).run({x}),
                       Session(residual_graph(), SessionOptions{1, 1, false}).run({x}));
}

}  // namespace
}  // namespace lowbit::onnx
