// SVG drawing for the report: plain strings, fixed sizes, no scripts, no external resources.
#include "lowbit/core/svg.h"

#include <algorithm>

#include <fmt/format.h>

namespace lowbit::svg {
namespace {

constexpr double kW = 560, kH = 360, kLeft = 70, kRight = 150, kTop = 30, kBottom = 50;

std::string figure(const std::string& body, double w, double h, const std::string& title, const std::string& caption) {
  return fmt::format(
      "<figure class=\"plot\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\">"
      "<text x=\"{2}\" y=\"18\" class=\"title\">{3}</text>{4}</svg><figcaption>{5}</figcaption></figure>\n",
      w, h, kLeft, escape(title), body, escape(caption));
}

std::string num(double v) {
  if (v == 0) return "0";
  const double a = std::fabs(v);
  if (a >= 1e9) return fmt::format("{:.3g}G", v / 1e9);
  if (a >= 1e6) return fmt::format("{:.3g}M", v / 1e6);
  if (a >= 1e3) return fmt::format("{:.3g}k", v / 1e3);
  return fmt::format("{:.3g}", v);
}

struct Axis {
  double lo, hi;
  bool log;
  double map(double v, double a, double b) const {
    const double t = log ? (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)) : (v - lo) / (hi - lo);
    return a + t * (b - a);
  }
  std::vector<double> ticks() const {
    std::vector<double> t;
    if (log) {
      for (double p = std::floor(std::log10(lo)); p <= std::ceil(std::log10(hi)); p += 1) {
        const double v = std::pow(10.0, p);
        if (v >= lo * 0.999 && v <= hi * 1.001) t.push_back(v);
      }
      if (t.size() < 3) {  // less than a few decades: label the ends too
        t.insert(t.begin(), lo);
        t.push_back(hi);
      }
    } else {
      for (int i = 0; i <= 4; ++i) t.push_back(lo + (hi - lo) * i / 4);
    }
    return t;
  }
};

Axis make_axis(std::vector<double> v, bool log, bool zero_based = true) {
  v.erase(std::remove_if(v.begin(), v.end(), [&](double x) { return !std::isfinite(x) || (log && x <= 0); }), v.end());
  if (v.empty()) return {log ? 1.0 : 0.0, log ? 10.0 : 1.0, log};
  double lo = *std::min_element(v.begin(), v.end()), hi = *std::max_element(v.begin(), v.end());
  if (log) {
    lo /= 1.5, hi *= 1.5;
  } else {
    const double pad = hi > lo ? 0.08 * (hi - lo) : std::max(1.0, std::fabs(hi) * 0.1);
    lo = zero_based ? std::min(lo - pad, 0.0 < lo ? 0.0 : lo - pad) : lo - pad, hi += pad;
  }
  return {lo, hi, log};
}

}  // namespace

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else if (c == '"') o += "&quot;";
    else o += c;
  }
  return o;
}

std::string color(size_t i) {
  static const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
  return kPalette[i % 8];
}

std::string heatmap(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                    const std::vector<std::string>& xticks, const std::vector<std::string>& yticks,
                    const std::vector<std::vector<double>>& values, const std::string& caption) {
  double vmax = 0;
  for (const auto& row : values)
    for (double v : row)
      if (std::isfinite(v)) vmax = std::max(vmax, v);
  const double cw = std::max(40.0, 360.0 / std::max<size_t>(1, xticks.size()));
  const double ch = std::max(24.0, 240.0 / std::max<size_t>(1, yticks.size()));
  const double w = std::max(480.0, kLeft + cw * xticks.size() + 40), h = kTop + ch * yticks.size() + kBottom;  // room for the title
  std::string b;
  for (size_t y = 0; y < yticks.size(); ++y) {
    b += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tick\" text-anchor=\"end\">{}</text>", kLeft - 6,
                     kTop + ch * (y + 0.5) + 4, escape(yticks[y]));
    for (size_t x = 0; x < xticks.size(); ++x) {
      const double v = values[y][x];
      const double t = std::isfinite(v) && vmax > 0 ? v / vmax : 0;
      const std::string fill = std::isfinite(v) ? fmt::format("rgb({},{},{})", int(255 - 200 * t), int(255 - 120 * t), 255)
                                                : std::string("#eee");
      b += fmt::format("<rect class=\"cell\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{}</title></rect>",
                       kLeft + cw * x, kTop + ch * y, cw - 1, ch - 1, fill, std::isfinite(v) ? fmt::format("{:.4f}", v) : "no data");
      if (std::isfinite(v))
        b += fmt::format("<text x=\"{}\" y=\"{}\" class=\"cellv\" text-anchor=\"middle\">{:.1f}%</text>", kLeft + cw * (x + 0.5),
                         kTop + ch * (y + 0.5) + 4, 100 * v);
    }
  }
  for (size_t x = 0; x < xticks.size(); ++x)
    b += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tick\" text-anchor=\"middle\">{}</text>", kLeft + cw * (x + 0.5),
                     kTop + ch * yticks.size() + 16, escape(xticks[x]));
  b += fmt::format("<text x=\"{}\" y=\"{}\" class=\"label\" text-anchor=\"middle\">{}</text>", kLeft + cw * xticks.size() / 2,
                   h - 10, escape(xlabel));
  b += fmt::format("<text x=\"14\" y=\"{}\" class=\"label\" transform=\"rotate(-90 14 {})\" text-anchor=\"middle\">{}</text>",
                   kTop + ch * yticks.size() / 2, kTop + ch * yticks.size() / 2, escape(ylabel));
  return figure(b, w, h, title, caption);
}

std::string scatter(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                    const std::vector<Series>& series, bool logx, bool logy, const std::string& caption, bool zero_based) {
  std::vector<double> xs, ys;
  for (const auto& s : series)
    for (const auto& p : s.points) xs.push_back(p.x), ys.push_back(p.y);
  const Axis ax = make_axis(xs, logx, zero_based), ay = make_axis(ys, logy, zero_based);
  const double x0 = kLeft, x1 = kW - kRight, y0 = kH - kBottom, y1 = kTop;
  std::string b = fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" class=\"frame\"/>", x0, y1, x1 - x0, y0 - y1);
  for (double t : ax.ticks())
    b += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tick\" text-anchor=\"middle\">{}</text>", ax.map(t, x0, x1), y0 + 16, num(t));
  for (double t : ay.ticks())
    b += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tick\" text-anchor=\"end\">{}</text><line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" class=\"grid\"/>",
                     x0 - 4, ay.map(t, y0, y1) + 4, num(t), x0, x1, ay.map(t, y0, y1), ay.map(t, y0, y1));
  for (size_t i = 0; i < series.size(); ++i) {
    const auto& s = series[i];
    std::string pts;
    for (const auto& p : s.points) {
      if (!std::isfinite(p.x) || !std::isfinite(p.y) || (logx && p.x <= 0) || (logy && p.y <= 0)) continue;
      const double px = std::clamp(ax.map(p.x, x0, x1), x0, x1), py = std::clamp(ay.map(p.y, y0, y1), y1, y0);
      if (s.line) pts += fmt::format("{:.1f},{:.1f} ", px, py);
      else
        b += fmt::format("<circle class=\"pt\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" fill=\"{}\"><title>{}</title></circle>", px, py,
                         s.color, escape(p.label));
    }
    if (s.line && !pts.empty())
      b += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" stroke-dasharray=\"6 3\"/>", pts, s.color);
    b += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" class=\"tick\">{}</text>",
                     x1 + 10, y1 + 16 * i, s.color, x1 + 24, y1 + 16 * i + 9, escape(s.name));
  }
  b += fmt::format("<text x=\"{}\" y=\"{}\" class=\"label\" text-anchor=\"middle\">{}</text>", (x0 + x1) / 2, kH - 12, escape(xlabel));
  b += fmt::format("<text x=\"14\" y=\"{}\" class=\"label\" transform=\"rotate(-90 14 {})\" text-anchor=\"middle\">{}</text>",
                   (y0 + y1) / 2, (y0 + y1) / 2, escape(ylabel));
  return figure(b, kW, kH, title, caption);
}

std::string bars(const std::string& title, const std::vector<std::string>& labels, const std::vector<double>& values,
                 const std::string& caption) {
  double vmax = 1e-12;
  for (double v : values) vmax = std::max(vmax, std::fabs(v));
  const double row = 24, w = kW, h = kTop + row * labels.size() + 20, mid = kLeft + 100 + (w - kLeft - 140) / 2,
               half = (w - kLeft - 140) / 2;
  std::string b = fmt::format("<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" class=\"grid\"/>", mid, kTop, h - 16);
  for (size_t i = 0; i < labels.size(); ++i) {
    const double v = values[i], len = half * std::fabs(v) / vmax, y = kTop + row * i;
    b += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tick\" text-anchor=\"end\">{}</text>", kLeft + 90, y + 15, escape(labels[i]));
    b += fmt::format("<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\"><title>{:.4f}</title></rect>",
                     v >= 0 ? mid : mid - len, y + 3, std::max(len, 1.0), row - 6, v >= 0 ? "#2ca02c" : "#d62728", v);
    b += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tick\">{:+.4f}</text>", v >= 0 ? mid + len + 4 : mid + 4, y + 15, v);
  }
  return figure(b, w, h, title, caption);
}

}  // namespace lowbit::svg
