// Greedy, bisection and latency-optimal DP searches over an Oracle (search.h).
#include "lowbit/ptq/search.h"

#include <algorithm>
#include <cmath>
#include <chrono>
#include <limits>
#include <set>

#include "lowbit/core/error.h"

namespace lowbit::ptq {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double parse_drop(const std::string& s, bool* relative) {
  auto num = [&](size_t len) {
    try {
      size_t used = 0;
      const double v = std::stod(s.substr(0, len), &used);
      if (used == len) return v;
    } catch (const std::exception&) {
    }
    throw ValueError(fmt::format("[ptq] accuracy drop '{}' is not a number followed by % (relative) or pt (points)", s));
  };
  if (s.size() > 1 && s.back() == '%') return *relative = true, num(s.size() - 1) / 100.0;
  if (s.size() > 2 && s.substr(s.size() - 2) == "pt") return *relative = false, num(s.size() - 2) / 100.0;
  throw ValueError(fmt::format("[ptq] accuracy drop '{}' needs a unit: '1%' (relative to fp32) or '0.5pt' (points of top-1)", s));
}

// Finishes a result: the final config's measurement (from the oracle's cache), latency, size.
SearchResult finish(Oracle& o, SearchResult r, const Budget& b, double base, Clock::time_point t0, int64_t traj0) {
  r.m = o.evaluate(r.config);
  o.trajectory.pop_back();  // a re-read of a probe already counted, not a new probe
  r.met = b.passes(base, r.m.top1);
  r.latency_ms = o.latency_ms(r.config);
  r.size_bytes = o.size_bytes(r.config);
  r.evaluations = static_cast<int64_t>(o.trajectory.size()) - traj0;
  r.seconds = since(t0);
  return r;
}

}  // namespace

Budget parse_budget(const std::string& max_drop, const std::string& band) {
  Budget b;
  if (!band.empty()) {
    const size_t comma = band.find(',');
    LOWBIT_REQUIRE(comma != std::string::npos, "ptq", "--band '{}' must be lo,hi (e.g. 0.5%,1%)", band);
    bool r1 = true, r2 = true;
    b.band_lo = parse_drop(band.substr(0, comma), &r1);
    b.max_drop = parse_drop(band.substr(comma + 1), &r2);
    LOWBIT_REQUIRE(r1 == r2, "ptq", "--band '{}' mixes % and pt", band);
    LOWBIT_REQUIRE(b.band_lo >= 0 && b.band_lo <= b.max_drop, "ptq", "--band '{}' needs 0 <= lo <= hi", band);
    b.relative = r1;
    return b;
  }
  b.max_drop = parse_drop(max_drop.empty() ? "1%" : max_drop, &b.relative);
  return b;
}

std::string budget_str(const Budget& b) {
  const double f = 100.0;
  const char* u = b.relative ? "%" : "pt";
  if (b.band_lo >= 0) return fmt::format("drop in [{:g}{}, {:g}{}]", f * b.band_lo, u, f * b.max_drop, u);
  return fmt::format("drop <= {:g}{}", f * b.max_drop, u);
}

std::vector<Move> lowering_order(const std::vector<std::vector<double>>& score, const std::vector<Precision>& cand,
                                 const std::vector<std::vector<bool>>& allowed) {
  std::vector<Move> moves;
  for (size_t i = 0; i < score.size(); ++i) {
    double floor = -std::numeric_limits<double>::infinity();  // a narrower move never precedes a wider one
    for (size_t k = 0; k < cand.size(); ++k) {
      if (!allowed.empty() && !allowed[i][k]) continue;
      floor = std::max(floor, score[i][k]);
      moves.push_back(Move{i, cand[k], floor});
    }
  }
  std::stable_sort(moves.begin(), moves.end(), [](const Move& a, const Move& b) { return a.score < b.score; });
  return moves;
}

LayerConfig apply_moves(size_t layers, const std::vector<Move>& moves, size_t k) {
  LayerConfig c(layers, Precision::fp32);
  for (size_t m = 0; m < k && m < moves.size(); ++m) c[moves[m].layer] = moves[m].to;
  return c;
}

size_t fastest_within(const Budget& b, double base_top1, const std::vector<std::pair<double, double>>& points) {
  size_t best = 0;
  for (size_t i = 1; i < points.size(); ++i)
    if (b.passes(base_top1, points[i].first) && (!b.passes(base_top1, points[best].first) || points[i].second < points[best].second)) best = i;
  return best;
}

LatencyTable measure_layer_latency(Oracle& o, const std::vector<Precision>& cand) {
  const auto t0 = Clock::now();
  const size_t n = o.layers(), k = cand.size();
  LatencyTable t;
  // One interleaved round set: base twice (their difference estimates the noise), fp32, then
  // base with each layer at fp32 and at each wider candidate.
  const LayerConfig base(n, cand.back());
  std::vector<LayerConfig> cs{base, base, LayerConfig(n, Precision::fp32)};
  for (size_t i = 0; i < n; ++i)
    for (size_t p = 0; p <= k; ++p) {
      if (p + 1 == k) continue;  // the base itself
      LayerConfig c = base;
      c[i] = p == k ? Precision::fp32 : cand[p];
      cs.push_back(c);
    }
  // Cached with the evaluations: every run on the same model, data and threads (any metric or
  // search) decides with the same table, and a rerun does not re-time it.
  std::string key = "latency-table:" + config_key(base);
  for (Precision p : cand) key += std::string(":") + precision_name(p);
  std::vector<double> ms;
  if (auto it = o.series_cache.find(key); it != o.series_cache.end() && it->second.size() == cs.size()) {
    ms = it->second;
    t.cached = true;
  } else {
    ms = o.latency_interleaved(cs);
    o.store_series(key, ms);
  }
  t.base_ms = std::min(ms[0], ms[1]);
  t.fp32_ms = ms[2];
  t.noise_ms = std::max(std::fabs(ms[0] - ms[1]), 0.01 * t.base_ms);
  t.cost.assign(n, std::vector<double>(k, 0.0));
  t.cost_fp32.assign(n, 0.0);
  t.allowed.assign(n, std::vector<bool>(k, true));
  t.measurements = static_cast<int64_t>(cs.size());
  size_t at = 3;
  const double base_mid = 0.5 * (ms[0] + ms[1]);
  for (size_t i = 0; i < n; ++i) {
    for (size_t p = 0; p <= k; ++p) {
      if (p + 1 == k) continue;
      (p == k ? t.cost_fp32[i] : t.cost[i][p]) = ms[at++] - base_mid;
    }
    for (size_t p = 0; p < k; ++p) {
      bool ok = !(t.cost_fp32[i] < t.cost[i][p] - t.noise_ms);
      for (size_t w = 0; w < p; ++w) ok = ok && !(t.cost[i][w] < t.cost[i][p] - t.noise_ms);
      t.allowed[i][p] = ok;
    }
  }
  t.seconds = since(t0);
  return t;
}

SearchResult greedy_search(Oracle& o, const std::vector<Move>& moves, const Budget& b, double base, bool skip) {
  const auto t0 = Clock::now();
  const int64_t traj0 = static_cast<int64_t>(o.trajectory.size());
  SearchResult r{skip ? "greedy-skip" : "greedy", LayerConfig(o.layers(), Precision::fp32), {}, NAN, NAN, false, 0, 0, {}};
  std::set<size_t> frozen;
  o.expected_evaluations = static_cast<int64_t>(o.trajectory.size() + moves.size());
  for (const Move& m : moves) {
    if (frozen.count(m.layer)) continue;
    LayerConfig c = r.config;
    c[m.layer] = m.to;
    if (b.passes(base, o.evaluate(c).top1)) {
      r.config = c;
      continue;
    }
    if (!skip) {
      r.notes.push_back(fmt::format("stopped at the first violation: layer {} to {}", m.layer, precision_name(m.to)));
      break;
    }
    frozen.insert(m.layer);
    r.notes.push_back(fmt::format("skipped layer {} to {} (violates the budget)", m.layer, precision_name(m.to)));
  }
  return finish(o, r, b, base, t0, traj0);
}

SearchResult bisection_search(Oracle& o, const std::vector<Move>& moves, const Budget& b, double base) {
  const auto t0 = Clock::now();
  const int64_t traj0 = static_cast<int64_t>(o.trajectory.size());
  SearchResult r{"bisection", LayerConfig(o.layers(), Precision::fp32), {}, NAN, NAN, false, 0, 0, {}};
  const size_t n = moves.size();
  o.expected_evaluations = static_cast<int64_t>(o.trajectory.size()) + 1 + static_cast<int64_t>(std::ceil(std::log2(std::max<size_t>(n, 1))));
  std::vector<std::pair<size_t, double>> probes{{0, base}};  // (k, top-1); k = 0 is fp32
  size_t lo = 0, hi = n + 1, best = 0;          // k = lo passes (fp32), k = hi fails
  auto probe = [&](size_t k) {
    const Measurement m = o.evaluate(apply_moves(o.layers(), moves, k));
    const bool ok = b.passes(base, m.top1);
    probes.push_back({k, m.top1});
    if (ok) best = std::max(best, k);
    return std::make_pair(ok, b.in_band(base, m.top1));
  };
  if (n > 0) {
    const auto [ok, band] = probe(n);
    if (ok) lo = n;
    else hi = n;
    (void)band;
  }
  while (hi - lo > 1 && hi <= n) {
    const size_t mid = lo + (hi - lo) / 2;
    const auto [ok, band] = probe(mid);
    if (band) {
      best = mid;
      r.notes.push_back(fmt::format("stopped early: k = {} lands in the band", mid));
      break;
    }
    if (ok) lo = mid;
    else hi = mid;
  }
  // Accuracy should not rise as more layers are lowered; say so where a probe contradicts it.
  for (const auto& [k1, a1] : probes)
    for (const auto& [k2, a2] : probes)
      if (k1 < k2 && a2 > a1 + 1e-12)
        r.notes.push_back(fmt::format("monotonicity violated: k = {} scores {:.4f} but k = {} (fewer layers lowered) {:.4f}", k2, a2, k1, a1));
  r.config = apply_moves(o.layers(), moves, best);
  return finish(o, r, b, base, t0, traj0);
}

std::vector<LayerConfig> dp_proposals(const std::vector<std::vector<double>>& score, const std::vector<Precision>& cand,
                                      const LatencyTable& lat, const DpOptions& opt) {
  const size_t n = score.size(), k = cand.size();
  // Options per layer: fp32 (score 0) and each allowed candidate.
  struct Opt {
    Precision p;
    double cost;
    int units;
  };
  double total = 0;
  for (size_t i = 0; i < n; ++i) {
    double mx = 0;
    for (size_t p = 0; p < k; ++p)
      if (lat.allowed[i][p]) mx = std::max(mx, score[i][p]);
    total += mx;
  }
  const double unit = total > 0 ? total / opt.bins : 1.0;
  const int B = opt.bins + static_cast<int>(n);  // room for rounding every layer's units up
  std::vector<std::vector<Opt>> opts(n);
  auto cost = [&](size_t i, Precision p, double latency) {
    if (!opt.size_objective) return latency;
    LOWBIT_REQUIRE(opt.weight_values.size() == n, "ptq", "the size objective needs every layer's weight count");
    return weight_bytes_per_value(p) * static_cast<double>(opt.weight_values[i]);
  };
  for (size_t i = 0; i < n; ++i) {
    opts[i].push_back(Opt{Precision::fp32, cost(i, Precision::fp32, lat.cost_fp32[i]), 0});
    for (size_t p = 0; p < k; ++p)
      if (lat.allowed[i][p])
        opts[i].push_back(Opt{cand[p], cost(i, cand[p], lat.cost[i][p]), static_cast<int>(std::ceil(std::max(score[i][p], 0.0) / unit - 1e-9))});
  }
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // best[i+1][u]: least cost of layers 0..i using exactly u units; pick[i][u] the option.
  std::vector<std::vector<double>> best(n + 1, std::vector<double>(static_cast<size_t>(B) + 1, kInf));
  std::vector<std::vector<int>> pick(n, std::vector<int>(static_cast<size_t>(B) + 1, -1));
  best[0][0] = 0;
  for (size_t i = 0; i < n; ++i)
    for (int u = 0; u <= B; ++u) {
      if (best[i][static_cast<size_t>(u)] == kInf) continue;
      for (size_t o = 0; o < opts[i].size(); ++o) {
        const int v = u + opts[i][o].units;
        if (v > B) continue;
        const double c = best[i][static_cast<size_t>(u)] + opts[i][o].cost;
        if (c < best[i + 1][static_cast<size_t>(v)]) {
          best[i + 1][static_cast<size_t>(v)] = c;
          pick[i][static_cast<size_t>(v)] = static_cast<int>(o);
        }
      }
    }
  std::vector<LayerConfig> out;
  double last = kInf;
  for (int u = 0; u <= B; ++u) {
    if (!(best[n][static_cast<size_t>(u)] < last - 1e-12)) continue;  // not faster than a less sensitive proposal
    last = best[n][static_cast<size_t>(u)];
    LayerConfig c(n);
    for (size_t i = n, v = static_cast<size_t>(u); i-- > 0;) {
      const Opt& o = opts[i][static_cast<size_t>(pick[i][v])];
      c[i] = o.p;
      v -= static_cast<size_t>(o.units);
    }
    out.push_back(c);
  }
  return out;  // increasing predicted sensitivity, decreasing predicted latency
}

SearchResult dp_search(Oracle& o, const std::vector<std::vector<double>>& score, const std::vector<Precision>& cand,
                       const LatencyTable& lat, const Budget& b, double base, const DpOptions& opt) {
  const auto t0 = Clock::now();
  const int64_t traj0 = static_cast<int64_t>(o.trajectory.size());
  SearchResult r{"dp", LayerConfig(o.layers(), Precision::fp32), {}, NAN, NAN, false, 0, 0, {}};
  const std::vector<LayerConfig> props = dp_proposals(score, cand, lat, opt);
  r.notes.push_back(fmt::format("{} Pareto proposals from the DP", props.size()));
  o.expected_evaluations = static_cast<int64_t>(o.trajectory.size()) + 1 + static_cast<int64_t>(std::ceil(std::log2(std::max<size_t>(props.size(), 1))));
  // Bisection over the proposals (predicted latency falls with the index): largest passing index.
  std::vector<size_t> passing;
  long lo = -1, hi = static_cast<long>(props.size());  // lo passes (fp32), hi fails
  auto probe = [&](long k) {
    const bool ok = b.passes(base, o.evaluate(props[static_cast<size_t>(k)]).top1);
    if (ok) passing.push_back(static_cast<size_t>(k));
    return ok;
  };
  if (!props.empty()) {
    if (probe(hi - 1)) lo = hi - 1;
    else hi = hi - 1;
  }
  while (hi - lo > 1) {
    const long mid = lo + (hi - lo) / 2;
    if (probe(mid)) lo = mid;
    else hi = mid;
  }
  if (opt.sweep > 1 && props.size() > 1) {
    std::set<long> seen;
    for (int k = 0; k < opt.sweep; ++k) {
      const long at = std::lround(static_cast<double>(k) * static_cast<double>(props.size() - 1) / (opt.sweep - 1));
      if (seen.insert(at).second) probe(at);
    }
    std::sort(passing.begin(), passing.end());
    passing.erase(std::unique(passing.begin(), passing.end()), passing.end());
  }
  // The answer: of the evaluated passing proposals (and fp32), the lowest latency, measured
  // interleaved so that all candidates see the same machine load.
  std::vector<LayerConfig> cs{r.config};
  for (size_t k : passing) cs.push_back(props[k]);
  for (const LayerConfig& c : opt.extra) {  // uniform configs: only where every layer allows them
    bool ok = c.size() == o.layers();
    for (size_t i = 0; ok && i < c.size(); ++i)
      for (size_t p = 0; p < cand.size(); ++p)
        if (cand[p] == c[i] && !lat.allowed[i][p]) ok = false;
    if (ok && b.passes(base, o.evaluate(c).top1)) cs.push_back(c);
  }
  std::vector<double> ms;
  if (opt.size_objective)
    for (const auto& c : cs) ms.push_back(o.size_bytes(c));
  else
    ms = o.latency_interleaved(cs);
  const size_t best = static_cast<size_t>(std::min_element(ms.begin(), ms.end()) - ms.begin());
  r.config = cs[best];
  if (cs.size() > 2 && !opt.size_objective) r.notes.push_back(fmt::format("{} passing proposals timed side by side; the fastest wins", cs.size() - 1));
  if (opt.size_objective) r.search = "dp-size";
  return finish(o, r, b, base, t0, traj0);
}

double hypervolume(std::vector<std::pair<double, double>> xy, double x_ref, double y_ref) {
  std::sort(xy.begin(), xy.end());
  double area = 0, y_prev = y_ref;
  for (const auto& [x, y] : xy) {
    if (x >= x_ref || y <= y_prev) continue;  // dominated by a point left of it, or outside
    area += (x_ref - x) * (y - y_prev);
    y_prev = y;
  }
  return area;
}

}  // namespace lowbit::ptq
