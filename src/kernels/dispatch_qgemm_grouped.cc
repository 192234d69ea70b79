// Path choice and weight packing of the group-wise W4A8 GEMM (qgemm_grouped.h): the AVX-512
// VNNI kernel on the W4 panels, else the scalar reference (no AVX2 twin yet: such CPUs run
// it at reference speed, and qgemm_grouped_kernel_name says so).
#include <algorithm>
#include <cstdlib>

#include "lowbit/kernels/isa.h"
#include "lowbit/kernels/qlinear_ref.h"
#include "qgemm_grouped_impl.h"
#include "qlinear_impl.h"

namespace lowbit::kernels {

int64_t qgemm_groups(int64_t K, int64_t group) { return (K + group - 1) / group; }

QgemmGroupedW qgemm_pack_w4_grouped(int64_t N, int64_t K, int64_t group, const int8_t* w) {
  QgemmGroupedW p;
  p.n = N;
  p.k = K;
  p.group = group;
  const int64_t groups = qgemm_groups(K, group);
  std::shared_ptr<int8_t> plain(new int8_t[static_cast<size_t>(std::max<int64_t>(N * K, 1))], std::default_delete<int8_t[]>());
  std::copy(w, w + N * K, plain.get());
  p.plain = plain;
  std::shared_ptr<int32_t> gsum(new int32_t[static_cast<size_t>(std::max<int64_t>(groups * N, 1))](), std::default_delete<int32_t[]>());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) gsum.get()[(k / group) * N + n] += w[n * K + k];
  p.gsum = gsum;
  if (active_isa() == Isa::avx512vnni && N > 0) {
    const int64_t bytes = avx512vnni::qgemm_w4_panel_bytes(N, K);
    std::shared_ptr<void> panels(std::aligned_alloc(64, static_cast<size_t>((bytes + 63) / 64 * 64)), [](void* q) { std::free(q); });
    avx512vnni::qgemm_w4_pack(N, K, w, panels.get());
    p.panels = panels;
  }
  return p;
}

const char* qgemm_grouped_kernel_name(const QgemmGroupedW& w) {
  return active_isa() == Isa::avx512vnni && w.panels ? "avx512vnni u8s4 grouped" : "ref u8s4 grouped";
}

void qgemm_u8s4_grouped_f32(int64_t M, const uint8_t* a, int64_t lda, const QgemmGroupedW& w, const GroupedEpilogue& ep,
                            float* y, int64_t ldy) {
  if (M <= 0 || w.n <= 0) return;
  if (active_isa() == Isa::avx512vnni && w.panels)
    return avx512vnni::qgemm_u8s4_grouped(M, w.n, w.k, w.group, a, lda, w.panels.get(), ep, y, ldy);
  ref::qgemm_u8s4_grouped_f32(M, w.n, w.k, w.group, a, lda, w.plain.get(), w.k, ep, y, ldy);
}

}  // namespace lowbit::kernels
