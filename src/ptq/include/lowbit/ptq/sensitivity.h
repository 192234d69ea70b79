// Per-layer sensitivity to quantization (spec ptq.md §2): each quantizable layer and candidate
// precision gets a score, larger = more sensitive. Metrics from single-layer probes (only layer
// i quantized, on the evaluation subset): output SQNR, measured loss delta, and the augmented
// score Ω_i + λ Σ_j |Δ_ij| with pairwise interactions Δ_ij = L(Q_i,Q_j) − L(Q_i) − L(Q_j) + L(∅)
// along producer→consumer edges (all pairs for small models). Hessian and Fisher need the
// engine's backward pass; they are refused where this build has none.
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

Sensitivity measure_sensitivity(Oracle& oracle, Metric metric, const SensitivityOptions& opt,
                                const std::vector<std::pair<size_t, size_t>>& pairs);

// Kendall's τ-b of two equally long sequences (ties in either count as neither concordant nor
// discordant). 1 = same order, −1 = reversed; NaN when either is constant.
double kendall_tau(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace lowbit::ptq
