// Inline-SVG plot primitives shared by the paradnn and ptq reports: heatmap, scatter/line plot on linear or
// log axes, horizontal bars. Each returns one <figure class="plot"> element.
#pragma once

#include <cmath>
#include <string>
#include <vector>

namespace lowbit::svg {

struct Point {
  double x = 0, y = 0;
  std::string label;  // tooltip
};

struct Series {
  std::string name, color;
  std::vector<Point> points;
  bool line = false;  // draw as a polyline (ceilings, reference lines) instead of dots
};

std::string escape(const std::string& s);
std::string color(size_t i);  // a fixed palette

// values[y][x]; NaN = no measurement. Cells are coloured on [0, vmax] and labelled.
std::string heatmap(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                    const std::vector<std::string>& xticks, const std::vector<std::string>& yticks,
                    const std::vector<std::vector<double>>& values, const std::string& caption);

// Linear axes include 0 unless zero_based is false (then they fit the data with a margin).
std::string scatter(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                    const std::vector<Series>& series, bool logx, bool logy, const std::string& caption, bool zero_based = true);

std::string bars(const std::string& title, const std::vector<std::string>& labels, const std::vector<double>& values,
                 const std::string& caption);

}  // namespace lowbit::svg
