// Thread-count synchronisation for oneDNN/OpenBLAS and the process-wide oneDNN engine.
// Debian's libdnnl is built with DNNL_CPU_RUNTIME=OMP (libgomp): it sizes each parallel region
// with omp_get_max_threads() of the calling thread, a per-thread setting, so it is re-synced
// on every call rather than only in set_num_threads() (which covers only its own thread).
#include "fp32_runtime.h"

#include <cblas.h>
#include <omp.h>

#include <atomic>

#include "lowbit/core/threads.h"

namespace lowbit::kernels::detail {

int sync_omp_threads() {
  const int n = num_threads();
  if (!omp_in_parallel() && omp_get_max_threads() != n) omp_set_num_threads(n);
  return n;
}

void sync_openblas_threads() {
  static std::atomic<int> applied{-1};
  const int n = num_threads();
  if (applied.load(std::memory_order_relaxed) != n) {
    openblas_set_num_threads(n);
    applied.store(n, std::memory_order_relaxed);
  }
}

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& thread_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

}  // namespace lowbit::kernels::detail
