// Channels-last planning through DenseNet's and GoogLeNet's data movement: channel Concat (axis 1
// and -3), inference BatchNormalization (with its Relu fused), a zero Pad, AveragePool and MaxPool keep their
// activations NHWC between convs; a Concat with a graph input (always NCHW) stays NCHW. The plan
// is checked directly, and the session's outputs (and the optimized graph's export) against the
// all-NCHW unoptimized graph.
#include <cmath>

#include "layout_plan.h"
#include "lowbit/core/rng.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/passes.h"
#include "lowbit/onnx/shape_inference.h"
#include "test_util.h"

namespace lowbit::onnx {
namespace {

Array randn(const Shape& s, uint64_t stream, float scale) { return test::randn(s, 29, stream, scale); }

struct DenseGraph {
  Graph g;
  int cat1, bn, pad, avg, cat2, cat_input;
};

DenseGraph dense_graph() {
  GraphBuilder b(13);
  const int x = b.input("x", ElemType::f32, {-1, 8, 9, 9});
  int id = 0;
  auto conv = [&](int in, int64_t C, int64_t K, int64_t k) {
    const int w = b.constant(fmt::format("w{}", id), randn({K, C, k, k}, 300 + id, 1.0f / std::sqrt(float(C * k * k))));
    const int bias = b.constant(fmt::format("b{}", id), randn({K}, 400 + id, 0.1f));
    ++id;
    const int64_t p = k / 2;
    return b.op("Relu", {b.op("Conv", {in, w, bias}, {{"pads", Attribute::from_ints({p, p, p, p})}})});
  };
  DenseGraph d;
  const int c0 = conv(x, 8, 16, 3);
  d.cat1 = b.op("Concat", {c0, conv(c0, 16, 8, 1)}, {{"axis", Attribute::from_int(1)}});  // 24 channels
  auto vec = [&](const char* name, uint64_t stream, float lo) {
    Array a = randn({24}, stream, 0.5f);
    for (int64_t i = 0; i < 24; ++i) a.data<float>()[i] = lo + std::fabs(a.data<float>()[i]);
    return b.constant(name, std::move(a));
  };
  d.bn = b.op("BatchNormalization", {d.cat1, vec("gamma", 501, 0.5f), vec("beta", 502, -0.5f), vec("mean", 503, -0.2f),
                                     vec("var", 504, 0.1f)});
  const int c2 = conv(b.op("Relu", {d.bn}), 24, 12, 1);
  const std::vector<int64_t> zeros(8, 0);
  d.pad = b.op("Pad", {c2, b.constant("pads", Array::from<int64_t>({8}, zeros))});
  d.avg = b.op("AveragePool", {d.pad}, {{"kernel_shape", Attribute::from_ints({2, 2})}, {"strides", Attribute::from_ints({2, 2})}});
  const int m = b.op("MaxPool", {d.avg}, {{"kernel_shape", Attribute::from_ints({3, 3})}, {"pads", Attribute::from_ints({1, 1, 1, 1})}});
  d.cat2 = b.op("Concat", {d.avg, conv(d.avg, 12, 4, 3), m}, {{"axis", Attribute::from_int(-3)}});  // 28 channels
  b.output(conv(d.cat2, 28, 6, 1), "y");
  b.output(b.op("GlobalAveragePool", {d.cat2}), "pooled");
  d.cat_input = b.op("Concat", {x, conv(x, 8, 4, 1)}, {{"axis", Attribute::from_int(1)}});
  b.output(conv(d.cat_input, 12, 5, 3), "z");
  d.g = b.finish();
  return d;
}

TEST(ChannelsLastConcat, DenseAndInceptionDataMovementStayChannelsLast) {
  const DenseGraph d = dense_graph();
  std::vector<ValueType> types{ValueType{ElemType::f32, {2, 8, 9, 9}, true}};
  const std::vector<bool> nhwc = plan_channels_last(d.g, infer_shapes(d.g, types, true));
  for (int v : {d.cat1, d.bn, d.pad, d.avg, d.cat2}) EXPECT_TRUE(nhwc[static_cast<size_t>(v)]) << d.g.values[static_cast<size_t>(v)].name;
  EXPECT_FALSE(nhwc[static_cast<size_t>(d.cat_input)]) << "a concat of a graph input is NCHW";
  Graph fused = dense_graph().g;
  EXPECT_EQ(fuse_activations(fused), 8);  // seven Conv -> Relu and the BatchNormalization -> Relu
  optimize_graph(fused);  // the exporter writes the fused Relus back as standard nodes
  const std::string exported = export_model_bytes(fused);
  for (int64_t batch : {1, 3}) {
    const Array x = randn({batch, 8, 9, 9}, 601, 1.0f);
    const auto want = Session(dense_graph().g, SessionOptions{1, 1, false, false}).run({x});
    for (const auto& got : {Session(dense_graph().g, SessionOptions{1, 1, true}).run({x}),
                            Session(load_model_from_bytes(exported, "exported"), SessionOptions{1, 1, false}).run({x})}) {
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < want.size(); ++i) {
        double mag = 1.0;
        for (int64_t j = 0; j < want[i].numel(); ++j) mag = std::max(mag, std::fabs(want[i].get_f64(j)));
        // Four convs on the longest path, K <= 8*9 + 16 + 24 + 12*9 + 28 products each: sum of K u.
        const double tol = 4.0 * (72 + 16 + 24 + 108 + 28) * 0x1p-24 * 4 * mag;
        EXPECT_TRUE(test::arrays_close(got[i], want[i], 0, tol)) << "output " << i << " batch " << batch;
      }
    }
  }
}

}  // namespace
}  // namespace lowbit::onnx
