// Scalar reference of the integer GEMM of igemm.h: one output element at a time, one
// multiply-add at a time, in increasing k. This is the specification of every accumulator model.
#pragma once

#include <vector>

#include "lowbit/kernels/igemm.h"

namespace lowbit::kernels::ref {

void igemm_s32(int64_t M, int64_t N, int64_t K, IntOperand A, IntOperand B, const AccSpec& acc, int32_t* C,
               int64_t ldc);
void igemm_f32(int64_t M, int64_t N, int64_t K, IntOperand A, IntOperand B, const AccSpec& acc,
               const IgemmEpilogue& ep, float* C, int64_t ldc);

// igemm_f32_bt of igemm.h: igemm_f32 on the transpose of Bt (K×N).
void igemm_f32_bt(int64_t M, int64_t N, int64_t K, IntOperand A, const int8_t* Bt, int64_t ldbt, const AccSpec& acc,
                  const IgemmEpilogue& ep, float* C, int64_t ldc);

// igemm_f32_shifted of igemm.h: the rows written out (zeros where masked), then igemm_f32_bt.
void igemm_f32_shifted(int64_t M, int64_t N, int64_t K, IntOperand A, const ShiftedRows& Bt, const AccSpec& acc,
                       const IgemmEpilogue& ep, float* C, int64_t ldc);
// Those rows as a K×N matrix (row stride N).
std::vector<int8_t> shifted_rows(int64_t N, int64_t K, const ShiftedRows& Bt);

// igemm_scatter_add_packed of igemm.h on an unpacked B (N×K): the product in fp32, then the
// adds in the order that header specifies.
void igemm_scatter_add(int64_t M, int64_t N, int64_t K, IntOperand A, IntOperand B, const AccSpec& acc,
                       const IgemmScatter& scatter, float* out);

// The accumulator of one output: a[k]·b[k] for k < K under the model (exposed for tests).
int32_t dot(int64_t K, const int8_t* a, const int8_t* b, const AccSpec& acc);

}  // namespace lowbit::kernels::ref
