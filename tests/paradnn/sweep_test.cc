// Sweeps through the real CLI: rows with the required fields, resume, torn lines, failures.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "lowbit/core/error.h"
#include "lowbit/paradnn/sweep.h"
#include "paradnn_test_util.h"
#include "require_peer.h"

namespace lowbit::paradnn {
namespace {

SweepOptions tiny_options(const std::string& dir) {
  SweepOptions o;
  o.family = "fc";
  o.preset = "tiny";
  o.sets = {"layers=2", "nodes=32", "batch=16,32", "input=64", "output=10"};
  o.engines = {"lowbit", "lowbit-int8", "onnxruntime"};
  o.modes = {"train", "infer"};
  o.out = dir + "/results.jsonl";
  o.min_steps = 2;
  o.min_time = 0;
  o.warmup = 1;
  o.self_exe = LOWBIT_BINARY;
  o.peers_dir = std::string(LOWBIT_SOURCE_DIR) + "/bench/peers";
  o.progress = false;
  Peak p;  // fixed peaks: the row arithmetic is checked, not this machine
  p.cpu_model = "test";
  p.fp32_flops_per_core = 1e11;
  p.int8_ops_per_core = 4e11;
  p.triad_bytes_per_second = 1e10;
  o.peak_file = dir + "/peak.json";
  std::ofstream(o.peak_file) << p.to_json().dump();
  return o;
}

TEST(ParadnnSweep, RowsCarryTheMetricsAndResumeSkipsRecordedOnes) {
  const std::string dir = test::scratch("sweep");
  SweepOptions o = tiny_options(dir);
  if (!test::ort_missing().empty()) o.engines = {"lowbit", "lowbit-int8"};
  const SweepSummary s = run_sweep(o);
  const size_t per_config = o.engines.size() * 2;
  EXPECT_EQ(s.planned, static_cast<int>(2 * per_config));
  const auto rows = test::read_rows(o.out);
  ASSERT_EQ(rows.size(), 2 * per_config);
  for (const auto& r : rows) {
    for (const char* k : {"family", "config", "engine", "mode", "examples_per_second", "step_ms", "flops_per_example",
                          "achieved_flops", "utilization", "params", "status"})
      EXPECT_TRUE(r.contains(k)) << k << " missing in " << r.dump();
    if (r["engine"] == "onnxruntime" && r["mode"] == "train") {
      EXPECT_EQ(r["status"].get<std::string>().rfind("unsupported", 0), 0u) << r.dump();
      continue;
    }
    ASSERT_EQ(r["status"], "ok") << r.dump();
    const ModelConfig c = ModelConfig::from_json(r["config"]);
    const double eps = r["examples_per_second"].get<double>();
    EXPECT_NEAR(eps, c.get("batch") / (r["step_ms"].get<double>() / 1e3), 1e-6 * eps);
    EXPECT_NEAR(r["achieved_flops"].get<double>(), eps * r["flops_per_example"].get<double>(), 1e-6 * r["achieved_flops"].get<double>());
    const double peak = r["engine"] == "lowbit-int8" ? 4e11 : 1e11;
    EXPECT_NEAR(r["utilization"].get<double>(), r["achieved_flops"].get<double>() / peak, 1e-9);
    EXPECT_GT(r["peak_memory_bytes"].get<double>(), 0);
    EXPECT_GE(r["step_ms_p90"].get<double>(), r["step_ms"].get<double>());
  }
  // Second run: everything is recorded; nothing is measured or appended.
  const SweepSummary again = run_sweep(o);
  EXPECT_EQ(again.skipped, again.planned);
  EXPECT_EQ(test::read_rows(o.out).size(), rows.size());
  // A kill mid-append leaves a torn line: it is dropped and that row measured again.
  {
    std::string all;
    {
      std::ifstream f(o.out);
      all.assign(std::istreambuf_iterator<char>(f), {});
    }
    const size_t last = all.rfind('\n', all.size() - 2);
    std::ofstream(o.out, std::ios::trunc) << all.substr(0, last + 1) << all.substr(last + 1, 25);
  }
  const SweepSummary third = run_sweep(o);
  EXPECT_EQ(third.ok + third.failed, 1);
  EXPECT_EQ(test::read_rows(o.out).size(), rows.size());
}

TEST(ParadnnSweep, FailuresAreRowsNotCrashes) {
  const std::string dir = test::scratch("sweep_fail");
  SweepOptions o = tiny_options(dir);
  o.engines = {"lowbit"};
  o.modes = {"train"};
  o.sets.push_back("batch=16");
  o.self_exe = dir + "/no-such-lowbit";  // cannot start: an error row naming the command
  const SweepSummary s = run_sweep(o);
  EXPECT_EQ(s.failed, 1);
  const auto rows = test::read_rows(o.out);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["status"].get<std::string>().rfind("error: lowbit paradnn run exited 127", 0), 0u) << rows[0].dump();
  EXPECT_TRUE(rows[0]["examples_per_second"].is_null());
}

TEST(ParadnnSweep, PyTorchPeerRows) {
  if (const std::string why = test::torch_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  const std::string dir = test::scratch("sweep_torch");
  SweepOptions o = tiny_options(dir);
  o.engines = {"pytorch"};
  o.sets.push_back("batch=16");
  const SweepSummary s = run_sweep(o);
  EXPECT_EQ(s.ok, 2) << "train and infer";
  for (const auto& r : test::read_rows(o.out)) {
    EXPECT_GT(r["examples_per_second"].get<double>(), 0) << r.dump();
    EXPECT_GT(r.value("cpu_ms", 0.0), 0) << r.dump();
  }
}

TEST(ParadnnSweep, UnknownEngineIsAnError) {
  SweepOptions o = tiny_options(test::scratch("sweep_bad"));
  o.engines = {"tensorflow"};
  EXPECT_THROW(run_sweep(o), ValueError);
}

}  // namespace
}  // namespace lowbit::paradnn

namespace lowbit::paradnn {
namespace {

TEST(ParadnnSweep, ShardsSplitRowsAndRankZeroGathers) {
  const std::string dir = test::scratch("sweep_shard");
  SweepOptions o = tiny_options(dir);
  o.engines = {"lowbit"};
  o.modes = {"infer"};
  o.shard = "1/2";  // rank 1 first: rank 0 waits for its marker, then gathers
  const SweepSummary one = run_sweep(o);
  EXPECT_EQ(one.planned, 1);
  EXPECT_TRUE(std::filesystem::exists(o.out + ".rank1"));
  o.shard = "0/2";
  const SweepSummary zero = run_sweep(o);
  EXPECT_EQ(zero.planned, 1);
  EXPECT_EQ(zero.gathered, 2);
  const auto rows = test::read_rows(o.out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_NE(rows[0]["rank"], rows[1]["rank"]);
  EXPECT_FALSE(std::filesystem::exists(o.out + ".rank1"));
  o.shard = "2/2";
  EXPECT_THROW(run_sweep(o), ValueError);
}

TEST(ParadnnSweep, MpirunTwoRanksGatherOneFile) {
  if (std::system("command -v mpirun > /dev/null 2>&1") != 0)
    LOWBIT_SKIP_ABSENT_PEER("mpirun is not installed (Debian package openmpi-bin; scripts/setup)");
  const std::string dir = test::scratch("sweep_mpi");
  const SweepOptions o = tiny_options(dir);
  const std::string cmd = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe -np 2 '" +
                          std::string(LOWBIT_BINARY) + "' paradnn sweep --family fc --preset tiny --set layers=2 --set nodes=32 "
                          "--set batch=16,32 --set input=64 --set output=10 --engines lowbit --mode train,infer --min-steps 2 "
                          "--min-time 0 --warmup 1 --no-progress --peak '" + o.peak_file + "' --out '" + o.out + "' > '" + dir +
                          "/mpirun.log' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const auto rows = test::read_rows(o.out);
  ASSERT_EQ(rows.size(), 4u);  // 2 batches x 2 modes
  std::set<int> ranks;
  for (const auto& r : rows) ranks.insert(r["rank"].get<int>());
  EXPECT_EQ(ranks, (std::set<int>{0, 1}));
  EXPECT_FALSE(std::filesystem::exists(o.out + ".rank0"));
  EXPECT_FALSE(std::filesystem::exists(o.out + ".rank1"));
}

}  // namespace
}  // namespace lowbit::paradnn
