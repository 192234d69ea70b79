// Elementwise loops over contiguous f32 data, split with parallel_for on large tensors.
#include "lowbit/ops/tensor_math.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/quant.h"
#include "lowbit/kernels/reduce.h"

namespace lowbit {
namespace {

constexpr int64_t kGrain = 1 << 15;

void check_same(const Tensor& a, const Tensor& b, const char* op) {
  LOWBIT_REQUIRE(a.shape() == b.shape(), op, "shapes differ: {} vs {}", shape_str(a.shape()), shape_str(b.shape()));
  LOWBIT_REQUIRE(a.dtype() == DType::f32 && b.dtype() == DType::f32, op, "expects f32 tensors, got {} and {}",
                 dtype_name(a.dtype()), dtype_name(b.dtype()));
}

template <typename Fn>
Tensor binary(const Tensor& a, const Tensor& b, const char* op, Fn fn) {
  check_same(a, b, op);
  const Tensor ac = a.contiguous(), bc = b.contiguous();
  Tensor out = Tensor::empty(a.shape());
  const float* pa = ac.data<float>();
  const float* pb = bc.data<float>();
  float* po = out.data<float>();
  // Pointers captured by value so the loop vectorizes (no reloads through references).
  parallel_for(out.numel(), kGrain, [pa, pb, po, fn](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) po[i] = fn(pa[i], pb[i]);
  });
  return out;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary(a, b, "add", [](float x, float y) { return x + y; }); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(a, b, "sub", [](float x, float y) { return x - y; }); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(a, b, "mul", [](float x, float y) { return x * y; }); }

Tensor scale(const Tensor& a, float s) {
  Tensor out = a.contiguous().clone();
  scale_(out, s);
  return out;
}

void axpy_(Tensor& dst, float alpha, const Tensor& src) {
  check_same(dst, src, "axpy_");
  LOWBIT_REQUIRE(dst.is_contiguous(), "axpy_", "destination must be contiguous");
  const Tensor sc = src.contiguous();
  float* d = dst.data<float>();
  const float* s = sc.data<float>();
  parallel_for(dst.numel(), kGrain, [d, s, alpha](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) d[i] += alpha * s[i];
  });
}

void add_(Tensor& dst, const Tensor& src) { axpy_(dst, 1.0f, src); }

void scale_(Tensor& dst, float s) {
  LOWBIT_REQUIRE(dst.is_contiguous() && dst.dtype() == DType::f32, "scale_", "needs a contiguous f32 tensor");
  float* d = dst.data<float>();
  parallel_for(dst.numel(), kGrain, [d, s](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) d[i] *= s;
  });
}

double sum_all(const Tensor& a) {
  const Tensor c = a.to(DType::f32).contiguous();
  const float* p = c.data<float>();
  double s = 0;
  for (int64_t i = 0; i < c.numel(); ++i) s += p[i];
  return s;
}

float max_abs(const Tensor& a) {
  const Tensor c = a.to(DType::f32).contiguous();
  return kernels::max_abs_f32(c.numel(), c.data<float>());
}

Tensor argmax_rows(const Tensor& a) {
  LOWBIT_REQUIRE(a.dim() == 2, "argmax_rows", "expects (B, C), got {}", shape_str(a.shape()));
  const Tensor c = a.contiguous();
  const int64_t B = a.size(0), C = a.size(1);
  Tensor out = Tensor::empty({B}, DType::i32);
  LOWBIT_REQUIRE(C >= 1 && C <= INT32_MAX, "argmax_rows", "expects 1 to 2^31-1 columns, got {}", C);
  std::vector<int64_t> best(static_cast<size_t>(B));
  kernels::arg_extreme<float>(true, false, B, C, 1, c.data<float>(), best.data());
  int32_t* o = out.data<int32_t>();
  for (int64_t b = 0; b < B; ++b) o[b] = static_cast<int32_t>(best[static_cast<size_t>(b)]);
  return out;
}

Tensor sum_rows(const Tensor& a) {
  LOWBIT_REQUIRE(a.dim() >= 1, "sum_rows", "expects at least 1-d");
  const Tensor c = a.contiguous();
  Shape rest(a.shape().begin() + 1, a.shape().end());
  Tensor out = Tensor::zeros(rest);
  const int64_t B = a.size(0), n = out.numel();
  const float* p = c.data<float>();
  float* o = out.data<float>();
  parallel_for(n, 1024, [&](int64_t lo, int64_t hi) {
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = lo; i < hi; ++i) o[i] += p[b * n + i];
  });
  return out;
}

}  // namespace lowbit
