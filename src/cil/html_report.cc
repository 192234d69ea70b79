// The HTML report of class-incremental runs: plots drawn here as inline SVG (no scripts or fonts
// from the network), a degradation table, and a small inline self-check (html_report.h).
#include "lowbit/cil/html_report.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "lowbit/core/error.h"

namespace lowbit::cil {
namespace {

constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"};
constexpr double kW = 640, kH = 340, kLeft = 56, kRight = 150, kTop = 36, kBottom = 44;

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

// One preset's curve: per task the mean over seeds and the band [min, max] over seeds.
struct Series {
  std::string name;
  std::vector<double> mean, lo, hi;
};

// values[run][task] -> Series (percent).
Series series_of(const std::string& name, const std::vector<std::vector<double>>& values) {
  Series s{name, {}, {}, {}};
  const size_t T = values.front().size();
  for (size_t t = 0; t < T; ++t) {
    double sum = 0, lo = 1e300, hi = -1e300;
    for (const auto& run : values) {
      sum += run[t];
      lo = std::min(lo, run[t]);
      hi = std::max(hi, run[t]);
    }
    s.mean.push_back(100 * sum / static_cast<double>(values.size()));
    s.lo.push_back(100 * lo);
    s.hi.push_back(100 * hi);
  }
  return s;
}

// A line chart over tasks 1..T with a y range rounded out to tens (accuracy) or fives.
std::string line_chart(const std::string& id, const std::string& title, const std::string& ylabel,
                       const std::vector<Series>& series) {
  const size_t T = series.front().mean.size();
  double ymin = 1e300, ymax = -1e300;
  for (const auto& s : series) {
    ymin = std::min(ymin, *std::min_element(s.lo.begin(), s.lo.end()));
    ymax = std::max(ymax, *std::max_element(s.hi.begin(), s.hi.end()));
  }
  const double step = ymax - ymin > 20 ? 10 : 5;
  ymin = std::floor(ymin / step) * step;
  ymax = std::max(ymin + step, std::ceil(ymax / step) * step);
  const double pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  auto px = [&](size_t t) { return kLeft + (T > 1 ? pw * static_cast<double>(t) / static_cast<double>(T - 1) : pw / 2); };
  auto py = [&](double v) { return kTop + ph * (1 - (v - ymin) / (ymax - ymin)); };
  std::string o = fmt::format(
      "<svg class=\"lowbit-plot\" id=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" font-family=\"sans-serif\" font-size=\"12\">\n",
      id, kW, kH, kW, kH);
  o += fmt::format("<text x=\"{}\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>\n", kLeft, escape(title));
  for (double v = ymin; v <= ymax + 1e-9; v += step) {  // horizontal grid and y ticks
    o += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>", kLeft, kLeft + pw, py(v), py(v));
    o += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:g}</text>\n", kLeft - 6, py(v) + 4, v);
  }
  for (size_t t = 0; t < T; ++t)
    o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>", px(t), kTop + ph + 16, t + 1);
  o += fmt::format("\n<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">task</text>", kLeft + pw / 2, kH - 6);
  o += fmt::format("<text transform=\"translate(14 {:.1f}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                   kTop + ph / 2, escape(ylabel));
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const char* color = kColors[k % std::size(kColors)];
    std::string band, line;
    for (size_t t = 0; t < T; ++t) band += fmt::format("{}{:.1f},{:.1f}", t ? " " : "", px(t), py(s.hi[t]));
    for (size_t t = T; t-- > 0;) band += fmt::format(" {:.1f},{:.1f}", px(t), py(s.lo[t]));
    for (size_t t = 0; t < T; ++t) line += fmt::format("{}{:.1f} {:.1f}", t ? " L" : "M", px(t), py(s.mean[t]));
    o += fmt::format("<polygon class=\"band\" points=\"{}\" fill=\"{}\" fill-opacity=\"0.18\" stroke=\"none\"/>\n", band, color);
    o += fmt::format("<path class=\"mean\" data-preset=\"{}\" d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n",
                     escape(s.name), line, color);
    for (size_t t = 0; t < T; ++t)
      o += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"><title>{} task {}: {:.2f}</title></circle>",
                       px(t), py(s.mean[t]), color, escape(s.name), t + 1, s.mean[t]);
    const double ly = kTop + 14 + 18 * static_cast<double>(k);
    o += fmt::format("\n<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"/>", kW - kRight + 12,
                     kW - kRight + 32, ly, ly, color);
    o += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", kW - kRight + 38, ly + 4, escape(s.name));
  }
  return o + "</svg>\n";
}

struct PresetRuns {
  std::string name;
  std::vector<const RunResult*> runs;
};

std::vector<PresetRuns> collect(const HtmlReportInfo& info, const std::vector<RunResult>& all) {
  std::vector<PresetRuns> out;
  for (const auto& p : info.presets) {
    PresetRuns pr{p, runs_of(all, p)};
    if (pr.runs.empty()) throw ValueError(fmt::format("[cil report] preset '{}' has no runs", p));
    for (const auto* r : pr.runs)
      if (r->head.num_tasks() != pr.runs.front()->head.num_tasks())
        throw ValueError(fmt::format("[cil report] runs of preset '{}' differ in task count ({} vs {})", p,
                                     r->head.num_tasks(), pr.runs.front()->head.num_tasks()));
    out.push_back(pr);
  }
  return out;
}

const AccuracyMatrix& matrix(const RunResult& r, bool nme) { return nme ? r.nme : r.head; }

std::string accuracy_plot(const std::vector<PresetRuns>& presets, bool nme, const std::string& id) {
  std::vector<Series> series;
  for (const auto& p : presets) {
    std::vector<std::vector<double>> v;
    for (const auto* r : p.runs) v.push_back(matrix(*r, nme).seen);
    series.push_back(series_of(p.name, v));
  }
  return line_chart(id, nme ? "Accuracy on seen classes (nearest mean of exemplars)" : "Accuracy on seen classes (linear head)",
                    "accuracy (%)", series);
}

std::string forgetting_plot(const std::vector<PresetRuns>& presets, bool nme, const std::string& id) {
  std::vector<Series> series;
  for (const auto& p : presets) {
    std::vector<std::vector<double>> v;
    for (const auto* r : p.runs) {
      std::vector<double> f;
      for (int t = 0; t < matrix(*r, nme).num_tasks(); ++t) f.push_back(forgetting_after(matrix(*r, nme), t));
      v.push_back(f);
    }
    series.push_back(series_of(p.name, v));
  }
  return line_chart(id, std::string("Forgetting after each task (") + (nme ? "NME" : "linear head") + ")",
                    "forgetting (points)", series);
}

std::string degradation_table(const std::vector<PresetRuns>& presets, const std::string& baseline, bool nme) {
  struct Row {
    std::string name;
    Summary s;
  };
  std::vector<Row> rows;
  const Row* base = nullptr;
  for (const auto& p : presets) {
    std::vector<const AccuracyMatrix*> ms;
    for (const auto* r : p.runs) ms.push_back(&matrix(*r, nme));
    rows.push_back({p.name, summarize(ms)});
  }
  for (const auto& r : rows)
    if (r.name == baseline) base = &r;
  auto cell = [](const MeanStd& v) { return fmt::format("{:.2f} ± {:.2f}", 100 * v.mean, 100 * v.std); };
  auto delta = [&](double v, double b) { return base ? fmt::format("{:+.2f}", 100 * (v - b)) : std::string("–"); };
  std::string o = fmt::format(
      "<table class=\"degradation\"><caption>{} ({} seeds per preset; Δ = preset − {} in points)</caption>\n"
      "<tr><th>preset</th><th>avg incremental acc. %</th><th>final acc. %</th><th>forgetting</th>"
      "<th>Δ avg inc.</th><th>Δ final</th><th>Δ forgetting</th></tr>\n",
      nme ? "Nearest mean of exemplars" : "Linear head", presets.front().runs.size(), escape(baseline));
  for (const auto& r : rows)
    o += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                     escape(r.name), cell(r.s.avg_incremental_accuracy), cell(r.s.final_accuracy), cell(r.s.forgetting),
                     delta(r.s.avg_incremental_accuracy.mean, base ? base->s.avg_incremental_accuracy.mean : 0),
                     delta(r.s.final_accuracy.mean, base ? base->s.final_accuracy.mean : 0),
                     delta(r.s.forgetting.mean, base ? base->s.forgetting.mean : 0));
  return o + "</table>\n";
}

constexpr const char* kStyle =
    "body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
    "td:first-child,th:first-child{text-align:left}caption{text-align:left;font-weight:bold;margin-bottom:4px}"
    "svg{display:block;margin:1em 0}";

}  // namespace

int html_plot_count(const HtmlReportInfo& info, const std::vector<RunResult>& runs) {
  const bool nme_too = info.eval.head && info.eval.nme && !runs.empty() && runs.front().nme.num_tasks() > 0;
  return nme_too ? 3 : 2;
}

std::string html_report(const HtmlReportInfo& info, const std::vector<RunResult>& runs) {
  const std::vector<PresetRuns> presets = collect(info, runs);
  const bool primary_nme = !info.eval.head;
  const int plots = html_plot_count(info, runs);
  std::string o = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{}</style>\n"
      "<script>window.lowbitErrors=[];window.addEventListener('error',function(e){{window.lowbitErrors.push(String(e.message))}});"
      "</script></head>\n<body>\n<h1>{}</h1>\n<p>{}</p>\n",
      escape(info.title), kStyle, escape(info.title), escape(info.subtitle));
  o += degradation_table(presets, info.baseline, primary_nme);
  if (plots == 3) o += degradation_table(presets, info.baseline, true);
  o += accuracy_plot(presets, primary_nme, "accuracy-seen");
  if (plots == 3) o += accuracy_plot(presets, true, "accuracy-seen-nme");
  o += forgetting_plot(presets, primary_nme, "forgetting");
  o += "<p>Lines: mean over seeds; bands: minimum to maximum over seeds.</p>\n";
  o += fmt::format(
      "<p id=\"lowbit-report-status\" data-status=\"pending\" style=\"color:#888\">self-check pending</p>\n"
      "<script>(function(){{var want={},el=document.getElementById('lowbit-report-status'),why=[];"
      "var svgs=document.querySelectorAll('svg.lowbit-plot');if(svgs.length!==want)why.push(svgs.length+' plots, want '+want);"
      "svgs.forEach(function(s){{var n=s.querySelectorAll('path.mean').length;if(n!=={})why.push(s.id+': '+n+' curves');"
      "if(s.getBBox().width<=0)why.push(s.id+': not rendered')}});"
      "why=why.concat(window.lowbitErrors);el.setAttribute('data-status',why.length?'error':'ok');"
      "el.textContent=why.length?'self-check: '+why.join('; '):'self-check: '+svgs.length+' plots ok';}})();</script>\n"
      "</body></html>\n",
      plots, presets.size());
  return o;
}

}  // namespace lowbit::cil
