// Machine peaks: sane and serializable.
#include <gtest/gtest.h>

#include "lowbit/core/error.h"
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

}  // namespace
}  // namespace lowbit::paradnn
