// Private declarations shared by the integer kernels (quantizers, Hadamard, integer GEMM): the
// per-ISA entry points that dispatch.cc chooses between, and the common GEMM epilogue.
// Each ISA's code lives in its own file compiled with that ISA's flags; nothing here is inline
// SIMD code, so no ISA-specific instantiation can leak into another path at link time.
#pragma once

#include <cstdint>
#include <vector>

#include "lowbit/kernels/hadamard.h"
#include "lowbit/kernels/igemm.h"
#include "lowbit/kernels/quant.h"
#include "lowbit/kernels/transpose.h"

namespace lowbit::kernels {

namespace detail {

// Destination of an integer GEMM: int32 (cf == null) or fp32 through the epilogue; with
// `scatter`, fp32 added into cf as igemm_scatter_add_packed specifies (ep and ldc unused).
struct IgemmOut {
  int32_t* ci = nullptr;
  float* cf = nullptr;
  int64_t ldc = 0;
  IgemmEpilogue ep;
  const IgemmScatter* scatter = nullptr;
};
// Writes a rows×cols block of final accumulators (row stride ldt) at (m0, n0).
void igemm_store(const IgemmOut& out, int64_t m0, int64_t n0, int64_t rows, int64_t cols, const int32_t* acc,
                 int64_t ldt);

// The effective tile width for K (0 means one tile), and whether the model can change any sum:
// with |a·b| <= 2^14, a tile of width T never leaves [-T·2^14, T·2^14], so q_max(A) >= that makes
// tile_clamp / saturating / wrap equal to exact.
AccSpec normalize(const AccSpec& acc, int64_t K);

// Plain int8 view of an integer GEMM operand: itself, or its int4 values unpacked into `buf`
// (rows×K); *ld receives the view's leading dimension.
const int8_t* as_int8(const IntOperand& op, int64_t rows, int64_t K, std::vector<int8_t>& buf, int64_t* ld);
}  // namespace detail

// Operands below are plain int8 (int4 already unpacked by the dispatcher), K-contiguous.
namespace avx512vnni {
// exact, tile_clamp and wrap with tile % 4 == 0 (or one tile); saturating with bits <= 16.
bool igemm_supported(const AccSpec& acc);
void igemm(int64_t M, int64_t N, int64_t K, const int8_t* A, int64_t lda, const int8_t* B, int64_t ldb,
           const AccSpec& acc, const detail::IgemmOut& out);
// B packed for igemm_packed: layout 1 = u8 panels (exact, tile_clamp, wrap), 2 = int16 panels
// (saturating). `dst` holds packed_b_bytes, 64-byte aligned. acc of igemm_packed: normalized,
// supported, and of the model family the layout was made for (packed_layout(acc)).
int packed_layout(const AccSpec& acc);
int64_t packed_b_bytes(int64_t N, int64_t K, int layout);
void pack_b(int64_t N, int64_t K, const int8_t* B, int64_t ldb, int layout, void* dst);
// The layout-1 panels of B = Btᵀ from Bt (K×N, row stride ldbt), the same bytes as pack_b.
void pack_b_kmajor(int64_t N, int64_t K, const int8_t* Bt, int64_t ldbt, void* dst);
// The same panels of B = Btᵀ for shifted rows (igemm.h ShiftedRows).
void pack_b_shifted(int64_t N, int64_t K, const ShiftedRows& Bt, void* dst);
void igemm_packed(int64_t M, int64_t N, int64_t K, const int8_t* A, int64_t lda, const void* bp, const AccSpec& acc,
                  const detail::IgemmOut& out);
// out.scatter is supported by igemm_packed on layout 1 (its column blocks are kIgemmScatterCols wide).
}  // namespace avx512vnni

namespace avx2 {
// exact, tile_clamp and wrap with even tiles (or one tile); saturating with bits <= 16.
bool igemm_supported(const AccSpec& acc);
void igemm(int64_t M, int64_t N, int64_t K, const int8_t* A, int64_t lda, const int8_t* B, int64_t ldb,
           const AccSpec& acc, const detail::IgemmOut& out);

void transpose_i8(int64_t rows, int64_t cols, const int8_t* x, int64_t ldx, int8_t* y, int64_t ldy);
void transpose_f32(int64_t rows, int64_t cols, const float* x, int64_t ldx, float* y, int64_t ldy);
}  // namespace avx2

namespace avx512 {
bool fwht_supported(const HadamardShape& s);  // both axes, any shape
void fwht_f32(const HadamardShape& s, const float* x, int64_t ldx, float* y, int64_t ldy);
void fwht_i8_i32(const HadamardShape& s, const int8_t* x, int64_t ldx, int32_t* y, int64_t ldy);
void fwht_i32(const HadamardShape& s, const int32_t* x, int64_t ldx, int32_t* y, int64_t ldy);
int32_t fwht_i8_i32_max_abs(const HadamardShape& s, const int8_t* x, int64_t ldx, int32_t* y, int64_t ldy);  // axis 1
float fwht_f32_max_abs(const HadamardShape& s, const float* x, int64_t ldx, float* y, int64_t ldy);  // axis 1
int32_t fwht_shifted_i8_i32_max_abs(const HadamardShape& s, const ShiftedRows& x, int32_t* y, int64_t ldy);  // axis 1, h <= 16 (dispatched: h < 16)

bool quantize_supported(const QuantGrid& g);  // runs of at least 16 elements (inner >= 16)
void quantize_f32_i8(const QuantGrid& g, const float* x, int8_t* q, Rounding r, RandomKey key);
void quantize_f32_u8(const QuantGrid& g, const float* x, uint8_t* q, Rounding r, RandomKey key);
void quantize_i32_i8(const QuantGrid& g, const int32_t* x, int8_t* q, Rounding r, RandomKey key);
// Stochastic int32 -> int8 through a per-call table: needs AVX-512 VBMI (cpu_features), every
// |x| <= 255 and quantize_table_supported (one symmetric grid without zero point).
bool quantize_table_supported(const QuantGrid& g, Rounding r);
void quantize_i32_i8_table(const QuantGrid& g, const int32_t* x, int8_t* q, RandomKey key);
void shifted_copy_i8(int64_t n, const int8_t* x, int64_t delta, const uint64_t* mask, int8_t* out);
}  // namespace avx512

namespace portable {
// Any model, any tile.
void igemm(int64_t M, int64_t N, int64_t K, const int8_t* A, int64_t lda, const int8_t* B, int64_t ldb,
           const AccSpec& acc, const detail::IgemmOut& out);

void fwht_f32(const HadamardShape& s, const float* x, int64_t ldx, float* y, int64_t ldy);
void fwht_i8_i16(const HadamardShape& s, const int8_t* x, int64_t ldx, int16_t* y, int64_t ldy);
void fwht_i8_i32(const HadamardShape& s, const int8_t* x, int64_t ldx, int32_t* y, int64_t ldy);
void fwht_i32(const HadamardShape& s, const int32_t* x, int64_t ldx, int32_t* y, int64_t ldy);

void quantize_f32_i8(const QuantGrid& g, const float* x, int8_t* q, Rounding r, RandomKey key);
void quantize_f32_u8(const QuantGrid& g, const float* x, uint8_t* q, Rounding r, RandomKey key);
void quantize_i32_i8(const QuantGrid& g, const int32_t* x, int8_t* q, Rounding r, RandomKey key);
void dequantize_i8_f32(const QuantGrid& g, const int8_t* q, float* x);
void dequantize_u8_f32(const QuantGrid& g, const uint8_t* q, float* x);
void dequantize_i32_f32(const QuantGrid& g, const int32_t* q, float* x);

void transpose_i8(int64_t rows, int64_t cols, const int8_t* x, int64_t ldx, int8_t* y, int64_t ldy);
void transpose_f32(int64_t rows, int64_t cols, const float* x, int64_t ldx, float* y, int64_t ldy);
void shifted_copy_i8(int64_t n, const int8_t* x, int64_t delta, const uint64_t* mask, int8_t* out);
}  // namespace portable

}  // namespace lowbit::kernels
