// ISA detection and the forced-path switch.
#include <gtest/gtest.h>

#include "lowbit/core/error.h"
#include "lowbit/kernels/isa.h"

namespace lowbit::kernels {
namespace {

TEST(Isa, BestIsSupportedAndRefAlwaysIs) {
  EXPECT_TRUE(isa_supported(Isa::ref));
  EXPECT_TRUE(isa_supported(best_supported_isa()));
  EXPECT_TRUE(isa_supported(active_isa()));
}

TEST(Isa, ForcingWorksAndRejectsUnsupported) {
  const Isa saved = active_isa();
  set_active_isa(Isa::ref);
  EXPECT_EQ(active_isa(), Isa::ref);
  set_active_isa(saved);
  if (!isa_supported(Isa::avx512vnni)) {
    EXPECT_THROW(set_active_isa(Isa::avx512vnni), ValueError);
  }
}

}  // namespace
}  // namespace lowbit::kernels
