// QLinear: forward Y = X Wᵀ + b on codes; backward dX and dW in the (optionally Hadamard)
// quantized domain, bias gradient in fp32, straight-through estimator for the quantizers.
#include <vector>

#include "lowbit/core/rng.h"
#include "lowbit/fqt/qlayers.h"
#include "lowbit/fqt/qmatmul.h"
#include "qlinear_ext.h"
#include "lowbit/nn/module.h"
#include "lowbit/ops/tensor_math.h"

namespace lowbit::fqt {
namespace {

struct QLinearNode : Node {
  QTensor x, w;
  std::shared_ptr<QuantContext> ctx;
  QLinearNode(const Var& xv, const Var& wv, const Var& bv, QTensor xc, QTensor wc, std::shared_ptr<QuantContext> c)
      : Node({xv, wv, bv}), x(std::move(xc)), w(std::move(wc)), ctx(std::move(c)) {}
  std::string_view name() const override { return "quantized_linear"; }

  std::vector<Tensor> backward(const Tensor& g) override {
    const QuantConfig& cfg = ctx->cfg;
    const Tensor gc = g.contiguous();
    const int64_t B = x.codes.size(0), K = x.codes.size(1), N = w.codes.size(0);
    Tensor dx, dw, db;
    if (inputs()[0].requires_grad()) {
      dx = Tensor::empty({B, K});
      const QTensor w_op = grad_input_weight_operand(w, cfg.grad_input);
      qgrad_input(gc.data<float>(), B, N, w_op, cfg.grad_input, {ctx->seed, sr_stream(*ctx, SrTensor::grad_input_g), 0},
                  dx.data<float>(), K);
    }
    if (inputs()[1].requires_grad()) {
      dw = Tensor::empty({N, K});
      Tensor gt = Tensor::empty({N, B});
      transpose_f32(gc.data<float>(), B, N, gt.data<float>());
      const QTensor xt{transpose_i8(x.codes), x.params};
      qgrad_weight(gt.data<float>(), N, B, xt, cfg.grad_weight, {ctx->seed, sr_stream(*ctx, SrTensor::grad_weight_g), 0},
                   {ctx->seed, sr_stream(*ctx, SrTensor::grad_weight_x), 0}, dw.data<float>(), K);
    }
    if (inputs()[2].defined() && inputs()[2].requires_grad()) db = sum_rows(gc);
    ++ctx->step;
    return {dx, dw, db};
  }
};

}  // namespace

uint64_t sr_stream(const QuantContext& ctx, SrTensor t) {
  return mix_stream(mix_stream(ctx.layer_id, static_cast<uint64_t>(ctx.step)), static_cast<uint64_t>(t));
}

Var quantized_linear(const Var& x, const Var& w, const Var& bias, const std::shared_ptr<QuantContext>& ctx) {
  LOWBIT_REQUIRE(x.defined() && x.value().dim() == 2 && w.defined() && w.value().dim() == 2 && x.size(1) == w.size(1),
                 "quantized_linear", "expects x (B,K) and w (N,K), got {} and {}",
                 x.defined() ? shape_str(x.shape()) : "undefined", w.defined() ? shape_str(w.shape()) : "undefined");
  const QuantConfig& cfg = ctx->cfg;
  if (uses_linear_options(cfg, ctx->first_layer)) return extended_linear(x, w, bias, ctx);  // qlinear_ext.h
  const Tensor xc = x.value().contiguous(), wc = w.value().contiguous();
  const int64_t B = xc.size(0), K = xc.size(1), N = wc.size(0);
  QTensor xq = quantize_operand(xc.data<float>(), B, K, cfg.forward.a, true);
  QTensor wq = quantize_operand(wc.data<float>(), N, K, cfg.forward.b, false);
  Tensor y = Tensor::empty({B, N});
  qforward(xq, wq, cfg.forward, y.data<float>(), N);
  if (bias.defined()) {
    const Tensor bc = bias.value().contiguous();
    const float* bp = bc.data<float>();
    float* yp = y.data<float>();
    for (int64_t i = 0; i < B; ++i)
      for (int64_t j = 0; j < N; ++j) yp[i * N + j] += bp[j];
  }
  return make_output<QLinearNode>(y, {&x, &w, &bias}, x, w, bias, std::move(xq), std::move(wq), ctx);
}

QLinear::QLinear(nn::Linear& src, QuantConfig cfg, uint64_t seed, const std::string& path)
    : in_(src.in_features()), out_(src.out_features()), ctx_(std::make_shared<QuantContext>()) {
  weight_ = register_parameter("weight", src.weight());
  if (src.bias()) bias_ = register_parameter("bias", *src.bias());
  ctx_->cfg = std::move(cfg);
  ctx_->seed = seed;
  ctx_->layer_id = nn::path_hash(path);
}

Var QLinear::forward(const Var& x) { return quantized_linear(x, weight_, bias_, ctx_); }

}  // namespace lowbit::fqt
