// Batch normalization op: batch statistics in training (running stats updated in place),
// running statistics in evaluation. (N,C) inputs are treated as (N,C,1,1).
#include <cmath>

#include "lowbit/kernels/fp32.h"
#include "lowbit/ops/ops.h"

namespace lowbit {
namespace {

struct BatchNormNode : Node {
  int64_t N, C, HW;
  Tensor save_mean, save_invstd;
  BatchNormNode(const Var& x, const Var& g, const Var& b, int64_t n, int64_t c, int64_t hw, Tensor m, Tensor is)
      : Node({x, g, b}), N(n), C(c), HW(hw), save_mean(std::move(m)), save_invstd(std::move(is)) {}
  std::string_view name() const override { return "batch_norm"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor gc = g.contiguous();
    const Tensor x = inputs()[0].value().contiguous();
    Tensor dx = Tensor::empty(x.shape()), dgamma = Tensor::empty({C}), dbeta = Tensor::empty({C});
    kernels::batchnorm_backward(N, C, HW, x.data<float>(), gc.data<float>(),
                                inputs()[1].value().contiguous().data<float>(), save_mean.data<float>(),
                                save_invstd.data<float>(), dx.data<float>(), dgamma.data<float>(), dbeta.data<float>());
    return {dx, dgamma, dbeta};
  }
};

// Backward of the evaluation form: y = gamma * (x - rm) * rs + beta with constant statistics.
struct BatchNormEvalNode : Node {
  int64_t N, C, HW;
  Tensor mean, invstd;
  BatchNormEvalNode(const Var& x, const Var& g, const Var& b, int64_t n, int64_t c, int64_t hw, Tensor m, Tensor is)
      : Node({x, g, b}), N(n), C(c), HW(hw), mean(std::move(m)), invstd(std::move(is)) {}
  std::string_view name() const override { return "batch_norm(eval)"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor gc = g.contiguous();
    const Tensor gamma = inputs()[1].value().contiguous();
    const Tensor x = inputs()[0].value().contiguous();
    Tensor dx = Tensor::empty(gc.shape()), dgamma = Tensor::zeros({C}), dbeta = Tensor::zeros({C});
    const float* gp = gc.data<float>();
    const float* xp = x.data<float>();
    float* dp = dx.data<float>();
    for (int64_t c = 0; c < C; ++c) {
      const float is = invstd.data<float>()[c], m = mean.data<float>()[c];
      const float k = gamma.data<float>()[c] * is;
      double sg = 0, sgx = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < HW; ++i) {
          const int64_t at = (n * C + c) * HW + i;
          dp[at] = k * gp[at];
          sg += gp[at];
          sgx += double(gp[at]) * (xp[at] - m) * is;
        }
      dgamma.data<float>()[c] = static_cast<float>(sgx);
      dbeta.data<float>()[c] = static_cast<float>(sg);
    }
    return {dx, dgamma, dbeta};
  }
};

}  // namespace

Var batch_norm(const Var& x, const Var& gamma, const Var& beta, Tensor& running_mean, Tensor& running_var,
               bool training, float momentum, float eps) {
  LOWBIT_REQUIRE(x.defined() && (x.value().dim() == 4 || x.value().dim() == 2), "batch_norm",
                 "expects (N,C,H,W) or (N,C), got {}", x.defined() ? shape_str(x.shape()) : "undefined");
  const int64_t N = x.size(0), C = x.size(1), HW = x.value().dim() == 4 ? x.size(2) * x.size(3) : 1;
  for (const Tensor* t : std::initializer_list<const Tensor*>{&gamma.value(), &beta.value(), &running_mean, &running_var})
    LOWBIT_REQUIRE(t->shape() == Shape{C} && t->is_contiguous(), "batch_norm",
                   "parameters and statistics must be contiguous ({}), got {}", C, shape_str(t->shape()));
  LOWBIT_REQUIRE(!training || N * HW > 1, "batch_norm", "training needs more than one value per channel, got {}",
                 shape_str(x.shape()));
  const Tensor xc = x.value().contiguous();
  Tensor y = Tensor::empty(x.shape());
  if (training) {
    Tensor m = Tensor::empty({C}), is = Tensor::empty({C});
    kernels::batchnorm_forward_train(N, C, HW, xc.data<float>(), gamma.value().data<float>(),
                                     beta.value().data<float>(), eps, momentum, running_mean.data<float>(),
                                     running_var.data<float>(), y.data<float>(), m.data<float>(), is.data<float>());
    return make_output<BatchNormNode>(y, {&x, &gamma, &beta}, x, gamma, beta, N, C, HW, m, is);
  }
  kernels::batchnorm_forward_infer(N, C, HW, xc.data<float>(), gamma.value().data<float>(), beta.value().data<float>(),
                                   running_mean.data<float>(), running_var.data<float>(), eps, y.data<float>());
  Tensor is = Tensor::empty({C});
  for (int64_t c = 0; c < C; ++c) is.data<float>()[c] = 1.0f / std::sqrt(running_var.data<float>()[c] + eps);
  return make_output<BatchNormEvalNode>(y, {&x, &gamma, &beta}, x, gamma, beta, N, C, HW, running_mean.clone(), is);
}

}  // namespace lowbit
