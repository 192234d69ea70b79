// ParaDnn sweeps: every configuration of a preset grid (plus --set overrides) x engine x mode x
// thread count, each measured in a child process, one JSON Lines row per measurement appended
// and fsynced as soon as it is known. Rows already in the output file are skipped (resume);
// a torn last line from a kill is dropped. Under mpirun (or --shard i/n) each rank takes every
// n-th measurement and rank 0 gathers the parts (shard.h). Failures (crash, out of memory, timeout, an engine
// that cannot do the mode) are rows with status != "ok".
//
// Row fields: family, config{hyperparameters}, engine, mode, threads, precision, status,
// examples_per_second, step_ms (median), step_ms_p90, steps, flops_per_example (training =
// 3 x forward), achieved_flops, peak_flops, utilization, params, arithmetic_intensity (FLOPs
// per step / bytes of weights), peak_memory_bytes (child's peak RSS), bandwidth (triad), cpu,
// cpu_ms (median process CPU time per step: lowbit's engines, PyTorch, ONNX Runtime).
// Engines and the precision each measures: engines.h. `--set threads=1,2` sweeps thread counts
// like --threads.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lowbit/paradnn/config.h"
#include "lowbit/paradnn/engines.h"
#include "lowbit/paradnn/peak.h"

namespace lowbit::paradnn {

struct SweepOptions {
  std::string family = "fc", preset = "tiny";
  std::vector<std::string> sets;  // "name=v1,v2" overrides
  std::vector<std::string> engines{"lowbit", "pytorch"};
  std::vector<std::string> modes{"train"};
  std::vector<int> threads{1};  // also "threads=..." in sets
  std::string out = "results.jsonl";
  std::string peak_file;  // JSON from `lowbit bench peak --json`; empty: measure at start
  int warmup = 2, min_steps = 5;
  double min_time = 0.5, timeout_s = 600;
  uint64_t seed = 1;
  std::string self_exe = "/proc/self/exe";  // the lowbit binary (runs `paradnn run|export`)
  std::string peers_dir;                    // bench/peers; empty: LOWBIT_PEERS_DIR or the source tree
  std::string work_dir;                     // ONNX bundles for ORT; empty: <out>.work
  bool progress = true;                     // per-row line with ETA on stderr
  std::string shard;                        // "i/n" by hand; empty: from mpirun's environment, if any
};

struct SweepSummary {
  int planned = 0, skipped = 0, ok = 0, failed = 0;  // this rank's share when sharded
  int rank = 0, ranks = 1, gathered = 0;             // rank 0 gathers every part into `out`
};

std::string default_peers_dir();

SweepSummary run_sweep(const SweepOptions& o);

// The derived metrics of one measurement (exposed for tests): fills examples_per_second,
// achieved_flops, utilization ... from config, engine, mode, threads and step times.
nlohmann::json make_row(const ModelConfig& c, const std::string& engine, const std::string& mode, int threads,
                        std::vector<double> step_ms, const Peak& peak);
// Row identity for resume: config key, engine, mode, threads.
std::string row_key(const nlohmann::json& row);

}  // namespace lowbit::paradnn
