// The bounded OpenMP spin default: this binary's main calls adopt_bounded_spin as lowbit's main
// does; the tests start it again as a child under chosen environments and read what it saw.
#include <gtest/gtest.h>
#include <omp.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <sys/auxv.h>

#include "lowbit/core/threads.h"

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "<unset>" : v;
}

// Runs this binary as a reporting child (see main) under `env_prefix`; returns what it printed.
std::string child(const std::string& env_prefix) {
  const std::string self = reinterpret_cast<const char*>(getauxval(AT_EXECFN));
  const std::string cmd = "env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY -u LOWBIT_OMP_DEFAULTS -u KMP_BLOCKTIME " +
                          env_prefix + " LOWBIT_OMP_CHILD=1 '" + self + "' 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return "popen failed";
  std::array<char, 256> buf{};
  while (fgets(buf.data(), buf.size(), p) != nullptr) out += buf.data();
  pclose(p);
  return out;
}

TEST(OmpDefaults, BoundedSpinWhenTheUserChoseNothing) {
  const std::string out = child("");
  EXPECT_NE(out.find("spin=1000 policy=<unset>"), std::string::npos) << out;
  EXPECT_NE(out.find("omp=ok"), std::string::npos) << out;
}

TEST(OmpDefaults, TheUsersChoiceWins) {
  std::string out = child("OMP_WAIT_POLICY=active");
  EXPECT_NE(out.find("spin=<unset> policy=active"), std::string::npos) << out;
  out = child("GOMP_SPINCOUNT=7");
  EXPECT_NE(out.find("spin=7 policy=<unset>"), std::string::npos) << out;
  out = child("LOWBIT_OMP_DEFAULTS=0");
  EXPECT_NE(out.find("spin=<unset> policy=<unset>"), std::string::npos) << out;
}

// The child reports the environment OpenMP started with, and that a parallel region runs.
int report_as_child() {
  std::printf("spin=%s policy=%s\n", env("GOMP_SPINCOUNT").c_str(), env("OMP_WAIT_POLICY").c_str());
  int seen = 0;
#pragma omp parallel num_threads(2) reduction(+ : seen)
  seen += 1;
  std::printf("omp=%s\n", seen >= 1 ? "ok" : "broken");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  lowbit::adopt_bounded_spin(argc, argv);
  if (env("LOWBIT_OMP_CHILD") == "1") return report_as_child();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
