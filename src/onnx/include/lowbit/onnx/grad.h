// Gradients through imported ONNX graphs: a forward pass through the op registry that keeps
// every value, then reverse-mode vector-Jacobian products per op (ops/vjp*.cc), a loss on one
// graph output, Hessian-vector products by central differences of gradients, and Hutchinson
// trace estimates. For mixed-precision PTQ sensitivities (docs/ONNX.md, "Gradients").
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lowbit/onnx/ir.h"

namespace lowbit::onnx {

enum class LossKind { cross_entropy, mse_to_target };  // mean over the batch
// cross_entropy: output (B, C) logits against `labels` (B ints in [0, C)). mse_to_target:
// (1/B) * sum over all elements of (output - target)^2, B = the output's first dimension.
struct LossSpec {
  LossKind kind = LossKind::cross_entropy;
  std::vector<int32_t> labels;
  Array target;
  int output = 0;  // graph output index the loss reads
};

struct GradResult {
  double loss = 0;
  std::vector<Array> outputs;          // every graph output of the forward pass
  std::map<std::string, Array> grads;  // d loss / d tensor for each name in wrt (f32, its shape)
};

class Backprop {
 public:
  explicit Backprop(const Graph& g, int intra_op = 0);  // a float graph as loaded (BN may or may not be folded)
  // Forward + backward. wrt: names of initializers (weights) or activations whose gradient is wanted.
  // replace: initializer name -> array used instead of the stored weight (same shape).
  // add: activation name -> perturbation added to that activation right after it is computed.
  GradResult run(const std::vector<Array>& inputs, const LossSpec& loss, const std::vector<std::string>& wrt,
                 const std::map<std::string, Array>& replace = {}, const std::map<std::string, Array>& add = {});
  // H·v over the named tensors (initializers and/or activations), by central difference of gradients
  // (g(x+εv) − g(x−εv)) / 2ε; *error_bound (if non-null) gets an estimate of the truncation+rounding error.
  // The piecewise-linear activations (Relu, LeakyRelu, Clip, HardSigmoid) keep the piece they are on
  // at x for both evaluations (see freeze_kinks), so H is the Hessian of the smooth piece at x, as
  // a double backward would give.
  std::map<std::string, Array> hvp(const std::vector<Array>& inputs, const LossSpec& loss,
                                   const std::map<std::string, Array>& v, double eps, double* error_bound = nullptr);
  // Forward only: the named values (initializers, graph inputs or activations) for these inputs.
  std::map<std::string, Array> values(const std::vector<Array>& inputs, const std::vector<std::string>& names);
  const Graph& graph() const { return graph_; }
  // On (the default), hvp freezes each piecewise-linear activation to its piece at the unperturbed
  // point. Off, gradients at x ± εv see kinks crossed within ε: every crossing adds a gradient
  // jump divided by 2ε, a bias that does not shrink with ε (negative "traces" on ReLU networks).
  void set_freeze_kinks(bool on) { freeze_kinks_ = on; }

 private:
  int value_id(const std::string& name, const char* what) const;
  std::vector<Array> forward(const std::vector<Array>& inputs, const std::map<int, Array>& replace,
                             const std::map<int, Array>& add);
  // Frozen pieces by node id: y = slope * x + intercept (elementwise, f32), set only inside hvp.
  void freeze_pieces(const std::vector<Array>& inputs);
  std::map<int, std::pair<Array, Array>> pieces_;
  bool freeze_kinks_ = true;
  Graph graph_;
  int intra_op_ = 0;
  std::vector<int> order_;  // topological order of the live nodes
};

struct TraceOptions {
  int min_iter = 4; int max_iter = 64; double rel_tol = 1e-2; uint64_t seed = 0; double eps = 1e-3;
  // Probe one tensor at a time: no cross-block terms in the variance (on ResNet-20 they swamp the
  // diagonal blocks), at |tensors| times the cost per iteration.
  bool separate = false;
};
// trace: the running mean after the last iteration; history: the running mean after each one.
struct TraceResult { std::map<std::string, double> trace; std::map<std::string, std::vector<double>> history; int iterations = 0; bool converged = false; double seconds = 0; };
// Hutchinson estimates of Tr(H_ii) per named tensor with Rademacher v (Philox, from core/rng.h) over all named
// tensors at once (v_i·(Hv)_i; cross terms have zero mean). Stops when every running mean's relative change,
// computed on ABSOLUTE values (|m_k − m_{k−1}| / |m_{k−1}|), is below rel_tol (a peer stopped early on a negative difference).
TraceResult hutchinson_traces(Backprop& bp, const std::vector<Array>& inputs, const LossSpec& loss,
                              const std::vector<std::string>& tensors, const TraceOptions& opt);

}  // namespace lowbit::onnx
