// OpenMP-backed implementation of the intra-op thread setting.
#include "lowbit/core/threads.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>

#include <sys/auxv.h>
#include <unistd.h>

#include "lowbit/core/error.h"

namespace lowbit {
namespace {

int initial_threads() {
  for (const char* var : {"LOWBIT_NUM_THREADS", "OMP_NUM_THREADS"}) {
    if (const char* v = std::getenv(var)) {
      char* end = nullptr;
      const long n = std::strtol(v, &end, 10);
      if (end != v && *end == '\0' && n >= 1 && n <= 4096) return static_cast<int>(n);
      throw ValueError(fmt::format("[threads] {}='{}' is not a thread count (expected an integer >= 1)", var, v));
    }
  }
  return hardware_threads();
}

std::atomic<int>& setting() {
  static std::atomic<int> n{initial_threads()};
  return n;
}

}  // namespace

int hardware_threads() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

int num_threads() { return setting().load(std::memory_order_relaxed); }

void set_num_threads(int n) {
  LOWBIT_REQUIRE(n >= 1 && n <= 4096, "set_num_threads", "thread count must be in [1, 4096], got {}", n);
  setting().store(n, std::memory_order_relaxed);
  omp_set_num_threads(n);
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks = std::min<int64_t>(num_threads(), (n + grain - 1) / grain);
  if (chunks <= 1 || omp_in_parallel()) {
    fn(0, n);
    return;
  }
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static, 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t b = n * c / chunks, e = n * (c + 1) / chunks;
    fn(b, e);
  }
}

// OpenMP workers that spin at barriers burn the core a descheduled sibling needs: on a shared
// 2-core machine, 2 threads then ran slower than 1. libgomp reads its wait policy once, in its
// own constructor, before main runs, so when the user chose no policy the program sets a
// bounded one and re-executes itself once: workers spin ~kSpinCount polls (a few microseconds)
// and then sleep on a futex. An explicit OMP_WAIT_POLICY or GOMP_SPINCOUNT always wins (and
// stops the re-execution after the first); LOWBIT_OMP_DEFAULTS=0 turns this off.
void adopt_bounded_spin(int argc, char** argv) {
  constexpr const char* kSpinCount = "1000";
  constexpr const char* kBlockTimeMs = "1";  // LLVM libomp reads KMP_BLOCKTIME lazily
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  if (const char* off = std::getenv("LOWBIT_OMP_DEFAULTS"); off != nullptr && std::string(off) == "0") return;
  setenv("GOMP_SPINCOUNT", kSpinCount, 0);
  setenv("KMP_BLOCKTIME", kBlockTimeMs, 0);
  // AT_EXECFN is the path this process was started from (valgrind's /proc/self/exe is its own).
  const char* self = reinterpret_cast<const char*>(getauxval(AT_EXECFN));
  if (argc >= 1 && argv != nullptr && argv[0] != nullptr) execv(self != nullptr ? self : "/proc/self/exe", argv);
  // execv returned (no /proc, no permission): carry on with the runtime's own default.
}

}  // namespace lowbit
