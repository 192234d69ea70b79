// Losses: log-softmax, cross-entropy against labels, soft cross-entropy against a constant
// distribution (distillation), and softmax with temperature for teacher targets.
#include <cmath>

#include "lowbit/kernels/fp32.h"
#include "lowbit/ops/ops.h"

namespace lowbit {
namespace {

void check_logits(const Var& logits, const char* op) {
  LOWBIT_REQUIRE(logits.defined() && logits.value().dim() == 2 && logits.size(0) >= 1 && logits.size(1) >= 1, op,
                 "logits must be (batch, classes), got {}", logits.defined() ? shape_str(logits.shape()) : "undefined");
}

struct LogSoftmaxNode : Node {
  Tensor y;
  LogSoftmaxNode(const Var& x, Tensor out) : Node({x}), y(std::move(out)) {}
  std::string_view name() const override { return "log_softmax"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor gc = g.contiguous();
    Tensor dx = Tensor::empty(y.shape());
    kernels::log_softmax_backward(y.size(0), y.size(1), y.data<float>(), gc.data<float>(), dx.data<float>());
    return {dx};
  }
};

struct CrossEntropyNode : Node {
  Tensor probs, labels;
  CrossEntropyNode(const Var& x, Tensor p, Tensor l) : Node({x}), probs(std::move(p)), labels(std::move(l)) {}
  std::string_view name() const override { return "cross_entropy"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor dx = Tensor::empty(probs.shape());
    kernels::softmax_cross_entropy_backward(probs.size(0), probs.size(1), probs.data<float>(), labels.data<int32_t>(),
                                            g.item(), dx.data<float>());
    return {dx};
  }
};

struct SoftCrossEntropyNode : Node {
  Tensor probs, target;
  SoftCrossEntropyNode(const Var& x, Tensor p, Tensor t) : Node({x}), probs(std::move(p)), target(std::move(t)) {}
  std::string_view name() const override { return "soft_cross_entropy"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    // d/dx of -(1/B) sum_j t_j log_softmax(x)_j = (softmax(x) * sum_j t_j - t) / B.
    const int64_t B = probs.size(0), C = probs.size(1);
    const float k = g.item() / static_cast<float>(B);
    Tensor dx = Tensor::empty(probs.shape());
    const float* p = probs.data<float>();
    const float* t = target.data<float>();
    float* d = dx.data<float>();
    for (int64_t b = 0; b < B; ++b) {
      float tsum = 0;
      for (int64_t j = 0; j < C; ++j) tsum += t[b * C + j];
      for (int64_t j = 0; j < C; ++j) d[b * C + j] = k * (p[b * C + j] * tsum - t[b * C + j]);
    }
    return {dx};
  }
};

}  // namespace

Var log_softmax(const Var& logits) {
  check_logits(logits, "log_softmax");
  const Tensor xc = logits.value().contiguous();
  Tensor y = Tensor::empty(xc.shape());
  kernels::log_softmax_forward(xc.size(0), xc.size(1), xc.data<float>(), y.data<float>());
  return make_output<LogSoftmaxNode>(y, {&logits}, logits, y);
}

Var cross_entropy(const Var& logits, const Tensor& labels) {
  check_logits(logits, "cross_entropy");
  const int64_t B = logits.size(0), C = logits.size(1);
  LOWBIT_REQUIRE(labels.dtype() == DType::i32 && labels.shape() == Shape{B}, "cross_entropy",
                 "labels must be int32 ({}), got {} {}", B, dtype_name(labels.dtype()), shape_str(labels.shape()));
  const Tensor lc = labels.contiguous();
  for (int64_t b = 0; b < B; ++b)
    LOWBIT_REQUIRE(lc.data<int32_t>()[b] >= 0 && lc.data<int32_t>()[b] < C, "cross_entropy",
                   "label {} at position {} is outside [0, {})", lc.data<int32_t>()[b], b, C);
  const Tensor xc = logits.value().contiguous();
  Tensor probs = Tensor::empty({B, C});
  const float loss =
      kernels::softmax_cross_entropy_forward(B, C, xc.data<float>(), lc.data<int32_t>(), probs.data<float>());
  return make_output<CrossEntropyNode>(Tensor::full({}, loss), {&logits}, logits, probs, lc);
}

Tensor softmax(const Tensor& logits, float temperature) {
  LOWBIT_REQUIRE(logits.dim() == 2, "softmax", "expects (batch, classes), got {}", shape_str(logits.shape()));
  LOWBIT_REQUIRE(temperature > 0, "softmax", "temperature must be positive, got {}", temperature);
  const int64_t B = logits.size(0), C = logits.size(1);
  Tensor x = logits.contiguous().clone();
  float* p = x.data<float>();
  for (int64_t i = 0; i < B * C; ++i) p[i] /= temperature;
  Tensor y = Tensor::empty({B, C});
  kernels::log_softmax_forward(B, C, p, y.data<float>());
  float* q = y.data<float>();
  for (int64_t i = 0; i < B * C; ++i) q[i] = std::exp(q[i]);
  return y;
}

Var soft_cross_entropy(const Var& logits, const Tensor& target_probs) {
  check_logits(logits, "soft_cross_entropy");
  LOWBIT_REQUIRE(target_probs.shape() == logits.shape() && target_probs.dtype() == DType::f32, "soft_cross_entropy",
                 "target must be f32 of the logits' shape {}, got {}", shape_str(logits.shape()),
                 shape_str(target_probs.shape()));
  const int64_t B = logits.size(0), C = logits.size(1);
  const Tensor xc = logits.value().contiguous();
  const Tensor t = target_probs.contiguous();
  Tensor logp = Tensor::empty({B, C});
  kernels::log_softmax_forward(B, C, xc.data<float>(), logp.data<float>());
  double loss = 0;
  Tensor probs = Tensor::empty({B, C});
  for (int64_t i = 0; i < B * C; ++i) {
    loss -= static_cast<double>(t.data<float>()[i]) * logp.data<float>()[i];
    probs.data<float>()[i] = std::exp(logp.data<float>()[i]);
  }
  return make_output<SoftCrossEntropyNode>(Tensor::full({}, static_cast<float>(loss / B)), {&logits}, logits, probs, t);
}

}  // namespace lowbit
