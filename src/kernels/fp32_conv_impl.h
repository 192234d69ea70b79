// Internal: the library paths behind gemm_f32 and conv2d_* (dispatch.cc chooses between them
// and the references). Same contracts as fp32.h; each must match the reference within the
// derived tolerance.
#pragma once

#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_tuning.h"

namespace lowbit::kernels::detail {

// Whether the library paths run at all: false under LOWBIT_ISA=ref, where every fp32 kernel
// runs its reference. Decided in dispatch.cc, which ConvPlan asks too.
bool library_paths();

// dnnl_sgemm, or cblas_sgemm when set_gemm_lib(openblas); M, N > 0.
void gemm_f32_library(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                      int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// conv2d_* with the measured (or forced) algorithm; outputs non-empty.
void conv2d_forward_library(const ConvGeom& s, const float* x, const float* w, const float* bias, float* y);
void conv2d_backward_data_library(const ConvGeom& s, const float* dy, const float* w, float* dx);
void conv2d_backward_weight_library(const ConvGeom& s, const float* x, const float* dy, float* dw, float* dbias);

// oneDNN primitives; blocked = let oneDNN choose its layouts and reorder around them.
void dnnl_conv_forward(const ConvGeom& s, bool blocked, const float* x, const float* w,
                       const float* bias, float* y);
void dnnl_conv_backward_data(const ConvGeom& s, bool blocked, const float* dy, const float* w, float* dx);
void dnnl_conv_backward_weight(const ConvGeom& s, bool blocked, const float* x, const float* dy,
                               float* dw, float* dbias);

// im2col + sgemm, parallel over images; backward weight sums fixed batch chunks in a fixed order.
void im2col_conv_forward(const ConvGeom& s, const float* x, const float* w, const float* bias, float* y);
void im2col_conv_backward_data(const ConvGeom& s, const float* dy, const float* w, float* dx);
void im2col_conv_backward_weight(const ConvGeom& s, const float* x, const float* dy, float* dw,
                                 float* dbias);

}  // namespace lowbit::kernels::detail
