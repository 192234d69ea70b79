// Private per-ISA attention kernels (attention.h): the entry points dispatch.cc chooses between,
// and the scratch layout they share. Each ISA's code lives in its own file, compiled with its flags.
#pragma once

#include <cstdint>

namespace lowbit::kernels {

using AttentionHeadFn = void (*)(int64_t T, int64_t dh, float scale, const float* q, const float* k, const float* v,
                                 int64_t ld, float* y, int64_t ldy, float* scratch);

// Query rows handled together: they share each load of K^T and of V, and their 8 independent
// sums keep two FMA pipes of 4-cycle latency busy (Zen 5: 40 us per 4-head layer vs 48 with 4
// rows, thread CPU time). The scratch layout:
// K^T as dh rows of Tp = T rounded up to 16 floats (zero padded), then kAttentionRows score rows
// and kAttentionRows probability rows of Tp floats each.
constexpr int64_t kAttentionRows = 8;
inline int64_t attention_padded(int64_t T) { return (T + 15) / 16 * 16; }

namespace portable {
void attention_head(int64_t T, int64_t dh, float scale, const float* q, const float* k, const float* v, int64_t ld,
                    float* y, int64_t ldy, float* scratch);  // plain float loops, auto-vectorized
}  // namespace portable
namespace avx512 {
void attention_head(int64_t T, int64_t dh, float scale, const float* q, const float* k, const float* v, int64_t ld,
                    float* y, int64_t ldy, float* scratch);  // 16 lanes, rows in blocks of kAttentionRows
}  // namespace avx512
namespace detail {
AttentionHeadFn attention_head_kernel();  // dispatch.cc: the fastest path the CPU runs
}  // namespace detail

}  // namespace lowbit::kernels
