// Assembles the report page from result rows: groups rows, draws each analysis with svg.h.
#include "lowbit/paradnn/report.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>

#include "lowbit/core/error.h"
#include "lowbit/nn/checkpoint.h"
#include "lowbit/paradnn/config.h"
#include "lowbit/core/svg.h"

namespace lowbit::paradnn {
namespace {

using nlohmann::json;
const double kNaN = std::nan("");
const char* const kCells[] = {"RNN", "LSTM", "GRU"};

bool ok(const json& r) { return r.value("status", "") == "ok"; }
std::string s(const json& r, const char* k) { return r.at(k).get<std::string>(); }
double d(const json& r, const char* k) { return r.at(k).get<double>(); }
int64_t hp(const json& r, const std::string& k) { return r.at("config").at(k).get<int64_t>(); }
std::string run_name(const json& r) {
  return fmt::format("{} {} t={}", s(r, "engine"), s(r, "mode"), r.at("threads").get<int>());
}
// Config identity without batch-independent engine fields: matches rows across engines.
std::string config_id(const json& r) { return fmt::format("{}|{}|t{}", r.at("config").dump(), s(r, "mode"), r.at("threads").get<int>()); }

struct Page {
  std::string body;
  int plots = 0;
  void add_plot(const std::string& fig) { body += fig, ++plots; }
};

// Heatmaps of utilization: one per (family, run, panel value).
void heatmaps(const std::vector<json>& rows, Page& page) {
  std::map<std::string, std::vector<const json*>> groups;  // "family|run|panel"
  for (const auto& r : rows) {
    if (!ok(r)) continue;
    const std::string f = s(r, "family");
    const std::string panel = f == "fc"    ? fmt::format("layers={}", hp(r, "layers"))
                              : f == "rnn" ? fmt::format("{} length={}", kCells[hp(r, "cell") % 3], hp(r, "length"))
                                           : fmt::format("{} image={}", hp(r, "bottleneck") ? "bottleneck" : "basic", hp(r, "image"));
    groups[s(r, "family") + "|" + run_name(r) + "|" + panel].push_back(&r);
  }
  for (const auto& [key, members] : groups) {
    const std::string family = key.substr(0, key.find('|'));
    const std::string xk = family == "fc" ? "nodes" : family == "rnn" ? "embedding" : "filters";
    const std::string yk = family == "fc" ? "batch" : family == "rnn" ? "layers" : "blocks";
    std::set<int64_t> xs, ys;
    for (const json* r : members) xs.insert(hp(*r, xk)), ys.insert(hp(*r, yk));
    std::vector<int64_t> xv(xs.begin(), xs.end()), yv(ys.begin(), ys.end());
    std::vector<std::vector<double>> sum(yv.size(), std::vector<double>(xv.size(), 0)), cnt = sum;
    for (const json* r : members) {
      const size_t xi = std::find(xv.begin(), xv.end(), hp(*r, xk)) - xv.begin(), yi = std::find(yv.begin(), yv.end(), hp(*r, yk)) - yv.begin();
      sum[yi][xi] += d(*r, "utilization"), cnt[yi][xi] += 1;
    }
    std::vector<std::string> xt, yt;
    for (auto v : xv) xt.push_back(std::to_string(v));
    for (auto v : yv) yt.push_back(std::to_string(v));
    for (size_t y = 0; y < yv.size(); ++y)
      for (size_t x = 0; x < xv.size(); ++x) sum[y][x] = cnt[y][x] > 0 ? sum[y][x] / cnt[y][x] : kNaN;
    const auto first = key.find('|'), second = key.rfind('|');
    page.add_plot(svg::heatmap(fmt::format("Utilization: {} {} ({})", key.substr(0, first), key.substr(first + 1, second - first - 1),
                                           key.substr(second + 1)),
                               xk, yk, xt, yt, sum,
                               "Achieved FLOP/s over the measured peak of the threads used; cells average the other hyperparameters."));
  }
}

// The engine pairs the speedup plots compare (first over second): lowbit fp32 against the fp32
// peers, lowbit int8 against ONNX Runtime running the same QDQ model, and what int8 and bf16
// gain over lowbit's own fp32. Losses are listed only against peers.
struct Pair {
  const char* ours;
  const char* other;
  bool peer;
};
constexpr Pair kPairs[] = {{"lowbit", "pytorch", true},           {"lowbit", "onnxruntime", true},
                           {"lowbit-int8", "onnxruntime-int8", true}, {"lowbit-int8", "lowbit", false},
                           {"lowbit-bf16", "lowbit", false}};

std::string loss_reason(const json& ours, const json& other, double ratio) {
  // A heuristic label, not a measurement: the first rule that fits these numbers.
  const double ms = d(ours, "step_ms");
  const bool small_fc_fp32 = s(other, "engine") == "onnxruntime" && s(other, "family") == "fc" && s(other, "mode") == "infer" &&
                             hp(other, "batch") <= 128;
  if (ratio > 0.9) return "within 10 %: run-to-run noise on a shared machine is this large";
  if (small_fc_fp32) return "small batch: dnnl_sgemm repacks the constant weights on every call, ONNX Runtime prepacks them once";
  if (ms < 2) return "step under 2 ms: fixed per-op cost (graph recording, allocation, thread fork/join) dominates";
  if (d(ours, "utilization") < 0.5 * d(other, "utilization"))
    return "kernel efficiency: lowbit's GEMM/conv reach under half the peer's utilization at these shapes";
  return "kernel efficiency at these shapes";
}

void speedups(const std::vector<json>& rows, Page& page, std::string& losses) {
  std::map<std::string, std::map<std::string, const json*>> by_engine;  // engine -> config_id -> row
  for (const auto& r : rows)
    if (ok(r)) by_engine[s(r, "engine")][config_id(r)] = &r;
  size_t color = 0;
  for (const Pair& pair : kPairs) {
    const auto a = by_engine.find(pair.ours), b = by_engine.find(pair.other);
    if (a == by_engine.end() || b == by_engine.end()) continue;
    std::map<std::string, std::vector<svg::Point>> by_mode;
    for (const auto& [id, other] : b->second) {
      const auto it = a->second.find(id);
      if (it == a->second.end()) continue;
      const json& ours = *it->second;
      const double ratio = d(ours, "examples_per_second") / d(*other, "examples_per_second");
      by_mode[s(*other, "mode")].push_back({d(*other, "params"), ratio, fmt::format("{} {:.2f}x", other->at("config").dump(), ratio)});
      if (ratio < 1 && pair.peer)
        losses += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2f}x</td><td>{}</td></tr>",
                              svg::escape(other->at("config").dump()), pair.ours, pair.other, s(*other, "mode"),
                              other->at("threads").get<int>(), ratio, loss_reason(ours, *other, ratio));
    }
    for (const auto& [mode, pts] : by_mode) {
      double lo = 1e300, hi = 0;
      int wins = 0;
      for (const auto& p : pts) lo = std::min(lo, p.x), hi = std::max(hi, p.x), wins += p.y >= 1.0;
      const std::vector<svg::Point> parity = {{lo, 1.0, "parity"}, {hi, 1.0, "parity"}};
      const std::string name = fmt::format("{} {}", pair.other, mode);
      page.add_plot(svg::scatter(fmt::format("Speedup of {} over {} {}", pair.ours, pair.other, mode), "parameters",
                                 fmt::format("{} / {} examples/s", pair.ours, pair.other),
                                 {{name, svg::color(color++), pts, false}, {"parity", "#555", parity, true}}, true, true,
                                 fmt::format("{} is at least as fast on {} of {} configurations.", pair.ours, wins, pts.size())));
    }
  }
}

void roofline(const std::vector<json>& rows, Page& page) {
  std::map<std::string, std::map<std::string, std::vector<svg::Point>>> by_prec;  // precision -> run -> points
  std::map<std::string, double> peak;
  double bw = 0;
  for (const auto& r : rows) {
    if (!ok(r)) continue;
    const std::string prec = r.value("precision", "fp32");
    by_prec[prec][run_name(r)].push_back({d(r, "arithmetic_intensity"), d(r, "achieved_flops"), r.at("config").dump()});
    peak[prec] = std::max(peak[prec], d(r, "peak_flops"));
    bw = std::max(bw, r.value("bandwidth", 0.0));
  }
  for (const auto& [prec, runs] : by_prec) {
    std::vector<svg::Series> series;
    double lo = 1e300, hi = 0;
    size_t i = 0;
    for (const auto& [name, pts] : runs) {
      series.push_back({name, svg::color(i++), pts, false});
      for (const auto& p : pts) lo = std::min(lo, p.x), hi = std::max(hi, p.x);
    }
    std::vector<svg::Point> roof;
    for (double x = lo / 2; x <= hi * 2; x *= 1.25) roof.push_back({x, bw > 0 ? std::min(peak[prec], bw * x) : peak[prec], ""});
    series.push_back({fmt::format("ceiling {:.0f} G/s, {:.1f} GB/s", peak[prec] / 1e9, bw / 1e9), "#000", roof, true});
    page.add_plot(svg::scatter(fmt::format("Roofline ({})", prec), "arithmetic intensity (FLOPs per weight byte)", "achieved FLOP/s",
                               series, true, true,
                               "Ceiling: min(measured compute peak of the most threads used, triad bandwidth x intensity)."));
  }
}

void regressions(const std::vector<json>& rows, Page& page, std::string& notes) {
  std::map<std::string, std::vector<const json*>> groups;
  for (const auto& r : rows)
    if (ok(r)) groups[s(r, "family") + "|" + run_name(r)].push_back(&r);
  for (const auto& [key, members] : groups) {
    const std::string family = key.substr(0, key.find('|'));
    std::vector<std::string> names;
    for (const auto& n : hyperparameter_names(family)) {
      std::set<int64_t> vals;
      for (const json* r : members) vals.insert(hp(*r, n));
      if (vals.size() > 1) names.push_back(n);
    }
    if (names.empty() || members.size() <= names.size() + 1) {
      notes += fmt::format("<li>{}: {} rows, {} varying hyperparameters: too few for a regression.</li>", svg::escape(key),
                           members.size(), names.size());
      continue;
    }
    std::vector<std::vector<double>> X;
    std::vector<double> y;
    for (const json* r : members) {
      std::vector<double> row;
      // Geometric knobs enter as log2; the categorical ones (block type, cell kind) as their code.
      for (const auto& n : names)
        row.push_back(n == "bottleneck" || n == "cell" ? static_cast<double>(hp(*r, n))
                                                       : std::log2(static_cast<double>(std::max<int64_t>(1, hp(*r, n)))));
      X.push_back(row);
      y.push_back(d(*r, "utilization"));
    }
    const Regression reg = fit_standardized(X, y);
    page.add_plot(svg::bars(fmt::format("Which knob matters: {} (R² = {:.2f})", key, reg.r2), names, reg.coef,
                            fmt::format("Change in utilization per standard deviation of log2(hyperparameter) (block type and cell kind: of their code); {} rows, intercept {:.4f}.",
                                        members.size(), reg.intercept)));
  }
}

std::string table(const std::vector<json>& rows, bool failures) {
  std::string t = failures ? "<table><tr><th>config</th><th>engine</th><th>mode</th><th>threads</th><th>status</th></tr>"
                           : "<table><tr><th>config</th><th>engine</th><th>mode</th><th>threads</th><th>examples/s</th><th>step ms "
                             "(median / p90)</th><th>GFLOP/s</th><th>utilization</th><th>params</th><th>peak MB</th></tr>";
  for (const auto& r : rows) {
    if (ok(r) == failures) continue;
    t += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td>", svg::escape(r.at("config").dump()), s(r, "engine"),
                     s(r, "mode"), r.at("threads").get<int>());
    if (failures) t += fmt::format("<td>{}</td></tr>", svg::escape(s(r, "status")));
    else
      t += fmt::format("<td>{:.1f}</td><td>{:.2f} / {:.2f}</td><td>{:.2f}</td><td>{:.1f}%</td><td>{}</td><td>{:.0f}</td></tr>",
                       d(r, "examples_per_second"), d(r, "step_ms"), r.value("step_ms_p90", kNaN), d(r, "achieved_flops") / 1e9,
                       100 * d(r, "utilization"), r.at("params").get<int64_t>(), r.value("peak_memory_bytes", 0.0) / 1e6);
  }
  return t + "</table>";
}

constexpr const char* kStyle =
    "body{font-family:sans-serif;margin:20px;max-width:1300px}figure.plot{display:inline-block;margin:8px;vertical-align:top}"
    "figcaption{font-size:12px;color:#444;max-width:540px}.title{font-size:14px;font-weight:bold}.tick{font-size:11px}"
    ".label{font-size:12px}.cellv{font-size:10px}.frame{fill:none;stroke:#888}.grid{stroke:#ddd}"
    "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}";

// Only checks that the page rendered (it runs last, after layout of everything above): every
// figure holds an SVG with a drawn size and marks; script errors are shown instead.
constexpr const char* kCheck =
    "<script>window.addEventListener('error',function(e){document.getElementById('render-status').textContent='error: '+e.message;});"
    "(function(){var f=document.querySelectorAll('figure.plot'),n=0;"
    "f.forEach(function(x){var s=x.querySelector('svg');if(s&&s.getBBox().width>0&&s.querySelectorAll('rect,circle,polyline').length>0)n++;});"
    "var el=document.getElementById('render-status');if(el.textContent.indexOf('error')<0)"
    "el.textContent=(n==f.length&&n==@PLOTS@?'ok':'incomplete')+': '+n+' of '+f.length+' plots drawn';})();</script>";

}  // namespace

std::string render_report(const std::vector<json>& rows, ReportSummary* summary) {
  Page page;
  std::string losses, notes;
  std::set<std::string> cpus, engines;
  int ok_rows = 0;
  for (const auto& r : rows) {
    ok_rows += ok(r);
    if (r.contains("cpu")) cpus.insert(s(r, "cpu"));
    engines.insert(s(r, "engine"));
  }
  page.body += "<h2>Utilization heatmaps</h2>";
  heatmaps(rows, page);
  page.body += "<h2>Speedup versus parameters</h2>";
  speedups(rows, page, losses);
  page.body += "<h2>Roofline</h2>";
  roofline(rows, page);
  page.body += "<h2>Which hyperparameter matters</h2>";
  regressions(rows, page, notes);
  if (!notes.empty()) page.body += "<ul>" + notes + "</ul>";
  page.body += "<h2>Where lowbit loses</h2>";
  page.body += losses.empty() ? "<p>Nowhere in these rows.</p>"
                              : "<table><tr><th>config</th><th>lowbit engine</th><th>peer</th><th>mode</th><th>threads</th><th>lowbit / "
                                "peer</th><th>likely reason</th></tr>" + losses + "</table>";
  page.body += "<h2>Failures</h2>" + table(rows, true) + "<h2>All measurements</h2>" + table(rows, false);
  if (summary) *summary = {static_cast<int>(rows.size()), ok_rows, page.plots};
  std::string cpu;
  for (const auto& c : cpus) cpu += (cpu.empty() ? "" : ", ") + c;
  std::string eng;
  for (const auto& e : engines) eng += (eng.empty() ? "" : ", ") + e;
  std::string check = kCheck;
  check.replace(check.find("@PLOTS@"), 7, std::to_string(page.plots));
  return fmt::format("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>lowbit ParaDnn report</title><style>{}</style></head>"
                     "<body><h1>lowbit ParaDnn report</h1><p>{} rows ({} ok) on {}; engines: {}.</p><p id=\"render-status\">not checked</p>{}{}</body></html>\n",
                     kStyle, rows.size(), ok_rows, svg::escape(cpu.empty() ? "unknown CPU" : cpu), svg::escape(eng), page.body,
                     check);
}

ReportSummary write_report(const std::vector<std::string>& inputs, const std::string& out) {
  std::vector<json> rows;
  for (const auto& path : inputs) {
    std::ifstream f(path);
    if (!f) throw IoError(fmt::format("[paradnn report] cannot read '{}'", path));
    std::string line;
    for (int n = 1; std::getline(f, line); ++n) {
      if (line.empty()) continue;
      try {
        json r = json::parse(line);
        for (const char* k : {"family", "config", "engine", "mode", "threads", "status"})
          if (!r.contains(k)) throw ValueError(fmt::format("no \"{}\"", k));
        rows.push_back(std::move(r));
      } catch (const std::exception& e) {
        throw ValueError(fmt::format("[paradnn report] {}:{} is not a sweep row: {}", path, n, e.what()));
      }
    }
  }
  if (rows.empty()) throw ValueError("[paradnn report] the results files hold no rows");
  ReportSummary s;
  nn::write_file_atomic(out, render_report(rows, &s));
  return s;
}

}  // namespace lowbit::paradnn
