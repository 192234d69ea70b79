// oneDNN matmuls as baselines for the integer GEMM: u8×s8→s32 (oneDNN's int8 path, VNNI when
// available) and fp32, both computing C = A·Bᵀ for row-major A (M,K) and B (N,K). B is
// reordered once into oneDNN's preferred layout at construction, as a deployed model would;
// run() then times the product alone. Used by `lowbit bench gemm` and as a cross-check.
#pragma once

#include <cstdint>
#include <memory>

namespace lowbit::bench {

class OnednnMatmul {
 public:
  enum class Kind { u8s8s32, f32 };
  // B: int8 (N,K) for u8s8s32, float (N,K) for f32; copied and reordered here.
  OnednnMatmul(Kind kind, int64_t M, int64_t N, int64_t K, const void* B);
  ~OnednnMatmul();
  OnednnMatmul(const OnednnMatmul&) = delete;
  OnednnMatmul& operator=(const OnednnMatmul&) = delete;

  // A: uint8 (M,K) or float (M,K); C: int32 or float (M,N), row-major.
  void run(const void* A, void* C);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lowbit::bench
