// The tuner's static rules on synthetic graph shapes, its graph reading on generated models,
// and one measured run on a tiny model.
#include <gtest/gtest.h>

#include "lowbit/paradnn/model.h"
#include "lowbit/paradnn/tune.h"
#include "paradnn_test_util.h"

namespace lowbit::paradnn {
namespace {

Topology machine(int sockets, int cores, int threads_per_core) {
  Topology t;
  t.sockets = sockets;
  t.numa_nodes = sockets;
  t.physical_cores = cores;
  t.logical_cores = cores * threads_per_core;
  return t;
}

TEST(ParadnnTune, ChainsGetAllCoresIntraOp) {
  GraphShape chain{.heavy_ops = 50, .depth = 50, .width = 1.0, .heavy_op_counts = {}, .flops = 1e9};
  const Recommendation r = recommend(chain, machine(2, 16, 2), 32, 0);
  EXPECT_EQ(r.inter_op, 1);
  EXPECT_EQ(r.intra_op, 16);  // physical, not logical cores
  EXPECT_FALSE(r.reasoning.empty());
}

TEST(ParadnnTune, BranchingGraphsGetInterOpAndSmallBatchesKeepIt) {
  GraphShape wide{.heavy_ops = 60, .depth = 15, .width = 4.0, .heavy_op_counts = {}, .flops = 1e9};
  const Recommendation small = recommend(wide, machine(1, 16, 2), 1, 0);
  EXPECT_EQ(small.inter_op, 4);
  EXPECT_EQ(small.intra_op, 4);
  const Recommendation large = recommend(wide, machine(1, 16, 2), 256, 0);
  EXPECT_EQ(large.inter_op, 2);  // large batch leans to intra-op
  EXPECT_EQ(large.intra_op, 8);
  EXPECT_LE(large.inter_op * large.intra_op, 16);
  const Recommendation two = recommend(wide, machine(1, 2, 1), 1, 0);  // never above the cores
  EXPECT_LE(two.inter_op * two.intra_op, 2);
}

TEST(ParadnnTune, ReadsGeneratedGraphs) {
  auto m = build_module(test::fc(3, 16, 4), 1);
  const GraphShape fc = graph_shape(build_onnx(test::fc(3, 16, 4), *m), 4);
  EXPECT_EQ(fc.heavy_ops, 4);  // 3 hidden + output Gemm, one chain
  EXPECT_EQ(fc.depth, 4);
  EXPECT_DOUBLE_EQ(fc.width, 1.0);
  const ModelConfig c = test::cnn(1, 4, 32, 0);
  auto cm = build_module(c, 1);
  const GraphShape res = graph_shape(build_onnx(c, *cm), 2);
  // stem + 4 groups x 2 convs + 3 projections + fc = 13; projections run beside the main path.
  EXPECT_EQ(res.heavy_ops, 13);
  EXPECT_EQ(res.depth, 10);
}

TEST(ParadnnTune, MeasuresNeighbourhoodAndBaselines) {
  const ModelConfig c = test::fc(2, 32, 8);
  auto m = build_module(c, 1);
  TuneOptions o;
  o.batch = 8;
  o.min_time = 0;
  o.min_runs = 2;
  const auto j = tune(build_onnx(c, *m), o, nullptr);
  for (const char* k : {"graph", "recommended", "measured", "chosen", "baselines", "topology"}) EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_GE(j["measured"].size(), 3u);  // recommended + both baselines at least
  double best = 1e300;
  for (const auto& r : j["measured"])
    if (r["label"] == "recommended" || r["label"] == "neighbour") best = std::min(best, r["median_ms"].get<double>());
  EXPECT_DOUBLE_EQ(j["chosen"]["median_ms"].get<double>(), best);
  EXPECT_GE(j["chosen"]["gain_over_recommended"].get<double>(), 1.0);
  EXPECT_TRUE(j["baselines"]["vendor"].contains("inter_op"));
  EXPECT_TRUE(j["baselines"]["framework"].contains("inter_op"));
}

TEST(ParadnnTune, TopologyIsConsistent) {
  const Topology t = detect_topology();
  EXPECT_GE(t.sockets, 1);
  EXPECT_GE(t.physical_cores, t.sockets);
  EXPECT_GE(t.logical_cores, t.physical_cores);
  EXPECT_EQ(t.source.rfind("hwloc", 0), 0u);
}

}  // namespace
}  // namespace lowbit::paradnn
