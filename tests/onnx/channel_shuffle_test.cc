// fuse_channel_shuffle (passes_shuffle.cc), lowbit.ChannelShuffle (ops/channel_shuffle.cc) and
// channels-last Slice and Split: ShuffleNet-like units (channel chunk by two Slices or a Split,
// branch convs, Concat, shuffle with shapes PyTorch-style from Shape or constant) fuse, plan
// channels-last from the Concat through the shuffle and the chunk, and match the unoptimized
// all-NCHW graph for several g/C/H/W and batch sizes, in both layouts; the fused op keeps the
// three nodes' values for shapes that are no channel shuffle; look-alikes stay unfused.
#include <algorithm>
#include <cmath>

#include "layout_plan.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/passes.h"
#include "lowbit/onnx/shape_inference.h"
#include "test_util.h"

namespace lowbit::onnx {
namespace {

Array randn(const Shape& s, uint64_t stream, float scale) { return test::randn(s, 41, stream, scale); }

int i64s(GraphBuilder& b, const std::string& name, std::vector<int64_t> v) {
  return b.constant(name, Array::from<int64_t>({static_cast<int64_t>(v.size())}, v));
}

struct Geometry {
  int64_t C, g, H, W;
};

// `chunk(2, dim=1)`: two Slices (PyTorch's export) named name0/name1, or one Split named name.
std::pair<int, int> chunk(GraphBuilder& b, int x, int64_t C, bool split, const std::string& name) {
  if (split) {
    const std::vector<int> parts = b.op_multi("Split", {x, i64s(b, name + "_sizes", {C / 2, C / 2})},
                                              {{"axis", Attribute::from_int(1)}}, 2, name);
    return {parts[0], parts[1]};
  }
  auto slice = [&](int64_t c0, int64_t c1, const std::string& n) {
    return b.op("Slice", {x, i64s(b, n + "_s", {c0}), i64s(b, n + "_e", {c1}), i64s(b, n + "_a", {1})}, {}, 1, n);
  };
  return {slice(0, C / 2, name + "0"), slice(C / 2, C, name + "1")};
}

// Reshape [N, g, C/g, H, W] -> Transpose(0,2,1,3,4) -> Reshape [N, -1, H, W]; with from_shape the
// N, H, W come from Shape(x) as in PyTorch's export of a dynamic batch, else constants for `batch`.
int shuffle(GraphBuilder& b, int x, const Geometry& d, bool from_shape, int64_t batch, const std::string& name) {
  int s1, s2;
  if (from_shape) {
    const int shp = b.op("Shape", {x});
    const int n = b.op("Slice", {shp, i64s(b, name + "_0", {0}), i64s(b, name + "_1", {1})});
    const int hw = b.op("Slice", {shp, i64s(b, name + "_2", {2}), i64s(b, name + "_4", {4})});
    s1 = b.op("Concat", {n, i64s(b, name + "_gc", {d.g, d.C / d.g}), hw}, {{"axis", Attribute::from_int(0)}});
    s2 = b.op("Concat", {n, i64s(b, name + "_m1", {-1}), hw}, {{"axis", Attribute::from_int(0)}});
  } else {
    s1 = i64s(b, name + "_split", {batch, d.g, d.C / d.g, d.H, d.W});
    s2 = i64s(b, name + "_merged", {batch, d.C, d.H, d.W});
  }
  const int r1 = b.op("Reshape", {x, s1});
  const int t = b.op("Transpose", {r1}, {{"perm", Attribute::from_ints({0, 2, 1, 3, 4})}});
  return b.op("Reshape", {t, s2}, {}, 1, name);
}

// Two ShuffleNet units: conv -> chunk -> [half | conv branch] -> Concat -> shuffle -> chunk ->
// [half | conv branch] -> Concat -> shuffle -> 1x1 conv. Values named "cat", "shuffled", "half"...
Graph block_graph(const Geometry& d, bool from_shape, int64_t batch, bool split = false) {
  GraphBuilder b(13);
  const int x = b.input("x", ElemType::f32, {from_shape ? -1 : batch, 3, d.H, d.W});
  int id = 0;
  auto conv = [&](int in, int64_t C, int64_t K, int64_t k) {
    const int w = b.constant(fmt::format("w{}", id), randn({K, C, k, k}, 700 + id, 1.0f / std::sqrt(float(C * k * k))));
    const int bias = b.constant(fmt::format("b{}", id), randn({K}, 800 + id, 0.1f));
    ++id;
    return b.op("Relu", {b.op("Conv", {in, w, bias}, {{"pads", Attribute::from_ints({k / 2, k / 2, k / 2, k / 2})}})});
  };
  const int64_t h = d.C / 2;
  const auto [a0, a1] = chunk(b, conv(x, 3, d.C, 3), d.C, split, "half");
  const int cat0 = b.op("Concat", {a0, conv(a1, h, h, 3)}, {{"axis", Attribute::from_int(1)}}, 1, "cat");
  const auto [b0, b1] = chunk(b, shuffle(b, cat0, d, from_shape, batch, "shuffled"), d.C, split, "chunk");
  const int cat1 = b.op("Concat", {b0, conv(b1, h, h, 1)}, {{"axis", Attribute::from_int(1)}});
  b.output(conv(shuffle(b, cat1, d, from_shape, batch, "shuffled2"), d.C, 5, 1), "y");
  return b.finish();
}

bool fused_node_present(const Graph& g) {
  for (const Node& n : g.nodes)
    if (!n.dead && n.domain == "lowbit" && n.op_type == "ChannelShuffle") return true;
  return false;
}

const std::vector<Geometry> kGeometries{{8, 2, 5, 7}, {12, 3, 4, 4}, {16, 4, 1, 9}, {6, 6, 3, 2}, {24, 2, 6, 6}};

TEST(ChannelShuffle, ShuffleNetUnitsFuseAndPlanChannelsLast) {
  for (const Geometry& d : kGeometries)
    for (bool from_shape : {true, false})
      for (bool split : {false, true}) {
        const std::string what = fmt::format("C {} g {} H {} W {} from_shape {} split {}", d.C, d.g, d.H, d.W, from_shape, split);
        Graph g = block_graph(d, from_shape, 2, split);
        EXPECT_EQ(fuse_channel_shuffle(g), 2) << what;
        optimize_graph(g);
        const InferenceResult inf = infer_shapes(g, {ValueType{ElemType::f32, {2, 3, d.H, d.W}, true}}, true);
        const std::vector<bool> nhwc = plan_channels_last(g, inf);
        const std::vector<std::string> chunks = split ? std::vector<std::string>{"chunk_out0", "chunk_out1"}
                                                      : std::vector<std::string>{"chunk0_out0", "chunk1_out0"};
        for (const std::string& v : {chunks[0], chunks[1], std::string("shuffled2_out0")})
          EXPECT_TRUE(nhwc[static_cast<size_t>(g.find_value(v))]) << v << " " << what;
        // Slices of a shuffled Concat read the Concat's inputs, and so does a shuffle read whole
        // (by the Split, by the last conv): the Concats never run (fuse_concat_shuffle_slices).
        int fused = 0;
        for (const Node& n : g.nodes) fused += !n.dead && n.op_type == "ConcatShuffleSlice";
        EXPECT_EQ(fused, split ? 2 : 3) << what;
        auto runs = [&](const std::string& v) {
          const int producer = g.values[static_cast<size_t>(g.find_value(v))].producer;
          return producer >= 0 && std::find(inf.runtime_nodes.begin(), inf.runtime_nodes.end(), producer) != inf.runtime_nodes.end();
        };
        EXPECT_FALSE(runs("cat_out0")) << what;
        EXPECT_EQ(runs("shuffled_out0"), split) << what;
        if (split) {
          EXPECT_TRUE(nhwc[static_cast<size_t>(g.find_value("shuffled_out0"))]) << what;
        }
      }
}

TEST(ChannelShuffle, FusedGraphMatchesUnfusedInBothLayouts) {
  for (const Geometry& d : kGeometries)
    for (bool from_shape : {true, false})
      for (int64_t batch : {1, 3}) {
        if (!from_shape && batch == 3) continue;  // constant shapes are for batch 1
        const Array x = randn({batch, 3, d.H, d.W}, 900 + static_cast<uint64_t>(d.C), 1.0f);
        const Array want = Session(block_graph(d, from_shape, batch), SessionOptions{1, 1, false, false}).run({x})[0];
        double mag = 1.0;
        for (int64_t j = 0; j < want.numel(); ++j) mag = std::max(mag, std::fabs(want.get_f64(j)));
        // Four convs on the longest path, K <= 27 + 9 C/2 + C/2 + C products: sum of K units.
        const double tol = 4.0 * static_cast<double>(27 + 10 * d.C) * 0x1p-24 * 4 * mag;
        for (bool split : {false, true})
          for (bool channels_last : {true, false}) {
            const Array got =
                Session(block_graph(d, from_shape, batch, split), SessionOptions{1, 1, true, channels_last}).run({x})[0];
            EXPECT_TRUE(test::arrays_close(got, want, 0, tol)) << "C " << d.C << " g " << d.g << " batch " << batch << " from_shape "
                                                               << from_shape << " split " << split << " nhwc " << channels_last;
          }
      }
}

// A Slice of the spatial axes with steps between convs also runs channels-last.
TEST(ChannelShuffle, SpatialSliceRunsChannelsLast) {
  auto graph = [] {
    GraphBuilder b(13);
    const int x = b.input("x", ElemType::f32, {2, 3, 7, 6});
    const int c = b.op("Conv", {x, b.constant("w0", randn({4, 3, 3, 3}, 960, 0.2f))}, {{"pads", Attribute::from_ints({1, 1, 1, 1})}});
    const int s = b.op("Slice", {c, i64s(b, "st", {1, 0}), i64s(b, "en", {7, 5}), i64s(b, "ax", {2, 3}), i64s(b, "sp", {2, 2})}, {},
                       1, "slice");
    b.output(b.op("Conv", {s, b.constant("w1", randn({5, 4, 1, 1}, 961, 0.5f))}), "y");
    return b.finish();
  };
  Graph g = graph();
  optimize_graph(g);
  const std::vector<bool> nhwc = plan_channels_last(g, infer_shapes(g, {ValueType{ElemType::f32, {2, 3, 7, 6}, true}}, true));
  EXPECT_TRUE(nhwc[static_cast<size_t>(g.find_value("slice_out0"))]);
  const Array x = randn({2, 3, 7, 6}, 962, 1.0f);
  const Array want = Session(graph(), SessionOptions{1, 1, false, false}).run({x})[0];
  const Array got = Session(graph(), SessionOptions{1, 1, true}).run({x})[0];
  double mag = 1.0;
  for (int64_t j = 0; j < want.numel(); ++j) mag = std::max(mag, std::fabs(want.get_f64(j)));
  EXPECT_TRUE(test::arrays_close(got, want, 0, (27 + 4) * 0x1p-24 * 4 * mag));  // two convs, K = 27 and 4
}

// ReduceMean over H and W (ShuffleNet's head, keepdims 0) and over C (keepdims 1) read the conv
// output channels-last: the same sums in the same order, bit for bit the NCHW reduction.
TEST(ChannelShuffle, SpatialAndChannelMeansReadChannelsLast) {
  auto graph = [] {
    GraphBuilder b(13);
    const int x = b.input("x", ElemType::f32, {2, 3, 5, 6});
    const int c = b.op("Conv", {x, b.constant("w0", randn({7, 3, 1, 1}, 970, 0.5f))}, {}, 1, "conv");
    b.output(b.op("ReduceMean", {c}, {{"axes", Attribute::from_ints({2, 3})}, {"keepdims", Attribute::from_int(0)}}), "hw");
    b.output(b.op("ReduceMean", {c}, {{"axes", Attribute::from_ints({1})}}), "ch");
    b.output(b.op("ReduceSum", {c, i64s(b, "ax", {3})}), "w_only");  // H kept, W reduced: NCHW order needed
    return b.finish();
  };
  Graph g = graph();
  optimize_graph(g);
  const InferenceResult inf = infer_shapes(g, {ValueType{ElemType::f32, {2, 3, 5, 6}, true}}, true);
  EXPECT_FALSE(plan_channels_last(g, inf)[static_cast<size_t>(g.find_value("conv_out0"))]) << "the W-only sum needs NCHW";
  const Array x = randn({2, 3, 5, 6}, 971, 1.0f);
  Graph two = graph();
  two.outputs.pop_back();  // without the W-only sum the conv output goes channels-last
  two.remove_dead();
  Graph two_nchw = two;
  const auto nhwc = plan_channels_last(two, infer_shapes(two, {ValueType{ElemType::f32, {2, 3, 5, 6}, true}}, true));
  EXPECT_TRUE(nhwc[static_cast<size_t>(two.find_value("conv_out0"))]);
  const auto want = Session(std::move(two_nchw), SessionOptions{1, 1, true, false}).run({x});
  const auto got = Session(std::move(two), SessionOptions{1, 1, true}).run({x});
  for (size_t i = 0; i < 2; ++i) EXPECT_TRUE(test::arrays_close(got[i], want[i], 0, 4 * 0x1p-24 * 8)) << "output " << i;
}

// Reshape(x, s1) -> Transpose(perm) -> Reshape(., s2) alone, x [2, 6, 3, 4].
enum class Variant { shuffle, other_view, other_perm, first_reshape_also_output, transpose_read_twice, shape_input, allowzero };

Graph lone_chain(Variant v) {
  GraphBuilder b(14);
  const int x = b.input("x", ElemType::f32, {2, 6, 3, 4});
  const int s1 = v == Variant::shape_input ? b.input("s1", ElemType::i64, {5})
                 : v == Variant::other_view ? i64s(b, "s1", {4, 3, 2, 6, 1})  // no channel shuffle, same values rule
                                            : i64s(b, "s1", {0, 3, 2, 0, -1});
  Attributes az;
  if (v == Variant::allowzero) az["allowzero"] = Attribute::from_int(1);
  const int r1 = b.op("Reshape", {x, v == Variant::allowzero ? i64s(b, "s1z", {2, 3, 2, 3, 4}) : s1}, az);
  const std::vector<int64_t> perm = v == Variant::other_perm ? std::vector<int64_t>{0, 1, 2, 4, 3} : std::vector<int64_t>{0, 2, 1, 3, 4};
  const int t = b.op("Transpose", {r1}, {{"perm", Attribute::from_ints(perm)}});
  b.output(b.op("Reshape", {t, i64s(b, "s2", v == Variant::other_view ? std::vector<int64_t>{-1, 12} : std::vector<int64_t>{0, -1, 3, 4})}), "y");
  if (v == Variant::first_reshape_also_output) b.output(r1, "view");
  if (v == Variant::transpose_read_twice) b.output(b.op("Relu", {t}), "relu");
  return b.finish();
}

TEST(ChannelShuffle, LookAlikesStayUnfused) {
  for (Variant v : {Variant::other_perm, Variant::first_reshape_also_output, Variant::transpose_read_twice, Variant::shape_input,
                    Variant::allowzero}) {
    Graph g = lone_chain(v);
    EXPECT_EQ(fuse_channel_shuffle(g), 0) << static_cast<int>(v);
    EXPECT_FALSE(fused_node_present(g)) << static_cast<int>(v);
  }
  Graph g = lone_chain(Variant::shuffle);
  EXPECT_EQ(fuse_channel_shuffle(g), 1);
}

TEST(ChannelShuffle, FusedNodeKeepsTheChainsValuesForAnyView) {
  // 0 and -1 in the shapes, and a 5-d view that is no channel shuffle: moved bytes are exact.
  const Array x = randn({2, 6, 3, 4}, 950, 1.0f);
  for (Variant v : {Variant::shuffle, Variant::other_view}) {
    const Array want = Session(lone_chain(v), SessionOptions{1, 1, false, false}).run({x})[0];
    Graph g = lone_chain(v);
    ASSERT_EQ(fuse_channel_shuffle(g), 1);
    const Array got = Session(std::move(g), SessionOptions{1, 1, true}).run({x})[0];
    ASSERT_EQ(got.shape(), want.shape());
    EXPECT_TRUE(test::arrays_close(got, want, 0, 0)) << static_cast<int>(v);
  }
}

// Concat(a, b) -> Reshape(s1) -> Transpose -> Reshape(s2) -> channel Slices with clamped and
// negative bounds: fused into lowbit.ConcatShuffleSlice nodes, the same bytes as the chain, for
// the channel shuffle (index map) and for a view that is none (the scratch-array path).
Graph concat_chain(bool shuffle_view, const std::vector<std::pair<int64_t, int64_t>>& bounds) {
  GraphBuilder b(14);
  const int a = b.input("a", ElemType::f32, {2, 4, 3, 4}), c = b.input("b", ElemType::f32, {2, 2, 3, 4});
  const int cat = b.op("Concat", {a, c}, {{"axis", Attribute::from_int(1)}});
  const int s1 = shuffle_view ? i64s(b, "s1", {0, 3, 2, 0, -1}) : i64s(b, "s1", {4, 3, 2, 6, 1});
  const int t = b.op("Transpose", {b.op("Reshape", {cat, s1})}, {{"perm", Attribute::from_ints({0, 2, 1, 3, 4})}});
  const int x = b.op("Reshape", {t, i64s(b, "s2", shuffle_view ? std::vector<int64_t>{0, -1, 3, 4} : std::vector<int64_t>{-1, 12})});
  for (size_t i = 0; i < bounds.size(); ++i) {
    const std::string n = fmt::format("slice{}", i);
    b.output(b.op("Slice", {x, i64s(b, n + "_s", {bounds[i].first}), i64s(b, n + "_e", {bounds[i].second}), i64s(b, n + "_a", {1})}),
             n);
  }
  return b.finish();
}

TEST(ChannelShuffle, ConcatShuffleSlicesKeepTheChainsValues) {
  const std::vector<std::pair<int64_t, int64_t>> bounds{{0, 3}, {3, INT64_MAX}, {-4, -1}, {1, 100}, {5, 2}};
  const Array a = randn({2, 4, 3, 4}, 955, 1.0f), c = randn({2, 2, 3, 4}, 956, 1.0f);
  for (bool shuffle_view : {true, false})
    for (int threads : {1, 2}) {
      Graph g = concat_chain(shuffle_view, bounds);
      ASSERT_EQ(fuse_channel_shuffle(g), 1);
      ASSERT_EQ(fuse_concat_shuffle_slices(g), static_cast<int>(bounds.size()));
      const auto want = Session(concat_chain(shuffle_view, bounds), SessionOptions{1, threads, false, false}).run(std::vector<Array>{a, c});
      const auto got = Session(std::move(g), SessionOptions{1, threads, true}).run(std::vector<Array>{a, c});
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_EQ(got[i].shape(), want[i].shape()) << "slice " << i;
        EXPECT_TRUE(test::arrays_close(got[i], want[i], 0, 0)) << "slice " << i << " shuffle view " << shuffle_view;
      }
    }
  // A Concat along another axis, or a slice reader of the Concat itself, keeps the nodes apart.
  Graph g = concat_chain(true, bounds);
  g.nodes[static_cast<size_t>(g.values[static_cast<size_t>(g.find_value("a"))].consumers[0])].attrs["axis"] = Attribute::from_int(0);
  fuse_channel_shuffle(g);
  EXPECT_EQ(fuse_concat_shuffle_slices(g), 0);
}

TEST(ChannelShuffle, SplitShapeOfWrongRankIsAnErrorNamingTheNode) {
  Graph g = lone_chain(Variant::shuffle);
  ASSERT_EQ(fuse_channel_shuffle(g), 1);
  g.constants[g.find_value("s1")] = Array::from<int64_t>({3}, std::vector<int64_t>{2, 6, 12});
  g.values[static_cast<size_t>(g.find_value("s1"))].type.shape = {3};
  Session session(std::move(g), SessionOptions{1, 1, true});
  test::expect_error([&] { session.run({randn({2, 6, 3, 4}, 951, 1.0f)}); }, {"ChannelShuffle", "must have rank 5"});
}

}  // namespace
}  // namespace lowbit::onnx
