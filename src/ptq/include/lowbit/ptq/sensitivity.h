// Per-layer sensitivity to quantization (spec ptq.md §2): each quantizable layer and candidate
// precision gets a score, larger = more sensitive. Metrics from single-layer probes (only layer
// i quantized, on the evaluation subset): output SQNR, measured loss delta, and the augmented
// score Ω_i + λ Σ_j |Δ_ij| with pairwise interactions Δ_ij = L(Q_i,Q_j) − L(Q_i) − L(Q_j) + L(∅)
// along producer→consumer edges (all pairs for small models). Gradient metrics (grad_scores)
// use the ONNX engine's backward pass: HAWQ's Hessian trace × perturbation, Fisher/Taylor.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "lowbit/ptq/oracle.h"

namespace lowbit::ptq {

enum class Metric { sqnr, measured, augmented, hessian, augmented_hessian, fisher };
Metric parse_metric(const std::string& s);  // ValueError listing the names
const char* metric_name(Metric m);
std::string metric_unavailable(Metric m);   // "" when this build computes it

struct SensitivityOptions {
  std::vector<Precision> precisions;  // candidates below fp32 (fp32 is always allowed)
  double lambda = 1.0;                // weight of the interaction term (augmented)
  size_t all_pairs_up_to = 12;        // layers: all pairs at or below, graph edges above
};

struct Sensitivity {
  Measurement base;                                  // all fp32
  std::vector<std::vector<Measurement>> single;      // [layer][candidate]
  std::vector<std::pair<size_t, size_t>> pairs;      // interaction pairs (augmented)
  std::vector<double> delta;                         // Δ_ij per pair (lowest candidate precision)
  std::vector<std::vector<double>> score;            // [layer][candidate] for the chosen metric
  std::vector<std::vector<double>> measured;         // [layer][candidate] loss delta (the reference)
  double tau = NAN;                                  // Kendall τ of score vs measured (lowest candidate)
  int64_t evaluations = 0;
  double seconds = 0;
};

// Pairs (i, j), i < j, where layer j reads (through non-layer ops) what layer i writes.
std::vector<std::pair<size_t, size_t>> dependent_pairs(const QdqPlan& plan);

// base: [layer][candidate] scores of a gradient metric (grad_scores); required for hessian,
// augmented-hessian and fisher, whose score it becomes (plus interactions for augmented-hessian).
// The single-layer probes always run: they are the measured order τ compares against.
Sensitivity measure_sensitivity(Oracle& oracle, Metric metric, const SensitivityOptions& opt,
                                const std::vector<std::pair<size_t, size_t>>& pairs,
                                const std::vector<std::vector<double>>* base = nullptr);

// Gradient metrics on a labelled batch x (cross-entropy on the fp32 model):
//   hessian (HAWQ): Ω_i(p) = Tr(H_W)/n_W · ‖Q_p(W_i) − W_i‖² + Tr(H_X)/n_X · ‖Q(X_i) − X_i‖²
//     (traces by Hutchinson over every layer's weight and input activation jointly);
//   fisher (Taylor): Σ (∂L/∂Y_i ⊙ (Y_i,q − Y_i))², Y_i the layer's output with W_i and X_i quantized.
struct GradScores {
  std::vector<std::vector<double>> score;  // [layer][candidate]
  int iterations = 0;                      // Hutchinson iterations (hessian)
  bool converged = true;
  double seconds = 0;
  int64_t samples = 0;
};
struct GradOptions {
  int64_t samples = 32;
  int min_iter = 4, max_iter = 32;
  double rel_tol = 1e-2;
  uint64_t seed = 0;
  int threads = 1;
};
// labels: class ids (cross-entropy loss); empty: the loss is the squared distance of the first
// output to `target` (the fp32 outputs, batch first; fidelity without labels; not for fisher).
GradScores grad_scores(const QdqPlan& plan, const InputBatch& x, const std::vector<int32_t>& labels, Metric metric,
                       const std::vector<Precision>& candidates, const GradOptions& opt, const onnx::Array& target = {});

// Kendall's τ-b of two equally long sequences (ties in either count as neither concordant nor
// discordant). 1 = same order, −1 = reversed; NaN when either is constant.
double kendall_tau(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace lowbit::ptq
