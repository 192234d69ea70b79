// The parallelism tuner (arXiv 1908.04705, spec section 2): reads the graph statically
// (heavy operators, their reduced graph's depth and average width), recommends inter-op x
// intra-op threads for the machine's physical cores, then measures a small neighbourhood of
// that choice plus the paper's two baselines and keeps the fastest, with its measured gain.
//   vendor baseline     inter = sockets, intra = physical cores per socket
//   framework baseline  inter = intra = logical cores (lowbit's Session never oversubscribes,
//                       so it runs clamped; both the request and the effective pair are kept)
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lowbit/onnx/ir.h"

namespace lowbit::paradnn {

struct Topology {
  int sockets = 1, numa_nodes = 1, physical_cores = 1, logical_cores = 1;
  std::string source;  // "hwloc <version>"
  nlohmann::json to_json() const;
};
Topology detect_topology();

struct Recommendation {
  int inter_op = 1, intra_op = 1;
  std::vector<std::string> reasoning;  // one line per rule applied
};

struct GraphShape {
  int heavy_ops = 0, depth = 0;
  double width = 0;  // heavy ops / depth of the reduced heavy graph
  std::map<std::string, int> heavy_op_counts;
  double flops = 0;  // per run at the tuning batch
};
GraphShape graph_shape(const onnx::Graph& g, int64_t batch);

// `cores`: physical cores to use (<= 0: all the topology has).
Recommendation recommend(const GraphShape& g, const Topology& t, int64_t batch, int cores);

struct TuneOptions {
  int64_t batch = 1;
  int cores = 0;          // <= 0: all physical cores
  double min_time = 0.5;  // seconds of timed runs per distinct setting (after 2 warm-up runs);
                          // settings are timed round-robin and equal effective settings share one
  int min_runs = 3;
  uint64_t seed = 1;
};

// Runs everything and returns the JSON of `lowbit tune --json` (graph, topology,
// recommended, measured[], chosen, baselines); progress lines go to `log` when non-null.
nlohmann::json tune(const onnx::Graph& g, const TuneOptions& o, std::FILE* log);

}  // namespace lowbit::paradnn
