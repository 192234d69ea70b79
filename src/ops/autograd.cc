// The reverse-mode sweep: topological order by iterative DFS over recorded nodes, gradients
// summed per Var, leaf gradients accumulated, intermediate gradients freed as soon as used.
#include <unordered_map>
#include <unordered_set>

#include "lowbit/ops/tensor_math.h"
#include "lowbit/ops/var.h"

namespace lowbit {
namespace {
thread_local bool g_grad_enabled = true;
}  // namespace

Var::Var(Tensor value, bool requires_grad) : impl_(std::make_shared<VarImpl>()) {
  impl_->value = std::move(value);
  impl_->requires_grad = requires_grad;
}

Var Var::from_op(Tensor value, std::shared_ptr<Node> node) {
  Var v(std::move(value), true);
  v.impl_->node = std::move(node);
  return v;
}

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : saved_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = saved_; }

bool needs_grad(std::initializer_list<const Var*> inputs) {
  if (!g_grad_enabled) return false;
  for (const Var* v : inputs)
    if (v && v->defined() && v->requires_grad()) return true;
  return false;
}

void Var::backward(const Tensor& seed) const {
  LOWBIT_REQUIRE(defined() && requires_grad(), "backward", "called on a value that does not require a gradient");
  Tensor g0 = seed;
  if (!g0.defined()) {
    LOWBIT_REQUIRE(numel() == 1, "backward", "needs a seed gradient for a non-scalar of shape {}",
                   shape_str(shape()));
    g0 = Tensor::full(shape(), 1.0f);
  }
  LOWBIT_REQUIRE(g0.shape() == shape(), "backward", "seed shape {} differs from value shape {}",
                 shape_str(g0.shape()), shape_str(shape()));

  // Post-order DFS gives inputs before consumers; walk it backwards.
  std::vector<VarImpl*> order;
  std::unordered_set<VarImpl*> seen;
  std::vector<std::pair<VarImpl*, size_t>> stack{{impl_.get(), 0}};
  seen.insert(impl_.get());
  while (!stack.empty()) {
    auto& [v, next] = stack.back();
    const bool has_inputs = v->node && next < v->node->inputs().size();
    if (!has_inputs) {
      order.push_back(v);
      stack.pop_back();
      continue;
    }
    VarImpl* in = v->node->inputs()[next++].impl();
    if (in && in->requires_grad && seen.insert(in).second) stack.push_back({in, 0});
  }

  std::unordered_map<VarImpl*, Tensor> grads;
  grads[impl_.get()] = g0;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    VarImpl* v = *it;
    auto g = grads.find(v);
    if (g == grads.end()) continue;
    Tensor grad = std::move(g->second);
    grads.erase(g);
    if (!v->node) {  // leaf
      if (!v->grad.defined()) {
        v->grad = grad.clone();  // leaf gradients own their storage: later steps add in place
      } else {
        add_(v->grad, grad);
      }
      continue;
    }
    std::vector<Tensor> in_grads = v->node->backward(grad);
    const auto& inputs = v->node->inputs();
    LOWBIT_CHECK(in_grads.size() == inputs.size(), "{} returned {} gradients for {} inputs",
                 v->node->name(), in_grads.size(), inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      VarImpl* in = inputs[i].impl();
      if (!in || !in->requires_grad || !in_grads[i].defined()) continue;
      LOWBIT_CHECK(in_grads[i].shape() == in->value.shape(), "{} gradient {} has shape {}, input has {}",
                   v->node->name(), i, shape_str(in_grads[i].shape()), shape_str(in->value.shape()));
      auto [slot, fresh] = grads.try_emplace(in, in_grads[i]);
      // Out of place: a node may hand the same tensor to several inputs (e.g. add).
      if (!fresh) slot->second = add(slot->second, in_grads[i]);
    }
  }
}

}  // namespace lowbit
