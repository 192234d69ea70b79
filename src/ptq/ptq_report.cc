// The self-contained HTML report of `lowbit ptq` (ptq_run.h): accuracy–latency and accuracy–size
// fronts of every evaluated configuration (inline SVG from core/svg.h), the chosen point, the
// per-layer table and the search's trajectory, plus a small inline self-check for headless tests.
#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lowbit/core/svg.h"
#include "lowbit/ptq/ptq_run.h"

namespace lowbit::ptq {
namespace {

using nlohmann::json;

double num(const json& j, const char* k) { return j.contains(k) && j[k].is_number() ? j[k].get<double>() : NAN; }

// Points not dominated (smaller x and larger y are better), as a line in x order.
std::vector<svg::Point> front(std::vector<svg::Point> pts) {
  std::sort(pts.begin(), pts.end(), [](const svg::Point& a, const svg::Point& b) { return a.x < b.x || (a.x == b.x && a.y > b.y); });
  std::vector<svg::Point> f;
  for (const auto& p : pts)
    if (f.empty() || p.y > f.back().y) f.push_back(p);
  return f;
}

std::string plot(const json& s, const char* key, double scale, const std::string& title, const std::string& xlabel, const std::string& caption) {
  std::vector<svg::Point> all, chosen, refs;
  for (const auto& e : s["evaluated"])
    if (e.contains(key)) all.push_back({num(e, key) * scale, 100 * num(e, "top1"), e["key"].get<std::string>() + " (" + e["phase"].get<std::string>() + ")"});
  chosen.push_back({num(s["result"], key) * scale, 100 * num(s["result"], "top1"), "chosen: " + s["result"]["key"].get<std::string>()});
  refs.push_back({num(s["baseline"], key) * scale, 100 * num(s["baseline"], "top1"), "fp32"});
  if (s.contains("all_int8")) refs.push_back({num(s["all_int8"], key) * scale, 100 * num(s["all_int8"], "top1"), "all int8"});
  return svg::scatter(title, xlabel, s.value("accuracy_metric", std::string("top-1 accuracy")) + " (%)",
                      {{"evaluated", "#1f77b4", all, false}, {"Pareto front", "#2ca02c", front(all), true},
                       {"fp32 / all-int8", "#7f7f7f", refs, false}, {"chosen", "#d62728", chosen, false}},
                      false, false, caption, false);
}

}  // namespace

std::string ptq_html_report(const std::string& summary_json) {
  const json s = json::parse(summary_json);
  const json& r = s["result"];
  std::string body = fmt::format(
      "<h1>lowbit ptq: {}</h1><p>metric <b>{}</b>, search <b>{}</b>, budget {} — chosen: {} {:.4f} (fp32 {:.4f}), {:.2f} ms "
      "(fp32 {:.2f} ms, {:+.1f} %{}), {:.0f} KB weights, {} search evaluations. Evaluation subset: {} samples of {}; latency: batch {}, {} "
      "thread(s), median of repeats after warm-up.</p>",
      svg::escape(s["model"].get<std::string>()), svg::escape(s["metric"].get<std::string>()), svg::escape(s["search"].get<std::string>()),
      svg::escape(s["budget"].get<std::string>()), svg::escape(s.value("accuracy_metric", std::string("top-1 accuracy"))), num(r, "top1"), num(s["baseline"], "top1"), num(r, "latency_ms"),
      num(s["baseline"], "latency_ms"), -100 * num(r, "reduction_vs_fp32"),
      s.contains("all_int8") ? fmt::format("; all-int8 {:.2f} ms, {:+.1f} % vs it", num(s["all_int8"], "latency_ms"), -100 * num(r, "reduction_vs_int8")) : "",
      num(r, "size_bytes") / 1024, r["evaluations"].get<int64_t>(), s["eval"]["samples"].get<int64_t>(),
      svg::escape(s["eval"]["source"].get<std::string>()), s["latency_batch"].get<int64_t>(), s["threads"].get<int>());
  if (s.contains("unavailable"))
    for (const auto& u : s["unavailable"]) body += "<p class=\"note\">Not available: " + svg::escape(u.get<std::string>()) + "</p>";
  for (const auto& n : r["notes"]) body += "<p class=\"note\">" + svg::escape(n.get<std::string>()) + "</p>";
  body += plot(s, "latency_ms", 1.0, "Accuracy vs latency", "latency (ms, measured)",
               "Every configuration the search evaluated: top-1 on the evaluation subset, end-to-end latency measured when it was evaluated "
               "(the chosen point, fp32 and all-int8: timed side by side at the end).");
  body += plot(s, "size_bytes", 1.0 / 1024, "Accuracy vs size", "weights (KB)", "Every configuration the search evaluated: top-1 and weight bytes.");
  body += "<h2>Layers</h2><table><tr><th>layer</th><th>op</th><th>weights</th>";
  const json& l0 = s["layers"][0];
  std::vector<std::string> metrics;
  for (const auto& [k, v] : l0["scores"].items()) metrics.push_back(k);
  for (const auto& m : metrics) body += "<th>" + svg::escape(m) + "</th>";
  body += "<th>latency cost of fp32 (ms)</th><th>chosen</th></tr>";
  for (const auto& l : s["layers"]) {
    body += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td>", svg::escape(l["node"].get<std::string>()), svg::escape(l["op"].get<std::string>()),
                        l["weights"].get<int64_t>());
    for (const auto& m : metrics) {
      std::string cell;
      for (const auto& v : l["scores"][m]) cell += (cell.empty() ? "" : " / ") + fmt::format("{:.3g}", v.is_number() ? v.get<double>() : NAN);
      body += "<td>" + cell + "</td>";
    }
    body += fmt::format("<td>{:+.3f}</td><td>{}</td></tr>", num(l, "cost_fp32_ms"), l["chosen"].get<std::string>());
  }
  body += "</table><p>Scores per candidate precision (" + svg::escape(s["precisions"].dump()) +
          "), larger = more sensitive; sqnr as noise-to-signal power ratio of the logits; measured = loss increase.</p>";
  body += "<h2>Trajectory</h2><table><tr><th>#</th><th>phase</th><th>config (one letter per layer: F fp32, 8 int8, 4 w4a8)</th><th>top-1</th><th>loss</th><th>latency (ms)</th></tr>";
  int i = 0;
  for (const auto& e : s["evaluated"])
    body += fmt::format("<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{:.4f}</td><td>{:.4f}</td><td>{}</td></tr>", ++i,
                        svg::escape(e["phase"].get<std::string>()), svg::escape(e["key"].get<std::string>()), num(e, "top1"), num(e, "loss"),
                        e.contains("latency_ms") ? fmt::format("{:.2f}", num(e, "latency_ms")) : "");
  body += "</table>";
  return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>lowbit ptq report</title><style>"
         "body{font-family:sans-serif;max-width:1100px;margin:1em auto}table{border-collapse:collapse;font-size:13px}"
         "td,th{border:1px solid #ccc;padding:2px 6px}.note{color:#8c564b}.title{font-weight:bold}.tick{font-size:11px}"
         ".frame{fill:none;stroke:#999}.grid{stroke:#eee}figure{margin:1em 0}</style>"
         "<script>window.lowbitErrors=0;window.addEventListener('error',function(){window.lowbitErrors++;});</script></head><body>\n" +
         body +
         "<p id=\"lowbit-report-status\" data-status=\"pending\">self-check did not run</p>\n"
         "<script>(function(){var el=document.getElementById('lowbit-report-status');var why=[];"
         "var f=document.querySelectorAll('figure.plot svg');if(f.length!==2)why.push(f.length+' plots, want 2');"
         "f.forEach(function(s,i){if(s.querySelectorAll('circle.pt').length<3)why.push('plot '+i+' has too few points');});"
         "if(window.lowbitErrors)why.push(window.lowbitErrors+' script error(s)');"
         "el.setAttribute('data-status',why.length?'error':'ok');"
         "el.textContent=why.length?'self-check: '+why.join('; '):'self-check: '+f.length+' plots ok';})();"
         "</script>\n</body></html>\n";
}

}  // namespace lowbit::ptq
