// Gradient-based sensitivities (sensitivity.h, grad_scores): HAWQ's Hessian trace times the
// quantization perturbation of each layer's weight and input activation, and the Fisher/Taylor
// score of a vendor tool, both on the fp32 graph through onnx::Backprop.
#include <algorithm>
#include <chrono>
#include <cmath>

#include "lowbit/core/error.h"
#include "lowbit/kernels/bf16.h"
#include "lowbit/onnx/grad.h"
#include "lowbit/ptq/calibrate.h"
#include "lowbit/ptq/sensitivity.h"

namespace lowbit::ptq {
namespace {

double sq_diff(const onnx::Array& a, const onnx::Array& b) {
  double s = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double d = static_cast<double>(b.data<float>()[i]) - a.data<float>()[i];
    s += d * d;
  }
  return s;
}

// Q(X) − X for X's uint8 per-tensor parameters (the QuantizeLinear/DequantizeLinear pair).
onnx::Array act_error(const onnx::Array& x, std::pair<float, int> qp, Precision p) {
  onnx::Array e = onnx::Array::empty(onnx::ElemType::f32, x.shape());
  if (p == Precision::bf16) {  // the input rounded to bfloat16
    for (int64_t i = 0; i < x.numel(); ++i) e.data<float>()[i] = kernels::round_to_bf16(x.data<float>()[i]) - x.data<float>()[i];
    return e;
  }
  const double s = qp.first, z = qp.second;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double v = x.data<float>()[i];
    const double q = std::clamp(std::nearbyint(v / s) + z, 0.0, 255.0);
    e.data<float>()[i] = static_cast<float>((q - z) * s - v);
  }
  return e;
}

}  // namespace

GradScores grad_scores(const QdqPlan& plan, const InputBatch& x_all, const std::vector<int32_t>& labels_all, Metric metric,
                       const std::vector<Precision>& cand, const GradOptions& opt, const onnx::Array& target) {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t n = std::min<int64_t>(opt.samples, x_all.samples());
  LOWBIT_REQUIRE(n >= 1, "ptq", "no samples for the gradient metric");
  const std::vector<onnx::Array> x = x_all.rows(0, n).arrays;
  // Labels: cross-entropy. Without: the squared distance to the fp32 outputs (target), whose
  // Hessian (Gauss-Newton J^T J at the fp32 point) HAWQ reads; its gradient there is zero.
  const bool to_target = labels_all.empty();
  LOWBIT_REQUIRE(!to_target || (target.numel() > 0 && target.shape()[0] >= n), "ptq", "a gradient metric needs labels or fp32 target outputs");
  LOWBIT_REQUIRE(!to_target || metric != Metric::fisher, "ptq",
                 "--metric fisher needs labels (its gradient at the fp32 outputs is zero); use hessian, sqnr or measured");
  const onnx::LossSpec loss = to_target ? onnx::LossSpec{onnx::LossKind::mse_to_target, {}, batch_rows(target, 0, n), 0}
                                        : onnx::LossSpec{onnx::LossKind::cross_entropy, std::vector<int32_t>(labels_all.begin(), labels_all.begin() + n), {}, 0};
  // The plan's graph is the loaded one with constants and BatchNorm folded into Conv: standard
  // ONNX nodes only (checked), which Backprop differentiates; the flag marks internal forms.
  onnx::Graph g = plan.graph;
  for (const onnx::Node& node : g.nodes)
    LOWBIT_REQUIRE(node.dead || node.domain.empty() || node.domain == "ai.onnx", "ptq", "node '{}' ({}::{}) has no gradient", node.name, node.domain, node.op_type);
  g.optimized = false;
  auto name = [&](int v) { return g.values[static_cast<size_t>(v)].name; };
  onnx::Backprop bp(g, opt.threads);
  GradScores out;
  out.samples = n;
  const size_t L = plan.layers.size();
  out.score.assign(L, std::vector<double>(cand.size(), 0.0));
  std::vector<std::string> weights, inputs, outputs;
  for (const QuantLayer& l : plan.layers) {
    const onnx::Node& node = g.nodes[static_cast<size_t>(l.node_id)];
    weights.push_back(name(node.inputs[1]));  // an activation × activation MatMul: its second input
    inputs.push_back(name(l.in));
    outputs.push_back(name(node.outputs[0]));
  }
  std::vector<std::string> wanted = inputs;
  for (size_t i = 0; i < L; ++i)
    if (plan.layers[i].act_act()) wanted.push_back(weights[i]);
  const auto acts = bp.values(x, wanted);
  // The perturbation of a layer's "weight": Q(W) − W, or for a MatMul of two activations the
  // quantization error of its second input at that precision.
  auto b_error = [&](size_t i, Precision p) { return act_error(acts.at(weights[i]), plan.act.at(plan.layers[i].in_b), p); };
  if (metric == Metric::hessian || metric == Metric::augmented_hessian) {
    std::vector<std::string> tensors = weights;
    for (const auto& in : inputs)
      if (std::find(tensors.begin(), tensors.end(), in) == tensors.end()) tensors.push_back(in);
    const onnx::TraceResult tr = onnx::hutchinson_traces(bp, x, loss, tensors, onnx::TraceOptions{opt.min_iter, opt.max_iter, opt.rel_tol, opt.seed, 1e-3});
    out.iterations = tr.iterations;
    out.converged = tr.converged;
    for (size_t i = 0; i < L; ++i) {
      const bool aa = plan.layers[i].act_act();
      const onnx::Array& w = aa ? acts.at(weights[i]) : *g.constant(g.nodes[static_cast<size_t>(plan.layers[i].node_id)].inputs[1]);
      const onnx::Array& xa = acts.at(inputs[i]);
      const double hx = tr.trace.at(inputs[i]) / static_cast<double>(xa.numel());
      const double hw = tr.trace.at(weights[i]) / static_cast<double>(w.numel());
      for (size_t p = 0; p < cand.size(); ++p) {
        const onnx::Array ex = act_error(xa, plan.act.at(plan.layers[i].in), cand[p]);
        double dx = 0;
        for (int64_t k = 0; k < ex.numel(); ++k) dx += static_cast<double>(ex.data<float>()[k]) * ex.data<float>()[k];
        double dw = 0;
        if (aa) {
          const onnx::Array eb = b_error(i, cand[p]);
          for (int64_t k = 0; k < eb.numel(); ++k) dw += static_cast<double>(eb.data<float>()[k]) * eb.data<float>()[k];
        } else {
          dw = sq_diff(w, quantized_weight(plan, i, cand[p]));
        }
        out.score[i][p] = hw * dw + hx * dx;
      }
    }
  } else {
    LOWBIT_REQUIRE(metric == Metric::fisher, "ptq", "grad_scores computes hessian or fisher, not '{}'", metric_name(metric));
    // Every layer's output becomes a graph output (after the logits the loss reads).
    onnx::Graph g2 = g;
    for (const QuantLayer& l : plan.layers) g2.outputs.push_back(g.nodes[static_cast<size_t>(l.node_id)].outputs[0]);
    onnx::Backprop bp2(g2, opt.threads);
    const onnx::GradResult fp = bp2.run(x, loss, outputs);
    for (size_t i = 0; i < L; ++i) {
      const onnx::Array& gy = fp.grads.at(outputs[i]);
      const onnx::Array& y = fp.outputs[1 + i];
      for (size_t p = 0; p < cand.size(); ++p) {
        const onnx::Array dx = act_error(acts.at(inputs[i]), plan.act.at(plan.layers[i].in), cand[p]);
        // Y_q: W_i replaced by Q(W_i) and X_i moved to Q(X_i); no gradient needed.
        const onnx::GradResult q =
            plan.layers[i].act_act()
                ? bp2.run(x, loss, {}, {}, {{inputs[i], dx}, {weights[i], b_error(i, cand[p])}})
                : bp2.run(x, loss, {}, {{weights[i], quantized_weight(plan, i, cand[p])}}, {{inputs[i], dx}});
        const onnx::Array& yq = q.outputs[1 + i];
        double sum = 0;
        for (int64_t k = 0; k < y.numel(); ++k) {
          const double t = static_cast<double>(gy.data<float>()[k]) * (static_cast<double>(yq.data<float>()[k]) - y.data<float>()[k]);
          sum += t * t;
        }
        out.score[i][p] = sum;
      }
    }
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace lowbit::ptq
