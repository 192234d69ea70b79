// Integer GEMM C = A·Bᵀ with a model of a narrow accumulator (spec §1.4). A is M×K, B is N×K,
// both K-contiguous, values of at most 8 bits held in int8 (or packed two per byte as int4).
// Output int32 accumulators, or fp32 = alpha·acc (·col_scale[n]) (+ bias[n]). igemm_ref.h is
// the specification; every fast path (AVX-512 VNNI, AVX2) matches it bit for bit.
#pragma once

#include <cstdint>
#include <memory>

#include "lowbit/kernels/transpose.h"

namespace lowbit::kernels {

// How an output element's sum over k is accumulated. The k range is cut into tiles of width
// `tile` (0 = one tile of width K); inside a tile:
//   exact       the int32 sum (tiles make no difference);
//   tile_clamp  the exact tile sum, then sat_A(v) = clamp(v, -q_max(A), q_max(A)),
//               q_max(A) = 2^(A-1) - 1 (the reference HDQT accumulator, spec §1.1);
//   saturating  acc = sat_A(acc + a_k·b_k) after every multiply-add, k increasing, starting from
//               0 at the tile's start (an A-bit saturating adder);
//   wrap        acc = wrap_A(acc + a_k·b_k): two's complement at A bits (equal to wrapping the
//               exact tile sum once, since wrapping is a ring homomorphism).
// The per-tile results are then summed exactly in int32. `bits` (A) is in [2, 32].
enum class AccModel : uint8_t { exact, tile_clamp, saturating, wrap };

struct AccSpec {
  AccModel model = AccModel::exact;
  int bits = 32;
  int64_t tile = 0;
};

// One operand: element (r, k) is at index r·ld + k (ld in elements). int4: element i is nibble
// i % 2 (low first) of byte i / 2, sign-extended — the DType::i4 layout.
struct IntOperand {
  const void* data = nullptr;
  int64_t ld = 0;
  bool int4 = false;
};

// fp32 output: out = float(acc) * alpha, then * col_scale[n] if given, then + bias[n] if given,
// each step rounded in fp32 (no fused multiply-add), so that every path agrees bit for bit.
struct IgemmEpilogue {
  float alpha = 1.0f;
  const float* col_scale = nullptr;  // [N] or null
  const float* bias = nullptr;       // [N] or null
};

// Preconditions (checked by each caller: quant::int_gemm*, fqt::int_matmul; not here): M, N >= 0, 1 <= K <= 65536
// (so every exact partial sum fits int32 with room to spare), valid AccSpec.
// C is M×N with row stride ldc. Threads: lowbit::parallel_for over blocks of M×N.
void igemm_s32(int64_t M, int64_t N, int64_t K, IntOperand A, IntOperand B, const AccSpec& acc, int32_t* C,
               int64_t ldc);
void igemm_f32(int64_t M, int64_t N, int64_t K, IntOperand A, IntOperand B, const AccSpec& acc,
               const IgemmEpilogue& ep, float* C, int64_t ldc);

// B (N×K) packed once for many products with different A — a layer's weights, as oneDNN
// reorders its weights once. Holds the panels of the fastest path for `acc` on this CPU (at
// packing time) plus B's plain int8 codes, so a packed product equals igemm_s32/f32 on the
// unpacked B bit for bit for every spec and path; a spec or path the panels were not made
// for just runs from the plain codes (as if unpacked). Cheap to copy (shared, immutable).
// The fields belong to the dispatcher (dispatch.cc); treat the object as opaque.
struct IgemmPackedB {
  int64_t n = 0, k = 0;
  int layout = 0;                      // 0: plain only; else the path's panel layout
  std::shared_ptr<const int8_t> plain;  // n×k int8, row stride k
  std::shared_ptr<const void> panels;   // 64-byte aligned, `layout`-specific
};
IgemmPackedB igemm_pack_b(int64_t N, int64_t K, IntOperand B, const AccSpec& acc);
// C = A·Bᵀ as igemm_s32 / igemm_f32 with B = the packed operand's N×K codes.
void igemm_s32_packed(int64_t M, IntOperand A, const IgemmPackedB& B, const AccSpec& acc, int32_t* C, int64_t ldc);
void igemm_f32_packed(int64_t M, IntOperand A, const IgemmPackedB& B, const AccSpec& acc, const IgemmEpilogue& ep,
                      float* C, int64_t ldc);

// igemm_f32 with B given K-major (an im2col's rows): Bt is K×N int8, element (k, n) at
// Bt[k·ldbt + n], and C = A·Bt, bit for bit igemm_f32 on B = Btᵀ. Spares the caller the
// transpose: the VNNI path packs its panels straight from the rows.
void igemm_f32_bt(int64_t M, int64_t N, int64_t K, IntOperand A, const int8_t* Bt, int64_t ldbt, const AccSpec& acc,
                  const IgemmEpilogue& ep, float* C, int64_t ldc);

// igemm_f32_bt with Bt (K×N) given as shifted rows (transpose.h ShiftedRows), bit for bit.
void igemm_f32_shifted(int64_t M, int64_t N, int64_t K, IntOperand A, const ShiftedRows& Bt, const AccSpec& acc,
                       const IgemmEpilogue& ep, float* C, int64_t ldc);

// Scatter-add output: col2im fused into the GEMM epilogue. Element (m, n) of the product becomes
// v = float(acc)·alpha (one fp32 rounding, IgemmEpilogue with alpha only) and is added, out[i] =
// out[i] + v, to i = offset[m] + n when bit n % 64 of mask[m][n / 64] is set (mask[m]: ⌈N/64⌉
// words; a row whose mask is null adds every column). The fp32 adds run in a fixed order:
// blocks of kIgemmScatterCols columns ascending, in a block rows ascending, in a row columns
// ascending, all on the calling thread (rows may add to the same elements).
struct IgemmScatter {
  float alpha = 1.0f;
  const int64_t* offset = nullptr;        // [M]
  const uint64_t* const* mask = nullptr;  // [M], each null or ⌈N/64⌉ words
};
constexpr int64_t kIgemmScatterCols = 32;
// The scatter-add of A·Bᵀ with B packed; every targeted out element must exist.
void igemm_scatter_add_packed(int64_t M, IntOperand A, const IgemmPackedB& B, const AccSpec& acc,
                              const IgemmScatter& scatter, float* out);

constexpr int64_t kIgemmMaxK = 65536;
constexpr int64_t acc_qmax(int bits) { return (int64_t{1} << (bits - 1)) - 1; }

}  // namespace lowbit::kernels
