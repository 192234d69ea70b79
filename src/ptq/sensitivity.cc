// Sensitivity metrics from single-layer and pairwise probes (sensitivity.h).
#include "lowbit/ptq/sensitivity.h"

#include <chrono>
#include <map>
#include <set>

#include "lowbit/core/error.h"

namespace lowbit::ptq {

Metric parse_metric(const std::string& s) {
  for (Metric m : {Metric::sqnr, Metric::measured, Metric::augmented, Metric::hessian, Metric::augmented_hessian, Metric::fisher})
    if (s == metric_name(m)) return m;
  throw ValueError(fmt::format("[ptq] unknown metric '{}' (expected sqnr, measured, augmented, hessian, augmented-hessian or fisher)", s));
}

const char* metric_name(Metric m) {
  switch (m) {
    case Metric::sqnr: return "sqnr";
    case Metric::measured: return "measured";
    case Metric::augmented: return "augmented";
    case Metric::hessian: return "hessian";
    case Metric::augmented_hessian: return "augmented-hessian";
    case Metric::fisher: return "fisher";
  }
  return "?";
}

std::string metric_unavailable(Metric) { return ""; }  // every metric is built in

double kendall_tau(const std::vector<double>& a, const std::vector<double>& b) {
  LOWBIT_CHECK(a.size() == b.size());
  double conc = 0, disc = 0, ta = 0, tb = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = i + 1; j < a.size(); ++j) {
      const double da = a[i] - a[j], db = b[i] - b[j];
      if (da == 0 && db == 0) continue;
      if (da == 0) ++ta;
      else if (db == 0) ++tb;
      else if ((da > 0) == (db > 0)) ++conc;
      else ++disc;
    }
  const double n0 = (conc + disc + ta) * (conc + disc + tb);
  return n0 > 0 ? (conc - disc) / std::sqrt(n0) : NAN;
}

std::vector<std::pair<size_t, size_t>> dependent_pairs(const QdqPlan& plan) {
  const onnx::Graph& g = plan.graph;
  std::map<int, size_t> layer_of;  // node id -> layer
  for (size_t i = 0; i < plan.layers.size(); ++i) layer_of[plan.layers[i].node_id] = i;
  std::set<std::pair<size_t, size_t>> out;
  for (size_t i = 0; i < plan.layers.size(); ++i) {
    std::vector<int> todo{g.nodes[static_cast<size_t>(plan.layers[i].node_id)].outputs[0]};
    std::set<int> seen;
    while (!todo.empty()) {
      const int v = todo.back();
      todo.pop_back();
      if (!seen.insert(v).second) continue;
      for (int c : g.values[static_cast<size_t>(v)].consumers) {
        if (auto it = layer_of.find(c); it != layer_of.end()) {
          if (it->second != i) out.insert({std::min(i, it->second), std::max(i, it->second)});
          continue;
        }
        for (int o : g.nodes[static_cast<size_t>(c)].outputs) todo.push_back(o);
      }
    }
  }
  return {out.begin(), out.end()};
}

Sensitivity measure_sensitivity(Oracle& o, Metric metric, const SensitivityOptions& opt,
                                const std::vector<std::pair<size_t, size_t>>& graph_pairs, const std::vector<std::vector<double>>* base) {
  const bool gradient = metric == Metric::hessian || metric == Metric::augmented_hessian || metric == Metric::fisher;
  LOWBIT_REQUIRE(!gradient || (base && base->size() == o.layers()), "ptq", "metric '{}' needs its gradient scores", metric_name(metric));
  if (const std::string why = metric_unavailable(metric); !why.empty()) throw ValueError("[ptq] " + why);
  LOWBIT_REQUIRE(!opt.precisions.empty(), "ptq", "no candidate precision below fp32");
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t before = static_cast<int64_t>(o.trajectory.size());
  const size_t n = o.layers(), k = opt.precisions.size();
  const LayerConfig fp(n, Precision::fp32);
  Sensitivity s;
  s.base = o.evaluate(fp);
  s.single.assign(n, std::vector<Measurement>(k));
  s.measured.assign(n, std::vector<double>(k));
  s.score.assign(n, std::vector<double>(k));
  for (size_t i = 0; i < n; ++i)
    for (size_t p = 0; p < k; ++p) {
      LayerConfig c = fp;
      c[i] = opt.precisions[p];
      s.single[i][p] = o.evaluate(c);
      s.measured[i][p] = s.single[i][p].loss - s.base.loss;
      // SQNR as a noise-to-signal power ratio: additive over layers (the DP sums scores), same order.
      s.score[i][p] = gradient ? (*base)[i][p] : metric == Metric::sqnr ? std::pow(10.0, -s.single[i][p].sqnr_db / 10.0) : s.measured[i][p];
    }
  if (metric == Metric::augmented || metric == Metric::augmented_hessian) {
    if (n <= opt.all_pairs_up_to) {
      for (size_t i = 0; i < n; ++i)
        for (size_t j = i + 1; j < n; ++j) s.pairs.push_back({i, j});
    } else {
      s.pairs = graph_pairs;
    }
    const size_t low = k - 1;  // the narrowest candidate: interactions are largest there
    std::vector<double> inter(n, 0.0);
    for (const auto& [i, j] : s.pairs) {
      LayerConfig c = fp;
      c[i] = c[j] = opt.precisions[low];
      const double d = o.evaluate(c).loss - s.single[i][low].loss - s.single[j][low].loss + s.base.loss;
      s.delta.push_back(d);
      inter[i] += std::fabs(d);
      inter[j] += std::fabs(d);
    }
    for (size_t i = 0; i < n; ++i)
      for (size_t p = 0; p < k; ++p) s.score[i][p] += opt.lambda * inter[i];
  }
  std::vector<double> a, b;
  for (size_t i = 0; i < n; ++i) a.push_back(s.score[i][k - 1]), b.push_back(s.measured[i][k - 1]);
  s.tau = kendall_tau(a, b);
  s.evaluations = static_cast<int64_t>(o.trajectory.size()) - before;
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

}  // namespace lowbit::ptq
