// Whole-model gradients (a small conv net and the CIFAR ResNet-20) as random directional
// derivatives against finite differences of the loss, Hessian-vector products against a second
// difference and an analytic quadratic, Hutchinson traces with a known answer, the Q/DQ
// straight-through rule, and the errors of bad requests.
#include <random>

#include "grad_test_util.h"
#include "lowbit/onnx/model_loader.h"

namespace lowbit::onnx::test {
namespace {

using A = Attribute;
constexpr double kU = 0x1.0p-24;

Array randn(std::mt19937& rng, const Shape& s, double scale) {
  std::normal_distribution<float> n(0.f, static_cast<float>(scale));
  Array a = Array::empty(ElemType::f32, s);
  for (int64_t i = 0; i < a.numel(); ++i) a.data<float>()[i] = n(rng);
  return a;
}

// Conv+BN+Relu, Conv+BN, residual Add, Relu, GlobalAveragePool, Flatten, Gemm.
Graph small_conv_net(std::mt19937& rng) {
  GraphBuilder b;
  const int x = b.input("x", ElemType::f32, {-1, 3, 8, 8});
  const Attributes same{{"pads", A::from_ints({1, 1, 1, 1})}};
  auto bn = [&](int v, const std::string& p, int64_t c) {
    Array var = randn(rng, {c}, 0.3);
    for (int64_t i = 0; i < c; ++i) var.data<float>()[i] = 0.5f + std::fabs(var.data<float>()[i]);
    return b.op("BatchNormalization", {v, b.constant(p + "_g", randn(rng, {c}, 0.5)), b.constant(p + "_b", randn(rng, {c}, 0.1)),
                                       b.constant(p + "_m", randn(rng, {c}, 0.1)), b.constant(p + "_v", var)});
  };
  const int c1 = b.op("Relu", {bn(b.op("Conv", {x, b.constant("w1", randn(rng, {4, 3, 3, 3}, 0.3))}, same), "bn1", 4)});
  const int c2 = bn(b.op("Conv", {c1, b.constant("w2", randn(rng, {4, 4, 3, 3}, 0.3)), b.constant("b2", randn(rng, {4}, 0.1))}, same), "bn2", 4);
  const int r = b.op("Relu", {b.op("Add", {c1, c2})});
  const int f = b.op("Flatten", {b.op("GlobalAveragePool", {r})});
  b.output(b.op("Gemm", {f, b.constant("fc_w", randn(rng, {5, 4}, 0.5)), b.constant("fc_b", randn(rng, {5}, 0.1))},
                {{"transB", A::from_int(1)}}));
  return b.finish();
}

// Directional derivatives sum(g·d) against central differences of the float32 loss along d
// (all float initializers at once). Truncation is estimated by Richardson, |fd(2h) − fd(h)| / 3;
// rounding by the loss's float32 error √K·u·(1 + |L|) over h (Higham's probabilistic bound for
// reductions of length K, K the longest one). Relu becomes Tanh in this copy: finite differences
// of a ReLU network cross kinks (thousands of activations sit within h of 0), so they do not
// converge; the Relu VJP is checked on its own in grad_ops_test.cc, the composition here.
void check_directions(const Graph& g0, const std::vector<Array>& inputs, const LossSpec& loss, int64_t K, double h,
                      int directions) {
  Graph g = g0;
  for (Node& n : g.nodes)
    if (n.op_type == "Relu") n.op_type = "Tanh";
  Backprop bp(g, 1);
  std::vector<std::string> names;
  for (const auto& [v, a] : g.constants)
    if (a.type() == ElemType::f32) names.push_back(g.values[static_cast<size_t>(v)].name);
  const GradResult r0 = bp.run(inputs, loss, names);
  std::mt19937 rng(7);
  for (int k = 0; k < directions; ++k) {
    std::map<std::string, Array> d;
    double dd = 0;
    for (const std::string& n : names) {
      d[n] = randn(rng, r0.grads.at(n).shape(), 1.0);
      for (int64_t i = 0; i < d[n].numel(); ++i) dd += static_cast<double>(d[n].data<float>()[i]) * r0.grads.at(n).data<float>()[i];
    }
    auto loss_at = [&](double s) {
      std::map<std::string, Array> rep;
      for (const std::string& n : names) {
        const Array& w = *g.constant(g.find_value(n));
        Array a = Array::empty(ElemType::f32, w.shape());
        for (int64_t i = 0; i < a.numel(); ++i) a.data<float>()[i] = static_cast<float>(w.data<float>()[i] + s * d[n].data<float>()[i]);
        rep[n] = a;
      }
      return bp.run(inputs, loss, {}, rep).loss;
    };
    const double fd1 = (loss_at(h) - loss_at(-h)) / (2 * h), fd2 = (loss_at(2 * h) - loss_at(-2 * h)) / (4 * h);
    const double tol = 3 * (std::fabs(fd2 - fd1) / 3 + std::sqrt(static_cast<double>(K)) * kU * (1 + std::fabs(r0.loss)) / h);
    EXPECT_NEAR(dd, fd1, tol) << "direction " << k << " (fd(2h) = " << fd2 << ")";
    EXPECT_LT(tol, 0.05 * std::fabs(dd) + 1e-6) << "the check is too loose to mean anything";
  }
}

TEST(OnnxGradModel, SmallConvNetDirectionalDerivatives) {
  std::mt19937 rng(3);
  const Graph g = small_conv_net(rng);
  LossSpec loss;
  loss.labels = {0, 3, 4};
  check_directions(g, {randn(rng, {3, 3, 8, 8}, 1.0)}, loss, 4 * 9, 3e-3, 3);
}

TEST(OnnxGradModel, Resnet20DirectionalDerivatives) {
  const Graph g = load_model(source_dir() + "/../shared/data/models/resnet20_cifar10.onnx");
  std::mt19937 rng(5);
  LossSpec loss;
  loss.labels = {1, 7};
  check_directions(g, {randn(rng, {2, 3, 32, 32}, 1.0)}, loss, 64 * 9, 1e-4, 2);
}

// y = x·W (x: N×D input, W: D×O weight) with MSE: H = 2/N · XᵀX ⊗ I, so Hv = 2/N · Xᵀ X V.
struct Linear {
  Graph g;
  Array x, w, target;
  int64_t N = 16, D = 5, O = 3;
  explicit Linear(std::mt19937& rng) {
    x = randn(rng, {N, D}, 1.0), w = randn(rng, {D, O}, 0.5), target = randn(rng, {N, O}, 1.0);
    GraphBuilder b;
    b.output(b.op("MatMul", {b.input("x", ElemType::f32, {N, D}), b.constant("w", w)}));
    g = b.finish();
  }
  LossSpec loss() const {
    LossSpec l;
    l.kind = LossKind::mse_to_target;
    l.target = target;
    return l;
  }
  double xtx(int64_t i, int64_t j) const {  // (XᵀX)_ij
    double s = 0;
    for (int64_t n = 0; n < N; ++n) s += static_cast<double>(x.data<float>()[n * D + i]) * x.data<float>()[n * D + j];
    return s;
  }
};

TEST(OnnxGradModel, HvpMatchesAnalyticHessianOfQuadratic) {
  std::mt19937 rng(11);
  const Linear m(rng);
  Backprop bp(m.g, 1);
  const Array v = randn(rng, {m.D, m.O}, 1.0);
  double err = -1;
  const auto hv = bp.hvp({m.x}, m.loss(), {{"w", v}}, 1e-2, &err);
  ASSERT_GE(err, 0);
  double scale = 0;
  for (int64_t i = 0; i < m.D; ++i)
    for (int64_t o = 0; o < m.O; ++o) {
      double want = 0;
      for (int64_t j = 0; j < m.D; ++j) want += 2.0 / static_cast<double>(m.N) * m.xtx(i, j) * v.data<float>()[j * m.O + o];
      scale = std::max(scale, std::fabs(want));
      // A quadratic has no truncation error: what is left is float32 rounding, bounded by err.
      EXPECT_NEAR(hv.at("w").data<float>()[i * m.O + o], want, err + 4 * m.N * kU * std::fabs(want));
    }
  EXPECT_LT(err, 1e-2 * scale);
}

// vᵀHv from hvp against the second difference of the loss, on a smooth (Tanh) MLP.
TEST(OnnxGradModel, HvpMatchesSecondDifference) {
  std::mt19937 rng(13);
  GraphBuilder b;
  const int x = b.input("x", ElemType::f32, {4, 6});
  const int h = b.op("Tanh", {b.op("Gemm", {x, b.constant("w1", randn(rng, {6, 8}, 0.5)), b.constant("b1", randn(rng, {8}, 0.1))})});
  b.output(b.op("Gemm", {h, b.constant("w2", randn(rng, {8, 3}, 0.5))}));
  const Graph g = b.finish();
  Backprop bp(g, 1);
  LossSpec loss;
  loss.labels = {0, 2, 1, 2};
  const std::vector<Array> in{randn(rng, {4, 6}, 1.0)};
  const std::map<std::string, Array> v{{"w1", randn(rng, {6, 8}, 1.0)}, {"w2", randn(rng, {8, 3}, 1.0)}};
  double err = 0;
  const auto hv = bp.hvp(in, loss, v, 1e-3, &err);
  double vhv = 0, vnorm = 0;
  for (const auto& [n, a] : v)
    for (int64_t i = 0; i < a.numel(); ++i) {
      vhv += static_cast<double>(a.data<float>()[i]) * hv.at(n).data<float>()[i];
      vnorm += static_cast<double>(a.data<float>()[i]) * a.data<float>()[i];
    }
  auto loss_at = [&](double s) {
    std::map<std::string, Array> rep;
    for (const auto& [n, a] : v) {
      Array w = g.constant(g.find_value(n))->clone();
      for (int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] += static_cast<float>(s * a.data<float>()[i]);
      rep[n] = w;
    }
    return bp.run(in, loss, {}, rep).loss;
  };
  const double s = 3e-2, l0 = loss_at(0);
  const double d1 = (loss_at(s) - 2 * l0 + loss_at(-s)) / (s * s);
  const double d2 = (loss_at(2 * s) - 2 * l0 + loss_at(-2 * s)) / (4 * s * s);
  // Second difference: truncation by Richardson, rounding 4·K·u·|L| / s².
  const double tol = std::fabs(d2 - d1) + 4 * 8 * kU * (1 + l0) / (s * s) + err * std::sqrt(vnorm);
  EXPECT_NEAR(vhv, d1, tol);
  EXPECT_LT(tol, 0.05 * std::fabs(vhv));
}

// On a ReLU network hvp differentiates the piece at x: the same as the network with each Relu
// replaced by a multiplication with its mask at x (a smooth function). Unfrozen, kinks crossed
// within ±ε leak into the difference of gradients.
TEST(OnnxGradModel, HvpFreezesReluPieces) {
  std::mt19937 rng(29);
  const Array w1 = randn(rng, {6, 32}, 0.5), w2 = randn(rng, {32, 3}, 0.5), x = randn(rng, {8, 6}, 1.0);
  auto build = [&](const Array* mask) {
    GraphBuilder b;
    const int h = b.op("MatMul", {b.input("x", ElemType::f32, {8, 6}), b.constant("w1", w1)}, {}, 1, "fc1");
    const int a = mask ? b.op("Mul", {h, b.constant("mask", *mask)}) : b.op("Relu", {h});
    b.output(b.op("MatMul", {a, b.constant("w2", w2)}));
    return b.finish();
  };
  Backprop relu(build(nullptr), 1);
  const Array pre = relu.values({x}, {"fc1_out0"}).at("fc1_out0");
  Array mask = Array::empty(ElemType::f32, pre.shape());
  for (int64_t i = 0; i < pre.numel(); ++i) mask.data<float>()[i] = pre.data<float>()[i] > 0 ? 1.f : 0.f;
  Backprop smooth(build(&mask), 1);
  LossSpec loss;
  loss.labels = {0, 1, 2, 0, 1, 2, 0, 1};
  const std::map<std::string, Array> v{{"w1", randn(rng, {6, 32}, 1.0)}, {"w2", randn(rng, {32, 3}, 1.0)}};
  const double eps = 3e-3;  // large enough that a few of the 256 units cross their kink
  double e1 = 0, e2 = 0;
  const auto a = relu.hvp({x}, loss, v, eps, &e1), b = smooth.hvp({x}, loss, v, eps, &e2);
  relu.set_freeze_kinks(false);
  const auto c = relu.hvp({x}, loss, v, eps);
  double worst = 0, leak = 0;
  for (const auto& [n, t] : v)
    for (int64_t i = 0; i < t.numel(); ++i) {
      worst = std::max(worst, std::fabs(double(a.at(n).data<float>()[i]) - b.at(n).data<float>()[i]));
      leak = std::max(leak, std::fabs(double(c.at(n).data<float>()[i]) - b.at(n).data<float>()[i]));
    }
  EXPECT_LE(worst, e1 + e2);
  EXPECT_GT(leak, 10 * (e1 + e2)) << "no kink was crossed: the test lost its point";
}

TEST(OnnxGradModel, HutchinsonConvergesToKnownTraces) {
  std::mt19937 rng(17);
  const Linear m(rng);
  Backprop bp(m.g, 1);
  TraceOptions opt;
  opt.rel_tol = 2e-3;
  opt.max_iter = 200;
  opt.eps = 1e-2;
  // The MatMul output is named by the builder; H with respect to it is 2/N · I exactly.
  const std::string y = m.g.values[static_cast<size_t>(m.g.outputs[0])].name;
  const TraceResult r = hutchinson_traces(bp, {m.x}, m.loss(), {"w"}, opt);
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(r.history.at("w").size(), static_cast<size_t>(r.iterations));
  // Tr(2/N · XᵀX ⊗ I_O) = 2·O/N · Σ_i (XᵀX)_ii. Rademacher probes: Var(vᵀHv) = 2·Σ_{i≠j} H_ij².
  double tr = 0, off2 = 0;
  for (int64_t i = 0; i < m.D; ++i) {
    tr += 2.0 * static_cast<double>(m.O) / static_cast<double>(m.N) * m.xtx(i, i);
    for (int64_t j = 0; j < m.D; ++j)
      if (i != j) off2 += static_cast<double>(m.O) * std::pow(2.0 / static_cast<double>(m.N) * m.xtx(i, j), 2);
  }
  const double sd = std::sqrt(2 * off2 / r.iterations);
  EXPECT_NEAR(r.trace.at("w"), tr, 4 * sd + 1e-3 * tr);
  // Alone (no cross term with w), the output's Hessian 2/N·I gives the exact trace on every probe.
  const TraceResult ry = hutchinson_traces(bp, {m.x}, m.loss(), {y}, opt);
  const double ty = 2.0 / static_cast<double>(m.N) * static_cast<double>(m.N * m.O);
  EXPECT_TRUE(ry.converged);
  EXPECT_EQ(ry.iterations, opt.min_iter);
  EXPECT_NEAR(ry.trace.at(y), ty, 1e-3 * ty);
  // Probing one tensor at a time gives both at once, with the same guarantees.
  opt.separate = true;
  const TraceResult rs = hutchinson_traces(bp, {m.x}, m.loss(), {"w", y}, opt);
  EXPECT_TRUE(rs.converged);
  EXPECT_NEAR(rs.trace.at("w"), tr, 4 * std::sqrt(2 * off2 / rs.iterations) + 1e-3 * tr);
  EXPECT_NEAR(rs.trace.at(y), ty, 1e-3 * ty);
}

// QuantizeLinear → DequantizeLinear is the identity for gradients (straight-through).
TEST(OnnxGradModel, QdqStraightThrough) {
  std::mt19937 rng(19);
  const Array w = randn(rng, {4, 3}, 0.5);
  auto build = [&](bool qdq) {
    GraphBuilder b;
    int x = b.input("x", ElemType::f32, {2, 4});
    if (qdq) {
      const int s = b.constant("s", Array::scalar<float>(0.05f)), z = b.constant("z", Array::scalar<uint8_t>(128));
      x = b.op("DequantizeLinear", {b.op("QuantizeLinear", {x, s, z}), s, z});
    }
    b.output(b.op("MatMul", {x, b.constant("w", w)}));
    return b.finish();
  };
  const Array x = randn(rng, {2, 4}, 1.0);
  LossSpec loss;
  loss.labels = {1, 2};
  Backprop with(build(true), 1), without(build(false), 1);
  const GradResult a = with.run({x}, loss, {"x"});
  // The same gradient as a plain graph evaluated at the dequantized input.
  const GradResult b0 = without.run({x}, loss, {"x"});
  const std::string dq = with.graph().values[static_cast<size_t>(with.graph().nodes[1].outputs[0])].name;
  const Array xq = with.values({x}, {dq}).at(dq);
  const GradResult b = without.run({xq}, loss, {"x"});
  EXPECT_TRUE(arrays_close(a.grads.at("x"), b.grads.at("x"), 0, 0));
  EXPECT_FALSE(arrays_close(b.grads.at("x"), b0.grads.at("x"), 0, 0));  // quantization did change the point
}

TEST(OnnxGradModel, BadRequestsNameWhatWasExpected) {
  std::mt19937 rng(23);
  const Linear m(rng);
  Backprop bp(m.g, 1);
  auto expect_error = [&](auto&& fn, const std::string& part) {
    try {
      fn();
      ADD_FAILURE() << "no error, expected one mentioning " << part;
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_error([&] { bp.run({m.x}, m.loss(), {"nope"}); }, "no initializer or activation named 'nope'");
  expect_error([&] { bp.run({m.x}, m.loss(), {"w"}, {{"w", randn(rng, {2, 2}, 1)}}); }, "expects float32 of shape [5, 3]");
  expect_error([&] { bp.run({m.x}, m.loss(), {"w"}, {}, {{"x", randn(rng, {2, 2}, 1)}}); }, "perturbation has shape");
  expect_error([&] { bp.run({randn(rng, {16, 4}, 1)}, m.loss(), {"w"}); }, "input 'x' expects shape [16, 5]");
  expect_error([&] { bp.run({}, m.loss(), {"w"}); }, "graph has 1 inputs, 0 given");
  expect_error([&] { bp.hvp({m.x}, m.loss(), {{"w", randn(rng, {3}, 1)}}, 1e-3); }, "v['w'] has shape [3]");
  LossSpec ce;
  ce.labels = {0, 1};
  expect_error([&] { bp.run({m.x}, ce, {"w"}); }, "expects 16 labels");
  ce.labels.assign(16, 3);
  expect_error([&] { bp.run({m.x}, ce, {"w"}); }, "outside [0, 3)");
  LossSpec mse = m.loss();
  mse.target = randn(rng, {2}, 1);
  expect_error([&] { bp.run({m.x}, mse, {"w"}); }, "mse target must be float32 of shape [16, 3]");
  GraphBuilder b;
  b.output(b.op("Floor", {b.op("Relu", {b.input("x", ElemType::f32, {2, 3})})}, {}, 1, "round_me"));
  Backprop floor(b.finish(), 1);
  mse.target = randn(rng, {2, 3}, 1);
  expect_error([&] { floor.run({randn(rng, {2, 3}, 1)}, mse, {"x"}); }, "no gradient for op Floor at node 'round_me'");
}

}  // namespace
}  // namespace lowbit::onnx::test
