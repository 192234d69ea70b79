// Smooth activations on Vars (sigmoid, tanh): forward through the kernels' activation_forward
// (fp32_act.h), backward through activation_backward (fp32.h) from the saved output.
#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_act.h"
#include "lowbit/ops/ops.h"

namespace lowbit {
namespace {

struct SmoothActNode : Node {
  Tensor y;
  kernels::ActGrad kind;
  SmoothActNode(const Var& x, Tensor out, kernels::ActGrad k) : Node({x}), y(std::move(out)), kind(k) {}
  std::string_view name() const override { return kind == kernels::ActGrad::tanh ? "tanh" : "sigmoid"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor gc = g.contiguous();
    Tensor dx = Tensor::empty(y.shape());
    kernels::activation_backward(kind, y.numel(), nullptr, y.data<float>(), gc.data<float>(), 0, 0, dx.data<float>());
    return {dx};
  }
};

Var smooth_act(const Var& x, kernels::Act act, kernels::ActGrad grad, const char* op) {
  LOWBIT_REQUIRE(x.defined(), op, "input is undefined");
  LOWBIT_REQUIRE(x.value().dtype() == DType::f32, op, "expects f32, got {}", dtype_name(x.value().dtype()));
  const Tensor xc = x.value().contiguous();
  Tensor y = Tensor::empty(x.shape());
  kernels::activation_forward({act}, y.numel(), xc.data<float>(), y.data<float>());
  return make_output<SmoothActNode>(y, {&x}, x, y, grad);
}

}  // namespace

Var sigmoid(const Var& x) { return smooth_act(x, kernels::Act::sigmoid, kernels::ActGrad::sigmoid, "sigmoid"); }
Var tanh(const Var& x) { return smooth_act(x, kernels::Act::tanh, kernels::ActGrad::tanh, "tanh"); }

}  // namespace lowbit
