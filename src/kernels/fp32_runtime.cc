// Thread-count synchronisation for oneDNN/OpenBLAS, the process-wide oneDNN engine and the
// plans' epilogue post-ops.
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

dnnl::post_ops epilogue_post_ops(const ConvEpilogue& ep) {
  using A = ConvEpilogue::Act;
  dnnl::post_ops po;
  if (ep.sum) po.append_sum(1.0f);
  if (ep.act == A::relu) po.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  if (ep.act == A::clip) po.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, ep.lo, ep.hi);
  if (ep.act == A::hardswish) po.append_eltwise(1.0f, dnnl::algorithm::eltwise_hardswish, 0.0f, 0.0f);
  if (ep.act == A::silu) po.append_eltwise(1.0f, dnnl::algorithm::eltwise_swish, 1.0f, 0.0f);
  return po;
}

}  // namespace lowbit::kernels::detail
