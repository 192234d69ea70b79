// Backprop: the forward pass (each live node's registry op run once, every value kept, optional
// weight replacements and activation perturbations), the loss, and the reverse sweep of VJPs
// (ops/vjp.h) over the nodes that lie between a requested tensor and the loss.
#include "lowbit/onnx/grad.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_ref.h"
#include "ops/vjp.h"

namespace lowbit::onnx {
namespace {

template <typename... Args>
[[noreturn]] void grad_fail(fmt::format_string<Args...> f, Args&&... args) {
  throw ValueError(fmt::format("[onnx.grad] {}", fmt::format(f, std::forward<Args>(args)...)));
}

Array added(const Array& a, const Array& b) {
  Array r = Array::empty(ElemType::f32, a.shape());
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  float* z = r.data<float>();
  for (int64_t i = 0; i < a.numel(); ++i) z[i] = x[i] + y[i];
  return r;
}

// slope * x (+ intercept), elementwise f32.
Array affine(const Array& slope, const Array& x, const Array* intercept) {
  Array r = Array::empty(ElemType::f32, x.shape());
  const float* a = slope.data<float>();
  const float* v = x.data<float>();
  const float* b = intercept ? intercept->data<float>() : nullptr;
  float* o = r.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) o[i] = a[i] * v[i] + (b ? b[i] : 0.f);
  return r;
}

bool piecewise_linear(const std::string& op) {
  return op == "Relu" || op == "LeakyRelu" || op == "Clip" || op == "HardSigmoid";
}

// The loss and its gradient with respect to the output y.
double loss_and_grad(const LossSpec& loss, const Array& y, Array& dy) {
  if (y.type() != ElemType::f32) grad_fail("loss output is {}, expected float32", elem_name(y.type()));
  dy = Array::empty(ElemType::f32, y.shape());
  if (loss.kind == LossKind::cross_entropy) {
    if (y.dim() != 2) grad_fail("cross-entropy expects (batch, classes) logits, got shape {}", shape_str(y.shape()));
    const int64_t B = y.shape()[0], C = y.shape()[1];
    if (static_cast<int64_t>(loss.labels.size()) != B)
      grad_fail("cross-entropy expects {} labels (the batch), got {}", B, loss.labels.size());
    for (size_t i = 0; i < loss.labels.size(); ++i)
      if (loss.labels[i] < 0 || loss.labels[i] >= C)
        grad_fail("label {} at position {} is outside [0, {})", loss.labels[i], i, C);
    Array probs = Array::empty(ElemType::f32, y.shape());
    kernels::softmax_cross_entropy_forward(B, C, y.data<float>(), loss.labels.data(), probs.data<float>());
    kernels::softmax_cross_entropy_backward(B, C, probs.data<float>(), loss.labels.data(), 1.f, dy.data<float>());
    // The loss value in double (finite-difference checks read it).
    std::vector<double> logits(y.data<float>(), y.data<float>() + y.numel()), p(static_cast<size_t>(y.numel()));
    return kernels::ref::softmax_cross_entropy_forward<double>(B, C, logits.data(), loss.labels.data(), p.data());
  }
  if (!loss.target.defined() || loss.target.shape() != y.shape() || loss.target.type() != ElemType::f32)
    grad_fail("mse target must be float32 of shape {}", shape_str(y.shape()));
  const double B = y.dim() > 0 ? static_cast<double>(std::max<int64_t>(y.shape()[0], 1)) : 1.0;
  const float* py = y.data<float>();
  const float* pt = loss.target.data<float>();
  float* g = dy.data<float>();
  double s = 0;
  for (int64_t i = 0; i < y.numel(); ++i) {
    const double d = static_cast<double>(py[i]) - pt[i];
    s += d * d;
    g[i] = static_cast<float>(2 * d / B);
  }
  return s / B;
}

// LOWBIT_ONNX_PROFILE=1 prints milliseconds per op type of each forward and backward sweep.
struct Profile {
  bool on = std::getenv("LOWBIT_ONNX_PROFILE") != nullptr;
  std::map<std::string, double> ms;
  std::chrono::steady_clock::time_point t;
  void start() {
    if (on) t = std::chrono::steady_clock::now();
  }
  void stop(const std::string& what) {
    if (on) ms[what] += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
  }
  ~Profile() {
    for (const auto& [k, v] : ms) std::fprintf(stderr, "[onnx.grad] %-28s %9.2f ms\n", k.c_str(), v);
  }
};

struct ThreadScope {
  int saved;
  explicit ThreadScope(int n) : saved(num_threads()) {
    if (n > 0) set_num_threads(n);
  }
  ~ThreadScope() { set_num_threads(saved); }
};

}  // namespace

Backprop::Backprop(const Graph& g, int intra_op) : graph_(g), intra_op_(intra_op) {
  if (graph_.optimized) grad_fail("needs a graph as loaded; this one was optimized (fused nodes have no gradient)");
  graph_.validate();
  order_ = graph_.topo_order();
}

int Backprop::value_id(const std::string& name, const char* what) const {
  const int v = graph_.find_value(name);
  if (v < 0) grad_fail("{}: no initializer or activation named '{}'", what, name);
  return v;
}

std::vector<Array> Backprop::forward(const std::vector<Array>& inputs, const std::map<int, Array>& replace,
                                     const std::map<int, Array>& add) {
  if (inputs.size() != graph_.inputs.size())
    grad_fail("graph has {} inputs, {} given", graph_.inputs.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Value& v = graph_.values[static_cast<size_t>(graph_.inputs[i])];
    const Array& a = inputs[i];
    if (v.type.elem != ElemType::undefined && a.type() != v.type.elem)
      grad_fail("input '{}' expects {}, got {}", v.name, elem_name(v.type.elem), elem_name(a.type()));
    bool ok = !v.type.has_shape || v.type.shape.size() == a.shape().size();
    for (size_t d = 0; ok && v.type.has_shape && d < a.shape().size(); ++d)
      ok = v.type.shape[d] < 0 || v.type.shape[d] == a.shape()[d];
    if (!ok) grad_fail("input '{}' expects shape {} (-1 = any), got {}", v.name, shape_str(v.type.shape), shape_str(a.shape()));
  }
  std::vector<Array> vals(graph_.values.size());
  for (const auto& [v, a] : graph_.constants) vals[static_cast<size_t>(v)] = a;
  for (const auto& [v, a] : replace) vals[static_cast<size_t>(v)] = a;
  for (size_t i = 0; i < inputs.size(); ++i) vals[static_cast<size_t>(graph_.inputs[i])] = inputs[i];
  auto perturb = [&](int v) {
    auto it = add.find(v);
    if (it == add.end()) return;
    Array& a = vals[static_cast<size_t>(v)];
    if (a.type() != ElemType::f32 || a.shape() != it->second.shape())
      grad_fail("add: '{}' is {} of shape {}, the perturbation has shape {}", graph_.values[static_cast<size_t>(v)].name,
                elem_name(a.type()), shape_str(a.shape()), shape_str(it->second.shape()));
    a = added(a, it->second);
  };
  for (int v : graph_.inputs) perturb(v);
  Profile prof;
  for (int n : order_) {
    const Node& node = graph_.nodes[static_cast<size_t>(n)];
    std::vector<const Array*> in;
    for (int v : node.inputs) in.push_back(v == kNoValue ? nullptr : &vals[static_cast<size_t>(v)]);
    prof.start();
    std::vector<Array> outs;
    if (auto piece = pieces_.find(n); piece != pieces_.end()) {
      outs.push_back(affine(piece->second.first, *in[0], &piece->second.second));
    } else {
      outs = run_op(node, graph_.opset, in);
    }
    prof.stop("forward " + node.op_type);
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      if (node.outputs[i] == kNoValue) continue;
      vals[static_cast<size_t>(node.outputs[i])] = std::move(outs[i]);
      perturb(node.outputs[i]);
    }
  }
  return vals;
}

void Backprop::freeze_pieces(const std::vector<Array>& inputs) {
  pieces_.clear();
  if (!freeze_kinks_) return;
  ThreadScope threads(intra_op_);
  const std::vector<Array> vals = forward(inputs, {}, {});
  for (int n : order_) {
    const Node& node = graph_.nodes[static_cast<size_t>(n)];
    if (!piecewise_linear(node.op_type) || node.outputs.size() != 1 || node.inputs.empty()) continue;
    const Array& x = vals[static_cast<size_t>(node.inputs[0])];
    const Array& y = vals[static_cast<size_t>(node.outputs[0])];
    if (x.type() != ElemType::f32) continue;
    // slope = f'(x): the op's own VJP applied to ones; intercept = f(x) - slope * x.
    const Array ones = filled(x.shape(), 1.f);
    VjpCtx c{node, graph_.opset, {}, {&y}, {&ones}, {true}, {}};
    for (int v : node.inputs) c.in.push_back(v == kNoValue ? nullptr : &vals[static_cast<size_t>(v)]);
    c.want.resize(c.in.size(), false);
    c.din.resize(c.in.size());
    (*find_vjp(node.op_type))(c);
    Array slope = c.din[0];
    Array intercept = Array::empty(ElemType::f32, x.shape());
    for (int64_t i = 0; i < x.numel(); ++i)
      intercept.data<float>()[i] = y.data<float>()[i] - slope.data<float>()[i] * x.data<float>()[i];
    pieces_[n] = {slope, intercept};
  }
}

std::map<std::string, Array> Backprop::values(const std::vector<Array>& inputs, const std::vector<std::string>& names) {
  std::vector<int> ids;
  for (const std::string& n : names) ids.push_back(value_id(n, "values"));
  ThreadScope threads(intra_op_);
  const std::vector<Array> vals = forward(inputs, {}, {});
  std::map<std::string, Array> out;
  for (size_t i = 0; i < names.size(); ++i) out[names[i]] = vals[static_cast<size_t>(ids[i])];
  return out;
}

GradResult Backprop::run(const std::vector<Array>& inputs, const LossSpec& loss, const std::vector<std::string>& wrt,
                         const std::map<std::string, Array>& replace, const std::map<std::string, Array>& add) {
  std::vector<int> wrt_ids;
  for (const std::string& n : wrt) wrt_ids.push_back(value_id(n, "wrt"));
  std::map<int, Array> rep, add_ids;
  for (const auto& [name, a] : replace) {
    const int v = value_id(name, "replace");
    const Array* w = graph_.constant(v);
    if (!w) grad_fail("replace: '{}' is not an initializer", name);
    if (a.type() != w->type() || a.shape() != w->shape())
      grad_fail("replace: '{}' expects {} of shape {}, got {} of shape {}", name, elem_name(w->type()),
                shape_str(w->shape()), elem_name(a.type()), shape_str(a.shape()));
    rep[v] = a;
  }
  for (const auto& [name, a] : add) {
    const int v = value_id(name, "add");
    if (graph_.is_constant(v)) grad_fail("add: '{}' is an initializer (use replace)", name);
    add_ids[v] = a;
  }
  if (loss.output < 0 || loss.output >= static_cast<int>(graph_.outputs.size()))
    grad_fail("loss output {} out of range: the graph has {} outputs", loss.output, graph_.outputs.size());

  ThreadScope threads(intra_op_);
  std::vector<Array> vals = forward(inputs, rep, add_ids);
  GradResult r;
  for (int v : graph_.outputs) r.outputs.push_back(vals[static_cast<size_t>(v)]);
  std::vector<Array> grads(vals.size());
  const int loss_v = graph_.outputs[static_cast<size_t>(loss.output)];
  r.loss = loss_and_grad(loss, vals[static_cast<size_t>(loss_v)], grads[static_cast<size_t>(loss_v)]);

  // Which values depend on a requested tensor: only their gradients are computed.
  std::vector<bool> needs(vals.size(), false);
  for (int v : wrt_ids) needs[static_cast<size_t>(v)] = true;
  for (int n : order_) {
    const Node& node = graph_.nodes[static_cast<size_t>(n)];
    bool any = false;
    for (int v : node.inputs) any = any || (v != kNoValue && needs[static_cast<size_t>(v)]);
    if (any)
      for (int v : node.outputs)
        if (v != kNoValue) needs[static_cast<size_t>(v)] = true;
  }
  Profile prof;
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
    const Node& node = graph_.nodes[static_cast<size_t>(*it)];
    VjpCtx c{node, graph_.opset, {}, {}, {}, {}, {}};
    bool have_grad = false, want_any = false;
    for (int v : node.outputs) {
      const bool g = v != kNoValue && grads[static_cast<size_t>(v)].defined();
      c.out.push_back(v == kNoValue ? nullptr : &vals[static_cast<size_t>(v)]);
      c.dout.push_back(g ? &grads[static_cast<size_t>(v)] : nullptr);
      have_grad = have_grad || g;
    }
    for (int v : node.inputs) {
      c.in.push_back(v == kNoValue ? nullptr : &vals[static_cast<size_t>(v)]);
      c.want.push_back(v != kNoValue && needs[static_cast<size_t>(v)]);
      want_any = want_any || c.want.back();
    }
    if (!have_grad || !want_any) continue;
    if (auto piece = pieces_.find(*it); piece != pieces_.end()) {
      Array& g = grads[static_cast<size_t>(node.inputs[0])];
      const Array d = affine(piece->second.first, *c.dout[0], nullptr);
      g = g.defined() ? added(g, d) : d;
      continue;
    }
    const VjpFn* vjp = find_vjp(node.op_type);
    if (!vjp) grad_fail("no gradient for op {} at node '{}'", node.op_type, node.name);
    c.din.resize(node.inputs.size());
    prof.start();
    (*vjp)(c);
    prof.stop("vjp " + node.op_type);
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (!c.want[i]) continue;
      const int v = node.inputs[i];
      Array& g = grads[static_cast<size_t>(v)];
      if (!c.din[i].defined()) {
        if (is_float(vals[static_cast<size_t>(v)].type()))
          grad_fail("no gradient for input {} of op {} at node '{}'", i, node.op_type, node.name);
        continue;
      }
      LOWBIT_CHECK(c.din[i].shape() == vals[static_cast<size_t>(v)].shape(), "gradient shape of input {} of {}", i,
                   node.describe());
      g = g.defined() ? added(g, c.din[i]) : c.din[i];
    }
  }
  for (size_t i = 0; i < wrt.size(); ++i) {
    const Array& x = vals[static_cast<size_t>(wrt_ids[i])];
    if (x.type() != ElemType::f32) grad_fail("wrt: '{}' is {}, expected float32", wrt[i], elem_name(x.type()));
    const Array& g = grads[static_cast<size_t>(wrt_ids[i])];
    r.grads[wrt[i]] = g.defined() ? g : Array::zeros(ElemType::f32, x.shape());
  }
  return r;
}

}  // namespace lowbit::onnx
