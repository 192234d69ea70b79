// Inference dense layer with the weights packed once: y (M, N) = act(x (M, K) W^T + bias [+ y]),
// W (N, K) row-major as ONNX Gemm(transB=1) and nn::Linear store it. A oneDNN matmul primitive
// with the weights reordered into its blocked layout at construction; dnnl_sgemm (gemm_f32)
// repacks them on every call, which at small M costs about as much as the multiply.
#pragma once

#include <cstdint>
#include <memory>

#include "lowbit/kernels/bf16.h"
#include "lowbit/kernels/fp32_epilogue.h"

namespace lowbit::kernels {

class MatmulPlan {
 public:
  // w and bias (N or null) are copied; the epilogue (residual sum from y, then the activation)
  // is fused as oneDNN post-ops. Never throws for valid sizes: without a primitive run()
  // computes gemm_f32 + bias (+ y) and the activation in plain steps. math = bf16: x and w
  // rounded to bfloat16, fp32 sums and output (the fallback rounds copies).
  MatmulPlan(int64_t M, int64_t N, int64_t K, const float* w, const float* bias, const ConvEpilogue& epilogue,
             PlanMath math = PlanMath::f32);
  // `relu` fuses max(0, .): the epilogue {no sum, ReLU} or none.
  MatmulPlan(int64_t M, int64_t N, int64_t K, const float* w, const float* bias, bool relu, PlanMath math = PlanMath::f32);
  ~MatmulPlan();
  MatmulPlan(MatmulPlan&&) noexcept;
  MatmulPlan& operator=(MatmulPlan&&) noexcept;

  // x (M, K) and y (M, N) row-major, not overlapping; with a sum epilogue y holds the residual on
  // entry. Uses lowbit::num_threads() (the primitive is rebuilt when it changes). Not to be
  // called concurrently on one plan.
  void run(const float* x, float* y);
  int64_t M() const;
  bool uses_onednn() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lowbit::kernels
