// Engine units: graphs built from C++, inter-op scheduling (same results as sequential),
// arena reuse, passes (BN folding, activation/Gelu/LayerNorm fusion) against the unoptimized
// graph, .npy round trips and the exporter (round trip through our loader, and ONNX Runtime).
#include <cmath>

#include "lowbit/core/rng.h"
#include "lowbit/core/threads.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/npy.h"
#include "lowbit/onnx/passes.h"
#include "ort_util.h"
#include "require_peer.h"

namespace lowbit::onnx {
namespace {

Array randn(const Shape& s, uint64_t stream, float scale = 1.0f) { return test::randn(s, 11, stream, scale); }

Attributes ints(const std::string& k, std::vector<int64_t> v) { return {{k, Attribute::from_ints(std::move(v))}}; }

// Two parallel conv branches (3x3 and 1x1, each + BN + Relu), concatenated, then Gemm: the
// shape of an Inception block, so inter-op has something to overlap.
Graph branchy_graph(Shape input = {2, 8, 12, 12}) {
  GraphBuilder b(13);
  const int x = b.input("x", ElemType::f32, std::move(input));
  auto conv_bn_relu = [&](int in, int k, int out_c, uint64_t s) {
    Attributes a = ints("pads", {k / 2, k / 2, k / 2, k / 2});
    const int w = b.constant(fmt::format("w{}", s), randn({out_c, 8, k, k}, s, 0.2f));
    const int c = b.op("Conv", {in, w}, a);
    Array mean = randn({out_c}, s + 1, 0.1f), var = randn({out_c}, s + 2, 0.2f);
    for (int64_t i = 0; i < out_c; ++i) var.data<float>()[i] = 1.0f + std::fabs(var.data<float>()[i]);
    const int bn = b.op("BatchNormalization",
                        {c, b.constant(fmt::format("g{}", s), randn({out_c}, s + 3, 0.5f)),
                         b.constant(fmt::format("bb{}", s), randn({out_c}, s + 4, 0.1f)),
                         b.constant(fmt::format("m{}", s), mean), b.constant(fmt::format("v{}", s), var)});
    return b.op("Relu", {bn});
  };
  const int left = conv_bn_relu(x, 3, 6, 100), right = conv_bn_relu(x, 1, 4, 200);
  const int cat = b.op("Concat", {left, right}, {{"axis", Attribute::from_int(1)}});
  const int pooled = b.op("GlobalAveragePool", {cat});
  const int flat = b.op("Flatten", {pooled});
  const int fc = b.op("Gemm", {flat, b.constant("fc_w", randn({5, 10}, 300)), b.constant("fc_b", randn({5}, 301))},
                      {{"transB", Attribute::from_int(1)}});
  b.output(fc, "y");
  return b.finish();
}

TEST(Engine, InterOpMatchesSequentialBitForBit) {
  const Array x = randn({2, 8, 12, 12}, 1);
  Session seq(branchy_graph(), SessionOptions{1, 1, true});
  Session par(branchy_graph(), SessionOptions{2, 1, true});
  EXPECT_EQ(par.inter_op(), std::min(2, hardware_threads()));
  for (int rep = 0; rep < 3; ++rep) {
    const Array a = seq.run({x})[0], b = par.run({x})[0];
    EXPECT_TRUE(test::arrays_close(a, b, 0, 0));
  }
}

TEST(Engine, ThreadsNeverOversubscribe) {
  EXPECT_EQ(resolve_threads(2, 2, 2), (std::pair<int, int>{2, 1}));
  EXPECT_EQ(resolve_threads(1, 0, 8), (std::pair<int, int>{1, 8}));
  EXPECT_EQ(resolve_threads(3, 0, 8), (std::pair<int, int>{3, 2}));
  EXPECT_EQ(resolve_threads(16, 4, 8), (std::pair<int, int>{8, 1}));
}

TEST(Engine, OptimizedGraphMatchesReferenceWithinDerivedTolerance) {
  // BN folding changes rounding: weights w*s are rounded once (eps/2 relative each) and the
  // conv sums K = C*R*S products, so |diff| <= K * eps * sum|w x| ~ K * eps * max|y|.
  const Array x = randn({2, 8, 12, 12}, 2);
  Session plain(branchy_graph(), SessionOptions{1, 1, false});
  Session opt(branchy_graph(), SessionOptions{1, 1, true});
  EXPECT_LT(opt.graph().live_node_count(), plain.graph().live_node_count());
  const Array a = plain.run({x})[0], b = opt.run({x})[0];
  double mag = 0;
  for (int64_t i = 0; i < a.numel(); ++i) mag = std::max(mag, std::fabs(a.get_f64(i)));
  EXPECT_TRUE(test::arrays_close(b, a, 0, 8 * 9 * 2 * 0x1p-24 * std::max(mag, 1.0)));
}

TEST(Engine, SymbolicDimsRunManySizesWithPlansCachedPerShape) {
  // Batch and spatial dims symbolic (dim_param): one loaded model runs every size; each size
  // gives what a model declared with that fixed size gives, and a size seen before re-uses its
  // plan instead of planning again.
  Session dynamic(branchy_graph({-1, 8, -1, -1}), SessionOptions{1, 1, true});
  const std::vector<Shape> sizes = {{1, 8, 12, 12}, {3, 8, 20, 9}, {1, 8, 12, 12}, {2, 8, 5, 31}, {3, 8, 20, 9}};
  for (size_t i = 0; i < sizes.size(); ++i) {
    const Array x = randn(sizes[i], 40 + i % 3);
    Session fixed(branchy_graph(sizes[i]), SessionOptions{1, 1, true});
    EXPECT_TRUE(test::arrays_close(dynamic.run({x})[0], fixed.run({x})[0], 0, 0)) << "size #" << i;
  }
  EXPECT_EQ(dynamic.cached_plans(), 3u);
  for (int64_t h = 1; h <= 12; ++h) dynamic.run({randn({1, 8, h, 4}, 50)});
  EXPECT_EQ(dynamic.cached_plans(), Session::kMaxCachedPlans);  // least recently used dropped
  EXPECT_THROW(dynamic.run({randn({1, 7, 12, 12}, 51)}), ValueError);  // the declared dim still holds
}

TEST(Engine, ArenaReusesBuffers) {
  GraphBuilder b(13);
  int v = b.input("x", ElemType::f32, {1, 64, 32, 32});
  for (int i = 0; i < 8; ++i) v = b.op(i % 2 ? "Relu" : "Sigmoid", {v});
  b.output(v);
  Session s(b.finish());
  s.run({randn({1, 64, 32, 32}, 3)});
  const MemoryStats m = s.memory();
  EXPECT_EQ(m.unshared_bytes, 7u * 64 * 32 * 32 * 4);
  EXPECT_EQ(m.arena_bytes, 2u * 64 * 32 * 32 * 4);  // a chain needs two live buffers
}

TEST(Engine, GeluAndLayerNormFusionsMatchDecomposed) {
  const int64_t D = 16;
  auto build = [&] {
    GraphBuilder b(14);
    const int x = b.input("x", ElemType::f32, {3, D});
    auto scalar = [&](const char* n, float v) { return b.constant(n, Array::scalar<float>(v)); };
    // PyTorch's Gelu export.
    const int e = b.op("Erf", {b.op("Div", {x, scalar("sqrt2", 1.4142135f)})});
    const int gelu = b.op("Mul", {b.op("Mul", {x, b.op("Add", {e, scalar("one", 1.0f)})}), scalar("half", 0.5f)});
    // PyTorch's LayerNorm export (opset < 17).
    const Attributes last = ints("axes", {-1});
    const int mean = b.op("ReduceMean", {gelu}, last);
    const int d = b.op("Sub", {gelu, mean});
    const int var = b.op("ReduceMean", {b.op("Pow", {d, scalar("two", 2.0f)})}, last);
    const int norm = b.op("Div", {d, b.op("Sqrt", {b.op("Add", {var, scalar("eps", 1e-5f)})})});
    const int y = b.op("Add", {b.op("Mul", {norm, b.constant("gamma", randn({D}, 5))}), b.constant("beta", randn({D}, 6))});
    b.output(y);
    return b.finish();
  };
  Graph fused = build();
  EXPECT_EQ(fuse_gelu(fused), 1);
  EXPECT_EQ(fuse_layernorm(fused), 1);
  fused.remove_dead();
  EXPECT_EQ(fused.live_node_count(), 2u);
  const Array x = randn({3, D}, 7, 2.0f);
  const Array a = Session(build(), SessionOptions{1, 1, false}).run({x})[0];
  const Array b = Session(std::move(fused), SessionOptions{1, 1, false}).run({x})[0];
  // LayerNorm output is O(|gamma| + |beta|); the decomposed chain rounds ~D times per row.
  EXPECT_TRUE(test::arrays_close(b, a, 0, D * 4 * 0x1p-24 * 8));
}

TEST(Npy, RoundTripAndCorruption) {
  const std::vector<int64_t> v = {1, -2, 3, 4, 5, 6};
  const Array a = Array::from<int64_t>({2, 3}, v);
  const Array b = parse_npy(encode_npy(a), "mem");
  EXPECT_TRUE(test::arrays_close(b, a, 0, 0));
  const Array s = parse_npy(encode_npy(Array::scalar<float>(2.5f)), "scalar");
  EXPECT_EQ(s.shape(), Shape{});
  const std::string good = encode_npy(a);
  EXPECT_THROW(parse_npy(good.substr(0, good.size() - 1), "short"), IoError);
  EXPECT_THROW(parse_npy("not numpy at all", "bad"), IoError);
  std::string huge = good;
  const size_t at = huge.find("(2, 3)");
  huge.replace(at, 6, "(99999999999, 3)");
  EXPECT_THROW(parse_npy(huge, "huge"), IoError);
  std::string fortran = good;
  fortran.replace(fortran.find("False"), 5, "True ");
  EXPECT_THROW(parse_npy(fortran, "fortran"), IoError);
}

TEST(Export, RoundTripThroughOurLoaderAndOnnxRuntime) {
  Graph g = branchy_graph();
  const std::string bytes = export_model_bytes(g);
  const Array x = randn({2, 8, 12, 12}, 9);
  const Array want = Session(branchy_graph(), SessionOptions{1, 1, false}).run({x})[0];
  const Array got = Session(load_model_from_bytes(bytes, "exported"), SessionOptions{1, 1, false}).run({x})[0];
  EXPECT_TRUE(test::arrays_close(got, want, 0, 0));
  // A fused (optimized) graph exports back to standard ONNX too.
  Graph opt = branchy_graph();
  optimize_graph(opt);
  const std::string path = test::temp_dir() + "/exported_branchy.onnx";
  save_model(opt, path);
  if (const std::string why = test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  const Array ort = test::run_ort(path, {x}, "export")[0];
  double mag = 0;
  for (int64_t i = 0; i < want.numel(); ++i) mag = std::max(mag, std::fabs(want.get_f64(i)));
  EXPECT_TRUE(test::arrays_close(ort, want, 0, 8 * 9 * 2 * 0x1p-24 * std::max(mag, 1.0)));
}

}  // namespace
}  // namespace lowbit::onnx
