// VJPs of the elementwise ops: activations (Relu, LeakyRelu, Clip, HardSigmoid, HardSwish,
// Sigmoid, Tanh, Gelu, Erf, Sqrt, Pow with a scalar exponent) through kernels::activation_backward,
// Add/Sub/Mul/Div/Neg with broadcasting (gradients summed over broadcast axes), and
// ReduceMean/ReduceSum (the gradient spread back over the reduced axes).
#include <limits>

#include "lowbit/kernels/fp32.h"
#include "ops/broadcast.h"
#include "ops/vjp.h"

namespace lowbit::onnx {
namespace {

using kernels::ActGrad;

void act(VjpCtx& c, ActGrad kind, float a, float b) {
  const Array& x = c.input(0);
  LOWBIT_NODE_REQUIRE(x.type() == ElemType::f32, c.infer(), "gradient needs float32, got {}", elem_name(x.type()));
  const Array dy = c.grad_out();
  c.din[0] = Array::empty(ElemType::f32, x.shape());
  kernels::activation_backward(kind, x.numel(), x.data<float>(), c.out[0]->data<float>(), dy.data<float>(), a, b,
                               c.din[0].data<float>());
}

float scalar_input(const VjpCtx& c, size_t i, float dflt) {
  if (!c.has(i)) return dflt;
  LOWBIT_NODE_REQUIRE(c.input(i).numel() == 1, c.infer(), "gradient needs a scalar input {}", i);
  LOWBIT_NODE_REQUIRE(!c.wants(i), c.infer(), "no gradient for input {} (a bound or exponent)", i);
  return static_cast<float>(c.input(i).get_f64(0));
}

void clip_vjp(VjpCtx& c) {
  const float inf = std::numeric_limits<float>::infinity();
  float lo = -inf, hi = inf;
  if (c.opset < 11) {
    lo = static_cast<float>(c.node.attr_f("min", -inf));
    hi = static_cast<float>(c.node.attr_f("max", inf));
  } else {
    lo = scalar_input(c, 1, -inf);
    hi = scalar_input(c, 2, inf);
  }
  act(c, ActGrad::clip, lo, hi);
}

// out = f(a, b) at dy's shape, then summed to `shape`.
template <typename F>
Array bcast_grad(const Array& a, const Array& b, const Shape& out_shape, const Shape& shape, F f) {
  Array t = Array::empty(ElemType::f32, out_shape);
  binary_broadcast<float, float, float>(a, b, t, f);
  return sum_to_shape(t, shape);
}

void binary_vjp(VjpCtx& c, char op) {
  const Array& a = c.input(0);
  const Array& b = c.input(1);
  LOWBIT_NODE_REQUIRE(a.type() == ElemType::f32 && b.type() == ElemType::f32, c.infer(), "gradient needs float32 inputs");
  const Array dy = c.grad_out();
  const Shape& os = dy.shape();
  auto neg = [](const Array& g) {
    Array r = g.clone();
    float* p = r.data<float>();
    for (int64_t i = 0; i < r.numel(); ++i) p[i] = -p[i];
    return r;
  };
  switch (op) {
    case '+':
    case '-':
      if (c.wants(0)) c.din[0] = sum_to_shape(dy, a.shape());
      if (c.wants(1)) c.din[1] = op == '+' ? sum_to_shape(dy, b.shape()) : neg(sum_to_shape(dy, b.shape()));
      break;
    case '*':
      if (c.wants(0)) c.din[0] = bcast_grad(dy, b, os, a.shape(), [](float g, float v) { return g * v; });
      if (c.wants(1)) c.din[1] = bcast_grad(dy, a, os, b.shape(), [](float g, float v) { return g * v; });
      break;
    case '/':
      if (c.wants(0)) c.din[0] = bcast_grad(dy, b, os, a.shape(), [](float g, float v) { return g / v; });
      if (c.wants(1)) {  // d/db (a/b) = -y/b
        Array gy = Array::empty(ElemType::f32, os);
        binary_broadcast<float, float, float>(dy, *c.out[0], gy, [](float g, float y) { return -g * y; });
        c.din[1] = bcast_grad(gy, b, os, b.shape(), [](float g, float v) { return g / v; });
      }
      break;
  }
}

void reduce_vjp(VjpCtx& c, bool mean) {
  const Array& x = c.input(0);
  const InferCtx ictx = c.infer();
  std::vector<int64_t> axes;
  const bool from_input = (c.node.op_type == "ReduceSum" && c.opset >= 13) || c.has(1);
  if (from_input) {
    if (c.has(1)) axes = int_list(c.input(1));
  } else {
    axes = c.node.attr_ints("axes");
  }
  const size_t rank = static_cast<size_t>(x.dim());
  std::vector<bool> mask(rank, axes.empty() && c.node.attr_i("noop_with_empty_axes", 0) == 0);
  for (int64_t a : axes) mask[static_cast<size_t>(normalize_axis(a, x.dim(), ictx))] = true;
  Shape keep = x.shape();
  int64_t count = 1;
  for (size_t d = 0; d < rank; ++d)
    if (mask[d]) count *= keep[d], keep[d] = 1;
  const Array dy = c.grad_out().reshaped(keep);
  c.din[0] = Array::empty(ElemType::f32, x.shape());
  broadcast_copy(dy, c.din[0]);
  if (mean) {
    float* p = c.din[0].data<float>();
    const float s = 1.f / static_cast<float>(std::max<int64_t>(count, 1));
    for (int64_t i = 0; i < c.din[0].numel(); ++i) p[i] *= s;
  }
}

}  // namespace

void add_pointwise_vjps(VjpTable& t) {
  t.emplace_back("Relu", [](VjpCtx& c) { act(c, ActGrad::relu, 0, 0); });
  t.emplace_back("LeakyRelu", [](VjpCtx& c) {
    act(c, ActGrad::leaky_relu, static_cast<float>(c.node.attr_f("alpha", 0.01)), 0);
  });
  t.emplace_back("Clip", clip_vjp);
  t.emplace_back("HardSigmoid", [](VjpCtx& c) {
    act(c, ActGrad::hard_sigmoid, static_cast<float>(c.node.attr_f("alpha", 0.2)),
        static_cast<float>(c.node.attr_f("beta", 0.5)));
  });
  t.emplace_back("HardSwish", [](VjpCtx& c) { act(c, ActGrad::hard_swish, 0, 0); });
  t.emplace_back("Sigmoid", [](VjpCtx& c) { act(c, ActGrad::sigmoid, 0, 0); });
  t.emplace_back("Tanh", [](VjpCtx& c) { act(c, ActGrad::tanh, 0, 0); });
  t.emplace_back("Gelu", [](VjpCtx& c) {
    act(c, c.node.attr_s("approximate", "none") == "tanh" ? ActGrad::gelu_tanh : ActGrad::gelu_erf, 0, 0);
  });
  t.emplace_back("Erf", [](VjpCtx& c) { act(c, ActGrad::erf, 0, 0); });
  t.emplace_back("Sqrt", [](VjpCtx& c) { act(c, ActGrad::sqrt, 0, 0); });
  t.emplace_back("Pow", [](VjpCtx& c) {
    const float p = scalar_input(c, 1, 1.f);
    act(c, ActGrad::pow, p, 0);
  });
  t.emplace_back("Add", [](VjpCtx& c) { binary_vjp(c, '+'); });
  t.emplace_back("Sub", [](VjpCtx& c) { binary_vjp(c, '-'); });
  t.emplace_back("Mul", [](VjpCtx& c) { binary_vjp(c, '*'); });
  t.emplace_back("Div", [](VjpCtx& c) { binary_vjp(c, '/'); });
  t.emplace_back("Neg", [](VjpCtx& c) {
    Array g = c.grad_out().clone();
    float* p = g.data<float>();
    for (int64_t i = 0; i < g.numel(); ++i) p[i] = -p[i];
    c.din[0] = g;
  });
  t.emplace_back("ReduceMean", [](VjpCtx& c) { reduce_vjp(c, true); });
  t.emplace_back("ReduceSum", [](VjpCtx& c) { reduce_vjp(c, false); });
}

}  // namespace lowbit::onnx
