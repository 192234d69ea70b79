// The library fp32 GEMM behind gemm_f32 (dispatch.cc): oneDNN's dnnl_sgemm by default,
// OpenBLAS's cblas_sgemm when forced.
// Measured on the training shapes (docs/BENCHMARKS.md): Debian's OpenBLAS 0.3.21 has no Zen 4
// AVX-512 kernels and runs at about half of dnnl_sgemm's speed on 1 and 2 threads, and
// dnnl_sgemm shares the OpenMP pool with parallel_for instead of spinning a second one.
#include <cblas.h>

#include <atomic>

#include "fp32_conv_impl.h"
#include "fp32_runtime.h"
#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_ref.h"
#include "lowbit/kernels/fp32_tuning.h"

namespace lowbit::kernels {
namespace {

std::atomic<GemmLib>& gemm_lib_setting() {
  static std::atomic<GemmLib> lib{GemmLib::automatic};
  return lib;
}

}  // namespace

void set_gemm_lib(GemmLib lib) { gemm_lib_setting().store(lib, std::memory_order_relaxed); }
GemmLib gemm_lib() { return gemm_lib_setting().load(std::memory_order_relaxed); }

void detail::gemm_f32_library(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                              const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                              int64_t ldc) {
  if (gemm_lib() == GemmLib::openblas) {
    detail::sync_openblas_threads();
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                static_cast<blasint>(M), static_cast<blasint>(N), static_cast<blasint>(K), alpha, A,
                static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C, static_cast<blasint>(ldc));
    return;
  }
  detail::sync_omp_threads();
  // dnnl_sgemm is row-major like the contract. Its status is only non-success for invalid
  // arguments, which the ops layer has already ruled out.
  dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm_f64(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
              const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  ref::gemm_f32<double>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace lowbit::kernels
