// Elementwise, shape and reduction ops with their backwards.
#include <algorithm>

#include "lowbit/kernels/fp32.h"
#include "lowbit/ops/ops.h"
#include "lowbit/ops/tensor_math.h"

namespace lowbit {
namespace {

void require_f32(const Var& x, const char* op) {
  LOWBIT_REQUIRE(x.defined(), op, "input is undefined");
  LOWBIT_REQUIRE(x.value().dtype() == DType::f32, op, "expects f32, got {}", dtype_name(x.value().dtype()));
}

struct AddNode : Node {
  float sign_b;
  AddNode(const Var& a, const Var& b, float s) : Node({a, b}), sign_b(s) {}
  std::string_view name() const override { return sign_b > 0 ? "add" : "sub"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {g, sign_b > 0 ? g : scale(g, -1.0f)}; }
};

struct MulNode : Node {
  MulNode(const Var& a, const Var& b) : Node({a, b}) {}
  std::string_view name() const override { return "mul"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    return {lowbit::mul(g, inputs()[1].value()), lowbit::mul(g, inputs()[0].value())};
  }
};

struct ScaleNode : Node {
  float s;
  ScaleNode(const Var& a, float sc) : Node({a}), s(sc) {}
  std::string_view name() const override { return "scale"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {lowbit::scale(g, s)}; }
};

struct MulScalarNode : Node {
  MulScalarNode(const Var& x, const Var& s) : Node({x, s}) {}
  std::string_view name() const override { return "mul_scalar"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const float s = inputs()[1].value().item();
    const double ds = sum_all(lowbit::mul(g, inputs()[0].value()));
    return {lowbit::scale(g, s), Tensor::full(inputs()[1].shape(), static_cast<float>(ds))};
  }
};

struct AddScalarNode : Node {
  AddScalarNode(const Var& x, const Var& s) : Node({x, s}) {}
  std::string_view name() const override { return "add_scalar"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    return {g, Tensor::full(inputs()[1].shape(), static_cast<float>(sum_all(g)))};
  }
};

struct ReluNode : Node {
  Tensor y;
  ReluNode(const Var& x, Tensor out) : Node({x}), y(std::move(out)) {}
  std::string_view name() const override { return "relu"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor gc = g.contiguous();
    Tensor dx = Tensor::empty(y.shape());
    kernels::relu_backward(y.numel(), y.data<float>(), gc.data<float>(), dx.data<float>());
    return {dx};
  }
};

struct ReshapeNode : Node {
  Shape in_shape;
  explicit ReshapeNode(const Var& x) : Node({x}), in_shape(x.shape()) {}
  std::string_view name() const override { return "reshape"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {g.reshape(in_shape)}; }
};

struct NarrowNode : Node {
  int64_t dim, start;
  NarrowNode(const Var& x, int64_t d, int64_t s) : Node({x}), dim(d), start(s) {}
  std::string_view name() const override { return "narrow"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor dx = Tensor::zeros(inputs()[0].shape());
    dx.narrow(dim, start, g.size(dim)).copy_(g);
    return {dx};
  }
};

struct CatNode : Node {
  int64_t dim;
  CatNode(const std::vector<Var>& xs, int64_t d) : Node(xs), dim(d) {}
  std::string_view name() const override { return "cat"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    std::vector<Tensor> out;
    int64_t at = 0;
    for (const Var& x : inputs()) {
      out.push_back(g.narrow(dim, at, x.size(dim)).contiguous());
      at += x.size(dim);
    }
    return out;
  }
};

struct SumNode : Node {
  float s;
  SumNode(const Var& x, float sc) : Node({x}), s(sc) {}
  std::string_view name() const override { return s == 1.0f ? "sum" : "mean"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    return {Tensor::full(inputs()[0].shape(), g.item() * s)};
  }
};

}  // namespace

Var add(const Var& a, const Var& b) {
  require_f32(a, "add");
  require_f32(b, "add");
  return make_output<AddNode>(lowbit::add(a.value(), b.value()), {&a, &b}, a, b, 1.0f);
}

Var sub(const Var& a, const Var& b) {
  require_f32(a, "sub");
  require_f32(b, "sub");
  return make_output<AddNode>(lowbit::sub(a.value(), b.value()), {&a, &b}, a, b, -1.0f);
}

Var mul(const Var& a, const Var& b) {
  require_f32(a, "mul");
  require_f32(b, "mul");
  return make_output<MulNode>(lowbit::mul(a.value(), b.value()), {&a, &b}, a, b);
}

Var scale(const Var& a, float s) {
  require_f32(a, "scale");
  return make_output<ScaleNode>(lowbit::scale(a.value(), s), {&a}, a, s);
}

Var mul_scalar(const Var& x, const Var& s) {
  require_f32(x, "mul_scalar");
  LOWBIT_REQUIRE(s.defined() && s.numel() == 1, "mul_scalar", "scale must have one element");
  return make_output<MulScalarNode>(lowbit::scale(x.value(), s.value().item()), {&x, &s}, x, s);
}

Var add_scalar(const Var& x, const Var& s) {
  require_f32(x, "add_scalar");
  LOWBIT_REQUIRE(s.defined() && s.numel() == 1, "add_scalar", "offset must have one element");
  Tensor y = x.value().contiguous().clone();
  const float v = s.value().item();
  float* p = y.data<float>();
  for (int64_t i = 0; i < y.numel(); ++i) p[i] += v;
  return make_output<AddScalarNode>(y, {&x, &s}, x, s);
}

Var relu(const Var& x) {
  require_f32(x, "relu");
  const Tensor xc = x.value().contiguous();
  Tensor y = Tensor::empty(x.shape());
  kernels::relu_forward(y.numel(), xc.data<float>(), y.data<float>());
  return make_output<ReluNode>(y, {&x}, x, y);
}

Var reshape(const Var& x, const Shape& shape) {
  require_f32(x, "reshape");
  return make_output<ReshapeNode>(x.value().reshape(shape), {&x}, x);
}

Var flatten(const Var& x) {
  LOWBIT_REQUIRE(x.defined() && x.value().dim() >= 1, "flatten", "expects at least a 1-d input");
  return reshape(x, {x.size(0), -1});
}

Var narrow(const Var& x, int64_t dim, int64_t start, int64_t length) {
  require_f32(x, "narrow");
  if (dim < 0) dim += x.value().dim();
  return make_output<NarrowNode>(x.value().narrow(dim, start, length).contiguous(), {&x}, x, dim, start);
}

Var cat(const std::vector<Var>& xs, int64_t dim) {
  LOWBIT_REQUIRE(!xs.empty(), "cat", "needs at least one input");
  const Shape& s0 = xs[0].shape();
  if (dim < 0) dim += static_cast<int64_t>(s0.size());
  LOWBIT_REQUIRE(dim >= 0 && dim < static_cast<int64_t>(s0.size()), "cat", "dimension out of range");
  Shape out_shape = s0;
  out_shape[dim] = 0;
  for (const Var& x : xs) {
    require_f32(x, "cat");
    Shape s = x.shape();
    LOWBIT_REQUIRE(s.size() == s0.size(), "cat", "inputs have different ranks");
    out_shape[dim] += s[dim];
    s[dim] = s0[dim];
    LOWBIT_REQUIRE(s == s0, "cat", "shapes {} and {} differ outside dimension {}", shape_str(x.shape()),
                   shape_str(s0), dim);
  }
  Tensor out = Tensor::empty(out_shape);
  int64_t at = 0;
  bool grad = false;
  for (const Var& x : xs) {
    out.narrow(dim, at, x.size(dim)).copy_(x.value());
    at += x.size(dim);
    grad = grad || needs_grad({&x});
  }
  if (!grad) return Var(out);
  return Var::from_op(out, std::make_shared<CatNode>(xs, dim));
}

Var sum(const Var& x) {
  require_f32(x, "sum");
  return make_output<SumNode>(Tensor::full({}, static_cast<float>(sum_all(x.value()))), {&x}, x, 1.0f);
}

Var mean(const Var& x) {
  require_f32(x, "mean");
  LOWBIT_REQUIRE(x.numel() > 0, "mean", "empty input");
  const float inv = 1.0f / static_cast<float>(x.numel());
  return make_output<SumNode>(Tensor::full({}, static_cast<float>(sum_all(x.value()) * inv)), {&x}, x, inv);
}

}  // namespace lowbit
