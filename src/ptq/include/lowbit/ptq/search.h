// Mixed-precision searches (spec ptq.md §3) over an Oracle: greedy in sensitivity order (stop at
// the first violation, or skip it and continue), bisection over how many of the least sensitive
// moves are applied (⌈log2 N⌉ + 1 probes; reports probes that contradict monotonicity), and a
// latency-optimal dynamic program over measured per-layer latency costs and sensitivities whose
// Pareto proposals are each verified by a real evaluation. Every answer is a measured point.
#pragma once

#include <string>
#include <vector>

#include "lowbit/ptq/oracle.h"

namespace lowbit::ptq {

// Accuracy budget: drop = base − top1, in points (0.5pt) or relative to base (1%); a band
// [lo, hi] accepts drops ≤ hi and lets bisection stop once a probe lands inside.
struct Budget {
  bool relative = true;
  double max_drop = 0.01;      // fraction of base (relative) or of 1 (absolute: 0.005 = 0.5pt)
  double band_lo = -1;         // < 0: no band
  double drop(double base, double top1) const { return relative ? (base - top1) / base : base - top1; }
  bool passes(double base, double top1) const { return drop(base, top1) <= max_drop + 1e-12; }
  bool in_band(double base, double top1) const { return band_lo >= 0 && passes(base, top1) && drop(base, top1) >= band_lo - 1e-12; }
};
// "1%" (relative) or "0.5pt" (absolute points); band "lo,hi" with the same units each.
Budget parse_budget(const std::string& max_drop, const std::string& band);
std::string budget_str(const Budget& b);

struct Move {
  size_t layer = 0;
  Precision to = Precision::int8;
  double score = 0;
};

// Moves in order of increasing score; a layer's wider candidate always precedes its narrower one.
// allowed[i][k]: candidate k of layer i may be used (see LatencyTable).
std::vector<Move> lowering_order(const std::vector<std::vector<double>>& score, const std::vector<Precision>& candidates,
                                 const std::vector<std::vector<bool>>& allowed);
LayerConfig apply_moves(size_t layers, const std::vector<Move>& moves, size_t k);

// Latency of keeping layer i at a wider precision, in the context of every other layer at the
// narrowest candidate, measured interleaved: cost[i][k] = lat(base with i at candidate k) − lat(base); fp32
// stored at cost_fp32[i]. A candidate measured slower (beyond noise_ms) than a wider one for the
// same layer is not allowed: no layer ships in a precision slower than a wider one in context.
struct LatencyTable {
  double base_ms = 0, fp32_ms = 0, noise_ms = 0;
  std::vector<std::vector<double>> cost;   // [layer][candidate]
  std::vector<double> cost_fp32;           // [layer]
  std::vector<std::vector<bool>> allowed;  // [layer][candidate]
  int64_t measurements = 0;
  double seconds = 0;
  bool cached = false;                     // read from the oracle's cache (same fingerprint)
};
LatencyTable measure_layer_latency(Oracle& oracle, const std::vector<Precision>& candidates);

struct SearchResult {
  std::string search;
  LayerConfig config;
  Measurement m;
  double latency_ms = NAN, size_bytes = NAN;
  bool met = false;                 // the budget holds for `config`
  int64_t evaluations = 0;          // accuracy probes this search asked (cached or not)
  double seconds = 0;
  std::vector<std::string> notes;   // monotonicity violations, skipped layers, ...
};

// Index of the fastest point (top1, latency_ms) that meets the budget, points[0] (the search's
// answer) on ties or when none does. For the final choice among configurations timed side by
// side: a uniform model the search passed over on a noisy per-layer table can measure faster.
size_t fastest_within(const Budget& b, double base_top1, const std::vector<std::pair<double, double>>& points);

SearchResult greedy_search(Oracle& o, const std::vector<Move>& moves, const Budget& b, double base_top1, bool skip_violations);
SearchResult bisection_search(Oracle& o, const std::vector<Move>& moves, const Budget& b, double base_top1);

// DP over layers: minimise the sum of latency costs subject to the sum of (clamped ≥ 0) scores
// ≤ S, for every S on a grid → Pareto proposals, bisected by a real evaluation; of every
// passing proposal evaluated and every passing uniform config in `extra` (each layer allowed at
// it), the one with the lowest latency measured side by side wins.
struct DpOptions {
  int bins = 400;
  bool size_objective = false;  // minimise weight bytes instead of latency (allowed set unchanged)
  std::vector<int64_t> weight_values;  // per layer, for the size objective
  std::vector<LayerConfig> extra;      // also considered at the end if they pass (e.g. all-int8)
  int sweep = 0;                       // > 0: also evaluate this many proposals spread along the
                                       // front (to compare metrics' fronts, not needed for the answer)
};

// Area dominated by the points (smaller x, larger y better) above y_ref and left of x_ref.
double hypervolume(std::vector<std::pair<double, double>> xy, double x_ref, double y_ref);
std::vector<LayerConfig> dp_proposals(const std::vector<std::vector<double>>& score, const std::vector<Precision>& candidates,
                                      const LatencyTable& lat, const DpOptions& opt);
SearchResult dp_search(Oracle& o, const std::vector<std::vector<double>>& score, const std::vector<Precision>& candidates,
                       const LatencyTable& lat, const Budget& b, double base_top1, const DpOptions& opt = {});

}  // namespace lowbit::ptq
