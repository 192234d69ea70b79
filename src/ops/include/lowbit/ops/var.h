// Var: a Tensor that takes part in reverse-mode autodiff. Ops on Vars (ops.h) compute with
// the kernels and, when grad mode is on and an input requires a gradient, record a Node whose
// backward() maps the output gradient to input gradients. Var is a handle: copies share the
// value, the gradient and the history (parameters keep identity across modules and optimizers).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/core/tensor.h"

namespace lowbit {

class Node;

struct VarImpl {
  Tensor value;
  Tensor grad;                  // accumulated gradient of a leaf (undefined until backward)
  std::shared_ptr<Node> node;   // the op that produced this value (null for leaves)
  bool requires_grad = false;
};

class Var {
 public:
  Var() = default;
  explicit Var(Tensor value, bool requires_grad = false);

  bool defined() const { return impl_ != nullptr; }
  const Tensor& value() const { return impl_->value; }
  Tensor& mutable_value() { return impl_->value; }  // in-place updates (optimizers)
  const Shape& shape() const { return impl_->value.shape(); }
  int64_t size(int64_t d) const { return impl_->value.size(d); }
  int64_t numel() const { return impl_->value.numel(); }
  bool requires_grad() const { return impl_ && impl_->requires_grad; }
  void set_requires_grad(bool r) { impl_->requires_grad = r; }
  const Tensor& grad() const { return impl_->grad; }
  Tensor& grad() { return impl_->grad; }
  void zero_grad() { impl_->grad = Tensor(); }
  const std::shared_ptr<Node>& node() const { return impl_->node; }
  VarImpl* impl() const { return impl_.get(); }

  Var detach() const { return Var(impl_->value, false); }  // same value, no history
  // Reverse-mode sweep from this scalar (or from `seed`, same shape) into every leaf that
  // requires a gradient; leaf gradients accumulate (+=) across calls until zero_grad().
  void backward(const Tensor& seed = Tensor()) const;

  // Used by ops: an output that records `node` (or none when no gradient is needed).
  static Var from_op(Tensor value, std::shared_ptr<Node> node);

 private:
  std::shared_ptr<VarImpl> impl_;
};

// One recorded operation. Subclasses keep whatever forward state the backward needs.
class Node {
 public:
  explicit Node(std::vector<Var> inputs) : inputs_(std::move(inputs)) {}
  virtual ~Node() = default;
  virtual std::string_view name() const = 0;
  // Gradients w.r.t. inputs_ (same order); an undefined Tensor means "no gradient".
  virtual std::vector<Tensor> backward(const Tensor& grad_out) = 0;
  const std::vector<Var>& inputs() const { return inputs_; }

 private:
  std::vector<Var> inputs_;
};

// Grad mode is per thread. NoGradGuard disables recording in its scope (evaluation, teachers).
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool saved_;
};

// True when an op on these inputs should record a node.
bool needs_grad(std::initializer_list<const Var*> inputs);

// Builds the output Var of an op: records NodeT(args...) only when needs_grad(inputs).
template <typename NodeT, typename... Args>
Var make_output(Tensor value, std::initializer_list<const Var*> inputs, Args&&... args) {
  if (!needs_grad(inputs)) return Var(std::move(value));
  return Var::from_op(std::move(value), std::make_shared<NodeT>(std::forward<Args>(args)...));
}

}  // namespace lowbit
