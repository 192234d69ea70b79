// fuse_attention (passes_attention.cc) and lowbit.Attention (ops/attention.cc): the PyTorch
// encoder's attention chain on packed QKV fuses into one node whose outputs match the unfused
// graph (float32 and float64, batch 2, one and two threads); near misses stay unfused; a bad
// input shape is an error naming the node; PyTorch's export (tests/onnx/data/torch_attention.onnx)
// fuses and matches ONNX Runtime.
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "lowbit/core/rng.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/npy.h"
#include "lowbit/onnx/passes.h"
#include "ort_util.h"
#include "test_util.h"

namespace lowbit::onnx {
namespace {

constexpr int64_t kB = 2, kT = 37, kH = 3, kDh = 16;

Array uniform(ElemType e, const Shape& s, uint64_t stream) {
  Array f = Array::empty(ElemType::f32, s);
  uniform_fill(31, stream, 0, f.numel(), f.data<float>());
  Array a = Array::empty(e, s);
  for (int64_t i = 0; i < a.numel(); ++i) {
    const float r = 2.0f * f.data<float>()[i] - 1.0f;
    if (e == ElemType::f32) a.data<float>()[i] = r;
    else a.data<double>()[i] = r;
  }
  return a;
}

enum class Variant { exact, no_scale, scores_also_output, wrong_k_perm };

// x5 [B, T, 3, H, dh] -> Transpose -> Split -> Squeeze x3 -> q.k^T -> [Mul] -> Softmax -> .v -> Transpose.
Graph attention_graph(ElemType e, Variant variant) {
  GraphBuilder b(17);
  const int x = b.input("x", e, {kB, kT, 3, kH, kDh});
  auto i64 = [&](const char* name, std::vector<int64_t> v) {
    Array a = Array::empty(ElemType::i64, {static_cast<int64_t>(v.size())});
    for (size_t i = 0; i < v.size(); ++i) a.data<int64_t>()[i] = v[i];
    return b.constant(name, a);
  };
  const int t0 = b.op("Transpose", {x}, {{"perm", Attribute::from_ints({2, 0, 3, 1, 4})}});
  const std::vector<int> parts = b.op_multi("Split", {t0, i64("split", {1, 1, 1})}, {{"axis", Attribute::from_int(0)}}, 3);
  const int axes = i64("axes", {0});
  const int q = b.op("Squeeze", {parts[0], axes}), k = b.op("Squeeze", {parts[1], axes}), v = b.op("Squeeze", {parts[2], axes});
  const std::vector<int64_t> kperm = variant == Variant::wrong_k_perm ? std::vector<int64_t>{1, 0, 3, 2} : std::vector<int64_t>{0, 1, 3, 2};
  int s = b.op("MatMul", {q, b.op("Transpose", {k}, {{"perm", Attribute::from_ints(kperm)}})});
  if (variant != Variant::no_scale) {
    s = b.op("Mul", {s, b.constant("scale", e == ElemType::f32 ? Array::scalar<float>(0.25f) : Array::scalar<double>(0.25))});
  }
  const int p = b.op("Softmax", {s}, {{"axis", Attribute::from_int(-1)}});
  b.output(b.op("Transpose", {b.op("MatMul", {p, v})}, {{"perm", Attribute::from_ints({0, 2, 1, 3})}}), "y");
  if (variant == Variant::scores_also_output) b.output(s, "scores");
  return b.finish();
}

int live_attention_nodes(const Graph& g) {
  int n = 0;
  for (const Node& node : g.nodes) n += !node.dead && node.domain == "lowbit" && node.op_type == "Attention";
  return n;
}

TEST(AttentionFusion, FusesThePyTorchChainAndLeavesNearMissesAlone) {
  Graph g = attention_graph(ElemType::f32, Variant::exact);
  EXPECT_EQ(fuse_attention(g), 1);
  g.remove_dead();
  EXPECT_EQ(g.live_node_count(), 1u);
  Graph ns = attention_graph(ElemType::f32, Variant::no_scale);
  EXPECT_EQ(fuse_attention(ns), 1);
  Graph f64 = attention_graph(ElemType::f64, Variant::exact);
  EXPECT_EQ(fuse_attention(f64), 1);
  for (Variant miss : {Variant::scores_also_output, Variant::wrong_k_perm}) {
    Graph m = attention_graph(ElemType::f32, miss);
    EXPECT_EQ(fuse_attention(m), 0);
    EXPECT_EQ(live_attention_nodes(m), 0);
  }
}

// Inputs in [-1, 1] and scale 1/4: |score| <= dh / 4, |v| <= 1. Per kernels/attention.h's
// error analysis (tests/kernels/attention_test.cc) the fused output is within
// (4 (dh + 1) max|s| u + (T + 8) u) of exact, and the unfused graph (float MatMuls, the same
// fast exp) within about the same: twice that bounds their difference.
TEST(AttentionFusion, FusedMatchesUnfusedGraph) {
  for (ElemType e : {ElemType::f32, ElemType::f64}) {
    for (Variant variant : {Variant::exact, Variant::no_scale}) {
      const Array x = uniform(e, {kB, kT, 3, kH, kDh}, 5);
      const Array want = Session(attention_graph(e, variant), SessionOptions{1, 1, false}).run({x})[0];
      const double u = e == ElemType::f32 ? 0x1p-24 : 0x1p-53;
      const double smax = variant == Variant::exact ? kDh / 4.0 : kDh;
      const double tol = 2 * (4 * (kDh + 1) * smax + (kT + 8)) * u;
      for (int threads : {1, 2}) {
        Session fused(attention_graph(e, variant), SessionOptions{1, threads, true});
        const std::vector<Array> got = fused.run({x});
        ASSERT_EQ(got.size(), 1u);
        EXPECT_TRUE(test::arrays_close(got[0], want, 0, tol)) << elem_name(e) << " threads " << threads;
      }
    }
  }
}

TEST(AttentionFusion, BadInputShapeNamesTheNode) {
  GraphBuilder b(17);
  const int x = b.input("x", ElemType::f32, {1, 4, 2, 2, 8});  // dim 2 must be 3 (q, k, v)
  b.output(b.op("Attention", {x}, {{"scale", Attribute::from_float(0.5)}}, 1, "att"), "y");
  b.graph().nodes.back().domain = "lowbit";
  b.graph().optimized = true;
  const Graph g = b.finish();
  try {
    Session(g).run({uniform(ElemType::f32, {1, 4, 2, 2, 8}, 1)});
    FAIL() << "no error";
  } catch (const ValueError& err) {
    EXPECT_NE(std::string(err.what()).find("att"), std::string::npos) << err.what();
    EXPECT_NE(std::string(err.what()).find("[B, T, 3, H, dh]"), std::string::npos) << err.what();
  }
}

// The DSADS transformer (data/models, scripts/make-ptq-models): both encoder layers' attention
// fuses, in the float model and in its int8 QDQ model, and the logits of the first 64 test
// windows match those of the same optimized graph without the fusion (LOWBIT_ONNX_ATTENTION=0)
// within the interop test's 1e-4 (1 + max|logit|).
TEST(AttentionFusion, DsadsTransformerFusesBothLayers) {
  const std::filesystem::path dir = std::filesystem::path(test::source_dir()) / "data" / "models";
  if (!std::filesystem::exists(dir / "dsads_transformer_int8.onnx") || !std::filesystem::exists(dir / "dsads_transformer_eval.npy"))
    GTEST_SKIP() << "data/models/dsads_transformer*.onnx absent (scripts/make-ptq-models)";
  const Array all = load_npy((dir / "dsads_transformer_eval.npy").string());
  Array x = Array::empty(ElemType::f32, {64, all.shape()[1], all.shape()[2]});
  std::copy(all.data<float>(), all.data<float>() + x.numel(), x.data<float>());
  for (const char* name : {"dsads_transformer.onnx", "dsads_transformer_int8.onnx"}) {
    Graph g = load_model((dir / name).string());
    Graph opt = g;
    optimize_graph(opt);
    EXPECT_EQ(live_attention_nodes(opt), 2) << name;
    ::setenv("LOWBIT_ONNX_ATTENTION", "0", 1);  // the same optimized graph, attention unfused
    Session unfused{Graph(g), SessionOptions{1, 1, true}};
    ::unsetenv("LOWBIT_ONNX_ATTENTION");
    const Array want = unfused.run({x})[0];
    const Array got = Session(Graph(g), SessionOptions{1, 1, true}).run({x})[0];
    double peak = 0;
    for (int64_t i = 0; i < want.numel(); ++i) peak = std::max(peak, std::fabs(want.get_f64(i)));
    EXPECT_TRUE(test::arrays_close(got, want, 0, 1e-4 * (1 + peak))) << name;
  }
}

// scripts/export_attention.py's block (qkv Linear 8 -> 24, 2 heads of 4, proj 8 -> 8; dynamic
// batch) at batch 3: fused, and within (8 + 6 + 8 + 8 products and sums) x 4 u x (1 + max|y|)
// of ONNX Runtime (its exp and sums in another order: a few roundings per term).
TEST(AttentionFusion, TorchExportMatchesOnnxRuntime) {
  const std::string path = test::source_dir() + "/tests/onnx/data/torch_attention.onnx";
  Graph g = load_model(path);
  Graph opt = g;
  optimize_graph(opt);
  EXPECT_EQ(live_attention_nodes(opt), 1);
  if (const std::string why = test::ort_missing(); !why.empty()) GTEST_SKIP() << why;
  const Array x = uniform(ElemType::f32, {3, 6, 8}, 9);
  const Array want = test::run_ort(path, {x}, "torch_attention")[0];
  const Array got = Session(std::move(g)).run({x})[0];
  double peak = 0;
  for (int64_t i = 0; i < want.numel(); ++i) peak = std::max(peak, std::fabs(want.get_f64(i)));
  EXPECT_TRUE(test::arrays_close(got, want, 0, 30 * 4 * 0x1p-24 * (1 + peak)));
}

}  // namespace
}  // namespace lowbit::onnx
