// Group-wise W4A8 GEMM (int4 weights with one scale per group of G consecutive k and column,
// as ONNX's blocked DequantizeLinear-21 and GPTQ/AWQ-style checkpoints quantize them): int32
// partial sums per group, each scaled and accumulated in fp32. qlinear_ref.h holds the scalar
// reference (qgemm_u8s4_grouped_f32); every path equals it bit for bit.
#pragma once

#include <cstdint>
#include <memory>

namespace lowbit::kernels {

// Weights w: N×K int8 codes in [-8, 7], packed once (two per byte); groups of `group` k
// (the last may be shorter). Preconditions (the caller checks): 1 <= K <= 65536, group >= 8 and
// a multiple of 8, every code in [-8, 7] (qgemm_fits_int4).
struct QgemmGroupedW {
  int64_t n = 0, k = 0, group = 0;
  std::shared_ptr<const int8_t> plain;    // N×K int8 codes (the reference reads these)
  std::shared_ptr<const int32_t> gsum;    // [groups][N]: Σ_{k in group g} w[n, k]
  std::shared_ptr<const void> panels;     // VNNI W4 panels (the layout of qgemm_pack_w4); null elsewhere
};
int64_t qgemm_groups(int64_t K, int64_t group);  // ⌈K / group⌉
QgemmGroupedW qgemm_pack_w4_grouped(int64_t N, int64_t K, int64_t group, const int8_t* w);

// y[m, n] = Σ_g float(acc_g[m, n] + corr[g·N + n]) · scale[g·N + n], g ascending from +0.0f,
// each product and each sum rounded to fp32 (no fused multiply-add), then + bias[n] if given;
// acc_g[m, n] = Σ_{k in group g} a[m, k]·w[n, k] exact in int32. a is M×K uint8 codes (row
// stride lda, rows readable up to a multiple of 4 bytes past K: those bytes are ignored).
// With x = s_x·(a − z): corr[g·N + n] = −z·gsum[g][n] and scale[g·N + n] = s_x·s_w[g][n].
struct GroupedEpilogue {
  const int32_t* corr = nullptr;   // [groups·N]
  const float* scale = nullptr;    // [groups·N]
  const float* bias = nullptr;     // [N] or null
};
void qgemm_u8s4_grouped_f32(int64_t M, const uint8_t* a, int64_t lda, const QgemmGroupedW& w, const GroupedEpilogue& ep,
                            float* y, int64_t ldy);
// Which kernel runs it ("avx512vnni u8s4 grouped", "ref u8s4 grouped"), for benchmark rows.
const char* qgemm_grouped_kernel_name(const QgemmGroupedW& w);

}  // namespace lowbit::kernels
