// Machine peaks (sane, serializable) and the bounded OpenMP spin default that core/threads.cc
// installs from .preinit_array, before libgomp reads its environment.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "lowbit/core/error.h"
#include "lowbit/core/threads.h"
#include "lowbit/paradnn/peak.h"

namespace lowbit::paradnn {
namespace {

TEST(ParadnnPeak, MeasuresAndRoundTrips) {
  const Peak p = measure_peak(1, 0.02);
  EXPECT_GT(p.fp32_flops_per_core, 1e9);  // any x86-64-v3 core does > 1 GFLOP/s of FMA
  EXPECT_GT(p.int8_ops_per_core, p.fp32_flops_per_core);  // 4x narrower lanes
  EXPECT_GT(p.triad_bytes_per_second, 1e8);
  EXPECT_FALSE(p.features.empty());
  const Peak q = Peak::from_json(p.to_json());
  EXPECT_EQ(q.fp32_flops_per_core, p.fp32_flops_per_core);
  EXPECT_EQ(q.compute_peak("int8", 2), 2 * p.int8_ops_per_core);
  EXPECT_THROW(Peak::from_json({{"cpu_model", "x"}}), ValueError);
}

TEST(ThreadRuntime, BoundedSpinDefaultIsInstalledUnlessTheUserChose) {
  // The test runner may export its own policy; then ours must not have overridden it.
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  const char* spin = std::getenv("GOMP_SPINCOUNT");
  if (policy != nullptr) {
    GTEST_SKIP() << "OMP_WAIT_POLICY=" << policy << " is set by the environment: the user's choice wins";
  }
  if (const char* off = std::getenv("LOWBIT_OMP_DEFAULTS"); off != nullptr && std::string(off) == "0")
    GTEST_SKIP() << "LOWBIT_OMP_DEFAULTS=0: the default is switched off";
  ASSERT_NE(spin, nullptr) << "GOMP_SPINCOUNT was not set before OpenMP started";
  EXPECT_NE(std::getenv("KMP_BLOCKTIME"), nullptr);  // ours ("1") unless the user set one
  (void)num_threads();
}

}  // namespace
}  // namespace lowbit::paradnn
