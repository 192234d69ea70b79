// Dense ops: matmul and linear (x Wᵀ + b) on the fp32 GEMM kernel.
#include "lowbit/kernels/fp32.h"
#include "lowbit/ops/ops.h"
#include "lowbit/ops/tensor_math.h"

namespace lowbit {
namespace {

void add_bias_rows(Tensor& y, const Tensor& bias) {
  const int64_t B = y.size(0), N = y.size(1);
  const Tensor bc = bias.contiguous();
  const float* b = bc.data<float>();
  float* p = y.data<float>();
  for (int64_t i = 0; i < B; ++i)
    for (int64_t j = 0; j < N; ++j) p[i * N + j] += b[j];
}

struct MatmulNode : Node {
  MatmulNode(const Var& a, const Var& b) : Node({a, b}) {}
  std::string_view name() const override { return "matmul"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor a = inputs()[0].value().contiguous();  // (M,K)
    const Tensor b = inputs()[1].value().contiguous();  // (K,N)
    const Tensor gc = g.contiguous();
    const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
    Tensor da, db;
    if (inputs()[0].requires_grad()) {  // dA = G Bᵀ
      da = Tensor::empty({M, K});
      kernels::gemm_f32(false, true, M, K, N, 1.0f, gc.data<float>(), N, b.data<float>(), N, 0.0f,
                        da.data<float>(), K);
    }
    if (inputs()[1].requires_grad()) {  // dB = Aᵀ G
      db = Tensor::empty({K, N});
      kernels::gemm_f32(true, false, K, N, M, 1.0f, a.data<float>(), K, gc.data<float>(), N, 0.0f,
                        db.data<float>(), N);
    }
    return {da, db};
  }
};

struct LinearNode : Node {
  LinearNode(const Var& x, const Var& w, const Var& b) : Node({x, w, b}) {}
  std::string_view name() const override { return "linear"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor& x = inputs()[0].value();  // (B,K)
    const Tensor& w = inputs()[1].value();  // (N,K)
    const Tensor gc = g.contiguous();       // (B,N)
    const int64_t B = x.size(0), K = x.size(1), N = w.size(0);
    Tensor dx, dw, db;
    if (inputs()[0].requires_grad()) {  // dX = G W
      dx = Tensor::empty({B, K});
      kernels::gemm_f32(false, false, B, K, N, 1.0f, gc.data<float>(), N, w.data<float>(), K, 0.0f,
                        dx.data<float>(), K);
    }
    if (inputs()[1].requires_grad()) {  // dW = Gᵀ X
      dw = Tensor::empty({N, K});
      kernels::gemm_f32(true, false, N, K, B, 1.0f, gc.data<float>(), N, x.data<float>(), K, 0.0f,
                        dw.data<float>(), K);
    }
    if (inputs()[2].defined() && inputs()[2].requires_grad()) db = sum_rows(gc);
    return {dx, dw, db};
  }
};

}  // namespace

Var matmul(const Var& a, const Var& b) {
  LOWBIT_REQUIRE(a.defined() && b.defined() && a.value().dim() == 2 && b.value().dim() == 2, "matmul",
                 "expects two 2-d inputs");
  LOWBIT_REQUIRE(a.size(1) == b.size(0), "matmul", "inner dimensions differ: {} x {}", shape_str(a.shape()),
                 shape_str(b.shape()));
  const Var ac(a.value().contiguous()), bc(b.value().contiguous());
  const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  Tensor y = Tensor::empty({M, N});
  kernels::gemm_f32(false, false, M, N, K, 1.0f, ac.value().data<float>(), K, bc.value().data<float>(), N, 0.0f,
                    y.data<float>(), N);
  return make_output<MatmulNode>(y, {&a, &b}, a, b);
}

Var linear(const Var& x, const Var& w, const Var& bias) {
  LOWBIT_REQUIRE(x.defined() && x.value().dim() == 2, "linear", "input must be (batch, in_features), got {}",
                 x.defined() ? shape_str(x.shape()) : "undefined");
  LOWBIT_REQUIRE(w.defined() && w.value().dim() == 2 && w.size(1) == x.size(1), "linear",
                 "weight must be (out_features, {}), got {}", x.size(1), shape_str(w.shape()));
  LOWBIT_REQUIRE(!bias.defined() || bias.shape() == Shape{w.size(0)}, "linear", "bias must be ({}), got {}",
                 w.size(0), shape_str(bias.shape()));
  LOWBIT_REQUIRE(x.value().is_contiguous() && w.value().is_contiguous(), "linear", "expects contiguous inputs");
  const int64_t B = x.size(0), K = x.size(1), N = w.size(0);
  Tensor y = Tensor::empty({B, N});
  kernels::gemm_f32(false, true, B, N, K, 1.0f, x.value().data<float>(), K, w.value().data<float>(), K, 0.0f,
                    y.data<float>(), N);
  if (bias.defined()) add_bias_rows(y, bias.value());
  return make_output<LinearNode>(y, {&x, &w, &bias}, x, w, bias);
}

}  // namespace lowbit
